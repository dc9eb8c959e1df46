"""The three jobs a person or a sensor launches: a company's snapshots, a partner feed, inbound files.

Each job's partitions are those of the assets it selects (companies, feeds, inbound files).
"""

import dagster as dg

# define_asset_job's return type, not re-exported at the top of `dagster`.
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition as AssetJob

SNAPSHOT_JOB = "qbo_snapshots_job"
OUTBOUND_JOB = "outbound_files_job"
INBOUND_JOB = "inbound_files_job"


def snapshot_job() -> AssetJob:
    return dg.define_asset_job(
        SNAPSHOT_JOB,
        selection=dg.AssetSelection.groups("quickbooks"),
        description="Refresh a company's QuickBooks snapshots into the ledger.",
    )


def outbound_job() -> AssetJob:
    return dg.define_asset_job(
        OUTBOUND_JOB,
        selection=dg.AssetSelection.groups("outbound"),
        description="Render a partner feed from QuickBooks and deliver it to the partner's outbound folder.",
    )


def inbound_job() -> AssetJob:
    return dg.define_asset_job(
        INBOUND_JOB,
        selection=dg.AssetSelection.groups("inbound"),
        description="Land, read, validate, post and acknowledge inbound files (one run, many files).",
    )


__all__ = ["INBOUND_JOB", "OUTBOUND_JOB", "SNAPSHOT_JOB", "AssetJob", "inbound_job", "outbound_job", "snapshot_job"]
