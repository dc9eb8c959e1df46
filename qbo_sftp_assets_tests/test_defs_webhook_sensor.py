"""The webhook sensor's tick over a real spool file: one apply run per batch of the company's events,
feeds requested once their quiet period has passed (or after MAX_WAIT_FACTOR periods of endless edits),
other realms and entities ignored, and a missing spool a skipped tick."""

import datetime as dt
import uuid

import dagster as dg

from qbo_sftp_assets.defs.outbound.triggers import TRIGGER_TAG, ChangeFeed
from qbo_sftp_assets.defs.webhooks.sensors import MAX_WAIT_FACTOR, WebhookCursor, evaluate_webhook_tick
from qbo_sftp_assets.qbo.webhooks import ChangeEvent
from qbo_sftp_assets.webhooks import Spool

REALM = "123145"
T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
FEEDS = {
    "p/bills": ChangeFeed("p/bills", frozenset({"Bill"}), 30.0),
    "p/vendors": ChangeFeed("p/vendors", frozenset({"Vendor"}), 30.0),
}


def event(entity: str, qbo_id: str, realm: str = REALM, operation: str = "Update") -> ChangeEvent:
    return ChangeEvent(realm, entity, qbo_id, operation, T0, str(uuid.uuid4()), "cloudevents")


def tick(spool: Spool, cursor: str | None, now: dt.datetime) -> dg.SensorResult:
    return evaluate_webhook_tick(cursor, spool, "northwind", REALM, FEEDS, "snapshots", "outbound", now=now)


def test_events_request_one_apply_run_and_feeds_wait_for_quiet(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    spool.create()
    spool.append(
        [event("Bill", "7"), event("Bill", "8"), event("Bill", "9", realm="999"), event("Payment", "3")], received_at=T0
    )
    first = tick(spool, None, T0 + dt.timedelta(seconds=1))
    [apply] = first.run_requests
    assert apply.job_name == "snapshots" and apply.partition_key == "northwind"
    assert apply.asset_selection == [dg.AssetKey("qbo_webhook_changes")]
    assert WebhookCursor.parse(first.cursor).pending.keys() == {"p/bills"}

    # More edits keep the feed waiting; nothing new means no second apply run.
    spool.append([event("Bill", "7")], received_at=T0 + dt.timedelta(seconds=20))
    second = tick(spool, first.cursor, T0 + dt.timedelta(seconds=40))
    assert [r.job_name for r in second.run_requests] == ["snapshots"]
    third = tick(spool, second.cursor, T0 + dt.timedelta(seconds=45))
    assert third.run_requests == [] and "waits for 30 s" in third.skip_reason.skip_message

    quiet = tick(spool, third.cursor, T0 + dt.timedelta(seconds=51))
    [feed] = quiet.run_requests
    assert feed.partition_key == "p/bills" and feed.tags[TRIGGER_TAG] == "change" and feed.job_name == "outbound"
    assert WebhookCursor.parse(quiet.cursor).pending == {}
    assert tick(spool, quiet.cursor, T0 + dt.timedelta(seconds=120)).run_requests == []


def test_a_feed_under_endless_edits_is_sent_after_max_wait(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    spool.create()
    cursor = None
    sent = []
    for second in range(0, 30 * MAX_WAIT_FACTOR + 20, 10):
        moment = T0 + dt.timedelta(seconds=second)
        spool.append([event("Vendor", "1")], received_at=moment)
        result = tick(spool, cursor, moment)
        cursor = result.cursor
        sent += [r for r in result.run_requests if r.job_name == "outbound"]
    assert [r.partition_key for r in sent] == ["p/vendors"]


def test_no_spool_yet_is_a_skipped_tick(tmp_path):
    result = tick(Spool(tmp_path / "absent.sqlite"), None, T0)
    assert result.run_requests == [] and "no webhook spool" in result.skip_reason.skip_message
