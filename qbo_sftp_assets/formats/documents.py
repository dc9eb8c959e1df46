"""The neutral document model every reader produces and every writer consumes.

Money is `Decimal`; every document carries a `Source` so an error or a QBO id traces back to the bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

_Frozen = TypeVar("_Frozen")
_Bill = TypeVar("_Bill", bound="Bill")


class DocumentType(StrEnum):
    BILL = "bill"
    VENDOR_CREDIT = "vendor_credit"
    JOURNAL_ENTRY = "journal_entry"
    INVOICE = "invoice"
    VENDOR = "vendor"
    ACCOUNT = "account"
    CLASS = "class"


@dataclass(frozen=True)
class Source:
    """Where a document or line came from: a file and a position inside it.

    `line` is a 1-based text line (CSV, fixed-width); `segment` is the 1-based segment position in
    the file (X12, EDIFACT); `interchange`, `group` and `transaction_set` are the envelope control
    numbers (ISA13/GS06/ST02 or UNB0020/UNG/UNH0062).
    """

    file: str = ""
    line: int | None = None
    segment: int | None = None
    interchange: str | None = None
    group: str | None = None
    transaction_set: str | None = None

    def position(self) -> str:
        """`file:line` or `file:segment N`, for error messages."""
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.segment is not None:
            return f"{self.file}:segment {self.segment}"
        return self.file

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


@dataclass(frozen=True)
class PartyRef:
    """A reference to a vendor or customer as the file names it (its id in that file, and/or name)."""

    id: str | None = None
    name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class Line:
    """One line of a bill, vendor credit or invoice.

    `account` / `item` are the partner's codes; mapping turns them into QBO refs. `kind` is "item"
    for a product line and "charge" / "allowance" for an X12 SAC or EDIFACT ALC line.
    """

    amount: Decimal
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    item: str | None = None
    account: str | None = None
    class_: str | None = None
    customer: str | None = None
    kind: str = "item"
    source: Source = field(default_factory=Source)
    unit: str | None = None  # unit of measure (X12 IT103, e.g. "EA"); None when the format has none

    def as_dict(self) -> dict[str, Any]:
        data = {
            "amount": str(self.amount),
            "description": self.description,
            "quantity": None if self.quantity is None else str(self.quantity),
            "unit_price": None if self.unit_price is None else str(self.unit_price),
            "item": self.item,
            "account": self.account,
            "class": self.class_,
            "customer": self.customer,
            "kind": self.kind,
        }
        if self.unit is not None:
            data["unit"] = self.unit
        return data


@dataclass(frozen=True)
class JournalLine:
    """One side of a journal entry: exactly one of `debit` / `credit` is set and positive."""

    account: str
    debit: Decimal | None = None
    credit: Decimal | None = None
    description: str | None = None
    class_: str | None = None
    entity: PartyRef | None = None
    entity_type: str | None = None  # "vendor" | "customer" | "employee"
    source: Source = field(default_factory=Source)

    @property
    def amount(self) -> Decimal:
        return self.debit if self.debit is not None else -(self.credit or Decimal(0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "amount": str(self.amount),
            "debit": None if self.debit is None else str(self.debit),
            "credit": None if self.credit is None else str(self.credit),
            "description": self.description,
            "account": self.account,
            "class": self.class_,
            "entity": None if self.entity is None else self.entity.as_dict(),
            "entity_type": self.entity_type,
        }


@dataclass(frozen=True)
class Bill:
    """A vendor bill (payable). Also the shape of a VendorCredit (a subclass) and of an Invoice."""

    vendor: PartyRef
    number: str | None
    date: dt.date
    lines: tuple[Line, ...]
    due_date: dt.date | None = None
    terms: str | None = None
    currency: str | None = None
    memo: str | None = None
    total: Decimal | None = None  # as stated by the file; None when the file states none
    po_number: str | None = None
    source: Source = field(default_factory=Source)

    type = DocumentType.BILL

    @property
    def counterparty(self) -> PartyRef:
        """The party on the other side: the vendor of a bill or credit, the customer of an invoice."""
        return self.vendor

    @property
    def lines_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def key(self) -> str:
        """A stable identity inside a partner: type, party and document number."""
        party = self.counterparty.id or self.counterparty.name or ""
        return f"{self.type.value}:{party}:{self.number or ''}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "vendor": self.vendor.as_dict(),
            **_transaction_dict(self),
        }


@dataclass(frozen=True)
class VendorCredit(Bill):
    """A credit from a vendor (X12 810 BIG07=CR, EDIFACT BGM 381); amounts are positive."""

    type = DocumentType.VENDOR_CREDIT


@dataclass(frozen=True)
class Invoice:
    """A sales invoice from us to a customer: `customer` is who is billed. Otherwise shaped as a Bill."""

    customer: PartyRef
    number: str | None
    date: dt.date
    lines: tuple[Line, ...]
    due_date: dt.date | None = None
    terms: str | None = None
    currency: str | None = None
    memo: str | None = None
    total: Decimal | None = None  # as stated by the file; None when the file states none
    po_number: str | None = None
    source: Source = field(default_factory=Source)

    type = DocumentType.INVOICE

    @property
    def counterparty(self) -> PartyRef:
        """The party on the other side: the customer billed."""
        return self.customer

    @property
    def lines_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def key(self) -> str:
        """A stable identity inside a partner: type, party and document number."""
        party = self.customer.id or self.customer.name or ""
        return f"{self.type.value}:{party}:{self.number or ''}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "customer": self.customer.as_dict(),
            **_transaction_dict(self),
        }


def _transaction_dict(document: Bill | Invoice) -> dict[str, Any]:
    """The fields a Bill, VendorCredit and Invoice share, for `as_dict`."""
    return {
        "number": document.number,
        "date": document.date.isoformat(),
        "due_date": None if document.due_date is None else document.due_date.isoformat(),
        "terms": document.terms,
        "currency": document.currency,
        "memo": document.memo,
        "po_number": document.po_number,
        "lines": [line.as_dict() for line in document.lines],
        "total": str(document.total if document.total is not None else document.lines_total),
        "source": document.source.as_dict(),
    }


@dataclass(frozen=True)
class JournalEntry:
    """A general-ledger transaction; debits equal credits."""

    number: str | None
    date: dt.date
    lines: tuple[JournalLine, ...]
    currency: str | None = None
    memo: str | None = None
    source: Source = field(default_factory=Source)

    type = DocumentType.JOURNAL_ENTRY

    @property
    def total_debits(self) -> Decimal:
        return sum((line.debit or Decimal(0) for line in self.lines), Decimal(0))

    @property
    def total_credits(self) -> Decimal:
        return sum((line.credit or Decimal(0) for line in self.lines), Decimal(0))

    @property
    def is_balanced(self) -> bool:
        return self.total_debits == self.total_credits

    def key(self) -> str:
        return f"{self.type.value}::{self.number or self.date.isoformat()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "vendor": None,
            "number": self.number,
            "date": self.date.isoformat(),
            "due_date": None,
            "currency": self.currency,
            "memo": self.memo,
            "lines": [line.as_dict() for line in self.lines],
            "total": str(self.total_debits),
            "source": self.source.as_dict(),
        }


@dataclass(frozen=True)
class Vendor:
    id: str | None
    name: str
    email: str | None = None
    phone: str | None = None
    tax_id: str | None = None
    active: bool = True
    source: Source = field(default_factory=Source)

    type = DocumentType.VENDOR


@dataclass(frozen=True)
class Account:
    id: str | None
    name: str
    number: str | None = None
    account_type: str | None = None
    active: bool = True
    source: Source = field(default_factory=Source)

    type = DocumentType.ACCOUNT


@dataclass(frozen=True)
class Class:
    id: str | None
    name: str
    active: bool = True
    source: Source = field(default_factory=Source)

    type = DocumentType.CLASS


# --- building documents fast -----------------------------------------------------------------------
# A frozen dataclass's __init__ stores each field with object.__setattr__: about 2.5 µs for a Line.
# Readers that build millions of Lines (X12, EDIFACT) fill a copy of a real instance's __dict__
# instead and attach it in one store: under 1 µs. Copies of an instance's dict share its key table,
# so they are no bigger than __init__'s; a field added later keeps its default here without a change.
LINE_DEFAULTS: dict[str, Any] = Line(Decimal(0)).__dict__
SOURCE_DEFAULTS: dict[str, Any] = Source().__dict__
BILL_DEFAULTS: dict[str, Any] = Bill(PartyRef(), None, dt.date.min, ()).__dict__
INVOICE_DEFAULTS: dict[str, Any] = Invoice(PartyRef(), None, dt.date.min, ()).__dict__


def from_fields(cls: type[_Frozen], fields: dict[str, Any]) -> _Frozen:
    """An instance of the frozen dataclass `cls` that takes `fields` (every field, as from a copy of
    LINE_DEFAULTS / SOURCE_DEFAULTS / BILL_DEFAULTS) as its attributes; equal to `cls(**fields)`."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)
    return instance


