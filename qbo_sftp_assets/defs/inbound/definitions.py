"""The inbound chain, its check and an SFTP sensor per partner that receives files."""

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.inbound.assets import INBOUND_ASSETS
from qbo_sftp_assets.defs.inbound.checks import file_processed, postings_valid
from qbo_sftp_assets.defs.inbound.sensors import sftp_inbound_sensors
from qbo_sftp_assets.defs.jobs import AssetJob


def inbound_definitions(config: Config | None, job: AssetJob) -> dg.Definitions:
    return dg.Definitions(
        assets=INBOUND_ASSETS,
        asset_checks=[postings_valid, file_processed],
        jobs=[job],
        sensors=sftp_inbound_sensors(config, job),
    )
