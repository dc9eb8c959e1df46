"""Fixed-width flat files from legacy ERPs (header / detail / trailer records), read and written by layout.

Columns are 1-based and inclusive as legacy specs print them; numbers carry implied decimals and a
sign (leading, trailing or COBOL overpunch); the trailer's counts and control total are checked.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, BinaryIO

from qbo_sftp_assets.formats.decimals import MAX_DIGITS
from qbo_sftp_assets.formats.documents import JournalEntry, Source, Transaction
from qbo_sftp_assets.formats.errors import FixedWidthParseError
from qbo_sftp_assets.formats.flat_documents import (
    AssemblyRules,
    FlatItem,
    Rejection,
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
)
from qbo_sftp_assets.formats.layouts import FixedField, FixedRecord, FixedWidthLayout
from qbo_sftp_assets.formats.results import ReadResult

Input = BinaryIO | str | os.PathLike[str]
# COBOL zoned decimal: the last digit's character carries the sign.
OVERPUNCH_POSITIVE = "{ABCDEFGHI"
OVERPUNCH_NEGATIVE = "}JKLMNOPQR"
TRAILER_FIELDS = ("record_count", "document_count", "control_total")


class FixedWidthWriteError(ValueError):
    """A document does not fit the layout (a value too long or too precise); names document and field."""


def read_fixed_width(source: Input, layout: FixedWidthLayout, *, name: str | None = None) -> ReadResult:
    """The whole file as a ReadResult; a trailer mismatch or an unknown record rejects every document.

    Raises FixedWidthParseError when the file cannot be read at all (encoding, a line without breaks).
    """
    return collect("fixed", iter_documents(source, layout, name=name))


def iter_documents(source: Input, layout: FixedWidthLayout, *, name: str | None = None) -> Iterator[FlatItem]:
    """Each document as soon as its last record is read, or a `Rejection`; memory is one document.

    File-scope problems (trailer count or total, missing trailer, unknown record type, records out of
    place) come as a Rejection with scope "file", the trailer's last, so nothing may be posted before
    the iterator is exhausted. Without a header record type, detail records group by
    `layout.group_by` and must be adjacent, as in CSV.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield from _iter_stream(stream, layout, name or os.fspath(source))
    else:
        yield from _iter_stream(source, layout, name or str(getattr(source, "name", "<input>")))


def _iter_stream(stream: BinaryIO, layout: FixedWidthLayout, file: str) -> Iterator[FlatItem]:
    has_header = layout.record_with_role("header") is not None
    group_fields = () if has_header else tuple(layout.group_by)
    rules = AssemblyRules(
        file=file,
        default_kind=layout.document,
        document_types={normalise_name(k): v for k, v in layout.document_types.items()},
        error_class=FixedWidthParseError,
        non_adjacent_window=0 if has_header else layout.non_adjacent_window,
        group_fields=group_fields,
    )
    yield from assemble(_RecordReader(layout, file).rows(stream), rules)


