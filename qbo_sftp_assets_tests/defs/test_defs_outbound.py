"""`outbound_files` renders a partner feed and delivers it; each feed's schedule fires in the partner's time zone."""

import datetime as dt
import warnings
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from qbo_sftp_assets.defs.outbound.assets import AS_OF_TAG
from qbo_sftp_assets.defs.outbound.schedules import schedule_name
from qbo_sftp_assets_tests.fixtures_defs import DefsEnvironment, defs_environment

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)


@pytest.fixture(scope="module")
def defs_env(tmp_path_factory) -> DefsEnvironment:
    with defs_environment(tmp_path_factory.mktemp("outbound")) as env:
        yield env


def test_an_x12_feed_is_delivered_with_its_path_hash_and_control_numbers(defs_env):
    result = defs_env.materialize("outbound_files", partition_key="acme_tractor/weekly_invoices")
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    remote_path = metadata["remote_path"].value
    assert remote_path.startswith("acme_tractor/outbound/") and remote_path.endswith(".edi")
    delivered = defs_env.env.sftp.root / remote_path
    content = delivered.read_bytes()
    assert content.startswith(b"ISA") and content.count(b"ST*810*") == metadata["dagster/row_count"].value >= 1
    assert len(metadata["sha256"].value) == 64
    assert metadata["control_numbers"].value["ISA13"] >= 1


def test_a_csv_feed_delivers_one_file_per_entity_together(defs_env):
    as_of = dt.datetime(2026, 11, 30, 10, 30, tzinfo=dt.UTC)
    result = defs_env.materialize(
        "outbound_files", partition_key="legacy_erp/vendor_list", tags={AS_OF_TAG: as_of.isoformat()}
    )
    [event] = result.get_asset_materialization_events()
    table = event.materialization.metadata["deliveries"].value.records
    paths = sorted(record.data["remote_path"] for record in table)
    assert paths == [
        f"legacy_erp/outbound/vendor_list_{entity}_20261130T103000Z.csv"
        for entity in ("accounts", "classes", "vendors")
    ]
    for path in paths:
        assert (defs_env.env.sftp.root / path).read_bytes().count(b"\n") >= 2


def test_a_feed_schedule_fires_at_its_local_time_and_names_its_partition(defs_env):
    schedule = defs_env.definitions.resolve_schedule_def(schedule_name("acme_tractor", "weekly_invoices"))
    assert schedule.cron_schedule == "0 6 * * 1" and schedule.execution_timezone == "America/New_York"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    monday = dt.datetime(2026, 11, 23, 6, 0, tzinfo=ZoneInfo("America/New_York"))
    repository = defs_env.definitions.get_repository_def()
    with dg.build_schedule_context(
        instance=defs_env.instance, scheduled_execution_time=monday, repository_def=repository
    ) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "acme_tractor/weekly_invoices"
    assert dt.datetime.fromisoformat(request.tags[AS_OF_TAG]) == monday
    assert request.tags["qbo/realm_id"] == defs_env.config.company("northwind").realm_id
    assert request.run_key.endswith(monday.isoformat())
