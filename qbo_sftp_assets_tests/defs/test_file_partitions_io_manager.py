"""The inbound steps' values: each run reads what its own upstream step stored, even beside another run."""

from pathlib import Path

import dagster as dg

from qbo_sftp_assets.defs.resources import FilePartitionsIOManager

FILES = dg.StaticPartitionsDefinition(["legacy_erp/AP 1.csv", "legacy_erp/AP 2.csv"])
LANDED = dg.AssetKey("landed_inbound_file")


def _store(io_manager: dg.IOManager, run_id: str, values: dict[str, str]) -> None:
    keys = sorted(values)
    context = dg.build_output_context(
        asset_key=LANDED,
        run_id=run_id,
        asset_partitions_def=FILES,
        asset_partition_key_range=dg.PartitionKeyRange(keys[0], keys[-1]),
    )
    io_manager.handle_output(context, values)


def _load(io_manager: dg.IOManager, key: str, producing_run: str | None) -> object:
    upstream = dg.build_output_context(asset_key=LANDED, run_id=producing_run, asset_partitions_def=FILES)
    context = dg.build_input_context(
        upstream_output=upstream,
        asset_key=LANDED,
        asset_partitions_def=FILES,
        asset_partition_key_range=dg.PartitionKeyRange(key, key),
    )
    return io_manager.load_input(context)[key]


def _io_manager(base: Path) -> dg.IOManager:
    return FilePartitionsIOManager(base_dir=str(base)).create_io_manager(dg.build_init_resource_context())


def test_two_runs_over_the_same_file_each_read_their_own_upstream_value(tmp_path: Path) -> None:
    io_manager = _io_manager(tmp_path)
    # Run A claimed the file; run B, asked for it too, found it gone and stored "no file" after A.
    _store(io_manager, "run-a", {"legacy_erp/AP 1.csv": "landed by A", "legacy_erp/AP 2.csv": "two"})
    _store(io_manager, "run-b", {"legacy_erp/AP 1.csv": "no file"})
    assert _load(io_manager, "legacy_erp/AP 1.csv", "run-a") == "landed by A"
    assert _load(io_manager, "legacy_erp/AP 1.csv", "run-b") == "no file"
    # A run that loads the value without producing it (only a downstream asset materialized) reads the newest.
    assert _load(io_manager, "legacy_erp/AP 1.csv", None) == "no file"
    assert _load(io_manager, "legacy_erp/AP 2.csv", None) == "two"


def test_a_step_retried_in_the_same_run_replaces_its_value(tmp_path: Path) -> None:
    io_manager = _io_manager(tmp_path)
    _store(io_manager, "run-a", {"legacy_erp/AP 1.csv": "first try"})
    _store(io_manager, "run-a", {"legacy_erp/AP 1.csv": "retried"})
    assert _load(io_manager, "legacy_erp/AP 1.csv", "run-a") == "retried"
    assert _load(io_manager, "legacy_erp/AP 1.csv", None) == "retried"
    # Only the values and the run's copies are left: no half-written or temporary files.
    leftovers = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert leftovers == ["AP 1.csv", "AP 1.csv"]
