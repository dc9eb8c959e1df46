"""The acknowledgment a CSV or fixed-width file gets: a CSV an ERP can load, one row per document/error.

One format for both moments: at parse time (`build_flat_ack`, what `qbo-sftp ack` prints) and after
posting (`build_posting_ack`, which says what QuickBooks holds). A parse-time ack leaves the
QuickBooks columns (error_code, qbo_entity, qbo_id, revision, duplicate_of) empty.

Columns (in this order, every row has all of them; UTF-8 without BOM, `\\r\\n`, formulas neutralised):

    record          FILE (first row), DOCUMENT (one per document; a document rejected for several
                    reasons has one row per reason), ERROR (an error of the whole file, or after
                    posting one found while reading), END (last row)
    control_number  the ack's control number;  created_at: when it was made (ISO 8601, UTC)
    file, sha256    the acknowledged file's name and SHA-256 (lower-case hex)
    status          DOCUMENT at parse time: accepted | rejected; after posting: posted | updated |
                    duplicate (already in QuickBooks: qbo_id is the earlier record) | rejected |
                    skipped (already in QuickBooks with other content, and the partner's policy keeps
                    it).  END: the file's status (`outcomes.file_status`): accepted (every document),
                    partial (some not), rejected (none, or the file itself), or duplicate (the whole
                    file is a re-send: duplicate_of names the earlier file)
    document_type, document_number, vendor_id, vendor_name, line, total    the document (line is
                    its first line in the file)
    error_line, error_field, error_message    why it was not accepted (empty when it was)
    accepted, rejected, rows    on END only: documents accepted (after posting: posted, updated or
                    duplicate), documents not, and the number of rows before END (so a truncated ack
                    is detectable)
    error_code      after posting: QuickBooks' fault code or the failed check
    qbo_entity, qbo_id    after posting: the QuickBooks record (Bill, VendorCredit, JournalEntry) and Id
    revision        after posting: 1 for the first ack of a file, 2, 3, ... for each replay
    duplicate_of    on FILE and END of a duplicate file: the earlier file's name
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from qbo_sftp_assets.formats import csv_format
from qbo_sftp_assets.formats.documents import JournalEntry, Transaction
from qbo_sftp_assets.formats.errors import ParseError
from qbo_sftp_assets.formats.flat_documents import FlatItem, Rejection
from qbo_sftp_assets.formats.layouts import CsvLayout
from qbo_sftp_assets.formats.outcomes import DocumentOutcome, FileStatus, file_status

ACK_COLUMNS = (
    "record",
    "control_number",
    "created_at",
    "file",
    "sha256",
    "status",
    "document_type",
    "document_number",
    "vendor_id",
    "vendor_name",
    "line",
    "total",
    "error_line",
    "error_field",
    "error_message",
    "accepted",
    "rejected",
    "rows",
    "error_code",
    "qbo_entity",
    "qbo_id",
    "revision",
    "duplicate_of",
)
_ACK_DIALECT = CsvLayout(encoding="utf-8", line_terminator="\r\n")
FILE_REJECTED = "not posted: the file was rejected (see the ERROR rows)"


@dataclass(frozen=True)
class FlatAck:
    """The ack's bytes and what they say: the file's status and the documents accepted and rejected."""

    content: bytes
    status: FileStatus
    accepted: int
    rejected: int


@dataclass(frozen=True)
class AckEntry:
    """One document's outcome, small enough to keep for every document of a large file."""

    document_type: str | None
    document_number: str | None
    vendor_id: str | None
    vendor_name: str | None
    line: int | None
    total: Decimal | None
    errors: tuple[ParseError, ...] = ()
    scope: str = "document"


def ack_entries(items: Iterable[FlatItem], *, fatal: list[ParseError] | None = None) -> list[AckEntry]:
    """The outcome of each item a flat reader yielded, with the same rejections `collect` makes.

    With `fatal` given, a ParseError that stops the reader is appended to it (instead of raised) and
    the entries read until then are returned, so an unreadable file still gets an ack naming them.
    """
    entries: list[AckEntry] = []
    repeated: dict[int, int] = {}
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            break
        except ParseError as error:
            if fatal is None:
                raise
            fatal.append(error)
            break
        if isinstance(item, Rejection):
            party = item.party
            entries.append(
                AckEntry(
                    item.kind,
                    item.number,
                    None if party is None else party.id,
                    None if party is None else party.name,
                    item.source.line,
                    None,
                    item.errors,
                    item.scope,
                )
            )
            if item.repeats_line is not None:
                repeated.setdefault(item.repeats_line, item.source.line or 0)
        else:
            entries.append(_accepted(item))
    for index, entry in enumerate(entries):
        again = repeated.get(entry.line or 0)
        if again is not None and not entry.errors and entry.scope == "document":
            continued = ParseError(
                f"rows of this document continue at line {again}, after other documents",
                line=entry.line,
                expected="the rows of one document next to each other",
            )
            entries[index] = replace(entry, errors=(continued,))
    return entries


def _accepted(document: Transaction | JournalEntry) -> AckEntry:
    if isinstance(document, JournalEntry):
        return AckEntry(document.type.value, document.number, None, None, document.source.line, document.total_debits)
    total = document.total if document.total is not None else document.lines_total
    return AckEntry(
        document.type.value,
        document.number,
        document.counterparty.id,
        document.counterparty.name,
        document.source.line,
        total,
    )


