"""A partner-ack sensor per partner with X12 feeds: asks for the ack check when 997s wait in its folder.

It only lists the partner's ack folder (never downloads, never opens the ledger). New files request
one `partner_acknowledged` check run per X12 feed of the partner, keyed by the files' names, sizes and
mtimes; the first run lands them all, the others find the folder empty and only re-evaluate. Besides,
each feed's check runs once per SLA_CHECK_PERIOD so a 997 that never comes shows as overdue.
"""

import datetime as dt
import hashlib

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.jobs import AssetJob
from qbo_sftp_assets.defs.outbound.checks import CHECK_NAME, OUTBOUND_FILES
from qbo_sftp_assets.defs.partitions import feed_key
from qbo_sftp_assets.defs.resources import REALM_TAG, SftpResource
from qbo_sftp_assets.defs.sensor_timing import minimum_interval
from qbo_sftp_assets.sftp import SftpError

SLA_CHECK_PERIOD = dt.timedelta(minutes=15)


def partner_ack_sensor_name(partner: str) -> str:
    return f"partner_acks_{partner}"


def partner_ack_sensors(config: Config | None, outbound_job: AssetJob) -> list[dg.SensorDefinition]:
    if config is None:
        return []
    sensors = []
    for partner_name, partner in sorted(config.partners.items()):
        feeds = sorted(feed_key(partner_name, f) for f, feed in partner.outbound.items() if feed.format == "x12_810")
        if feeds:
            realm_id = config.company(partner.company).realm_id
            sensors.append(_ack_sensor(partner_name, feeds, realm_id, partner.poll_interval, outbound_job))
    return sensors


def _ack_sensor(
    partner_name: str, feeds: list[str], realm_id: str, interval: float, outbound_job: AssetJob
) -> dg.SensorDefinition:
    check = dg.AssetCheckKey(OUTBOUND_FILES, CHECK_NAME)

    @dg.sensor(
        name=partner_ack_sensor_name(partner_name),
        description=f"Watches {partner_name}'s ack folder for 997s answering our X12 files, and checks "
        "each X12 feed's acknowledgments against the partner's SLA.",
        minimum_interval_seconds=minimum_interval(interval),
        default_status=dg.DefaultSensorStatus.RUNNING,
        job=outbound_job,
    )
    def ack_sensor(context: dg.SensorEvaluationContext, sftp: SftpResource) -> dg.SensorResult:
        partner = sftp.partner_config(partner_name)
        try:
            with sftp.partner(partner_name) as files:
                listing = files.list_folder(partner.partner_acks.folder)
                waiting = [f for f in listing if f.is_file and not f.name.startswith(".")]
        except SftpError as error:
            # A folder not made yet, or a server away: the periodic SLA check below still runs.
            context.log.info(f"{partner_name}: cannot list the ack folder: {error}")
            waiting = []
        identity = hashlib.sha256("\n".join(f"{f.name}:{f.size}:{f.mtime}" for f in waiting).encode()).hexdigest()[:16]
        period = int(dt.datetime.now(dt.UTC).timestamp() // SLA_CHECK_PERIOD.total_seconds())
        run_key = f"acks:{identity}" if waiting else f"sla:{period}"
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"{key}:{run_key}",
                    partition_key=key,
                    asset_selection=[],
                    asset_check_keys=[check],
                    tags={REALM_TAG: realm_id},
                )
                for key in feeds
            ]
        )

    return ack_sensor