class _RecordReader:
    """Turns records into rows (with their group key) and file-scope rejections; checks the trailer."""

    def __init__(self, layout: FixedWidthLayout, file: str) -> None:
        self.layout = layout
        self.file = file
        self.has_header = layout.record_with_role("header") is not None
        self.trailer_expected = layout.record_with_role("trailer") is not None
        self.labels = {
            code: {f.name: f"{f.name} (columns {f.start}-{f.end})" for f in record.fields}
            for code, record in layout.records.items()
        }
        self.slices = {
            code: [(f, f.start - 1, f.end) for f in record.fields] for code, record in layout.records.items()
        }
        self.widths = {code: max([0, *(f.end for f in record.fields)]) for code, record in layout.records.items()}
        self.key_slices = {
            code: [(f.start - 1, f.end) for name in layout.group_by for f in record.fields if f.name == name]
            for code, record in layout.records.items()
        }
        self.last_key: tuple[str, ...] | None = None
        self.records_read = 0
        self.details = 0
        self.documents = 0
        self.control_total = Decimal(0)
        self.trailer_line: int | None = None
        self.unreadable_totals: list[int] = []

    def file_error(
        self, message: str, line: int, *, element: str | None = None, expected: str | None = None
    ) -> Rejection:
        error = FixedWidthParseError(message, file=self.file, line=line, element=element, expected=expected)
        return Rejection(None, None, None, Source(file=self.file, line=line), (error,), scope="file")

    def rows(self, stream: BinaryIO) -> Iterator[tuple[tuple[Any, ...], Row] | Rejection]:
        layout = self.layout
        start = layout.record_type_start - 1
        end = start + layout.record_type_length
        lines = decoded_lines(
            stream,
            encoding=layout.encoding,
            max_line_bytes=layout.max_line_bytes,
            file=self.file,
            error_class=FixedWidthParseError,
        )
        header_key: tuple[Any, ...] | None = None
        number = 0
        for number, text in enumerate(lines, start=1):
            line = text.rstrip("\r\n")
            if not line.strip():
                continue
            code = line[start:end]
            record = layout.records.get(code)
            if record is None:
                yield self.file_error(
                    f"unknown record type {code!r}",
                    number,
                    element=f"record type (columns {start + 1}-{end})",
                    expected="one of " + ", ".join(repr(c) for c in layout.records),
                )
                continue
            self.records_read += 1
            if self.trailer_line is not None:
                yield self.file_error(
                    f"a {record.role} record after the trailer on line {self.trailer_line}",
                    number,
                    expected="the trailer as the last record",
                )
                continue
            row = self.parse(line, number, code, record)
            if record.role == "file_header":
                if self.records_read != 1:
                    yield self.file_error("the file header is not the first record", number)
                for error in row.errors:
                    yield Rejection(None, None, None, Source(self.file, number), (error,), scope="file")
            elif record.role == "header":
                self.documents += 1
                header_key = ("header", number)
                row.is_line = False
                yield header_key, row
            elif record.role == "detail":
                self.details += 1
                amount = row.values.get(layout.control_total_of)
                if isinstance(amount, Decimal):
                    self.control_total += amount
                elif any(e.element == row.labels.get(layout.control_total_of) for e in row.errors):
                    self.unreadable_totals.append(number)
                if not self.has_header:
                    key = tuple(line[begin:end].strip() for begin, end in self.key_slices[code])
                    if key != self.last_key:
                        self.documents, self.last_key = self.documents + 1, key
                    yield key, row
                elif header_key is None:
                    yield self.file_error("a detail record before any header record", number)
                else:
                    yield header_key, row
            else:
                self.trailer_line = number
                yield from self.check_trailer(row)
        if self.trailer_expected and self.trailer_line is None:
            yield self.file_error(
                "the file has no trailer record; it may be truncated",
                number + 1,
                expected="a trailer record as the last line",
            )

    def parse(self, line: str, number: int, code: str, record: FixedRecord) -> Row:
        labels = self.labels[code]
        row = Row(line=number, values={}, labels=labels)
        tab = line.find("\t")
        if tab >= 0:
            row.errors.append(
                FixedWidthParseError(
                    f"a tab character at column {tab + 1}",
                    file=self.file,
                    line=number,
                    expected="spaces, since columns are counted in characters",
                )
            )
        if record.length is not None and len(line) > record.length:
            row.errors.append(
                FixedWidthParseError(
                    f"the record is {len(line)} characters long",
                    file=self.file,
                    line=number,
                    expected=f"at most {record.length} characters for record type {code!r}",
                )
            )
        if len(line) < self.widths[code]:
            line = line.ljust(self.widths[code])
        values = row.values
        for item, begin, end in self.slices[code]:
            text = line[begin:end]
            if item.type == "text":
                # The common case, inline: this loop runs for every field of every record.
                text = text.strip()
                if text:
                    values[item.name] = text
                    continue
                value = None
            else:
                try:
                    value = parse_field(text, item)
                except ValueProblem as problem:
                    row.errors.append(
                        FixedWidthParseError(
                            problem.message,
                            file=self.file,
                            line=number,
                            element=labels[item.name],
                            expected=problem.expected,
                        )
                    )
                    continue
            if value is None and item.required:
                row.errors.append(
                    FixedWidthParseError(
                        "the field is empty", file=self.file, line=number, element=labels[item.name], expected="a value"
                    )
                )
            elif value is not None:
                values[item.name] = value
        return row

    def check_trailer(self, row: Row) -> Iterator[Rejection]:
        for error in row.errors:
            yield Rejection(None, None, None, Source(self.file, row.line), (error,), scope="file")
        layout = self.layout
        found_count = self.records_read if layout.count_includes_all else self.details
        checks = (
            ("record_count", Decimal(found_count), "records" if layout.count_includes_all else "detail records"),
            ("document_count", Decimal(self.documents), "documents"),
            ("control_total", self.control_total, f"the sum of the detail {layout.control_total_of}"),
        )
        for field_name, actual, what in checks:
            stated = row.values.get(field_name)
            if stated is not None and field_name == "control_total" and self.unreadable_totals:
                lines = ", ".join(str(n) for n in self.unreadable_totals)
                yield self.file_error(
                    f"the control total cannot be checked: the {layout.control_total_of} on line(s) {lines} "
                    "is unreadable",
                    row.line,
                    element=row.labels.get(field_name, field_name),
                    expected=f"readable {layout.control_total_of} fields on every detail record",
                )
            elif stated is not None and stated != actual:
                yield self.file_error(
                    f"the trailer says {stated} but the file has {actual} ({what})",
                    row.line,
                    element=row.labels.get(field_name, field_name),
                    expected=str(actual),
                )


