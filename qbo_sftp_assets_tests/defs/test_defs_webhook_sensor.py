"""The webhook sensor's tick over a real spool file: one apply run per batch of the company's events,
feeds requested once their quiet period has passed (or after MAX_WAIT_FACTOR periods of endless edits),
other realms and entities ignored, a missing spool a skipped tick, and the company's events it has read
pruned once older than the retention, at most every PRUNE_EVERY."""

import datetime as dt
import uuid

import dagster as dg
from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

from qbo_sftp_assets.defs.outbound.triggers import TRIGGER_TAG, ChangeFeed
from qbo_sftp_assets.defs.sensor_timing import DAEMON_LOOK_SECONDS, minimum_interval
from qbo_sftp_assets.defs.webhooks.sensors import (
    MAX_WAIT_FACTOR,
    PRUNE_EVERY,
    WEBHOOK_INTERVAL_SECONDS,
    WebhookCursor,
    evaluate_webhook_tick,
)
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


def test_the_sensor_prunes_its_realms_events_past_the_retention_at_most_hourly(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    spool.create()
    week = dt.timedelta(days=7)
    spool.append([event("Bill", "1"), event("Bill", "2", realm="999")], received_at=T0)
    spool.append([event("Bill", "3")], received_at=T0 + dt.timedelta(days=6))
    now = T0 + week + dt.timedelta(hours=1)

    def tick_at(cursor: str | None, moment: dt.datetime) -> dg.SensorResult:
        return evaluate_webhook_tick(
            cursor, spool, "northwind", REALM, FEEDS, "snapshots", "outbound", now=moment, retention=week
        )

    def kept() -> list[str]:
        return [e.entity_id for e in spool.read_after(None)]

    first = tick_at(None, now)
    assert kept() == ["2", "3"]  # another realm's events are its own sensor's to prune
    # An old-stamped event read within the hour stays until the next prune is due.
    spool.append([event("Bill", "4")], received_at=T0)
    second = tick_at(first.cursor, now + PRUNE_EVERY / 2)
    assert kept() == ["2", "3", "4"]
    third = tick_at(second.cursor, now + PRUNE_EVERY)
    assert kept() == ["2", "3"]
    assert WebhookCursor.parse(third.cursor).pruned == (now + PRUNE_EVERY).isoformat()


def test_the_sensor_ticks_at_every_look_of_the_daemon_not_every_other():
    # The daemon looks every MIN_INTERVAL_LOOP_TIME and stamps a tick a moment after the look: a
    # minimum equal to the loop skipped every other look (one tick per 10 s, measured under dagster dev).
    assert WEBHOOK_INTERVAL_SECONDS == MIN_INTERVAL_LOOP_TIME == DAEMON_LOOK_SECONDS
    assert minimum_interval(WEBHOOK_INTERVAL_SECONDS) < MIN_INTERVAL_LOOP_TIME
    assert minimum_interval(60) == 59 and minimum_interval(1) == MIN_INTERVAL_LOOP_TIME - 1
