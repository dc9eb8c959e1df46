"""Change-driven outbound over real HTTP and SFTP: a bill changed in the sandbox, announced by a signed
webhook to the receiver, reaches the partner as a new CSV row and a new 810 after the sensor and its
runs; a burst of edits makes one file; CDC seeing the same change sends nothing twice; a deleted bill
goes out as a `deleted` row and an 810 cancellation."""

import csv
import datetime as dt
import io
import json
import time
import warnings

import dagster as dg
import pytest

from qbo_sftp_assets.defs.outbound.triggers import TRIGGER_TAG
from qbo_sftp_assets.defs.qbo_snapshots.sensors import cdc_sensor_name
from qbo_sftp_assets.embedded import COMPANY
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets_tests.fixtures_outbound import (
    DEBOUNCE,
    outbound_environment,
    post_events,
    run_request,
    sandbox_api,
    tick_sensor,
    tick_webhook_sensor,
    update_bill,
)

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

CSV_FEED = "legacy_erp/bill_changes"
X12_FEED = "acme_tractor/bill_810s"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with outbound_environment(tmp_path_factory.mktemp("change_feeds")) as (env, receiver):
        realm_id = env.config.company(COMPANY).realm_id
        # The first change-triggered delivery of each feed carries every bill (none was ever sent).
        for key in (CSV_FEED, X12_FEED):
            result = env.materialize("outbound_files", partition_key=key, tags={TRIGGER_TAG: "change"})
            assert result.success
        yield env, receiver, realm_id


def outbound_files(env, partner: str) -> set[str]:
    return {p.name for p in env.sftp_folder(partner, "outbound").iterdir() if not p.name.startswith(".")}


def settle(env, cursor):
    """Ticks until the feeds' quiet period has passed; returns (apply requests, feed requests, cursor)."""
    applies, feeds = [], []
    deadline = time.monotonic() + 10 * DEBOUNCE
    while True:
        result = tick_webhook_sensor(env, cursor)
        cursor = result.cursor
        for request in result.run_requests:
            (feeds if request.tags.get(TRIGGER_TAG) == "change" else applies).append(request)
        if feeds or time.monotonic() > deadline:
            return applies, feeds, cursor
        time.sleep(DEBOUNCE / 4)


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def test_a_bill_changed_in_quickbooks_reaches_the_partner_as_a_new_row_and_a_new_810(world):
    env, receiver, realm_id = world
    before_csv, before_x12 = outbound_files(env, "legacy_erp"), outbound_files(env, "acme_tractor")
    with sandbox_api(env) as api:
        bill_id = api.get("/query", params={"query": "SELECT * FROM Bill"}).json()["QueryResponse"]["Bill"][0]["Id"]
        changed = update_bill(api, bill_id, "changed by the webhook test")
    post_events(receiver, realm_id, [("Bill", bill_id, "updated")])

    first = tick_webhook_sensor(env, None)
    [apply] = first.run_requests
    assert apply.asset_selection == [dg.AssetKey("qbo_webhook_changes")] and apply.partition_key == COMPANY
    applied = run_request(env, apply)
    metadata = applied.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["events"].value == 1 and metadata["queries"].value == 1
    ledger = Ledger(env.config.ledger.path)
    assert ledger.query(
        "SELECT sync_token FROM reference_rows WHERE realm_id = ? AND entity = 'Bill' AND qbo_id = ?",
        [realm_id, bill_id],
    ) == [(changed["SyncToken"],)]

    _, feeds, _ = settle(env, first.cursor)
    assert sorted(r.partition_key for r in feeds) == [X12_FEED, CSV_FEED]
    for request in feeds:
        assert run_request(env, request).success

    [new_csv] = outbound_files(env, "legacy_erp") - before_csv
    content = (env.sftp_folder("legacy_erp", "outbound") / new_csv).read_bytes()
    assert not content.startswith(b"\xef\xbb\xbf")  # the feed asked for no BOM
    rows = csv_rows(content)
    assert {(r["qbo_id"], r["sync_token"], r["status"]) for r in rows} == {(bill_id, changed["SyncToken"], "active")}
    assert rows[0]["memo"] == "changed by the webhook test"
    [new_x12] = outbound_files(env, "acme_tractor") - before_x12
    interchange = (env.sftp_folder("acme_tractor", "outbound") / new_x12).read_bytes()
    assert interchange.count(b"ST*810*") == 1 and changed["DocNumber"].encode() in interchange
    delivery = ledger.outbound_deliveries(partner="legacy_erp", feed="bill_changes", limit=1)[0]
    assert delivery.entity_versions == {f"Bill/{bill_id}": changed["SyncToken"]}

    # CDC sees the same change: it leaves it to the webhook sensor, and a change run would send nothing.
    since = json.dumps({"since": (delivery.delivered_at - dt.timedelta(minutes=5)).isoformat()})
    outcome = tick_sensor(env, cdc_sensor_name(COMPANY), since)
    assert not outcome.run_requests and "arrived by webhook" in outcome.skip_reason.skip_message
    again = env.materialize("outbound_files", partition_key=CSV_FEED, tags={TRIGGER_TAG: "change"})
    assert again.get_asset_materialization_events()[0].materialization.metadata["files"].value == 0
    assert outbound_files(env, "legacy_erp") - before_csv == {new_csv}


