"""Runs launched without the `qbo/realm_id` tag (from the UI) get it when queued, so the per-realm run limit holds."""

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from qbo_sftp_assets.config import CONFIG_PATH_ENV, load_config
from qbo_sftp_assets.defs.partitions import INBOUND_FILES
from qbo_sftp_assets.defs.realm_runs import RANGE_END, RANGE_START, RealmTaggingRunCoordinator, realm_tags
from qbo_sftp_assets.defs.resources import REALM_TAG
from qbo_sftp_assets_tests.paths import REPOSITORY

EXAMPLE = REPOSITORY / "examples" / "qbo_sftp.example.yaml"
INSTANCE_YAML = REPOSITORY / "qbo_sftp_assets" / "dagster.yaml"
NORTHWIND, CONTOSO = "9130357992221046", "4620816365000000"


@pytest.fixture
def two_companies(tmp_path, monkeypatch) -> Path:
    """The example config plus a second company with its own partner."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["companies"]["contoso"] = {**raw["companies"]["northwind"], "realm_id": CONTOSO}
    raw["partners"]["contoso_supplier"] = {**raw["partners"]["legacy_erp"], "company": "contoso"}
    path = tmp_path / "qbo_sftp.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setenv(CONFIG_PATH_ENV, str(path))
    return path


def test_a_partition_names_its_realm_through_the_company_or_the_partner(two_companies):
    config = load_config(two_companies)
    assert realm_tags({"dagster/partition": "contoso"}, config) == {REALM_TAG: CONTOSO}
    assert realm_tags({"dagster/partition": "legacy_erp/AP 1|2.csv"}, config) == {REALM_TAG: NORTHWIND}
    assert realm_tags({"dagster/partition": "contoso_supplier/vendor_list"}, config) == {REALM_TAG: CONTOSO}
    assert realm_tags({REALM_TAG: NORTHWIND, "dagster/partition": "contoso"}, config) == {}
    assert realm_tags({"dagster/partition": "unknown_partner/x.csv"}, config) == {}
    assert realm_tags({}, config) == {}
    files = ["legacy_erp/a.csv", "contoso_supplier/b.csv", "legacy_erp/c.csv"]
    assert realm_tags({RANGE_START: files[0], RANGE_END: files[0]}, config, files) == {REALM_TAG: NORTHWIND}
    # A range's middle counts: its ends are both northwind's, but it spans contoso's file too.
    spanning = realm_tags({RANGE_START: files[0], RANGE_END: files[2]}, config, files)
    assert spanning == {REALM_TAG: f"{CONTOSO}+{NORTHWIND}"}


# The code location the "UI" launches from, loaded the way the webserver loads one.
ui_defs = dg.Definitions(jobs=[dg.GraphDefinition(name="ui_launched").to_job()])


def test_the_coordinator_tags_a_ui_run_before_it_is_queued(two_companies):
    shipped = yaml.safe_load(INSTANCE_YAML.read_text())
    overrides = {"run_coordinator": shipped["run_coordinator"], "concurrency": shipped["concurrency"]}
    with (
        dg.instance_for_test(overrides=overrides) as instance,
        in_process_test_workspace(instance, LoadableTargetOrigin(python_file=__file__, attribute="ui_defs")) as ui,
    ):
        assert isinstance(instance.run_coordinator, RealmTaggingRunCoordinator)
        [location] = ui.code_location_names
        remote_job = ui.get_code_location(location).get_repository("__repository__").get_full_job("ui_launched")
        instance.add_dynamic_partitions(INBOUND_FILES, ["legacy_erp/one.csv", "legacy_erp/two.csv"])
        ui_runs = [
            {"dagster/partition": "contoso"},
            {RANGE_START: "legacy_erp/one.csv", RANGE_END: "legacy_erp/two.csv"},
            {REALM_TAG: "already-tagged", "dagster/partition": "contoso"},
        ]
        queued = []
        for tags in ui_runs:
            run = instance.create_run_for_job(
                ui_defs.resolve_job_def("ui_launched"),
                tags=tags,
                status=dg.DagsterRunStatus.NOT_STARTED,
                remote_job_origin=remote_job.get_remote_origin(),
                job_code_origin=remote_job.get_python_origin(),
            )
            queued.append(instance.submit_run(run.run_id, ui))
        assert [run.status for run in queued] == [dg.DagsterRunStatus.QUEUED] * 3
        assert [run.tags.get(REALM_TAG) for run in queued] == [CONTOSO, NORTHWIND, "already-tagged"]
