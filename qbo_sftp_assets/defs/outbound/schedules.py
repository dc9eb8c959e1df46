"""A schedule per outbound feed whose trigger includes `schedule` and that has a cron: it fires in the feed's
time zone and sends what the feed's `select` declares, as QBO holds it then.

"Week of" semantics: a feed is not a calendar partition. A tick at Monday 06:00 America/New_York
renders every row the feed's entities hold at that moment (refreshed from QBO first) and stamps the
run with the tick's time, so a retry of that run names its files the same.
"""

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.jobs import AssetJob
from qbo_sftp_assets.defs.outbound.assets import AS_OF_TAG
from qbo_sftp_assets.defs.partitions import feed_key
from qbo_sftp_assets.defs.resources import REALM_TAG


def schedule_name(partner: str, feed: str) -> str:
    return f"{partner}__{feed}_schedule"


def outbound_schedules(config: Config | None, outbound_job: AssetJob) -> list[dg.ScheduleDefinition]:
    if config is None:
        return []
    return [
        _feed_schedule(
            partner_name,
            feed_name,
            feed.schedule,
            feed.timezone,
            config.company_of(partner_name).realm_id,
            outbound_job,
        )
        for partner_name, partner in sorted(config.partners.items())
        for feed_name, feed in sorted(partner.outbound.items())
        if feed.scheduled and feed.schedule is not None
    ]


def _feed_schedule(
    partner: str, feed: str, cron: str, timezone: str, realm_id: str, outbound_job: AssetJob
) -> dg.ScheduleDefinition:
    key = feed_key(partner, feed)

    @dg.schedule(
        name=schedule_name(partner, feed),
        cron_schedule=cron,
        execution_timezone=timezone,
        job=outbound_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Sends {key} at '{cron}' in {timezone}.",
    )
    def feed_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time
        return dg.RunRequest(
            run_key=f"{key}:{tick.isoformat()}",
            partition_key=key,
            tags={AS_OF_TAG: tick.isoformat(), REALM_TAG: realm_id},
        )

    return feed_schedule
