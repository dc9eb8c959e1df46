"""The acknowledgment a CSV or fixed-width file gets: a CSV an ERP can load, one row per document/error.

Columns (in this order, every row has all of them; UTF-8 without BOM, `\\r\\n`, formulas neutralised):

    record          FILE (first row), DOCUMENT (one per accepted document, one per error of a rejected
                    document), ERROR (an error of the whole file), END (last row)
    control_number  the ack's control number;  created_at: when it was made (ISO 8601, UTC)
    file, sha256    the acknowledged file's name and SHA-256 (lower-case hex)
    status          DOCUMENT: accepted | rejected;  END: the file's status, accepted (every document),
                    partial (some rejected), rejected (nothing will be posted)
    document_type, document_number, vendor_id, vendor_name, line, total    the document (line is
                    its first line in the file)
    error_line, error_field, error_message    what rejected it (empty when accepted)
    accepted, rejected, rows    on END only: documents accepted, documents rejected, and the number
                    of rows before END (so a truncated ack is detectable)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from qbo_sftp_assets.formats import csv_format, fixed_width
from qbo_sftp_assets.formats.documents import Bill, JournalEntry
from qbo_sftp_assets.formats.errors import ParseError
from qbo_sftp_assets.formats.flat_documents import FlatItem, Rejection
from qbo_sftp_assets.formats.layouts import CsvLayout, FixedWidthLayout

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
)
_ACK_DIALECT = CsvLayout(encoding="utf-8", line_terminator="\r\n")
FILE_REJECTED = "not posted: the file was rejected (see the ERROR rows)"


@dataclass(frozen=True)
class FlatAck:
    """The ack's bytes and what they say: the file's status and the documents accepted and rejected."""

    content: bytes
    status: str  # accepted | partial | rejected
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
            error = ParseError(
                f"rows of this document continue at line {again}, after other documents",
                line=entry.line,
                expected="the rows of one document next to each other",
            )
            entries[index] = replace(entry, errors=(error,))
    return entries


def _accepted(document: Bill | JournalEntry) -> AckEntry:
    if isinstance(document, JournalEntry):
        return AckEntry(document.type.value, document.number, None, None, document.source.line, document.total_debits)
    total = document.total if document.total is not None else document.lines_total
    return AckEntry(
        document.type.value, document.number, document.vendor.id, document.vendor.name, document.source.line, total
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
    """The ack; the same entries and arguments give the same bytes.

    `fatal` is the error that stopped the file being read at all (the file is then rejected).
    """
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    stamp = created_at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    entries = list(entries)
    file_errors = [e for entry in entries if entry.scope == "file" for e in entry.errors]
    if fatal is not None:
        file_errors.insert(0, fatal)
    common = {"control_number": control_number, "created_at": stamp, "file": file_name, "sha256": sha256}
    buffer = io.BytesIO()
    writer = csv_format.RowWriter(_ACK_DIALECT, buffer)
    writer.write(list(ACK_COLUMNS), where="the ack header")
    rows = 0

    def write(**values: object) -> None:
        nonlocal rows
        merged = {**common, **values}
        writer.write([csv_format.cell_text(merged.get(c), _ACK_DIALECT) for c in ACK_COLUMNS], where="the ack")
        rows += 1

    write(record="FILE")
    accepted = rejected = 0
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
            rejected += 1
            for error in entry.errors:
                write(**document, status="rejected", **_error_cells(error))
        elif file_errors:
            rejected += 1
            write(**document, status="rejected", error_message=FILE_REJECTED)
        else:
            accepted += 1
            write(**document, status="accepted")
    for error in file_errors:
        write(record="ERROR", status="rejected", **_error_cells(error))
    status = "rejected" if file_errors or (rejected and not accepted) else "partial" if rejected else "accepted"
    write(record="END", status=status, accepted=accepted, rejected=rejected, rows=rows + 1)
    return FlatAck(buffer.getvalue(), status, accepted, rejected)


def _error_cells(error: ParseError) -> dict[str, object]:
    message = error.message + (f" (expected {error.expected})" if error.expected else "")
    return {"error_line": error.line, "error_field": error.element, "error_message": message}


def file_sha256(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def flat_ack_for_file(
    path: str | os.PathLike[str],
    layout: CsvLayout | FixedWidthLayout,
    *,
    control_number: int,
    created_at: dt.datetime,
    name: str | None = None,
) -> FlatAck:
    """Read a CSV or fixed-width file with `layout` and return its ack; an unreadable file is rejected."""
    file_name = name or os.path.basename(os.fspath(path))
    reader = csv_format.iter_documents if isinstance(layout, CsvLayout) else fixed_width.iter_documents
    fatal: list[ParseError] = []
    entries = ack_entries(reader(path, layout, name=file_name), fatal=fatal)  # type: ignore[arg-type]
    return build_flat_ack(
        entries,
        file_name=file_name,
        sha256=file_sha256(path),
        control_number=control_number,
        created_at=created_at,
        fatal=fatal[0] if fatal else None,
    )
