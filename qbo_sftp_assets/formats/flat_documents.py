"""Shared by the CSV and fixed-width readers: typed values from text, and rows grouped into documents.

A reader turns each physical record into a `Row` of neutral fields; `assemble` groups consecutive rows
with the same key into a Bill, VendorCredit, Invoice or JournalEntry, or a `Rejection` naming why not.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, BinaryIO, Literal

from qbo_sftp_assets.formats.decimals import MAX_DIGITS, DecimalCache, unsigned_number
from qbo_sftp_assets.formats.documents import (
    Bill,
    FileDocument,
    Invoice,
    JournalEntry,
    JournalLine,
    Line,
    PartyRef,
    Source,
    Transaction,
    VendorCredit,
    line_from,
    source_at_line,
)
from qbo_sftp_assets.formats.errors import CsvParseError, FixedWidthParseError, ParseError
from qbo_sftp_assets.formats.results import ReadResult

DATE_FIELDS = frozenset({"date", "due_date"})
DECIMAL_FIELDS = frozenset({"amount", "quantity", "unit_price", "debit", "credit", "total"})
HEADER_FIELDS = (
    "document_type",
    "vendor_id",
    "vendor_name",
    "number",
    "date",
    "due_date",
    "terms",
    "currency",
    "memo",
    "po_number",
    "total",
)
LINE_FIELDS = ("account", "item", "description", "quantity", "unit_price", "amount", "class", "customer")
JOURNAL_LINE_FIELDS = ("account", "debit", "credit", "description", "class", "entity_id", "entity", "entity_type")
NEUTRAL_FIELDS = frozenset(HEADER_FIELDS + LINE_FIELDS + JOURNAL_LINE_FIELDS + ("kind",))
# Header fields whose value must agree on every row of one document.
CONSISTENT_FIELDS = ("document_type", "date", "due_date", "currency", "terms", "total")
ENTITY_TYPES = frozenset({"vendor", "customer", "employee"})

BUILTIN_DOCUMENT_TYPES: Mapping[str, str] = {
    "bill": "bill",
    "vendorbill": "bill",
    "credit": "vendor_credit",
    "vendorcredit": "vendor_credit",
    "creditmemo": "vendor_credit",
    "creditnote": "vendor_credit",
    "cm": "vendor_credit",
    "vc": "vendor_credit",
    "invoice": "invoice",
    "journalentry": "journal_entry",
    "journal": "journal_entry",
    "je": "journal_entry",
}
BILL_CLASSES: dict[str, type[Bill]] = {"bill": Bill, "vendor_credit": VendorCredit}
CURRENCY_SYMBOLS = "$€£¥"
_SIMPLE_NUMBER = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")  # the common case, parsed without the slow path
_SIMPLE_NUMBERS = DecimalCache()


@functools.lru_cache(maxsize=1024)
def normalise_name(text: str) -> str:
    """Header names and type words compare case-insensitively, ignoring spaces, `_` and `-`.

    Cached: every document of a file names its type with one of a few words."""
    return re.sub(r"[\s_\-]+", "", text).lower()


class ValueProblem(Exception):
    """A text value is not what its field needs; `expected` says what would be valid."""

    def __init__(self, message: str, expected: str) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected


def _shown(text: str, longest: int = 30) -> str:
    """`text` as an error message quotes it: cut after `longest` characters."""
    return text if len(text) <= longest else text[: longest - 3] + "..."


def parse_decimal(text: str, *, decimal_separator: str = ".", thousands_separator: str = "") -> Decimal:
    """An exact Decimal from `1,234.50`, `1.234,50`, `(12.50)`, `12.50-`, `-12.50`, `$12.50`, under
    the one number rule (`decimals.unsigned_number`): one sign at most, 18 digits at most."""
    if decimal_separator == "." and len(text) <= MAX_DIGITS:  # too short to hold more digits
        number = _SIMPLE_NUMBERS.get(text)
        if number is not None:
            return number
        if _SIMPLE_NUMBER.match(text):
            return _SIMPLE_NUMBERS.add(text)
    body = text.strip()
    signs = 0
    if body.startswith("(") and body.endswith(")"):
        signs, body = signs + 1, body[1:-1].strip()
    if body.endswith("-"):
        signs, body = signs + 1, body[:-1].strip()
    if body.startswith(("-", "+")):
        signs, body = signs + 1, body[1:].strip()
    negative = signs > 0 and not text.strip().startswith("+")
    if signs > 1:
        raise ValueProblem(f"{_shown(text)!r} is not a number", "one sign at most: -5, 5-, +5 or (5)")
    body = body.strip(CURRENCY_SYMBOLS).strip()
    if thousands_separator and thousands_separator in body:
        whole = body.split(decimal_separator, 1)[0]
        groups = whole.split(thousands_separator)
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            raise ValueProblem(
                f"{_shown(text)!r} is not a number",
                f"digits grouped by {thousands_separator!r} in threes, like 1{thousands_separator}234",
            )
        body = body.replace(thousands_separator, "")
    if decimal_separator != "." and "." in body:
        raise ValueProblem(f"{_shown(text)!r} is not a number", f"a number with decimal {decimal_separator!r}")
    value = unsigned_number(body, decimal_separator)
    if value is None:
        example = "1234.50" if decimal_separator == "." else "1234,50"
        raise ValueProblem(f"{_shown(text)!r} is not a number", f"a number like {example}, at most {MAX_DIGITS} digits")
    return -value if negative else value


def format_date(value: dt.date, date_format: str) -> str:
    """`strftime`, but with a four-digit %Y for years before 1000 (glibc writes 999, strptime wants 0999)."""
    return value.strftime(date_format.replace("%Y", f"{value.year:04d}"))


@functools.lru_cache(maxsize=4096)
def parse_date(text: str, date_format: str) -> dt.date:
    """A date in `date_format`; cached, since a file repeats the same few dates on many rows."""
    try:
        return dt.datetime.strptime(text.strip(), date_format).date()
    except ValueError:
        example = dt.date(2026, 1, 31).strftime(date_format)
        raise ValueProblem(f"{text!r} is not a date", f"a date like {example} ({date_format})") from None


@dataclass
class Row:
    """One record's neutral fields, typed (str, Decimal or date), with the errors found reading it.

    `labels` names each field as the file does (a CSV header, or a fixed-width field and its columns)
    for error messages. A row that is not a line (a fixed-width header record) only carries header
    fields.
    """

    line: int
    values: dict[str, Any]
    labels: Mapping[str, str]
    errors: list[ParseError] = field(default_factory=list)
    is_line: bool = True


@dataclass(frozen=True)
class Rejection:
    """A document (or, with scope "file", the whole file) the reader rejected, and every reason.

    `repeats_line` is set when the document's rows were not adjacent: it is the first line of the
    earlier document with the same key, which is rejected too when the whole file is read.
    """

    kind: str | None
    number: str | None
    party: PartyRef | None
    source: Source
    errors: tuple[ParseError, ...]
    scope: Literal["document", "file"] = "document"
    repeats_line: int | None = None

    def key(self) -> str:
        party = "" if self.party is None else (self.party.id or self.party.name or "")
        return f"{self.kind or ''}:{party}:{self.number or ''}"


FlatItem = Transaction | JournalEntry | Rejection


@dataclass
class _Group:
    key: tuple[Any, ...]
    rows: list[Row]
    repeats_line: int | None = None


@dataclass(frozen=True)
class AssemblyRules:
    """What the assembler needs from the layout and the reader."""

    file: str
    default_kind: str
    document_types: Mapping[str, str]  # normalised words (see normalise_name) to document kinds
    error_class: type[ParseError]
    non_adjacent_window: int
    group_fields: tuple[str, ...]


def assemble(rows: Iterable[tuple[tuple[Any, ...], Row] | Rejection], rules: AssemblyRules) -> Iterator[FlatItem]:
    """Group consecutive rows that share a key into documents; pass file-scope rejections through.

    Memory is one document's rows plus the keys of the last `non_adjacent_window` documents, which is
    how a key that comes back after another document is caught without holding the file.
    """
    closed: OrderedDict[tuple[Any, ...], int] = OrderedDict()
    current: _Group | None = None
    # File-scope rejections wait for the open document to close, so they never split it.
    pending: list[Rejection] = []

    def close(group: _Group) -> FlatItem:
        if rules.non_adjacent_window:
            closed[group.key] = group.rows[0].line
            closed.move_to_end(group.key)
            while len(closed) > rules.non_adjacent_window:
                closed.popitem(last=False)
        return build_document(group.rows, rules, repeats_line=group.repeats_line)

    for item in rows:
        if isinstance(item, Rejection):
            pending.append(item)
            if current is None:
                yield from pending
                pending.clear()
            continue
        key, row = item
        if current is not None and current.key == key:
            current.rows.append(row)
            continue
        if current is not None:
            yield close(current)
            yield from pending
            pending.clear()
        current = _Group(key, [row], repeats_line=closed.get(key))
    if current is not None:
        yield close(current)
    yield from pending


def document_kind(row_value: str | None, rules: AssemblyRules) -> str | None:
    if row_value is None:
        return rules.default_kind
    word = normalise_name(row_value)
    return rules.document_types.get(word) or BUILTIN_DOCUMENT_TYPES.get(word)


def build_document(rows: list[Row], rules: AssemblyRules, *, repeats_line: int | None = None) -> FlatItem:
    """One document from its rows, or a Rejection listing every row and document error."""
    first = rows[0]
    errors: list[ParseError] = [e for row in rows for e in row.errors]
    header = _consistent_header(rows, rules, errors)

    def fail(message: str, *, line: int | None = None, element: str | None = None, expected: str | None = None):
        errors.append(
            rules.error_class(message, file=rules.file, line=line or first.line, element=element, expected=expected)
        )

    raw_kind = header.get("document_type")
    kind = document_kind(raw_kind, rules)
    if kind is None:
        known = sorted({*BUILTIN_DOCUMENT_TYPES, *rules.document_types})
        fail(
            f"unknown document type {raw_kind!r}",
            element=first.labels.get("document_type", "document_type"),
            expected=f"one of {', '.join(known)}",
        )
    if repeats_line is not None:
        together = ", ".join(rules.group_fields) or "its key"
        fail(
            f"rows of this document are not adjacent: a document with the same key started at line "
            f"{repeats_line} and ended before this line; sort the file by {together}",
        )
    party = PartyRef(id=header.get("vendor_id"), name=header.get("vendor_name"))
    source = Source(file=rules.file, line=first.line)
    if header.get("date") is None and not any(row.errors for row in rows):
        fail("the document has no date", element=first.labels.get("date", "date"), expected="a date")
    line_rows = [row for row in rows if row.is_line]
    if not line_rows:
        fail("the document has no lines", expected="at least one detail line")

    if kind == "journal_entry":
        journal_lines = [_journal_line(row, rules, errors) for row in line_rows]
        if not errors:
            entry = JournalEntry(
                number=header.get("number"),
                date=header["date"],
                lines=tuple(line for line in journal_lines if line is not None),
                currency=header.get("currency"),
                memo=header.get("memo"),
                source=source,
            )
            if not entry.is_balanced:
                difference = entry.total_debits - entry.total_credits
                fail(
                    f"journal entry {entry.number or entry.date.isoformat()} does not balance: debits "
                    f"{entry.total_debits}, credits {entry.total_credits} (difference {difference}) on lines "
                    + ", ".join(str(row.line) for row in line_rows),
                    element="debit/credit",
                    expected="total debits equal to total credits",
                )
            else:
                return entry
        return Rejection(kind, header.get("number"), None, source, tuple(errors), repeats_line=repeats_line)

    if party.id is None and party.name is None:
        fail("the document names no party", element="vendor_id/vendor_name", expected="a vendor id or name")
    lines = [_item_line(row, source, rules, errors) for row in line_rows]
    if kind == "vendor_credit" and lines and all(line is not None and line.amount <= 0 for line in lines):
        # Partners often send a credit memo as negative amounts; the model keeps credits positive.
        lines = [replace(line, amount=-line.amount) for line in lines if line is not None]
        if header.get("total") is not None and header["total"] <= 0:
            header["total"] = -header["total"]
    if errors or kind is None:
        return Rejection(kind, header.get("number"), party, source, tuple(errors), repeats_line=repeats_line)
    fields: dict[str, Any] = {
        "number": header.get("number"),
        "date": header["date"],
        "lines": tuple(line for line in lines if line is not None),
        "due_date": header.get("due_date"),
        "terms": header.get("terms"),
        "currency": header.get("currency"),
        "memo": header.get("memo"),
        "total": header.get("total"),
        "po_number": header.get("po_number"),
        "source": source,
    }
    # The file's party columns name the counterparty: a bill's vendor, an invoice's customer.
    document: Transaction = (
        Invoice(customer=party, **fields) if kind == "invoice" else BILL_CLASSES[kind](vendor=party, **fields)
    )
    if document.total is not None and document.total != document.lines_total:
        fail(
            f"the stated total {document.total} does not equal the sum of the lines {document.lines_total}",
            line=_line_of(rows, "total"),
            element=first.labels.get("total", "total"),
            expected=str(document.lines_total),
        )
        return Rejection(kind, document.number, party, source, tuple(errors), repeats_line=repeats_line)
    return document


def _line_of(rows: list[Row], name: str) -> int:
    for row in rows:
        if row.values.get(name) is not None:
            return row.line
    return rows[0].line


def _consistent_header(rows: list[Row], rules: AssemblyRules, errors: list[ParseError]) -> dict[str, Any]:
    header: dict[str, Any] = {}
    where: dict[str, int] = {}
    for row in rows:
        values = row.values
        for name in HEADER_FIELDS:
            value = values.get(name)
            if value is None:
                continue
            if name not in header:
                header[name], where[name] = value, row.line
            elif name in CONSISTENT_FIELDS and value != header[name]:
                errors.append(
                    rules.error_class(
                        f"{value} differs from {header[name]} on line {where[name]}, the document's first line with it",
                        file=rules.file,
                        line=row.line,
                        element=row.labels.get(name, name),
                        expected=f"the same {name} on every row of one document",
                    )
                )
    return header


def _item_line(row: Row, source: Source, rules: AssemblyRules, errors: list[ParseError]) -> Line | None:
    """The Line of one row (`source` is its document's, moved to the row's line); None when it has none."""
    values = row.values
    amount = values.get("amount")
    quantity, unit_price = values.get("quantity"), values.get("unit_price")
    if amount is None and quantity is not None and unit_price is not None:
        amount = quantity * unit_price
    if amount is None:
        if not row.errors:
            errors.append(
                rules.error_class(
                    "the line has no amount",
                    file=rules.file,
                    line=row.line,
                    element=row.labels.get("amount", "amount"),
                    expected="an amount (or a quantity and a unit price)",
                )
            )
        return None
    return line_from(
        {
            "amount": amount,
            "description": values.get("description"),
            "quantity": quantity,
            "unit_price": unit_price,
            "item": values.get("item"),
            "account": values.get("account"),
            "class_": values.get("class"),
            "customer": values.get("customer"),
            "kind": values.get("kind") or "item",
            "source": source_at_line(source, row.line),
        }
    )


def _journal_line(row: Row, rules: AssemblyRules, errors: list[ParseError]) -> JournalLine | None:
    values = row.values

    def fail(message: str, element: str, expected: str) -> None:
        errors.append(
            rules.error_class(
                message, file=rules.file, line=row.line, element=row.labels.get(element, element), expected=expected
            )
        )

    debit, credit, amount = values.get("debit"), values.get("credit"), values.get("amount")
    if debit is None and credit is None and amount is not None:
        debit, credit = (amount, None) if amount >= 0 else (None, -amount)
    if debit == 0 and credit not in (None, 0):
        debit = None
    if credit == 0 and debit not in (None, 0):
        credit = None
    ok = True
    if debit is not None and credit is not None:
        fail("the line has both a debit and a credit", "debit", "exactly one of debit or credit")
        ok = False
    elif debit is None and credit is None:
        if not row.errors:
            fail("the line has neither a debit nor a credit", "debit", "a debit or a credit amount")
        ok = False
    for name, value in (("debit", debit), ("credit", credit)):
        if value is not None and value < 0:
            fail(f"{name} {value} is negative", name, f"a positive {name} (put it in the other column)")
            ok = False
    account = values.get("account")
    if account is None:
        fail("the line has no account", "account", "an account code or name")
        ok = False
    entity_type = values.get("entity_type")
    if entity_type is not None and entity_type.lower() not in ENTITY_TYPES:
        fail(f"unknown entity type {entity_type!r}", "entity_type", "vendor, customer or employee")
        ok = False
    if not ok or row.errors or account is None:
        return None
    entity = None
    if values.get("entity_id") is not None or values.get("entity") is not None:
        entity = PartyRef(id=values.get("entity_id"), name=values.get("entity"))
    return JournalLine(
        account=account,
        debit=debit,
        credit=credit,
        description=values.get("description"),
        class_=values.get("class"),
        entity=entity,
        entity_type=None if entity_type is None else entity_type.lower(),
        source=Source(file=rules.file, line=row.line),
    )


def collect(format_name: str, items: Iterable[FlatItem]) -> ReadResult:
    """A whole file's items as a ReadResult.

    A document whose rows came back later in the file is rejected together with the later rows; a
    file-scope rejection (a trailer that does not match, a record the layout does not know) rejects
    every document, since the file is then incomplete or not what the layout says.
    """
    documents: list[FileDocument] = []
    errors: list[ParseError] = []
    repeated: dict[int, int] = {}
    file_rejected = False
    for item in items:
        if isinstance(item, Rejection):
            errors.extend(item.errors)
            file_rejected = file_rejected or item.scope == "file"
            if item.repeats_line is not None:
                repeated.setdefault(item.repeats_line, item.source.line or 0)
        else:
            documents.append(item)
    kept: list[FileDocument] = []
    for document in documents:
        again = repeated.get(document.source.line or 0)
        if again is not None:
            errors.append(
                _error_class(format_name)(
                    f"rows of this document continue at line {again}, after other documents; the "
                    "document is rejected rather than posted in parts",
                    file=document.source.file,
                    line=document.source.line,
                    expected="the rows of one document next to each other",
                )
            )
        else:
            kept.append(document)
    errors.sort(key=lambda error: error.line or 0)
    return ReadResult(format=format_name, documents=[] if file_rejected else kept, errors=errors)


def _error_class(format_name: str) -> type[ParseError]:
    return FixedWidthParseError if format_name == "fixed" else CsvParseError


def decoded_lines(
    stream: BinaryIO, *, encoding: str, max_line_bytes: int, file: str, error_class: type[ParseError]
) -> Iterator[str]:
    """Each physical line of a binary stream, decoded, with its line ending; never the whole file.

    A UTF-8 byte-order mark is dropped from the first line. A byte the encoding cannot decode, or a
    line longer than `max_line_bytes`, raises the format's parse error naming the line and byte.
    """
    number, offset = 0, 0
    text_encoding = "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            raise error_class(
                f"the line is longer than {max_line_bytes} bytes",
                file=file,
                line=number,
                expected="one record per line (is this the right format, with line breaks?)",
            )
        if number == 1 and raw.startswith(b"\xef\xbb\xbf") and text_encoding == "utf-8":
            raw, offset = raw[3:], 3
        try:
            yield raw.decode(text_encoding)
        except UnicodeDecodeError as error:
            bad = raw[error.start : error.start + 1]
            raise error_class(
                f"byte 0x{bad.hex()} at byte {error.start + 1} of the line (file offset "
                f"{offset + error.start}) is not valid {text_encoding}",
                file=file,
                line=number,
                expected=f"text in {encoding}; if the file is in another encoding, set the layout's "
                "encoding (utf-8, utf-8-sig, cp1252, latin-1)",
            ) from None
        offset += len(raw)


def document_type_word(kind: str, document_types: Mapping[str, str]) -> str:
    """What a writer puts in a document_type column: the layout's first word for `kind`, else the kind."""
    for word, mapped in document_types.items():
        if mapped == kind:
            return word
    return kind


