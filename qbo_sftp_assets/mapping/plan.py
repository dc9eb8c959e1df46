"""What mapping hands on: one draft QBO payload per document, and failure rows a reviewer can act on."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from qbo_sftp_assets.formats import PartyRef, Source

DocumentKind = Literal["bill", "vendor_credit", "journal_entry"]
EntityType = Literal["Bill", "VendorCredit", "JournalEntry"]

# The failure table's columns, in the order a reviewer reads them (record_index is for joining).
FAILURE_COLUMNS: tuple[str, ...] = (
    "record_index",
    "document_number",
    "line",
    "source_location",
    "column",
    "value",
    "check",
    "fix",
)


@dataclass(frozen=True)
class FailureRow:
    """One reason a document cannot be posted: what, where, and what to change.

    `line` is the 1-based line of the document (None for the header); `source_location` is
    `file:line` or `file:segment N`; `column` names the field, `value` what the file carried, `check`
    the rule that failed and `fix` what to add to the mapping or change in QuickBooks.
    """

    record_index: int
    document_number: str | None
    line: int | None
    source_location: str
    column: str
    value: str | None
    check: str
    fix: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FAILURE_COLUMNS}


MappingFailure = FailureRow


@dataclass(frozen=True)
class PostingDraft:
    """A document turned into the body QBO accepts, with what posting and the ledger need beside it."""

    record_index: int
    document_key: str
    document_type: DocumentKind
    entity_type: EntityType
    payload: dict[str, Any]
    doc_number: str | None
    vendor_id: str | None
    currency: str
    txn_date: dt.date
    total: Decimal
    source: Source
    content_sha256: str
    party: PartyRef | None = None


@dataclass(frozen=True)
class HeaderFacts:
    """One document's header as validation sees it (money in integer cents); built for every document,
    also those mapping could not finish, so one run reports every failure of a file."""

    record_index: int
    document_key: str
    document_number: str | None
    entity_type: str
    source_location: str
    vendor_value: str | None
    vendor_id: str | None
    txn_date: dt.date | None
    due_date: dt.date | None
    currency: str | None
    home_currency: str | None
    multicurrency_enabled: bool
    book_close_date: dt.date | None
    stated_total_cents: int | None
    lines_total_cents: int
    debit_cents: int
    credit_cents: int
    line_count: int


@dataclass(frozen=True)
class LineFacts:
    """One line of one document as validation sees it."""

    record_index: int
    document_number: str | None
    line: int
    source_location: str
    entity_type: str
    kind: str
    amount_cents: int
    posting_type: str | None
    account_value: str | None
    account_id: str | None
    item_value: str | None
    item_id: str | None
    class_value: str | None
    class_id: str | None
    description_length: int


@dataclass
class PostingPlan:
    """Everything mapping made of one file: drafts for the documents it could map, failures for the rest."""

    file_name: str
    file_sha256: str
    partner: str
    realm_id: str
    drafts: list[PostingDraft] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)
    documents_seen: int = 0
    headers: list[HeaderFacts] = field(default_factory=list)
    lines: list[LineFacts] = field(default_factory=list)

    def failed_record_indexes(self) -> set[int]:
        return {failure.record_index for failure in self.failures}


def content_sha256(payload: Mapping[str, Any]) -> str:
    """The hash of a payload's content without PrivateNote: re-exported bytes with the same content
    (other spacing, `10.0` for `10.00`, another file name) hash the same."""
    body = {key: value for key, value in payload.items() if key != "PrivateNote"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        # `normalize` makes 10.0 and 10.00 one value; 'f' keeps 100 from printing as 1E+2.
        return format(value.normalize(), "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be part of a posting payload")
