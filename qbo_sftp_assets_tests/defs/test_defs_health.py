"""A company that must be reconnected shows as a failed `qbo_connection` check naming `qbo-sftp connect COMPANY`,
and an inbound run for it fails whole, its files kept in processing/ for the run after the reconnect."""

import dataclasses
import datetime as dt
import warnings

import dagster as dg
import pytest

from qbo_sftp_assets import mapping
from qbo_sftp_assets.defs.inbound.sensors import RANGE_END, RANGE_START
from qbo_sftp_assets.defs.partitions import INBOUND_FILES
from qbo_sftp_assets.defs.qbo_snapshots.health import (
    CONNECTION_ASSET,
    HEALTH_SENSOR,
    connected_check_name,
    qbo_connection,
)
from qbo_sftp_assets.embedded import COMPANY
from qbo_sftp_assets.qbo.tokens import TokenStore
from qbo_sftp_assets_tests.fixtures_defs import DefsEnvironment, defs_environment

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

INBOUND = ["landed_inbound_file", "parsed_inbound_documents", "validated_postings", "qbo_postings", "inbound_ack"]
HEADER = b"Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount\r\n"


@pytest.fixture(scope="module")
def defs_env(tmp_path_factory) -> DefsEnvironment:
    with defs_environment(tmp_path_factory.mktemp("health")) as env:
        with dg.build_resources(env.resources) as resources, resources.qbo.client(COMPANY) as client:
            mapping.refresh_reference(client, resources.ledger.ledger(), client.realm_id)
        yield env


@pytest.fixture
def token_store(defs_env):
    store = TokenStore(defs_env.config.tokens.path)
    realm_id = defs_env.config.company(COMPANY).realm_id
    connected = store.require(realm_id)
    yield store, realm_id, connected
    store.put(connected)


def tick(defs_env: DefsEnvironment, cursor: str | None = None) -> dg.SensorResult:
    sensor = defs_env.definitions.resolve_sensor_def(HEALTH_SENSOR)
    with dg.build_sensor_context(
        instance=defs_env.instance, cursor=cursor, resources=defs_env.resources, definitions=defs_env.definitions
    ) as context:
        return sensor(context)


def test_the_connection_check_fails_naming_the_connect_command_when_the_company_must_reconnect(defs_env, token_store):
    store, realm_id, connected = token_store
    first = tick(defs_env)
    [healthy] = first.asset_events
    assert healthy.asset_key == CONNECTION_ASSET and healthy.check_name == connected_check_name(COMPANY)
    assert healthy.passed and healthy.metadata["state"].value == "connected"
    unchanged = tick(defs_env, first.cursor)
    assert not unchanged.asset_events and unchanged.skip_reason

    store.put(dataclasses.replace(connected, reconnect_required=True))
    [refused] = tick(defs_env, first.cursor).asset_events
    assert not refused.passed and refused.severity == dg.AssetCheckSeverity.ERROR
    assert f"run `qbo-sftp connect {COMPANY}`" in refused.description and "invalid_grant" in refused.description

    store.put(dataclasses.replace(connected, refresh_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    [expired] = tick(defs_env, first.cursor).asset_events
    assert not expired.passed and expired.metadata["state"].value == "refresh_expired"

    store.remove(realm_id)
    [never] = tick(defs_env, first.cursor).asset_events
    assert not never.passed and f"never connected: run `qbo-sftp connect {COMPANY}`" in never.description

    # The same check, executed from the UI (here in process): it reads the token store, not QuickBooks.
    checks = [
        c for c in defs_env.definitions.asset_checks or [] if CONNECTION_ASSET in {k.asset_key for k in c.check_keys}
    ]
    executed = dg.materialize(
        [qbo_connection, *checks],
        instance=defs_env.instance,
        resources=defs_env.resources,
        selection=dg.AssetSelection.checks_for_assets(CONNECTION_ASSET),
    )
    [evaluation] = executed.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.check_name == connected_check_name(COMPANY)


def test_a_company_to_reconnect_fails_the_whole_run_and_keeps_every_file_in_processing(defs_env, token_store):
    store, _realm_id, connected = token_store
    rows = [
        b"100871,Precision Machining Partners,PMP-3001,2026-11-18,2026-12-18,5100,Brackets,10.00\r\n",
        b"558812,Fastenal Dayton,FD-3002,2026-11-19,2026-12-19,5000,Hex bolts,20.00\r\n",
    ]
    names = ["AP_3001.csv", "AP_3002.csv"]
    for name, row in zip(names, rows, strict=True):
        defs_env.drop("legacy_erp", name, HEADER + row)
    keys = [f"legacy_erp/{name}" for name in names]
    defs_env.instance.add_dynamic_partitions(INBOUND_FILES, keys)
    # The state a refused refresh leaves: the access token expired and the record marked.
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    store.put(dataclasses.replace(connected, reconnect_required=True, access_expires_at=expired))

    outcome = defs_env.materialize(*INBOUND, tags={RANGE_START: keys[0], RANGE_END: keys[-1]}, raise_on_error=False)
    assert not outcome.success
    [failure] = [e for e in outcome.all_events if e.is_step_failure]
    assert failure.step_key == "qbo_postings"
    processing = defs_env.sftp_folder("legacy_erp", "processing")
    assert sorted(path.name for path in processing.iterdir()) == names

    # After the reconnect, the same partitions are finished exactly once.
    store.put(connected)
    again = defs_env.materialize(*INBOUND, tags={RANGE_START: keys[0], RANGE_END: keys[-1]})
    assert again.success
    assert not list(processing.iterdir())
    with dg.build_resources(defs_env.resources) as resources, resources.qbo.client(COMPANY) as client:
        bills = [
            bill["DocNumber"] for bill in client.query("SELECT * FROM Bill WHERE DocNumber IN ('PMP-3001', 'FD-3002')")
        ]
    assert sorted(bills) == ["FD-3002", "PMP-3001"]
