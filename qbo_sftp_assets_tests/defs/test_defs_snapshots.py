"""Snapshot assets refresh each QBO entity of a company into the ledger; the CDC sensor asks for what changed."""

import datetime as dt
import json
import warnings

import dagster as dg
import pytest

from qbo_sftp_assets.defs.qbo_snapshots.assets import SNAPSHOT_KEYS
from qbo_sftp_assets.defs.qbo_snapshots.sensors import cdc_sensor_name
from qbo_sftp_assets.embedded import COMPANY
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets_tests.fixtures_defs import DefsEnvironment, defs_environment

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)


def _on_change(raw: dict) -> None:
    raw["partners"]["legacy_erp"]["outbound"]["vendor_list"]["on_change"] = True


@pytest.fixture(scope="module")
def defs_env(tmp_path_factory) -> DefsEnvironment:
    with defs_environment(tmp_path_factory.mktemp("snapshots"), edit=_on_change) as env:
        yield env


SNAPSHOTS = [key.path[-1] for key in SNAPSHOT_KEYS]


def test_every_snapshot_asset_materializes_a_company_with_counts_and_a_preview(defs_env):
    result = defs_env.materialize(*SNAPSHOTS, partition_key=COMPANY)
    assert result.success
    by_key = {
        event.asset_key.path[-1]: event.materialization.metadata for event in result.get_asset_materialization_events()
    }
    assert set(by_key) == {key.path[-1] for key in SNAPSHOT_KEYS}
    vendors = by_key["qbo_vendors"]
    assert vendors["dagster/row_count"].value == vendors["active"].value >= 1
    assert vendors["refresh_mode"].value == "full"
    assert vendors["realm_id"].value == defs_env.config.company(COMPANY).realm_id
    assert len(vendors["preview"].value.records) == min(20, vendors["active"].value)
    ledger = Ledger(defs_env.config.ledger.path)
    stored = ledger.query("SELECT count(*) FROM reference_rows WHERE entity = 'Vendor' AND NOT deleted")[0][0]
    assert stored == vendors["active"].value + vendors["inactive"].value

    again = defs_env.materialize("qbo_vendors", partition_key=COMPANY)
    [event] = again.get_asset_materialization_events()
    assert event.materialization.metadata["refresh_mode"].value == "cdc"


def _tick(defs_env: DefsEnvironment, cursor: str | None) -> dg.SensorResult:
    sensor = defs_env.definitions.resolve_sensor_def(cdc_sensor_name(COMPANY))
    with dg.build_sensor_context(
        instance=defs_env.instance, cursor=cursor, resources=defs_env.resources, definitions=defs_env.definitions
    ) as context:
        return sensor.evaluate_tick(context)


def test_cdc_sensor_requests_all_snapshots_first_then_only_what_changed_and_the_feeds_that_follow(defs_env):
    first = _tick(defs_env, None)
    [full] = first.run_requests
    assert full.partition_key == COMPANY and full.asset_selection is None
    assert full.tags["qbo/realm_id"] == defs_env.config.company(COMPANY).realm_id
    assert json.loads(first.cursor)["since"]

    quiet = _tick(defs_env, first.cursor)
    assert not quiet.run_requests

    since = json.loads(first.cursor)["since"]
    with dg.build_resources(defs_env.resources) as resources, resources.qbo.client(COMPANY) as client:
        vendor = next(iter(client.query("SELECT * FROM Vendor")))
        client.update("Vendor", vendor["Id"], {"CompanyName": "Renamed Co"}, request_id="rename-vendor-1")
    changed = _tick(defs_env, json.dumps({"since": since}))
    snapshot_run, feed_run = changed.run_requests
    assert snapshot_run.partition_key == COMPANY
    assert snapshot_run.asset_selection == [dg.AssetKey("qbo_vendors")]
    assert feed_run.partition_key == "legacy_erp/vendor_list"
    assert snapshot_run.run_key != full.run_key


def test_cdc_sensor_resyncs_fully_when_its_watermark_is_past_the_30_day_window(defs_env):
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=31)).isoformat()
    result = _tick(defs_env, json.dumps({"since": old}))
    [full] = result.run_requests
    assert full.asset_selection is None and full.partition_key == COMPANY
    assert json.loads(result.cursor)["since"] > old