def test_a_burst_of_edits_makes_one_file_after_the_quiet_period(world):
    env, receiver, realm_id = world
    before, before_x12 = outbound_files(env, "legacy_erp"), outbound_files(env, "acme_tractor")
    cursor = tick_webhook_sensor(env, None).cursor  # past the earlier test's events
    with sandbox_api(env) as api:
        bill_id = api.get("/query", params={"query": "SELECT * FROM Bill"}).json()["QueryResponse"]["Bill"][-1]["Id"]
        for edit in range(50):
            last = update_bill(api, bill_id, f"edit {edit}")
            post_events(receiver, realm_id, [("Bill", bill_id, "updated")])
            if edit == 24:
                middle = tick_webhook_sensor(env, cursor)
                cursor = middle.cursor
                assert all(r.tags.get(TRIGGER_TAG) != "change" for r in middle.run_requests)
    applies, feeds, cursor = settle(env, cursor)
    for request in applies:
        run_request(env, request)
    assert sorted(r.partition_key for r in feeds) == [X12_FEED, CSV_FEED]
    assert tick_webhook_sensor(env, cursor).run_requests == []
    for request in feeds:
        assert run_request(env, request).success
    [new] = outbound_files(env, "legacy_erp") - before
    rows = csv_rows((env.sftp_folder("legacy_erp", "outbound") / new).read_bytes())
    assert {(r["qbo_id"], r["sync_token"], r["memo"]) for r in rows} == {(bill_id, last["SyncToken"], "edit 49")}
    [new_x12] = outbound_files(env, "acme_tractor") - before_x12
    assert (env.sftp_folder("acme_tractor", "outbound") / new_x12).read_bytes().count(b"ST*810*") == 1


def test_a_deleted_bill_is_sent_as_a_deleted_row_and_an_810_cancellation(world):
    env, receiver, realm_id = world
    before_csv, before_x12 = outbound_files(env, "legacy_erp"), outbound_files(env, "acme_tractor")
    cursor = tick_webhook_sensor(env, None).cursor
    with sandbox_api(env) as api:
        bills = api.get("/query", params={"query": "SELECT * FROM Bill"}).json()["QueryResponse"]["Bill"]
        doomed = next(b for b in bills if not b.get("LinkedTxn"))
        response = api.post(
            "/bill", params={"operation": "delete"}, json={"Id": doomed["Id"], "SyncToken": doomed["SyncToken"]}
        )
        assert response.status_code == 200, response.text
    post_events(receiver, realm_id, [("Bill", doomed["Id"], "deleted")])
    applies, feeds, _ = settle(env, cursor)
    for request in [*applies, *feeds]:
        assert run_request(env, request).success
    [new_csv] = outbound_files(env, "legacy_erp") - before_csv
    rows = csv_rows((env.sftp_folder("legacy_erp", "outbound") / new_csv).read_bytes())
    assert {(r["qbo_id"], r["status"]) for r in rows} == {(doomed["Id"], "deleted")}
    assert rows[0]["number"] == doomed["DocNumber"]
    [new_x12] = outbound_files(env, "acme_tractor") - before_x12
    interchange = (env.sftp_folder("acme_tractor", "outbound") / new_x12).read_text()
    [big] = [s for s in interchange.split("~") if s.startswith("BIG*")]
    assert big.split("*")[2] == doomed["DocNumber"] and big.split("*")[8] == "01"


def test_cdc_catches_a_change_the_receiver_never_got_and_sends_it(world):
    env, _receiver, _realm_id = world
    before = outbound_files(env, "legacy_erp")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    with sandbox_api(env) as api:
        bill_id = api.get("/query", params={"query": "SELECT * FROM Bill"}).json()["QueryResponse"]["Bill"][0]["Id"]
        changed = update_bill(api, bill_id, "no webhook for this one")
    outcome = tick_sensor(env, cdc_sensor_name(COMPANY), json.dumps({"since": start.isoformat()}))
    feeds = [r for r in outcome.run_requests if r.tags.get(TRIGGER_TAG) == "change"]
    assert sorted(r.partition_key for r in feeds) == [X12_FEED, CSV_FEED]
    csv_request = next(r for r in feeds if r.partition_key == CSV_FEED)
    assert run_request(env, csv_request).success
    [new] = outbound_files(env, "legacy_erp") - before
    rows = csv_rows((env.sftp_folder("legacy_erp", "outbound") / new).read_bytes())
    assert {(r["qbo_id"], r["sync_token"]) for r in rows} == {(bill_id, changed["SyncToken"])}
