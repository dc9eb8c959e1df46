"""What each inbound file's materializations and check show in the UI: counts, tables, paths, QBO ids."""

from collections import Counter
from typing import Any

import dagster as dg

from qbo_sftp_assets.formats import DocumentOutcome
from qbo_sftp_assets.pipeline.inbound_batch import FileFailure

FAILURE_COLUMNS = ("document_number", "line", "source_location", "column", "value", "check", "fix")
FAILURE_SCHEMA = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in FAILURE_COLUMNS])
OUTCOME_COLUMNS = ("document", "type", "status", "qbo_entity", "qbo_id", "reason")
OUTCOME_SCHEMA = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in OUTCOME_COLUMNS])
# A table past a few hundred rows is unreadable in the UI and heavy in the event log; the count says the rest.
MAX_TABLE_ROWS = 200


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a DataFrame's empty cell
        return ""
    return str(value)


def failure_rows(failures: Any) -> list[dict[str, str]]:
    """The failure table's rows (a DataFrame or a list of rows), each as text in the table's columns."""
    if failures is None:
        return []
    records = (
        failures.to_dict("records")
        if hasattr(failures, "to_dict")
        else [row.as_dict() if hasattr(row, "as_dict") else dict(row) for row in failures]
    )
    return [{name: _text(record.get(name)) for name in FAILURE_COLUMNS} for record in records]


def failure_table(rows: list[dict[str, str]]) -> dg.MetadataValue:
    return dg.MetadataValue.table(records=[dg.TableRecord(row) for row in rows[:MAX_TABLE_ROWS]], schema=FAILURE_SCHEMA)


def failure_metadata(failure: FileFailure) -> dict[str, Any]:
    """A file that stopped at one step: the step, the reason and where the file lies now."""
    return {
        "status": f"failed at {failure.step}",
        "failed_step": failure.step,
        "reason": failure.reason,
        "file_now": failure.where,
    }


def landed_metadata(landed: Any) -> dict[str, Any]:
    if landed is None:
        return {"status": "not found in inbound/ or processing/ (already filed, or removed)"}
    metadata: dict[str, Any] = {
        "partner": landed.partner,
        "file": landed.name,
        "sha256": landed.sha256,
        "size": landed.size,
        "local_path": dg.MetadataValue.path(str(landed.local_path)),
    }
    if landed.duplicate:
        metadata["duplicate_of_inbound_file"] = int(landed.record.duplicate_of)
    return metadata


def parsed_metadata(parsed: Any) -> dict[str, Any]:
    if parsed is None:
        return {"status": "no file landed"}
    result = parsed.result
    documents = list(result.documents) if result is not None else []
    errors = list(result.errors) if result is not None else []
    metadata: dict[str, Any] = {
        "dagster/row_count": len(documents),
        "documents": len(documents),
        "syntax_errors": len(errors),
        "sha256": parsed.landed.sha256,
        "format": parsed.rule.format if parsed.rule is not None else "no inbound rule matches",
    }
    if parsed.duplicate_of is not None:
        metadata["duplicate_of"] = parsed.duplicate_of.detail
    if parsed.acknowledged is not None and parsed.acknowledged.ack_kind:
        metadata["syntax_ack"] = parsed.acknowledged.ack_kind
    if errors:
        metadata["errors"] = dg.MetadataValue.md("\n".join(f"- {error.render()}" for error in errors[:50]))
    return metadata


def validated_metadata(validated: Any) -> dict[str, Any]:
    if validated is None:
        return {"status": "not validated: no documents to post (a duplicate, no matching rule, or no file)"}
    rows = failure_rows(validated.failures)
    failed_documents = {row["document_number"] for row in rows}
    return {
        "dagster/row_count": len(validated.valid),
        "valid_documents": len(validated.valid),
        "failed_documents": len(failed_documents),
        "failures": len(rows),
        "failure_table": failure_table(rows),
    }


def outcome_rows(outcomes: list[DocumentOutcome]) -> list[dict[str, str]]:
    return [
        {
            "document": _text(outcome.document_number),
            "type": outcome.document_type,
            "status": str(outcome.status),
            "qbo_entity": _text(outcome.qbo_entity),
            "qbo_id": _text(outcome.qbo_id),
            "reason": _text(outcome.reason),
        }
        for outcome in outcomes
    ]


def posted_metadata(outcomes: list[DocumentOutcome] | None) -> dict[str, Any]:
    if outcomes is None:
        return {"status": "nothing posted"}
    counts = Counter(str(outcome.status) for outcome in outcomes)
    return {
        "dagster/row_count": len(outcomes),
        **{f"{status}": counts.get(status, 0) for status in ("posted", "updated", "duplicate", "rejected", "skipped")},
        "qbo_ids": ", ".join(f"{o.qbo_entity}/{o.qbo_id}" for o in outcomes if o.qbo_id) or "none",
        "outcomes": dg.MetadataValue.table(
            records=[dg.TableRecord(row) for row in outcome_rows(outcomes)[:MAX_TABLE_ROWS]], schema=OUTCOME_SCHEMA
        ),
    }


def ack_metadata(filed: Any) -> dict[str, Any]:
    if filed is None:
        return {"status": "no file landed"}
    metadata: dict[str, Any] = {"status": filed.status, "filed_at": filed.final_path}
    for name in ("ack_path", "application_ack_path"):
        value = getattr(filed, name, None)
        if value:
            metadata[name] = value
    return metadata
