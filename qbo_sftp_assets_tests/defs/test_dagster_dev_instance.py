"""The instance `qbo-sftp dev` runs on: queued runs per realm, threaded sensors, the ledger pool at 1."""

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator

from qbo_sftp_assets.dagster_dev import (
    INSTANCE_YAML,
    LEDGER_POOL,
    POSTGRES_URL_ENV,
    instance_yaml,
    prepare_dagster_home,
)
from qbo_sftp_assets.defs.event_log_storage import (
    ENGINES_KEPT,
    EVENT_BATCH_SIZE_ENV,
    PostgresEventLogStorageKeepingConnections,
    SqliteEventLogStorageKeepingEngines,
)


@pytest.fixture(params=["sqlite", "postgres"])
def batching_home(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `qbo-sftp dev` home on the single-machine instance, or on deploy/dagster.yaml's PostgreSQL one."""
    if request.param == "sqlite":
        return prepare_dagster_home(tmp_path / "home")
    monkeypatch.setenv(POSTGRES_URL_ENV, "unset")  # restored after the test; prepare_dagster_home sets it
    return prepare_dagster_home(tmp_path / "home", postgres_url=request.getfixturevalue("postgres_url"))


def test_dev_home_gets_the_queued_coordinator_threaded_sensors_and_the_ledger_pool_limit(tmp_path):
    home = prepare_dagster_home(tmp_path / "home")
    assert (home / "dagster.yaml").read_text() == instance_yaml(INSTANCE_YAML, home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        assert coordinator.dequeue_interval_seconds == 1
        queue = instance.get_concurrency_config().run_queue_config
        assert [(limit["key"], limit["limit"], limit["value"]) for limit in queue.tag_concurrency_limits] == [
            ("qbo/realm_id", 1, {"applyLimitPerUniqueValue": True})
        ]
        sensors = instance.get_settings("sensors")
        assert sensors == {"use_threads": True, "num_workers": 4, "num_submit_workers": 1}
        assert instance.event_log_storage.get_concurrency_info(LEDGER_POOL).slot_count == 1
    # The "Join the Dagster community" dialog would cover the first page a newcomer opens.
    assert (home / ".nux" / "nux.yaml").exists()


def test_preparing_again_keeps_the_limit_and_leaves_a_users_own_dagster_yaml_alone(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    own = {"telemetry": {"enabled": False}, "run_monitoring": {"enabled": True}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(own))
    prepare_dagster_home(home)
    prepare_dagster_home(home)
    assert yaml.safe_load((home / "dagster.yaml").read_text()) == own
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(LEDGER_POOL).slot_count == 1


def test_the_event_log_keeps_one_engine_per_database_and_stores_every_event(tmp_path):
    """Dagster's SQLite event log with its engines kept: a stored event, a file's largest cost, costs a third less."""
    home = prepare_dagster_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, SqliteEventLogStorageKeepingEngines)
        assert storage._base_dir == str(home / "history" / "runs")

        @dg.asset(partitions_def=dg.StaticPartitionsDefinition([f"f{i}" for i in range(12)]))
        def many(context: dg.AssetExecutionContext) -> None:
            del context

        for key in ("f0", "f1", "f2"):
            assert dg.materialize([many], instance=instance, partition_key=key).success
        engines = dict(storage._engines)
        assert dg.materialize([many], instance=instance, partition_key="f3").success
        # The index's engine served the new run too, and no more than ENGINES_KEPT are held.
        assert storage._engines["index"] is engines["index"]
        assert len(storage._engines) <= ENGINES_KEPT
        assert storage.has_table("asset_check_executions") and "asset_check_executions" in storage._tables_found
        assert not storage.has_table("no_such_table")
        materialized = instance.fetch_materializations(many.key, limit=10).records
        assert sorted(record.partition_key for record in materialized) == ["f0", "f1", "f2", "f3"]


def test_a_runs_asset_events_are_stored_in_batches_and_every_partition_shows(batching_home, monkeypatch):
    """With Dagster's event batching on (as `qbo-sftp dev` sets it), a ranged run's planned events and its
    step's materializations are stored a batch at a time, and each file's partition is recorded as one."""
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "7")  # batches that end mid-run, and a last one cut short
    files = dg.DynamicPartitionsDefinition(name="files")
    stored_batches: list[int] = []
    storages = (SqliteEventLogStorageKeepingEngines, PostgresEventLogStorageKeepingConnections)

    def counting(original):
        def store_event_batch(self, events):
            stored_batches.append(len(events))
            original(self, events)

        return store_event_batch

    for storage in storages:
        monkeypatch.setattr(storage, "store_event_batch", counting(storage.store_event_batch))

    @dg.asset(partitions_def=files, backfill_policy=dg.BackfillPolicy.single_run())
    def landed(context: dg.AssetExecutionContext) -> None:
        for key in context.partition_keys:
            context.add_asset_metadata({"file": key}, partition_key=key)

    # A check's planned evaluation goes in the same batch as the files' planned materializations.
    @dg.asset_check(asset=landed, partitions_def=files)  # type: ignore[arg-type]
    def file_read(context: dg.AssetCheckExecutionContext) -> None:
        for key in context.op_execution_context.partition_keys:
            context.op_execution_context.log_event(
                dg.AssetCheckEvaluation(asset_key=landed.key, check_name="file_read", passed=True, partition=key)
            )

    with dg.DagsterInstance.from_config(str(batching_home)) as instance:
        assert isinstance(instance.event_log_storage, storages)
        keys = [f"acme/AP_{index:02d}.csv" for index in range(12)]
        instance.add_dynamic_partitions("files", keys)
        tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
        result = dg.materialize([landed, file_read], instance=instance, tags=tags)
        assert result.success
        assert stored_batches and max(stored_batches) == 7
        logged = [event.dagster_event_type for event in instance.all_logs(result.run_id)]
        assert logged.count(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED) == len(keys)
        assert logged.count(dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED) == 1
        assert logged.count(dg.DagsterEventType.ASSET_CHECK_EVALUATION) == len(keys)
        assert instance.get_materialized_partitions(landed.key) == set(keys)
        # The asset's row holds the last event's values, as storing them one by one would leave it.
        [asset] = instance.get_asset_records([landed.key])
        assert asset.asset_entry.last_run_id == result.run_id
        records = instance.fetch_materializations(landed.key, limit=100).records
        newest = max(records, key=lambda record: record.storage_id)
        last = asset.asset_entry.last_materialization_record
        assert last is not None and (last.storage_id, last.partition_key) == (newest.storage_id, newest.partition_key)
        assert sorted((r.partition_key, r.asset_materialization.metadata["file"].value) for r in records) == [
            (key, key) for key in keys
        ]


def test_the_files_of_a_failed_run_show_failed_when_events_are_batched(batching_home, monkeypatch):
    """Planned events stay one per file when batched, so a run that fails marks each of its files failed."""
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "1000")
    files = dg.DynamicPartitionsDefinition(name="files")

    @dg.asset(partitions_def=files, backfill_policy=dg.BackfillPolicy.single_run())
    def landed(context: dg.AssetExecutionContext) -> None:
        raise RuntimeError("the SFTP server went away")

    with dg.DagsterInstance.from_config(str(batching_home)) as instance:
        keys = [f"acme/AP_{index:02d}.csv" for index in range(5)]
        instance.add_dynamic_partitions("files", keys)
        tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
        assert not dg.materialize([landed], instance=instance, tags=tags, raise_on_error=False).success
        statuses = instance.get_status_by_partition(landed.key, keys, files)
        assert statuses == {key: dg.AssetPartitionStatus.FAILED for key in keys}
