"""CSV bills, vendor credits, invoices and GL transactions, read and written as a `CsvLayout` says.

Reading streams line by line; rows of one document must be adjacent (see `iter_documents`). Writing
is deterministic (fixed column order, `layout.line_terminator`, `\\r\\n` by default as RFC 4180 and
Excel expect) and neutralises spreadsheet formulas in text cells.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, BinaryIO

from qbo_sftp_assets.formats.documents import Account, Class, JournalEntry, Transaction, Vendor
from qbo_sftp_assets.formats.errors import CsvParseError
from qbo_sftp_assets.formats.flat_documents import (
    DATE_FIELDS,
    DECIMAL_FIELDS,
    HEADER_FIELDS,
    JOURNAL_LINE_FIELDS,
    LINE_FIELDS,
    NEUTRAL_FIELDS,
    AssemblyRules,
    FlatItem,
    Row,
    ValueProblem,
    assemble,
    collect,
    decoded_lines,
    format_date,
    header_values,
    line_values,
    normalise_name,
    parse_date,
    parse_decimal,
)
from qbo_sftp_assets.formats.layouts import CsvLayout
from qbo_sftp_assets.formats.results import ReadResult

# A text cell starting with one of these is a formula to Excel / LibreOffice (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
JOURNAL_COLUMNS = ("document_type", "number", "date", "currency", "memo", *JOURNAL_LINE_FIELDS)
ITEM_COLUMNS = (*HEADER_FIELDS, *LINE_FIELDS)
REFERENCE_COLUMNS: Mapping[type, tuple[str, ...]] = {
    Vendor: ("id", "name", "email", "phone", "tax_id", "active"),
    Account: ("id", "name", "number", "account_type", "active"),
    Class: ("id", "name", "active"),
}


class CsvWriteError(ValueError):
    """A document cannot be written with this layout; the text names the document and the field."""


Input = BinaryIO | str | os.PathLike[str]


def read_csv(source: Input, layout: CsvLayout, *, name: str | None = None) -> ReadResult:
    """The whole file as a ReadResult (documents accepted, errors of those rejected).

    Raises CsvParseError when the file cannot be read at all (encoding, quoting, missing columns).
    """
    return collect("csv", iter_documents(source, layout, name=name))


def iter_documents(source: Input, layout: CsvLayout, *, name: str | None = None) -> Iterator[FlatItem]:
    """Each document as soon as its last row is read, or a `Rejection` with every error that rejected it.

    Memory stays bounded by one document's rows. Rows of one document must be adjacent: a key (the
    layout's `group_by` fields) that comes back after another document, within the last
    `layout.non_adjacent_window` documents, yields a Rejection whose `repeats_line` names the earlier
    document's first line (`read_csv` then rejects that one too). A structurally unreadable file
    raises CsvParseError, possibly after some documents were yielded, so post nothing before the
    iterator is exhausted.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield from _iter_stream(stream, layout, name or os.fspath(source))
    else:
        yield from _iter_stream(source, layout, name or str(getattr(source, "name", "<input>")))


def _iter_stream(stream: BinaryIO, layout: CsvLayout, file: str) -> Iterator[FlatItem]:
    lines = decoded_lines(
        stream,
        encoding=layout.encoding,
        max_line_bytes=layout.max_line_bytes,
        file=file,
        error_class=CsvParseError,
    )
    reader = csv.reader(lines, delimiter=layout.delimiter, quotechar=layout.quotechar, strict=True)
    records = _records(reader, file)
    if layout.has_header:
        try:
            header_line, header = next(records)
        except StopIteration:
            raise CsvParseError("the file is empty", file=file, line=1, expected="a header line") from None
        columns = _columns_from_header(header, header_line, layout, file)
        header_width: int | None = len(header)
    else:
        columns = _columns_by_number(layout, file)
        header_width = None
    group_fields = tuple(f for f in layout.group_by if f in columns)
    rules = AssemblyRules(
        file=file,
        default_kind=layout.document,
        document_types={normalise_name(k): v for k, v in layout.document_types.items()},
        error_class=CsvParseError,
        non_adjacent_window=layout.non_adjacent_window,
        group_fields=group_fields,
    )
    yield from assemble(_rows(records, columns, group_fields, header_width, layout, file), rules)


