"""Per-file checks: `postings_valid` on `validated_postings` (the file's failure table) and
`file_processed` on `inbound_ack` (the file went all the way, or the step that failed it and why).

A partitioned check is the clearest place to review one file's failures (docs/asset-graph.md, "Measured
choices"): its Partitions tab shows Failed/Passed per file and a file's evaluation shows the table
inline. A check step over many files has no single partition, so it logs one evaluation per file, each
naming its partition.

It does not block: documents that passed are posted and acknowledged even when others failed. A
partner with `posting.all_or_nothing` gets nothing of a failing file posted (posting enforces the
policy per file, and the ack rejects every document), so blocking the whole run would only hold back
the other files in it.
"""

from typing import Any

import dagster as dg

from qbo_sftp_assets.defs.inbound.assets import inbound_ack, validated_postings
from qbo_sftp_assets.defs.inbound.metadata import failure_metadata, failure_rows, failure_table
from qbo_sftp_assets.defs.partitions import inbound_files, split_inbound_file_key
from qbo_sftp_assets.defs.resources import ConfigFileResource
from qbo_sftp_assets.pipeline.inbound_batch import FileFailure

CHECK_NAME = "postings_valid"
PROCESSED_CHECK_NAME = "file_processed"


# Both checks report one evaluation per file through log_event and return nothing; dagster's hints
# expect a returned AssetCheckResult and a log_event of materializations only (it handles AssetCheckEvaluation
# at run time, in execution/plan/compute.py).
@dg.asset_check(  # type: ignore[arg-type]
    asset=validated_postings,
    name=CHECK_NAME,
    partitions_def=inbound_files,
    blocking=False,
    description="Every document of the file maps to QuickBooks and passes validation; "
    "the failure table says which document, line, column and value failed, and the fix.",
)
def postings_valid(
    context: dg.AssetCheckExecutionContext,
    qbo_sftp_config: ConfigFileResource,
    validated_postings: dict[str, Any],
) -> None:
    config = qbo_sftp_config.load()
    for key, validated in validated_postings.items():
        partner_name, _name = split_inbound_file_key(key)
        context.op_execution_context.log_event(
            check_evaluation(key, validated, all_or_nothing=config.partner(partner_name).posting.all_or_nothing)  # type: ignore[arg-type]
        )


def check_evaluation(key: str, validated: Any, *, all_or_nothing: bool) -> dg.AssetCheckEvaluation:
    if isinstance(validated, FileFailure):
        return _failed(validated_postings.key, CHECK_NAME, key, validated, where=False)
    if validated is None:
        return dg.AssetCheckEvaluation(
            asset_key=validated_postings.key,
            check_name=CHECK_NAME,
            passed=True,
            partition=key,
            description="nothing to validate: a duplicate, a file no rule reads, or no file",
        )
    rows = failure_rows(validated.failures)
    failed = {row["document_number"] for row in rows}
    if not rows:
        consequence = "every document is posted"
    elif all_or_nothing:
        consequence = "nothing of this file is posted (the partner's posting is all_or_nothing)"
    else:
        consequence = f"{len(validated.valid)} valid document(s) are posted; the failed ones are rejected in the ack"
    return dg.AssetCheckEvaluation(
        asset_key=validated_postings.key,
        check_name=CHECK_NAME,
        passed=not rows,
        partition=key,
        severity=dg.AssetCheckSeverity.ERROR,
        description=consequence,
        metadata={
            "failures": len(rows),
            "failed_documents": len(failed),
            "valid_documents": len(validated.valid),
            "all_or_nothing": all_or_nothing,
            "failure_table": failure_table(rows),
        },
    )


def _failed(
    asset_key: dg.AssetKey, check_name: str, key: str, failure: FileFailure, *, where: bool = True
) -> dg.AssetCheckEvaluation:
    """A failed file's evaluation; `where` adds where the file lies, known only once the run filed it."""
    description = f"not processed: {failure.step} failed: {failure.reason}"
    return dg.AssetCheckEvaluation(
        asset_key=asset_key,
        check_name=check_name,
        passed=False,
        partition=key,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{description}; {failure.where}" if where else description,
        metadata=failure_metadata(failure) if where else {"failed_step": failure.step, "reason": failure.reason},
    )


@dg.asset_check(  # type: ignore[arg-type]  # see postings_valid
    asset=inbound_ack,
    name=PROCESSED_CHECK_NAME,
    partitions_def=inbound_files,
    blocking=False,
    description="The file went through every step and was filed; when one of its steps failed, which "
    "step, why, and where the file lies now (the run's other files went on).",
)
def file_processed(context: dg.AssetCheckExecutionContext, inbound_ack: dict[str, Any]) -> None:
    for key, filed in inbound_ack.items():
        context.op_execution_context.log_event(processed_evaluation(key, filed))  # type: ignore[arg-type]


def processed_evaluation(key: str, filed: Any) -> dg.AssetCheckEvaluation:
    if isinstance(filed, FileFailure):
        return _failed(inbound_ack.key, PROCESSED_CHECK_NAME, key, filed)
    description = (
        "no file: it was in neither inbound/ nor processing/ (filed already, claimed by another run, or removed)"
        if filed is None
        else f"filed to {filed.final_path} ({filed.status})"
    )
    return dg.AssetCheckEvaluation(
        asset_key=inbound_ack.key, check_name=PROCESSED_CHECK_NAME, passed=True, partition=key, description=description
    )
