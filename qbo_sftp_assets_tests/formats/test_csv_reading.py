"""CSV reading: layouts, encodings, number and date formats, grouping, bad rows and unreadable files."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.csv_format import iter_documents, read_csv
from qbo_sftp_assets.formats.documents import Bill, JournalEntry, VendorCredit
from qbo_sftp_assets.formats.errors import CsvParseError
from qbo_sftp_assets.formats.flat_documents import Rejection
from qbo_sftp_assets.formats.layouts import CsvLayout
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "flat"
BILLS = builtin_layouts()["bills_csv"]
BILLS_EU = builtin_layouts()["bills_csv_eu"]
GL = builtin_layouts()["gl_csv"]


def read(text: str | bytes, layout: CsvLayout = BILLS, name: str = "in.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return read_csv(io.BytesIO(data), layout, name=name)


def test_bills_group_by_vendor_and_number_and_credit_memo_becomes_positive_vendor_credit():
    result = read_csv(DATA / "bills.csv", BILLS, name="bills.csv")
    assert result.ok, result.errors
    bill, credit = result.documents
    assert type(bill) is Bill and type(credit) is VendorCredit
    assert bill.vendor.id == "V100" and bill.number == "INV-1001"
    assert bill.date == dt.date(2026, 1, 5) and bill.due_date == dt.date(2026, 2, 4)
    assert [line.amount for line in bill.lines] == [Decimal("42.50"), Decimal("1234.56")]
    assert bill.lines[0].quantity == Decimal(10) and bill.lines[0].unit_price == Decimal("4.25")
    assert bill.lines[1].source.line == 3 and bill.source.line == 2
    assert credit.vendor.name == "Böhm & Söhne"
    assert [line.amount for line in credit.lines] == [Decimal("15.00")]


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-8-sig", b"\xef\xbb\xbf"), ("cp1252", b""), ("latin-1", b"")],
)
def test_each_encoding_reads_accented_names(encoding, prefix):
    text = "Vendor,Invoice Number,Date,Amount,Description\r\nCafé Münster,1,2026-01-05,10.00,Crème brûlée\r\n"
    layout = BILLS.model_copy(update={"encoding": encoding})
    result = read(
        prefix + text.encode("latin-1" if encoding != "utf-8" and encoding != "utf-8-sig" else "utf-8"), layout
    )
    assert result.ok, result.errors
    (bill,) = result.documents
    assert bill.vendor.name == "Café Münster"
    assert bill.lines[0].description == "Crème brûlée"


def test_cp1252_curly_quotes_and_euro_sign():
    data = "Vendor,Invoice Number,Date,Amount,Description\r\nA,1,2026-01-05,10.00,“Premium” € box\r\n"
    result = read(data.encode("cp1252"), BILLS.model_copy(update={"encoding": "cp1252"}))
    assert result.documents[0].lines[0].description == "“Premium” € box"


def test_wrong_encoding_names_line_and_byte():
    data = "Vendor,Invoice Number,Date,Amount\r\nA,1,2026-01-05,1.00\r\nMüller,2,2026-01-05,2.00\r\n".encode("cp1252")
    with pytest.raises(CsvParseError) as caught:
        read(data, BILLS)
    error = caught.value
    assert error.line == 3
    assert "byte 0xfc at byte 2 of the line" in error.message
    assert "utf-8" in error.message
    assert error.render().startswith("in.csv:3: ")


def test_cp1252_undefined_byte_is_a_parse_error_not_unicode_error():
    data = b"Vendor,Invoice Number,Date,Amount\r\nA\x81,1,2026-01-05,1.00\r\n"
    with pytest.raises(CsvParseError) as caught:
        read(data, BILLS.model_copy(update={"encoding": "cp1252"}))
    assert caught.value.line == 2 and "0x81" in caught.value.message


def test_decimal_comma_semicolons_and_day_first_dates():
    data = (
        "Lieferant;Rechnungsnummer;Rechnungsdatum;Konto;Betrag\r\n"
        "Weiß GmbH;R-1;31.01.2026;6000;1.234,56\r\n"
        "Weiß GmbH;R-1;31.01.2026;6100;0,44\r\n"
        "Weiß GmbH;R-2;01.02.2026;6000;12,50-\r\n"
    ).encode("cp1252")
    result = read(data, BILLS_EU)
    assert result.ok, result.errors
    first, second = result.documents
    assert first.date == dt.date(2026, 1, 31)
    assert [line.amount for line in first.lines] == [Decimal("1234.56"), Decimal("0.44")]
    assert second.lines[0].amount == Decimal("-12.50")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("(1,234.50)", "-1234.50"), ("1234.50-", "-1234.50"), ("-0.5", "-0.5"), ("$1,000", "1000"), ("+7.25", "7.25")],
)
def test_negative_and_grouped_amounts(text, expected):
    result = read(f'Vendor,Invoice Number,Date,Amount\r\nA,1,2026-01-05,"{text}"\r\n')
    assert result.ok, result.errors
    assert result.documents[0].lines[0].amount == Decimal(expected)


def test_bad_rows_reject_their_document_and_the_rest_still_reads():
    data = (
        "Vendor,Invoice Number,Date,Amount\r\n"
        "A,1,2026-01-05,10.00\r\n"
        "B,2,2026-01-05,ten\r\n"
        "B,2,2026-01-05,1.00\r\n"
        "C,3,2026-02-30,5.00\r\n"
        "D,4,2026-01-05,1,2,3\r\n"
        "E,5,2026-01-05,7.00\r\n"
    )
    result = read(data)
    assert [d.vendor.name for d in result.documents] == ["A", "E"]
    rendered = [e.render() for e in result.errors]
    assert rendered[0] == "in.csv:3: Amount: 'ten' is not a number (expected a number like 1234.50, at most 18 digits)"
    assert rendered[1].startswith("in.csv:5: Date: '2026-02-30' is not a date (expected a date like 2026-01-31")
    assert "in.csv:6:" in rendered[2] and "fields" in rendered[2]
    assert len(result.errors) == 3


def test_non_adjacent_rows_reject_both_parts_of_the_document():
    data = "Vendor,Invoice Number,Date,Amount\r\nA,1,2026-01-05,10.00\r\nB,2,2026-01-05,1.00\r\nA,1,2026-01-05,5.00\r\n"
    result = read(data)
    assert [d.vendor.name for d in result.documents] == ["B"]
    assert [e.line for e in result.errors] == [2, 4]
    assert "continue at line 4" in result.errors[0].message
    assert "started at line 2" in result.errors[1].message


def test_non_adjacent_streaming_yields_the_first_part_then_a_rejection_naming_it():
    data = b"Vendor,Invoice Number,Date,Amount\r\nA,1,2026-01-05,10.00\r\nB,2,2026-01-05,1.00\r\nA,1,2026-01-05,5\r\n"
    items = list(iter_documents(io.BytesIO(data), BILLS, name="in.csv"))
    assert isinstance(items[0], Bill) and isinstance(items[1], Bill)
    assert isinstance(items[2], Rejection) and items[2].repeats_line == 2


def test_non_adjacent_check_is_bounded_by_its_window():
    rows = ["A,1", "B,2", "C,3", "A,1"]
    data = "Vendor,Invoice Number,Date,Amount\r\n" + "".join(f"{row},2026-01-05,1\r\n" for row in rows)
    result = read(data, BILLS.model_copy(update={"non_adjacent_window": 1}))
    assert result.ok and len(result.documents) == 4


def test_unknown_document_type_names_the_allowed_words():
    result = read("Type,Vendor,Invoice Number,Date,Amount\r\nReceipt,A,1,2026-01-05,1.00\r\n")
    (error,) = result.errors
    assert error.element == "Type" and "unknown document type 'Receipt'" in error.message
    assert "creditmemo" in (error.expected or "")


def test_layout_document_types_map_partner_words():
    layout = BILLS.model_copy(update={"document_types": {"INV": "bill", "GUTSCHRIFT": "vendor_credit"}})
    result = read("Type,Vendor,Invoice Number,Date,Amount\r\nGutschrift,A,1,2026-01-05,1.00\r\n", layout)
    assert type(result.documents[0]) is VendorCredit


def test_header_fields_must_agree_within_a_document():
    result = read("Vendor,Invoice Number,Date,Amount\r\nA,1,2026-01-05,1.00\r\nA,1,2026-01-06,1.00\r\n")
    (error,) = result.errors
    assert error.line == 3 and "differs from 2026-01-05 on line 2" in error.message


def test_stated_total_is_checked_against_lines():
    result = read("Vendor,Invoice Number,Date,Amount,Total\r\nA,1,2026-01-05,1.00,3.00\r\nA,1,2026-01-05,1.00,3.00\r\n")
    (error,) = result.errors
    assert "stated total 3.00 does not equal the sum of the lines 2.00" in error.message


def test_amount_from_quantity_and_unit_price():
    result = read("Vendor,Invoice Number,Date,Qty,Unit Price\r\nA,1,2026-01-05,3,2.50\r\n")
    assert result.documents[0].lines[0].amount == Decimal("7.50")


def test_quoted_field_spanning_lines_keeps_line_numbers():
    data = (
        'Vendor,Invoice Number,Date,Amount,Description\r\nA,1,2026-01-05,1.00,"two\r\nlines"\r\nB,2,2026-01-05,x,y\r\n'
    )
    result = read(data)
    assert result.documents[0].lines[0].description == "two\r\nlines"
    assert result.errors[0].line == 4


def test_missing_required_column_is_unreadable():
    with pytest.raises(CsvParseError) as caught:
        read("Vendor,Invoice Number,Amount\r\nA,1,1.00\r\n")
    assert caught.value.element == "date" and caught.value.line == 1
    assert "'Invoice Date'" in (caught.value.expected or "")


def test_empty_file_and_header_only_file():
    with pytest.raises(CsvParseError, match="empty"):
        read(b"")
    result = read("Vendor,Invoice Number,Date,Amount\r\n")
    assert result.ok and result.documents == []


def test_unclosed_quote_is_unreadable_with_position():
    with pytest.raises(CsvParseError) as caught:
        read('Vendor,Invoice Number,Date,Amount\r\nA,1,2026-01-05,"1.00\r\n')
    assert caught.value.line == 2


def test_line_without_breaks_stops_at_the_limit():
    layout = BILLS.model_copy(update={"max_line_bytes": 100})
    with pytest.raises(CsvParseError) as caught:
        read(b"Vendor,Invoice Number,Date,Amount\n" + b"A" * 500, layout)
    assert caught.value.line == 2 and "longer than 100 bytes" in caught.value.message


def test_file_without_header_uses_column_numbers():
    layout = CsvLayout(
        has_header=False,
        columns={"vendor_id": ["1"], "number": ["2"], "date": ["3"], "amount": ["4"]},
        group_by=["vendor_id", "number"],
    )
    result = read("V1,7,2026-01-05,2.00\r\nV1,7,2026-01-05,3.00\r\n", layout)
    assert result.ok and result.documents[0].lines_total == Decimal("5.00")
    assert result.documents[0].source.line == 1


def test_gl_entries_group_and_balance():
    result = read_csv(DATA / "gl.csv", GL, name="gl.csv")
    assert result.ok, result.errors
    first, second = result.documents
    assert isinstance(first, JournalEntry) and first.number == "JE-1"
    assert first.lines[0].credit == Decimal("250.00") and first.lines[1].debit == Decimal("250.00")
    assert first.lines[1].class_ == "Admin"
    assert second.total_debits == Decimal("99.99")


def test_unbalanced_entry_is_an_error_naming_its_lines():
    result = read_csv(DATA / "gl_unbalanced.csv", GL, name="gl.csv")
    assert [d.number for d in result.documents] == ["JE-1"]
    (error,) = result.errors
    assert error.line == 4
    assert "JE-2 does not balance: debits 100.00, credits 99.99 (difference 0.01) on lines 4, 5" in error.message


def test_gl_signed_amount_column_and_line_errors():
    data = (
        "Entry Number,Date,Account,Amount,Name,Entity Type\r\n"
        "1,2026-01-31,6000,10.00,Acme,vendor\r\n"
        "1,2026-01-31,2000,-10.00,,\r\n"
        "2,2026-01-31,,5.00,,\r\n"
        "2,2026-01-31,2000,-5.00,X,planet\r\n"
    )
    result = read(data, GL)
    (entry,) = result.documents
    assert entry.lines[0].debit == Decimal("10.00") and entry.lines[1].credit == Decimal("10.00")
    assert entry.lines[0].entity is not None and entry.lines[0].entity.name == "Acme"
    assert entry.lines[0].entity_type == "vendor"
    assert [(e.line, e.element) for e in result.errors] == [(4, "Account"), (5, "Entity Type")]


def test_gl_line_with_both_debit_and_credit_is_rejected():
    data = "Entry Number,Date,Account,Debit,Credit\r\n1,2026-01-31,6000,5.00,5.00\r\n1,2026-01-31,2000,,\r\n"
    result = read(data, GL)
    messages = [e.message for e in result.errors]
    assert "the line has both a debit and a credit" in messages
    assert "the line has neither a debit nor a credit" in messages


def test_layout_document_makes_every_row_a_vendor_credit_without_a_type_column():
    layout = BILLS.model_copy(update={"document": "vendor_credit"})
    result = read("Vendor,Invoice Number,Date,Amount\r\nA,CM-1,2026-01-05,-4.00\r\nA,CM-1,2026-01-05,-1.00\r\n", layout)
    (credit,) = result.documents
    assert type(credit) is VendorCredit and credit.lines_total == Decimal("5.00")