def parse_field(text: str, item: FixedField) -> Any:
    """The typed value of one field's characters: str, Decimal, date, or None when blank."""
    if item.type == "text":
        return text.strip() or None
    if item.type == "date":
        body = text.strip()
        if not body or body.strip("0") == "":
            return None
        return parse_date(body, item.date_format)
    return parse_number(text, item)


def parse_number(text: str, item: FixedField) -> Decimal | None:
    body = text.strip()
    if not body:
        return None
    if len(body) <= MAX_DIGITS and body.isdigit() and body.isascii():
        return Decimal(body).scaleb(-item.implied_decimals)
    negative = False
    if item.signed == "leading" and body[0] in "+-":
        negative, body = body[0] == "-", body[1:].lstrip()
    elif item.signed == "trailing" and body[-1] in "+-":
        negative, body = body[-1] == "-", body[:-1].rstrip()
    elif item.signed == "overpunch" and body[-1] in OVERPUNCH_POSITIVE + OVERPUNCH_NEGATIVE:
        last = body[-1]
        negative = last in OVERPUNCH_NEGATIVE
        digit = (OVERPUNCH_NEGATIVE if negative else OVERPUNCH_POSITIVE).index(last)
        body = body[:-1] + str(digit)
    if len(body) > MAX_DIGITS or not body.isascii() or not body.isdigit():
        sign = {
            "none": "",
            "leading": ", optionally after + or -",
            "trailing": ", optionally followed by + or -",
            "overpunch": ", the last one optionally overpunched ({, A-I, }, J-R)",
        }[item.signed]
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise ValueProblem(
            f"{shown!r} is not a number",
            f"at most {MAX_DIGITS} digits{sign}, {item.implied_decimals} implied decimals",
        )
    value = Decimal(body).scaleb(-item.implied_decimals)
    return -value if negative else value


# --- writing ----------------------------------------------------------------------------------------


def render_fixed_width(documents: Iterable[Transaction | JournalEntry], layout: FixedWidthLayout) -> bytes:
    """The bytes `write_fixed_width` writes: same documents and layout, same bytes."""
    buffer = io.BytesIO()
    write_fixed_width(documents, layout, buffer)
    return buffer.getvalue()