def build_flat_ack(
    entries: Iterable[AckEntry],
    *,
    file_name: str,
    sha256: str,
    control_number: int,
    created_at: dt.datetime,
    fatal: ParseError | None = None,
) -> FlatAck:
    """The parse-time ack; the same entries and arguments give the same bytes.

    `fatal` is the error that stopped the file being read at all (the file is then rejected).
    """
    entries = list(entries)
    file_errors = [e for entry in entries if entry.scope == "file" for e in entry.errors]
    if fatal is not None:
        file_errors.insert(0, fatal)
    table = _AckTable(file_name, sha256, control_number, created_at)
    table.write(record="FILE")
    verdicts: list[bool] = []
    for entry in entries:
        if entry.scope == "file":
            continue
        document = {
            "record": "DOCUMENT",
            "document_type": entry.document_type,
            "document_number": entry.document_number,
            "vendor_id": entry.vendor_id,
            "vendor_name": entry.vendor_name,
            "line": entry.line,
            "total": entry.total,
        }
        if entry.errors:
            for error in entry.errors:
                table.write(**document, status="rejected", **_error_cells(error))
        elif file_errors:
            table.write(**document, status="rejected", error_message=FILE_REJECTED)
        else:
            table.write(**document, status="accepted")
        verdicts.append(not entry.errors and not file_errors)
    for error in file_errors:
        table.write(record="ERROR", status="rejected", **_error_cells(error))
    return table.finish(file_status(verdicts, file_rejected=bool(file_errors)), verdicts)


def build_posting_ack(
    outcomes: Iterable[DocumentOutcome],
    *,
    file_name: str,
    sha256: str,
    control_number: int,
    created_at: dt.datetime,
    revision: int = 1,
    read_errors: Iterable[ParseError] = (),
    duplicate_of: str | None = None,
) -> FlatAck:
    """The ack written after posting: one DOCUMENT row per outcome (in file order), then an ERROR row
    for each problem found while reading (`ReadResult.errors`: rows or documents refused before
    posting; any makes the file at best partial), then END.

    `revision` numbers the acks of one file (1, then 2, 3 on replays). `duplicate_of` (the earlier
    file's name) marks the whole file as a re-send: its status is `duplicate` and each outcome
    should name the earlier QuickBooks record. Deterministic given its arguments.
    """
    if revision < 1:
        raise ValueError(f"revision must be 1 or more, got {revision}")
    outcomes = sorted(outcomes, key=lambda outcome: outcome.record_index)
    read_errors = list(read_errors)
    table = _AckTable(file_name, sha256, control_number, created_at, revision=revision, duplicate_of=duplicate_of)
    table.write(record="FILE", duplicate_of=duplicate_of)
    verdicts: list[bool] = []
    for outcome in outcomes:
        table.write(
            record="DOCUMENT",
            status=outcome.status.value,
            document_type=outcome.document_type,
            document_number=outcome.document_number,
            vendor_id=outcome.vendor_id,
            vendor_name=outcome.vendor_name,
            line=outcome.line,
            total=outcome.total,
            error_line=None if outcome.accepted else outcome.line,
            error_message=outcome.reason,
            error_code=outcome.code,
            qbo_entity=outcome.qbo_entity,
            qbo_id=outcome.qbo_id,
        )
        verdicts.append(outcome.accepted)
    for error in read_errors:
        table.write(record="ERROR", status="rejected", **_error_cells(error))
    status = file_status([*verdicts, *([False] if read_errors else [])])
    if duplicate_of is not None:
        status = FileStatus.DUPLICATE
    return table.finish(status, verdicts, duplicate_of=duplicate_of)


class _AckTable:
    """The rows of one ack: every row repeats the file's columns; END counts what came before."""

    def __init__(
        self,
        file_name: str,
        sha256: str,
        control_number: int,
        created_at: dt.datetime,
        *,
        revision: int | None = None,
        duplicate_of: str | None = None,
    ) -> None:
        if created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        stamp = created_at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self.common = {
            "control_number": control_number,
            "created_at": stamp,
            "file": file_name,
            "sha256": sha256,
            "revision": revision,
        }
        self.buffer = io.BytesIO()
        self.writer = csv_format.RowWriter(_ACK_DIALECT, self.buffer)
        self.writer.write(list(ACK_COLUMNS), where="the ack header")
        self.rows = 0

    def write(self, **values: object) -> None:
        merged = {**self.common, **values}
        self.writer.write([csv_format.cell_text(merged.get(c), _ACK_DIALECT) for c in ACK_COLUMNS], where="the ack")
        self.rows += 1

    def finish(self, status: FileStatus, verdicts: list[bool], *, duplicate_of: str | None = None) -> FlatAck:
        accepted = sum(verdicts)
        rejected = len(verdicts) - accepted
        self.write(
            record="END",
            status=status.value,
            accepted=accepted,
            rejected=rejected,
            rows=self.rows + 1,
            duplicate_of=duplicate_of,
        )
        return FlatAck(self.buffer.getvalue(), status, accepted, rejected)


def _error_cells(error: ParseError) -> dict[str, object]:
    message = error.message + (f" (expected {error.expected})" if error.expected else "")
    return {"error_line": error.line, "error_field": error.element, "error_message": message}


def file_sha256(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
