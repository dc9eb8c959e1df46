"""The outbound feed asset, its partner-ack check, a schedule per scheduled feed and a partner-ack sensor."""

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.jobs import AssetJob
from qbo_sftp_assets.defs.outbound.assets import outbound_assets
from qbo_sftp_assets.defs.outbound.checks import outbound_checks
from qbo_sftp_assets.defs.outbound.schedules import outbound_schedules
from qbo_sftp_assets.defs.outbound.sensors import partner_ack_sensors


def outbound_definitions(config: Config | None, feeds: dg.PartitionsDefinition, job: AssetJob) -> dg.Definitions:
    return dg.Definitions(
        assets=outbound_assets(config, feeds),
        asset_checks=outbound_checks(feeds),
        jobs=[job],
        schedules=outbound_schedules(config, job),
        sensors=partner_ack_sensors(config, job),
    )