def header_values(document: Transaction | JournalEntry, document_types: Mapping[str, str]) -> dict[str, Any]:
    """A document's header as neutral fields, for the writers."""
    if isinstance(document, JournalEntry):
        return {
            "document_type": document_type_word(document.type.value, document_types),
            "number": document.number,
            "date": document.date,
            "currency": document.currency,
            "memo": document.memo,
        }
    return {
        "document_type": document_type_word(document.type.value, document_types),
        "vendor_id": document.counterparty.id,
        "vendor_name": document.counterparty.name,
        "number": document.number,
        "date": document.date,
        "due_date": document.due_date,
        "terms": document.terms,
        "currency": document.currency,
        "memo": document.memo,
        "po_number": document.po_number,
        "total": document.total,
    }


def line_values(document: Transaction | JournalEntry) -> list[dict[str, Any]]:
    """Each line of a document as neutral fields, for the writers."""
    if isinstance(document, JournalEntry):
        return [
            {
                "account": line.account,
                "debit": line.debit,
                "credit": line.credit,
                "description": line.description,
                "class": line.class_,
                "entity_id": None if line.entity is None else line.entity.id,
                "entity": None if line.entity is None else line.entity.name,
                "entity_type": line.entity_type,
            }
            for line in document.lines
        ]
    return [
        {
            "account": line.account,
            "item": line.item,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "class": line.class_,
            "customer": line.customer,
        }
        for line in document.lines
    ]
