"""Fixed-width reading: field types and signs, header/detail/trailer records, trailer checks, bad records."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.documents import Bill, JournalEntry, VendorCredit
from qbo_sftp_assets.formats.errors import FixedWidthParseError
from qbo_sftp_assets.formats.fixed_width import format_field, parse_field, read_fixed_width
from qbo_sftp_assets.formats.flat_documents import ValueProblem
from qbo_sftp_assets.formats.layouts import FixedField, FixedRecord, FixedWidthLayout
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "flat"
LEGACY = builtin_layouts()["legacy_bills_fixed"]


def read(data: bytes, layout: FixedWidthLayout = LEGACY):
    return read_fixed_width(io.BytesIO(data), layout, name="ap.txt")


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\r\n")[:-1]


def test_legacy_file_reads_headers_details_and_checks_the_trailer():
    result = read_fixed_width(DATA / "legacy_bills.txt", LEGACY, name="ap.txt")
    assert result.ok, result.errors
    bill, credit = result.documents
    assert type(bill) is Bill and type(credit) is VendorCredit
    assert bill.vendor.id == "V100" and bill.vendor.name == "Acme Paper Co" and bill.number == "INV-1001"
    assert bill.date == dt.date(2026, 1, 5) and bill.due_date == dt.date(2026, 2, 4) and bill.currency == "USD"
    assert [line.amount for line in bill.lines] == [Decimal("42.50"), Decimal("1234.56")]
    assert bill.lines[0].quantity == Decimal("10.000") and bill.lines[0].unit_price == Decimal("4.25")
    assert credit.vendor.name == "Böhm & Söhne"  # cp1252 bytes
    assert bill.source.line == 1 and bill.lines[1].source.line == 3


@pytest.mark.parametrize(
    ("text", "signed", "decimals", "expected"),
    [
        ("0000012345", "none", 2, "123.45"),
        ("     12345", "none", 2, "123.45"),
        ("-000012345", "leading", 2, "-123.45"),
        ("+000012345", "leading", 2, "123.45"),
        ("000012345-", "trailing", 2, "-123.45"),
        ("000001234E", "overpunch", 2, "123.45"),
        ("000001234N", "overpunch", 2, "-123.45"),
        ("000001234}", "overpunch", 2, "-123.40"),
        ("000001234{", "overpunch", 2, "123.40"),
        ("0000000000", "none", 0, "0"),
    ],
)
def test_numbers_with_implied_decimals_and_signs(text, signed, decimals, expected):
    field = FixedField(name="amount", start=1, length=10, type="number", implied_decimals=decimals, signed=signed)
    value = parse_field(text, field)
    assert value == Decimal(expected) and str(value) == expected
    assert parse_field(format_field(value, field), field) == value


@pytest.mark.parametrize(("text", "signed"), [("00001-2345", "none"), ("-000012345", "none"), ("0000012,45", "none")])
def test_bad_numbers_say_what_was_expected(text, signed):
    field = FixedField(name="amount", start=1, length=10, type="number", implied_decimals=2, signed=signed)
    with pytest.raises(ValueProblem) as caught:
        parse_field(text, field)
    assert "digits" in caught.value.expected and "2 implied decimals" in caught.value.expected


def test_dates_blank_and_zero_are_empty():
    field = FixedField(name="date", start=1, length=8, type="date", date_format="%m%d%Y")
    assert parse_field("01312026", field) == dt.date(2026, 1, 31)
    assert parse_field("00000000", field) is None and parse_field("        ", field) is None
    with pytest.raises(ValueProblem, match="not a date"):
        parse_field("13312026", field)


def test_trailer_count_mismatch_names_the_trailer_field_found_and_expected():
    lines = lines_of(DATA / "legacy_bills.txt")
    lines[-1] = b"T0000004" + lines[-1][8:]
    result = read(b"\r\n".join(lines) + b"\r\n")
    assert result.documents == []  # an incomplete file posts nothing
    (error,) = result.errors
    assert error.render() == (
        "ap.txt:6: record_count (columns 2-8): the trailer says 4 but the file has 3 (detail records) (expected 3)"
    )


def test_trailer_control_total_mismatch():
    lines = lines_of(DATA / "legacy_bills.txt")
    lines[-1] = lines[-1][:15] + b"00000000012921F" + lines[-1][30:]
    result = read(b"\r\n".join(lines) + b"\r\n")
    (error,) = result.errors
    assert error.line == 6 and error.element == "control_total (columns 16-30)"
    assert "says 1292.16 but the file has 1292.06" in error.message and error.expected == "1292.06"


def test_missing_trailer_means_truncated():
    lines = lines_of(DATA / "legacy_bills.txt")[:-1]
    result = read(b"\r\n".join(lines) + b"\r\n")
    assert result.documents == []
    assert "no trailer record" in result.errors[0].message and result.errors[0].line == 6


def test_unknown_record_type_and_records_after_the_trailer():
    lines = lines_of(DATA / "legacy_bills.txt")
    data = b"\r\n".join([*lines[:2], b"X junk", *lines[2:], lines[1]]) + b"\r\n"
    result = read(data)
    assert result.documents == []
    assert "unknown record type 'X'" in result.errors[0].message and result.errors[0].line == 3
    assert "after the trailer on line 7" in result.errors[1].message and result.errors[1].line == 8


def test_bad_detail_rejects_its_document_only():
    lines = lines_of(DATA / "legacy_bills.txt")
    lines[1] = lines[1][:41] + b"0001X0000" + lines[1][50:]
    result = read(b"\r\n".join(lines) + b"\r\n")
    assert [d.number for d in result.documents] == ["CM-77"]
    (error,) = result.errors
    assert error.line == 2 and error.element == "quantity (columns 42-50)"


def test_unreadable_amount_makes_the_control_total_uncheckable():
    lines = lines_of(DATA / "legacy_bills.txt")
    lines[1] = lines[1][:61] + b"00000A0425{" + lines[1][72:]
    result = read(b"\r\n".join(lines) + b"\r\n")
    assert result.documents == []
    assert [(e.line, e.element) for e in result.errors] == [
        (2, "amount (columns 62-72)"),
        (6, "control_total (columns 16-30)"),
    ]
    assert "cannot be checked: the amount on line(s) 2 is unreadable" in result.errors[1].message


def test_tab_and_overlong_record_are_errors():
    lines = lines_of(DATA / "legacy_bills.txt")
    lines[1] = lines[1][:20] + b"\t" + lines[1][21:]
    lines[4] = lines[4] + b"EXTRA"
    result = read(b"\r\n".join(lines) + b"\r\n")
    assert [(e.line, e.message) for e in result.errors] == [
        (2, "a tab character at column 21"),
        (5, "the record is 85 characters long"),
    ]


def test_short_lines_are_padded_since_editors_strip_trailing_blanks():
    lines = [line.rstrip(b" ") for line in lines_of(DATA / "legacy_bills.txt")]
    assert read(b"\n".join(lines) + b"\n").ok


def test_detail_before_any_header_is_a_file_error():
    lines = lines_of(DATA / "legacy_bills.txt")
    result = read(b"\r\n".join([lines[1], *lines]) + b"\r\n")
    assert "before any header" in result.errors[0].message and result.documents == []


def test_wrong_encoding_is_a_parse_error_with_line():
    layout = LEGACY.model_copy(update={"encoding": "utf-8"})
    with pytest.raises(FixedWidthParseError) as caught:
        read_fixed_width(DATA / "legacy_bills.txt", layout, name="ap.txt")
    assert caught.value.line == 4 and "0xf6" in caught.value.message


GL_FIXED = FixedWidthLayout(
    document="journal_entry",
    record_type_length=2,
    records={
        "01": FixedRecord(
            role="detail",
            fields=[
                FixedField(name="number", start=3, length=6),
                FixedField(name="date", start=9, length=6, type="date", date_format="%y%m%d"),
                FixedField(name="account", start=15, length=6),
                FixedField(name="debit", start=21, length=9, type="number", implied_decimals=2),
                FixedField(name="credit", start=30, length=9, type="number", implied_decimals=2),
            ],
        ),
        "99": FixedRecord(
            role="trailer",
            fields=[
                FixedField(name="record_count", start=3, length=6, type="number"),
                FixedField(name="control_total", start=9, length=12, type="number", implied_decimals=2),
            ],
        ),
    },
    count_includes_all=True,
    control_total_of="debit",
    group_by=["number", "date"],
)


def test_layout_without_header_groups_details_by_key_and_counts_all_records():
    data = (
        b"01JE0001260131600000000012500         \n"
        b"01JE0001260131100000         000012500\n"
        b"01JE0002260131600000000000100         \n"
        b"01JE0002260131100000         000000100\n"
        b"99000005000000012600\n"
    )
    result = read(data, GL_FIXED)
    assert result.ok, result.errors
    first, second = result.documents
    assert isinstance(first, JournalEntry) and first.number == "JE0001" and first.date == dt.date(2026, 1, 31)
    assert first.total_debits == Decimal("125.00") and second.total_credits == Decimal("1.00")


def test_layout_validation_rejects_inconsistent_layouts():
    with pytest.raises(ValueError, match="must have type 'number'"):
        FixedWidthLayout(
            records={"D": FixedRecord(role="detail", fields=[FixedField(name="amount", start=2, length=5)])}
        )
    with pytest.raises(ValueError, match="needs a record type with role 'detail'"):
        FixedWidthLayout(records={"H": FixedRecord(role="header", fields=[])})
    with pytest.raises(ValueError, match="not 1 characters"):
        FixedWidthLayout(records={"DD": FixedRecord(role="detail", fields=[])})


def test_trailer_document_count_mismatch():
    lines = lines_of(DATA / "legacy_bills.txt")
    lines[-1] = lines[-1][:8] + b"0000003" + lines[-1][15:]
    result = read(b"\r\n".join(lines) + b"\r\n")
    (error,) = result.errors
    assert error.element == "document_count (columns 9-15)"
    assert error.message == "the trailer says 3 but the file has 2 (documents)"
