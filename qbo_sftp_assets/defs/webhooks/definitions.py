"""The webhook change step and a webhook sensor per company."""

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.jobs import AssetJob
from qbo_sftp_assets.defs.webhooks.assets import webhook_change_assets
from qbo_sftp_assets.defs.webhooks.sensors import qbo_webhook_sensors


def webhook_definitions(
    config: Config | None, companies: dg.PartitionsDefinition, snapshot_job: AssetJob, outbound_job: AssetJob
) -> dg.Definitions:
    return dg.Definitions(
        assets=webhook_change_assets(companies), sensors=qbo_webhook_sensors(config, snapshot_job, outbound_job)
    )
