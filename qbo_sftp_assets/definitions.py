"""The code location: QuickBooks snapshots, outbound feeds and inbound files, wired from the config file.

Without a config file (a clean checkout, `dagster definitions validate`) the graph has every asset and
job but no companies, feeds, sensors or schedules; with one ($QBO_SFTP_CONFIG or ./qbo_sftp.yaml)
there is a partition per company and feed, an SFTP sensor per partner, a CDC and a webhook sensor per
company, a partner-ack sensor per partner with X12 feeds, and a
schedule per scheduled feed. Every run executes in process: a process per step costs seconds each.
"""

import dagster as dg

from qbo_sftp_assets.config import Config, config_path, load_config
from qbo_sftp_assets.defs.inbound.definitions import inbound_definitions
from qbo_sftp_assets.defs.jobs import inbound_job, outbound_job, snapshot_job
from qbo_sftp_assets.defs.outbound.definitions import outbound_definitions
from qbo_sftp_assets.defs.partitions import company_partitions, feed_partitions
from qbo_sftp_assets.defs.qbo_snapshots.definitions import snapshot_definitions
from qbo_sftp_assets.defs.qbo_snapshots.health import health_definitions
from qbo_sftp_assets.defs.resources import build_resources
from qbo_sftp_assets.defs.webhooks.definitions import webhook_definitions


def configured() -> Config | None:
    """The config file's contents, or None when there is none (a bad file is an error, not None)."""
    return load_config() if config_path().exists() else None


def build_definitions(config: Config | None) -> dg.Definitions:
    companies = company_partitions(config)
    feeds = feed_partitions(config)
    snapshots_job = snapshot_job()
    feeds_job = outbound_job()
    return dg.Definitions.merge(
        snapshot_definitions(config, companies, snapshots_job, feeds_job),
        outbound_definitions(config, feeds, feeds_job),
        inbound_definitions(config, inbound_job()),
        webhook_definitions(config, companies, snapshots_job, feeds_job),
        health_definitions(config),
        dg.Definitions(resources=build_resources(), executor=dg.in_process_executor),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(configured())