def line_from(values: dict[str, Any]) -> Line:
    """A Line with `values` over the defaults; equal to `Line(**values)`."""
    fields = LINE_DEFAULTS.copy()
    fields.update(values)
    return from_fields(Line, fields)


def source_at(source: Source, segment: int) -> Source:
    """`source` at another segment position; equal to `dataclasses.replace(source, segment=segment)`."""
    fields = source.__dict__.copy()
    fields["segment"] = segment
    return from_fields(Source, fields)


def source_at_line(source: Source, line: int) -> Source:
    """`source` at another text line; equal to `dataclasses.replace(source, line=line)`."""
    fields = source.__dict__.copy()
    fields["line"] = line
    return from_fields(Source, fields)


def bill_from(cls: type[_Bill], values: dict[str, Any]) -> _Bill:
    """A Bill or VendorCredit (neither adds a field) with `values` over the defaults."""
    fields = BILL_DEFAULTS.copy()
    fields.update(values)
    return from_fields(cls, fields)


def invoice_from(values: dict[str, Any]) -> Invoice:
    """An Invoice with `values` (its party under "customer") over the defaults."""
    fields = INVOICE_DEFAULTS.copy()
    fields.update(values)
    return from_fields(Invoice, fields)


Posting = Bill | VendorCredit | JournalEntry
# A document with a counterparty and lines: what the transaction readers and writers handle.
Transaction = Bill | VendorCredit | Invoice
# What a file reader yields (list entities come only from QBO, never from a partner's file).
FileDocument = Transaction | JournalEntry
Document = Bill | VendorCredit | Invoice | JournalEntry | Vendor | Account | Class
