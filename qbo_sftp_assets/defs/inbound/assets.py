"""The inbound chain, one `inbound_files` partition per file, many files per run.

landed_inbound_file -> parsed_inbound_documents -> validated_postings -> qbo_postings -> inbound_ack.
Every asset has a single-run backfill policy: the sensor asks for one run over all the files it found,
each step handles them together (one SFTP session per partner, one `post_files` whose batches fill
across files), and each file still gets its own materialization and metadata. Values pass between
steps as `{partition_key: value}` through `FilePartitionsIOManager`, so re-materializing one file's
`validated_postings` later re-applies the mapping to that file's stored documents.

Each body calls one function of `pipeline.inbound_batch` and attaches metadata. A file whose own step
failed (a broken download, nobody to acknowledge, a refused ledger row) carries a `FileFailure` to the
end, shown in its metadata and its `file_processed` check, while the run's other files go on; what
concerns the whole run (reconnect the company, QBO down, ledger locked) fails the step.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import dagster as dg

from qbo_sftp_assets.defs.inbound.metadata import (
    ack_metadata,
    failure_metadata,
    landed_metadata,
    parsed_metadata,
    posted_metadata,
    validated_metadata,
)
from qbo_sftp_assets.defs.inbound.partition_metadata import add_metadata_by_partition
from qbo_sftp_assets.defs.partitions import inbound_files, split_inbound_file_key
from qbo_sftp_assets.defs.resources import (
    LEDGER_POOL,
    ConfigFileResource,
    LedgerResource,
    QboResource,
    SftpResource,
)
from qbo_sftp_assets.pipeline import inbound_batch

GROUP = "inbound"
IO_MANAGER = "file_partitions_io_manager"
COMMON: dict[str, Any] = {
    "group_name": GROUP,
    "partitions_def": inbound_files,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "io_manager_key": IO_MANAGER,
}


def _add_metadata(
    context: dg.AssetExecutionContext, values: dict[str, Any], describe: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """Each file's metadata on its own partition; a file that failed says where and why instead."""
    add_metadata_by_partition(
        context,
        {
            key: failure_metadata(value) if isinstance(value, inbound_batch.FileFailure) else describe(value)
            for key, value in values.items()
        },
    )
    return values


@dg.asset(
    **COMMON,
    pool=LEDGER_POOL,
    kinds={"sftp"},
    description="The partner's file claimed into processing/, downloaded with its sha256 and recorded in "
    "the ledger (a file a crashed run left in processing/ is picked up where it stopped).",
)
def landed_inbound_file(
    context: dg.AssetExecutionContext,
    qbo_sftp_config: ConfigFileResource,
    ledger: LedgerResource,
    sftp: SftpResource,
) -> dict[str, Any]:
    files = {key: split_inbound_file_key(key) for key in context.partition_keys}
    local_dir = inbound_batch.landing_dir(qbo_sftp_config.load())
    landed = inbound_batch.land_files(sftp.partner, files, ledger.ledger(), local_dir)
    return _add_metadata(context, landed, landed_metadata)


@dg.asset(
    **COMMON,
    pool=LEDGER_POOL,
    kinds={"x12", "edifact", "csv"},
    description="The documents read from the file, its syntax errors, and its syntax acknowledgment.",
)
def parsed_inbound_documents(
    context: dg.AssetExecutionContext,
    qbo_sftp_config: ConfigFileResource,
    ledger: LedgerResource,
    landed_inbound_file: dict[str, Any],
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    parsed = inbound_batch.read_files(landed_inbound_file, qbo_sftp_config.load(), ledger.ledger(), as_of=now)
    return _add_metadata(context, parsed, parsed_metadata)


@dg.asset(
    **COMMON,
    kinds={"pandera"},
    description="The file's documents mapped to QuickBooks postings and validated; the failure table names "
    "each document, line, column and value and the fix. Re-materialize a file's partition (with its "
    "downstream assets) after fixing the mapping: this step re-applies it.",
)
def validated_postings(
    context: dg.AssetExecutionContext,
    qbo_sftp_config: ConfigFileResource,
    ledger: LedgerResource,
    parsed_inbound_documents: dict[str, Any],
) -> dict[str, Any]:
    validated = inbound_batch.validate_files(parsed_inbound_documents, qbo_sftp_config.load(), ledger.ledger())
    return _add_metadata(context, validated, validated_metadata)


@dg.asset(
    **COMMON,
    pool=LEDGER_POOL,
    kinds={"quickbooks"},
    description="What each document of the file became in QuickBooks: posted (with its id), a duplicate "
    "of an earlier posting, skipped, or rejected with the reason. Posting is idempotent: a replay posts "
    "only what is missing.",
)
def qbo_postings(
    context: dg.AssetExecutionContext,
    qbo_sftp_config: ConfigFileResource,
    qbo: QboResource,
    ledger: LedgerResource,
    parsed_inbound_documents: dict[str, Any],
    validated_postings: dict[str, Any],
) -> dict[str, Any]:
    outcomes = inbound_batch.post_validated_files(
        qbo.client, parsed_inbound_documents, validated_postings, qbo_sftp_config.load(), ledger.ledger()
    )
    return _add_metadata(context, outcomes, posted_metadata)


@dg.asset(
    **COMMON,
    pool=LEDGER_POOL,
    kinds={"sftp"},
    description="The acknowledgments sent to the partner (997/CONTRL for syntax, a CSV ack, 824 or APERAK "
    "for what was posted) and where the file was filed (archive/ or error/).",
)
def inbound_ack(
    context: dg.AssetExecutionContext,
    qbo_sftp_config: ConfigFileResource,
    ledger: LedgerResource,
    sftp: SftpResource,
    parsed_inbound_documents: dict[str, Any],
    qbo_postings: dict[str, Any],
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    filed = inbound_batch.acknowledge_files(
        sftp.partner, parsed_inbound_documents, qbo_postings, qbo_sftp_config.load(), ledger.ledger(), as_of=now
    )
    return _add_metadata(context, filed, ack_metadata)


INBOUND_ASSETS = [landed_inbound_file, parsed_inbound_documents, validated_postings, qbo_postings, inbound_ack]
