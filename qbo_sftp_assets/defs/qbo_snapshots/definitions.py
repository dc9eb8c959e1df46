"""The snapshots' assets and the CDC sensors, for the companies the config names."""

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.jobs import AssetJob
from qbo_sftp_assets.defs.qbo_snapshots.assets import snapshot_assets
from qbo_sftp_assets.defs.qbo_snapshots.sensors import qbo_cdc_sensors


def snapshot_definitions(
    config: Config | None, companies: dg.PartitionsDefinition, job: AssetJob, outbound_job: AssetJob
) -> dg.Definitions:
    return dg.Definitions(
        assets=snapshot_assets(companies), jobs=[job], sensors=qbo_cdc_sensors(config, job, outbound_job)
    )