def _records(reader: Any, file: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) for each non-blank record; a quoted field may span lines."""
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvParseError(
                f"not readable as CSV: {error}",
                file=file,
                line=reader.line_num or start,
                expected="fields separated by the layout's delimiter, quotes closed",
            ) from None
        if any(cell.strip() for cell in record):
            yield start, record


def _columns_from_header(header: list[str], line: int, layout: CsvLayout, file: str) -> dict[str, tuple[int, str]]:
    """Neutral field -> (index, header text); the first alias that the header has wins."""
    positions: dict[str, int] = {}
    for index, text in enumerate(header):
        positions.setdefault(normalise_name(text), index)
    columns: dict[str, tuple[int, str]] = {}
    for field_name in sorted(NEUTRAL_FIELDS | set(layout.columns)):
        for alias in [*layout.columns.get(field_name, []), field_name]:
            column = positions.get(normalise_name(alias))
            if column is not None:
                columns[field_name] = (column, header[column].strip())
                break
    _require_columns(columns, layout, file, line)
    return columns


def _columns_by_number(layout: CsvLayout, file: str) -> dict[str, tuple[int, str]]:
    columns: dict[str, tuple[int, str]] = {}
    for field_name, names in layout.columns.items():
        if not names or not names[0].isdigit() or int(names[0]) < 1:
            raise CsvParseError(
                f"the layout has no header line, so column {field_name!r} needs a column number",
                file=file,
                element=field_name,
                expected="columns: {field: ['3']} with 1-based column numbers",
            )
        columns[field_name] = (int(names[0]) - 1, f"column {names[0]}")
    _require_columns(columns, layout, file, None)
    return columns


def _require_columns(columns: Mapping[str, Any], layout: CsvLayout, file: str, line: int | None) -> None:
    needs: list[tuple[str, ...]] = [("date",)]
    if layout.document == "journal_entry":
        needs += [("account",), ("debit", "credit", "amount")]
    else:
        needs += [("vendor_id", "vendor_name"), ("amount", "unit_price")]
    for choice in needs:
        if not any(name in columns for name in choice):
            names = [alias for name in choice for alias in [*layout.columns.get(name, []), name]]
            raise CsvParseError(
                f"no column for {' or '.join(choice)}",
                file=file,
                line=line,
                element=choice[0],
                expected="a header named " + " or ".join(repr(n) for n in names),
            )


def _rows(
    records: Iterator[tuple[int, list[str]]],
    columns: Mapping[str, tuple[int, str]],
    group_fields: tuple[str, ...],
    header_width: int | None,
    layout: CsvLayout,
    file: str,
) -> Iterator[tuple[tuple[str, ...], Row]]:
    labels = {name: label for name, (_, label) in columns.items()}
    width = max(index for index, _ in columns.values()) + 1
    # Each column's parser is chosen once, not per cell: this loop runs for every row of the file.
    parsers = [(name, index, label, _value_parser(name, layout)) for name, (index, label) in columns.items()]
    key_indexes = [columns[f][0] for f in group_fields]
    escaped = layout.formula_escape
    for line, record in records:
        row = Row(line=line, values={}, labels=labels)
        count = len(record)
        if count < width:
            row.errors.append(
                CsvParseError(
                    f"the row has {count} fields, too few for the columns",
                    file=file,
                    line=line,
                    expected=f"at least {width} fields separated by {layout.delimiter!r}",
                )
            )
        elif header_width is not None and count > header_width:
            row.errors.append(
                CsvParseError(
                    f"the row has {count} fields but the header has {header_width}",
                    file=file,
                    line=line,
                    expected=f"{header_width} fields; a value holding {layout.delimiter!r} must be quoted",
                )
            )
        values = row.values
        for name, index, label, parse in parsers:
            if index >= count:
                continue
            text = record[index].strip()
            if not text:
                continue
            if parse is None:
                values[name] = restore_formula(text) if escaped and text[0] == "'" else text
                continue
            try:
                values[name] = parse(text)
            except ValueProblem as problem:
                row.errors.append(
                    CsvParseError(problem.message, file=file, line=line, element=label, expected=problem.expected)
                )
        yield tuple([record[i].strip() if i < count else "" for i in key_indexes]), row


def _value_parser(name: str, layout: CsvLayout) -> Callable[[str], Any] | None:
    """The parser of a number or date column; None for text, which is kept as is (formula escape undone)."""
    if name in DECIMAL_FIELDS:
        return functools.partial(
            parse_decimal, decimal_separator=layout.decimal_separator, thousands_separator=layout.thousands_separator
        )
    if name in DATE_FIELDS:
        return functools.partial(parse_date, date_format=layout.date_format)
    return None


def neutralise_formula(text: str) -> str:
    """`'=SUM(A1)` for `=SUM(A1)`: a leading `'` makes a spreadsheet show the text, not run it.

    Text that already starts with quotes before a trigger gets one more, so `restore_formula` gives
    back exactly what was written.
    """
    if text.lstrip("'").startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def restore_formula(text: str) -> str:
    if text[:1] == "'" and text.lstrip("'").startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


# --- writing ----------------------------------------------------------------------------------------


def render_csv(
    documents: Iterable[Transaction | JournalEntry],
    layout: CsvLayout,
    *,
    extra_columns: Sequence[str] = (),
    extra: Callable[[Transaction | JournalEntry], Mapping[str, Any]] | None = None,
) -> bytes:
    """The bytes `write_csv` writes: same documents and layout, same bytes."""
    buffer = io.BytesIO()
    write_csv(documents, layout, buffer, extra_columns=extra_columns, extra=extra)
    return buffer.getvalue()


def write_csv(
    documents: Iterable[Transaction | JournalEntry],
    layout: CsvLayout,
    out: BinaryIO,
    *,
    extra_columns: Sequence[str] = (),
    extra: Callable[[Transaction | JournalEntry], Mapping[str, Any]] | None = None,
) -> int:
    """Write one row per line (document fields repeated on each), return the number of rows.

    Columns are `layout.write_columns`, else every field of ITEM_COLUMNS / JOURNAL_COLUMNS in that
    order, each headed by the first name `layout.columns` gives it, else its own name. A document
    kind other than `layout.document` needs a document_type column. `extra_columns` (e.g. an
    outbound feed's `status` and `qbo_id`) come after those unless `write_columns` places them;
    `extra(document)` gives their values.
    """
    journal = layout.document == "journal_entry"
    fields = list(layout.write_columns or (JOURNAL_COLUMNS if journal else ITEM_COLUMNS))
    fields += [c for c in extra_columns if c not in fields]
    known = (JOURNAL_COLUMNS if journal else ITEM_COLUMNS) + tuple(extra_columns)
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise CsvWriteError(f"write_columns names fields a {layout.document} does not have: {', '.join(unknown)}")
    writer = RowWriter(layout, out)
    writer.write([_header_name(f, layout) for f in fields], where="the header")
    count = 0
    for document in documents:
        where = f"{document.type.value} {document.number or ''}".strip()
        if isinstance(document, JournalEntry) != journal:
            raise CsvWriteError(
                f"{where}: a {layout.document} layout cannot write a {document.type.value}; "
                "use a layout for that kind of document"
            )
        if document.type.value != layout.document and "document_type" not in fields:
            raise CsvWriteError(
                f"{where}: the layout has no document_type column to tell a {document.type.value} "
                f"from a {layout.document}"
            )
        header = header_values(document, layout.document_types)
        if extra is not None:
            header = {**header, **extra(document)}
        for line in line_values(document):
            values = {**header, **line}
            writer.write([cell_text(values.get(f), layout) for f in fields], where=where)
            count += 1
    return count


def _header_name(field_name: str, layout: CsvLayout) -> str:
    names = layout.columns.get(field_name)
    return names[0] if names else field_name


def cell_text(value: Any, layout: CsvLayout) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.replace(".", layout.decimal_separator) if layout.decimal_separator != "." else text
    if isinstance(value, dt.date):
        return format_date(value, layout.date_format)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return neutralise_formula(text) if layout.formula_escape else text


class RowWriter:
    """Quotes a cell only when it must (delimiter, quote, line break, edge spaces) and encodes strictly."""

    def __init__(self, layout: CsvLayout, out: BinaryIO) -> None:
        self.layout = layout
        self.out = out
        self.encoding = "utf-8" if layout.encoding in ("utf-8", "utf-8-sig") else layout.encoding
        if layout.encoding == "utf-8-sig":
            out.write(b"\xef\xbb\xbf")
        self.special = {layout.delimiter, layout.quotechar, "\r", "\n"}

    def quote(self, cell: str) -> str:
        q = self.layout.quotechar
        if any(c in self.special for c in cell) or cell != cell.strip():
            return q + cell.replace(q, q + q) + q
        return cell

    def write(self, cells: list[str], *, where: str) -> None:
        text = self.layout.delimiter.join(self.quote(c) for c in cells) + self.layout.line_terminator
        try:
            self.out.write(text.encode(self.encoding))
        except UnicodeEncodeError as error:
            bad = error.object[error.start : error.end]
            raise CsvWriteError(
                f"{where}: {bad!r} cannot be written in {self.layout.encoding}; use a utf-8 layout"
            ) from None


def render_reference_csv(
    records: Iterable[Vendor | Account | Class], kind: type[Vendor | Account | Class], layout: CsvLayout | None = None
) -> bytes:
    buffer = io.BytesIO()
    write_reference_csv(records, kind, buffer, layout=layout)
    return buffer.getvalue()


def write_reference_csv(
    records: Iterable[Vendor | Account | Class],
    kind: type[Vendor | Account | Class],
    out: BinaryIO,
    *,
    layout: CsvLayout | None = None,
) -> int:
    """A reference list of one `kind` (Vendor, Account or Class) for an outbound feed; returns the rows.

    The columns are fixed per kind (REFERENCE_COLUMNS), the header is written even for an empty list;
    `layout` gives only the dialect (delimiter, encoding, line terminator, formula escaping).
    """
    if kind not in REFERENCE_COLUMNS:
        raise CsvWriteError(f"{kind.__name__} is not a reference list (Vendor, Account, Class)")
    layout = layout or CsvLayout()
    columns = REFERENCE_COLUMNS[kind]
    writer = RowWriter(layout, out)
    writer.write(list(columns), where="the header")
    count = 0
    for record in records:
        if type(record) is not kind:
            raise CsvWriteError(f"a {kind.__name__} list cannot hold a {type(record).__name__}")
        writer.write([cell_text(getattr(record, c), layout) for c in columns], where=f"{kind.__name__} {record.name}")
        count += 1
    return count


def render_records_csv(records: Iterable[Mapping[str, Any]], fields: Sequence[str], layout: CsvLayout) -> bytes:
    """A list of plain records (an outbound feed's vendors, customers, accounts...) as CSV, one row each.

    `fields` are the record keys written, in order, each headed by the first name `layout.columns`
    gives it, else its own name; a key a record lacks is an empty cell. The header is written even
    for no records; `layout` gives the dialect (delimiter, encoding and BOM, line terminator, formula
    escaping).
    """
    buffer = io.BytesIO()
    writer = RowWriter(layout, buffer)
    writer.write([_header_name(f, layout) for f in fields], where="the header")
    for number, record in enumerate(records, start=1):
        writer.write([cell_text(record.get(f), layout) for f in fields], where=f"record {number}")
    return buffer.getvalue()
