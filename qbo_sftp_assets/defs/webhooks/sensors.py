"""A webhook sensor per company: reads the spool after its cursor, asks for the changes to be applied,
and requests each feed that follows those entities once its quiet period has passed.

It reads the spool (`webhooks.spool_backend`: the SQLite file, or the PostgreSQL table) and never opens
the ledger. Each tick with new events of the company
requests one `qbo_webhook_changes` run (keyed by the spool position, so a retried tick asks once);
feeds are debounced in the cursor: a feed waits until no event for its entities arrived for its
`debounce_seconds` (or, under a never-ending stream of edits, MAX_WAIT_FACTOR quiet periods after the
first), so a burst of 50 edits makes one file. Cursor: `{"spool": position, "pending": {feed:
{"first": ISO, "last": ISO, "through": position}}, "pruned": ISO}`.

The spool is kept small here: at most every PRUNE_EVERY, the sensor deletes its company's events it
has read past that were received longer ago than `webhooks.retention_hours`. The apply step reads
after the ledger's own cursor, so it would miss those only if it failed for the whole retention
(7 days by default); CDC's 30-day window still catches those changes.
"""

import datetime as dt
import json
from dataclasses import dataclass, field

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.jobs import AssetJob
from qbo_sftp_assets.defs.outbound.triggers import ChangeFeed, change_feeds, change_run_request
from qbo_sftp_assets.defs.resources import REALM_TAG
from qbo_sftp_assets.defs.sensor_timing import minimum_interval
from qbo_sftp_assets.defs.webhooks.assets import ASSET_NAME
from qbo_sftp_assets.pipeline.change_events import APPLIED_ENTITIES
from qbo_sftp_assets.webhooks import SPOOL_WRITE_ERRORS, AnySpool, SpoolUnavailable, spool_for

WEBHOOK_INTERVAL_SECONDS = 5  # every look of the daemon
MAX_EVENTS_PER_TICK = 5000
MAX_WAIT_FACTOR = 10
PRUNE_EVERY = dt.timedelta(hours=1)


def webhook_sensor_name(company: str) -> str:
    return f"qbo_webhooks_{company}"


@dataclass
class WebhookCursor:
    spool: str | None = None
    pending: dict[str, dict[str, str]] = field(default_factory=dict)
    pruned: str | None = None  # when this sensor last pruned the spool (ISO)

    @classmethod
    def parse(cls, text: str | None) -> "WebhookCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data.get("spool"), data.get("pending", {}), data.get("pruned"))

    def dump(self) -> str:
        return json.dumps({"spool": self.spool, "pending": self.pending, "pruned": self.pruned}, sort_keys=True)


def qbo_webhook_sensors(
    config: Config | None, snapshot_job: AssetJob, outbound_job: AssetJob
) -> list[dg.SensorDefinition]:
    if config is None:
        return []
    return [_webhook_sensor(config, company, snapshot_job, outbound_job) for company in sorted(config.companies)]


def _webhook_sensor(
    config: Config, company: str, snapshot_job: AssetJob, outbound_job: AssetJob
) -> dg.SensorDefinition:
    realm_id = config.company(company).realm_id
    feeds = change_feeds(config, company)
    retention = dt.timedelta(hours=config.webhooks.retention_hours)

    @dg.sensor(
        name=webhook_sensor_name(company),
        description=f"Reads QuickBooks webhooks for company {company!r} (realm {realm_id}) from the receiver's "
        "spool, applies the changes and sends the feeds that follow them after their quiet period.",
        minimum_interval_seconds=minimum_interval(WEBHOOK_INTERVAL_SECONDS),
        default_status=dg.DefaultSensorStatus.RUNNING,
        jobs=[snapshot_job, outbound_job],
    )
    def webhook_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        # Opened per tick: a PostgreSQL spool's URL comes from the environment of the process evaluating it,
        # and a missing one fails this tick with a message, not the loading of the code location.
        return evaluate_webhook_tick(
            context.cursor,
            spool_for(config),
            company,
            realm_id,
            feeds,
            snapshot_job.name,
            outbound_job.name,
            now=None,
            retention=retention,
        )

    return webhook_sensor


def evaluate_webhook_tick(
    cursor_text: str | None,
    spool: AnySpool,
    company: str,
    realm_id: str,
    feeds: dict[str, ChangeFeed],
    snapshot_job: str,
    outbound_job: str,
    *,
    now: dt.datetime | None,
    retention: dt.timedelta | None = None,
) -> dg.SensorResult:
    """One tick: the run requests and the next cursor (a plain function, so a test can set the clock).

    With `retention`, the company's events read past and received before `now - retention` are pruned."""
    now = now or dt.datetime.now(dt.UTC)
    cursor = WebhookCursor.parse(cursor_text)
    requests: list[dg.RunRequest] = []
    notes = []
    try:
        events = spool.read_after(cursor.spool, MAX_EVENTS_PER_TICK)
    except SpoolUnavailable as error:
        events = []
        notes.append(str(error))
    mine = [e for e in events if e.realm_id == realm_id and e.entity in APPLIED_ENTITIES]
    if mine:
        through = mine[-1].cursor
        requests.append(
            dg.RunRequest(
                run_key=f"webhook:{company}:{through}",
                job_name=snapshot_job,
                partition_key=company,
                asset_selection=[dg.AssetKey(ASSET_NAME)],
                tags={REALM_TAG: realm_id},
            )
        )
        changed = {e.entity for e in mine}
        newest = max(e.received_at for e in mine).isoformat()
        oldest = min(e.received_at for e in mine).isoformat()
        for key, feed in feeds.items():
            if feed.entities & changed:
                waiting = cursor.pending.get(key)
                cursor.pending[key] = {
                    "first": waiting["first"] if waiting else oldest,
                    "last": newest,
                    "through": through,
                }
        notes.append(f"{len(mine)} change(s) to {', '.join(sorted(changed))}")
    if events:
        cursor.spool = events[-1].cursor
    due = cursor.pruned is None or now - dt.datetime.fromisoformat(cursor.pruned) >= PRUNE_EVERY
    if retention is not None and cursor.spool is not None and due:
        try:
            pruned = spool.prune(now - retention, realm_id=realm_id, through=cursor.spool)
        except SPOOL_WRITE_ERRORS as error:
            # A busy or missing spool is pruned on a later tick; the events themselves were read.
            notes.append(f"spool not pruned this time: {error}")
        else:
            cursor.pruned = now.isoformat()
            if pruned:
                notes.append(f"{pruned} event(s) older than {retention} pruned from the spool")
    for key in sorted(cursor.pending):
        waiting = cursor.pending[key]
        pending_feed = feeds.get(key)  # None: the feed left the config while it waited
        debounce = dt.timedelta(seconds=pending_feed.debounce_seconds if pending_feed else 0)
        quiet = now - dt.datetime.fromisoformat(waiting["last"]) >= debounce
        starved = now - dt.datetime.fromisoformat(waiting["first"]) >= debounce * MAX_WAIT_FACTOR
        if pending_feed is None or quiet or starved:
            del cursor.pending[key]
            if pending_feed is not None:
                requests.append(change_run_request(outbound_job, key, f"webhook:{key}:{waiting['through']}", realm_id))
        else:
            notes.append(f"{key} waits for {pending_feed.debounce_seconds:g} s without changes")
    return dg.SensorResult(
        run_requests=requests,
        cursor=cursor.dump(),
        skip_reason=None if requests else ("; ".join(notes) or "no new webhook events"),
    )
