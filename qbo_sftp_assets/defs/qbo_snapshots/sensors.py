"""A CDC sensor per company: asks QuickBooks what changed since its watermark and requests those snapshots.

The cursor holds the watermark (`{"since": ISO time}`). The first tick, or a watermark past QBO's
30-day CDC window, requests every snapshot of the company (the refresh resyncs fully). Feeds that
follow changes (`trigger: on_change | both`) whose entities changed are requested too, tagged as
change runs: `outbound_files` refreshes what it renders itself and sends only what changed since the
feed's last delivery, so it never reads a snapshot older than its own run.

CDC is the backstop for the webhook sensor: a change the webhook receiver already spooled (same
realm, entity and id, an event no older than the change) is left to the webhook sensor, so an event
seen by both is processed once; one the receiver never got is caught here within CDC_INTERVAL_SECONDS.
The sensor writes nothing but its cursor, and reads the spool read-only.
"""

import datetime as dt
import json

import dagster as dg

from qbo_sftp_assets.config import Config, ConfigError
from qbo_sftp_assets.defs.jobs import AssetJob
from qbo_sftp_assets.defs.outbound.triggers import change_feeds, change_run_request
from qbo_sftp_assets.defs.qbo_snapshots.assets import ENTITY_OF_KEY
from qbo_sftp_assets.defs.resources import REALM_TAG, QboResource
from qbo_sftp_assets.defs.sensor_timing import minimum_interval
from qbo_sftp_assets.pipeline.change_events import seen_by_webhooks
from qbo_sftp_assets.qbo import CDC_MAX_AGE, CdcResult, CdcWindowTooOld, MissingCredentials, ReconnectRequired
from qbo_sftp_assets.webhooks import spool_for

CDC_INTERVAL_SECONDS = 60
# Ask a little less than 30 days back, so a slow tick never crosses QBO's limit mid-request.
CDC_SAFE_AGE = CDC_MAX_AGE - dt.timedelta(hours=1)


def cdc_sensor_name(company: str) -> str:
    return f"qbo_cdc_{company}"


def qbo_cdc_sensors(config: Config | None, snapshot_job: AssetJob, outbound_job: AssetJob) -> list[dg.SensorDefinition]:
    if config is None:
        return []
    return [_cdc_sensor(config, company, snapshot_job, outbound_job) for company in sorted(config.companies)]


def _cdc_sensor(
    config: Config,
    company: str,
    snapshot_job: AssetJob,
    outbound_job: AssetJob,
) -> dg.SensorDefinition:
    realm_id = config.company(company).realm_id
    feeds = change_feeds(config, company)
    entities = list(ENTITY_OF_KEY.values())

    @dg.sensor(
        name=cdc_sensor_name(company),
        description=f"Asks QuickBooks company {company!r} (realm {realm_id}) what changed, and refreshes it.",
        minimum_interval_seconds=minimum_interval(CDC_INTERVAL_SECONDS),
        default_status=dg.DefaultSensorStatus.RUNNING,
        jobs=[snapshot_job, outbound_job],
    )
    def cdc_sensor(context: dg.SensorEvaluationContext, qbo: QboResource) -> dg.SensorResult | dg.SkipReason:
        now = dt.datetime.now(dt.UTC)
        since = _since(context.cursor)
        tags = {REALM_TAG: realm_id}

        def full_refresh() -> dg.SensorResult:
            """Every snapshot of the company read in full: the first look, or CDC's window was passed."""
            request = dg.RunRequest(
                run_key=f"cdc:{company}:full:{now.isoformat()}",
                job_name=snapshot_job.name,
                partition_key=company,
                tags=tags,
            )
            return dg.SensorResult(run_requests=[request], cursor=_cursor(now))

        if since is None or since < now - CDC_SAFE_AGE:
            reason = "first look" if since is None else f"watermark {since.isoformat()} is older than QBO's CDC window"
            context.log.info(f"{company}: {reason}; refreshing every snapshot")
            return full_refresh()
        try:
            with qbo.client(company) as client:
                result = client.cdc(entities, since, now=now)
        except (ReconnectRequired, MissingCredentials) as error:
            return dg.SkipReason(str(error))
        except CdcWindowTooOld:
            return full_refresh()
        changed = sorted(e for e in entities if result.changed.get(e) or result.deleted.get(e))
        watermark = _parse_time(result.time) or now
        if not changed:
            return dg.SensorResult(skip_reason=f"no changes since {since.isoformat()}", cursor=_cursor(watermark))
        covered = _covered_by_webhooks(config, realm_id, result, changed)
        if covered:
            context.log.info(f"{company}: {', '.join(covered)} changes already arrived by webhook")
            changed = [e for e in changed if e not in covered]
        if not changed:
            return dg.SensorResult(
                skip_reason=f"every change since {since.isoformat()} arrived by webhook", cursor=_cursor(watermark)
            )
        stamp = watermark.isoformat()
        requests = [
            dg.RunRequest(
                run_key=f"cdc:{company}:{stamp}",
                job_name=snapshot_job.name,
                partition_key=company,
                asset_selection=[key for key, entity in ENTITY_OF_KEY.items() if entity in changed],
                tags=tags,
            )
        ]
        requests += [
            change_run_request(outbound_job.name, key, f"cdc:{key}:{stamp}", realm_id)
            for key, feed in sorted(feeds.items())
            if feed.entities & set(changed)
        ]
        context.log.info(f"{company}: {', '.join(changed)} changed since {since.isoformat()}")
        return dg.SensorResult(run_requests=requests, cursor=_cursor(watermark))

    return cdc_sensor


def _covered_by_webhooks(config: Config, realm_id: str, result: CdcResult, changed: list[str]) -> list[str]:
    """The changed entities whose every CDC change the webhook spool already holds."""
    try:
        spool = spool_for(config)
    except ConfigError:
        return []  # the spool's database URL is unset: nothing to ask, so CDC refreshes every change itself
    changes = {
        entity: [
            (str(o.get("Id")), (o.get("MetaData") or {}).get("LastUpdatedTime")) for o in result.changed.get(entity, ())
        ]
        + [(t.id, t.last_updated) for t in result.deleted.get(entity, [])]
        for entity in changed
    }
    seen = seen_by_webhooks(spool, realm_id, changes)
    return [entity for entity in changed if all((entity, qbo_id) in seen for qbo_id, _ in changes[entity])]


def _since(cursor: str | None) -> dt.datetime | None:
    if not cursor:
        return None
    return _parse_time(json.loads(cursor).get("since"))


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _cursor(since: dt.datetime) -> str:
    return json.dumps({"since": since.isoformat()})