def write_fixed_width(documents: Iterable[Transaction | JournalEntry], layout: FixedWidthLayout, out: BinaryIO) -> int:
    """Write the file header (if any), a header per document (if the layout has one), a detail per
    line, and the trailer with its counts and control total; return the number of records."""
    writer = _RecordWriter(layout, out)
    file_header = layout.record_with_role("file_header")
    if file_header:
        writer.write(*file_header, {}, where="the file header")
    header = layout.record_with_role("header")
    detail = layout.record_with_role("detail")
    assert detail is not None  # the layout validator requires one
    documents_written = 0
    for document in documents:
        where = f"{document.type.value} {document.number or ''}".strip()
        head = header_values(document, layout.document_types)
        if document.type.value != layout.document and not _has_field(layout, "document_type"):
            raise FixedWidthWriteError(
                f"{where}: the layout has no document_type field to tell a {document.type.value} "
                f"from a {layout.document}"
            )
        if header:
            writer.write(*header, head, where=where)
        for values in line_values(document):
            writer.write(*detail, {**head, **values}, where=where)
            amount = values.get(layout.control_total_of)
            if isinstance(amount, Decimal):
                writer.control_total += amount
            writer.details += 1
        documents_written += 1
    trailer = layout.record_with_role("trailer")
    if trailer:
        all_records = writer.records + 1  # the trailer counts itself when the count includes all records
        counts = {
            "record_count": Decimal(all_records if layout.count_includes_all else writer.details),
            "document_count": Decimal(documents_written),
            "control_total": writer.control_total,
        }
        writer.write(*trailer, counts, where="the trailer")
    return writer.records


def _has_field(layout: FixedWidthLayout, name: str) -> bool:
    return any(f.name == name for record in layout.records.values() for f in record.fields)


class _RecordWriter:
    def __init__(self, layout: FixedWidthLayout, out: BinaryIO) -> None:
        self.layout = layout
        self.out = out
        self.encoding = "utf-8" if layout.encoding in ("utf-8", "utf-8-sig") else layout.encoding
        self.records = 0
        self.details = 0
        self.control_total = Decimal(0)

    def write(self, code: str, record: FixedRecord, values: dict[str, Any], *, where: str) -> None:
        start = self.layout.record_type_start - 1
        width = max([start + len(code), record.length or 0, *(f.end for f in record.fields)])
        chars = [" "] * width
        chars[start : start + len(code)] = code
        for item in record.fields:
            text = format_field(values.get(item.name), item, where=where)
            chars[item.start - 1 : item.end] = text
        line = "".join(chars).rstrip(" ") if record.length is None else "".join(chars)
        try:
            self.out.write((line + self.layout.line_terminator).encode(self.encoding))
        except UnicodeEncodeError as error:
            bad = error.object[error.start : error.end]
            raise FixedWidthWriteError(f"{where}: {bad!r} cannot be written in {self.layout.encoding}") from None
        self.records += 1


def format_field(value: Any, item: FixedField, *, where: str = "") -> str:
    """A value as exactly `item.length` characters, or FixedWidthWriteError if it does not fit."""

    def too_long(text: str) -> FixedWidthWriteError:
        return FixedWidthWriteError(
            f"{where}: {item.name} {text!r} does not fit in {item.length} characters (columns {item.start}-{item.end})"
        )

    if item.type == "number":
        if value is None:
            return " " * item.length  # blank reads back as "no value"; zeros would read as 0
        return _format_number(Decimal(value), item, too_long)
    if item.type == "date":
        if value is None:
            return " " * item.length
        text = format_date(value, item.date_format)
        if len(text) != item.length:
            raise too_long(text)
        return text
    text = "" if value is None else str(value)
    if len(text) > item.length:
        raise too_long(text)
    return text.ljust(item.length)


def _format_number(value: Decimal, item: FixedField, too_long: Any) -> str:
    scaled = value.scaleb(item.implied_decimals)
    if scaled != scaled.to_integral_value():
        raise FixedWidthWriteError(
            f"{item.name} {value} has more than {item.implied_decimals} decimals (columns {item.start}-{item.end})"
        )
    digits = str(abs(int(scaled)))
    negative = value < 0
    if negative and item.signed == "none":
        raise FixedWidthWriteError(f"{item.name} {value} is negative but the field is unsigned")
    if item.signed == "overpunch":
        table = OVERPUNCH_NEGATIVE if negative else OVERPUNCH_POSITIVE
        digits = digits[:-1] + table[int(digits[-1])]
    room = item.length - (1 if item.signed in ("leading", "trailing") else 0)
    if len(digits) > room:
        raise too_long(str(value))
    body = digits.rjust(room, "0")
    sign = "-" if negative else "+"
    if item.signed == "leading":
        return sign + body
    if item.signed == "trailing":
        return body + sign
    return body
