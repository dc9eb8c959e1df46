"""INVOIC document dates (DTM 137, 3, 182 in that order; exact lengths per format 2379) and summary TAX
groups without their MOA (amount taken from the summary's tax total, refused only when it cannot be)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from qbo_sftp_assets.formats.edifact import read_edifact


def invoic(*segments: str) -> bytes:
    """One interchange from Alpenmilch holding one INVOIC with `segments` between UNH and UNT."""
    body = ["UNH+4711+INVOIC:D:01B:UN", *segments]
    body.append(f"UNT+{len(body) + 1}+4711")
    text = "UNB+UNOC:3+ALPENMILCH:14+OURCO:14+240610:0700+AM-88'" + "".join(s + "'" for s in body) + "UNZ+1+AM-88'"
    return text.encode("latin-1")


BGM = "BGM+380+AM-2024-118+9"
SUPPLIER = "NAD+SU+9000000000019::9++Alpenmilch GmbH"
LINES = ["LIN+1++MILCH-1:SA", "QTY+47:100", "MOA+203:89.00", "LIN+2++BUTTER-2:SA", "QTY+47:10", "MOA+203:24.90"]


def dated(*dates: str, after_group: tuple[str, ...] = ()) -> bytes:
    return invoic(BGM, *dates, SUPPLIER, *after_group, *LINES, "UNS+S", "MOA+77:113.90")


def errors(data: bytes) -> list[tuple[str | None, str | None]]:
    return [(e.element, e.code) for e in read_edifact(data, file="am.edi").errors]


# --- document date ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["DTM+3:20240607:102"], dt.date(2024, 6, 7)),  # invoice date/time, refused as missing before
        (["DTM+182:20240606:102"], dt.date(2024, 6, 6)),  # issue date
        (["DTM+182:20240606:102", "DTM+3:20240607:102"], dt.date(2024, 6, 7)),
        (["DTM+3:20240607:102", "DTM+137:20240608:102"], dt.date(2024, 6, 8)),  # 137 wins wherever it is
        (["DTM+35:20240601:102", "DTM+3:202406071130:203"], dt.date(2024, 6, 7)),
    ],
)
def test_the_document_date_is_taken_by_qualifier_preference(dates, expected):
    [bill] = read_edifact(dated(*dates)).documents
    assert bill.date == expected


def test_a_dtm_3_inside_a_reference_group_dates_the_reference_not_the_invoice():
    # RFF+IV + DTM+3: the invoice a credit refers to, and its date; the message's own date is DTM 182.
    data = dated("DTM+182:20240606:102", after_group=("RFF+IV:AM-2024-001", "DTM+3:20240101:102"))
    [bill] = read_edifact(data).documents
    assert bill.date == dt.date(2024, 6, 6)
    assert errors(dated(after_group=("RFF+IV:AM-2024-001", "DTM+3:20240101:102"))) == [("DTM 137", "13")]


def test_a_late_dtm_137_is_still_read_when_no_message_level_date_exists():
    [bill] = read_edifact(dated(after_group=("DTM+137:20240605:102",))).documents
    assert bill.date == dt.date(2024, 6, 5)


def test_without_any_document_date_the_error_names_the_qualifiers():
    result = read_edifact(dated("DTM+35:20240601:102"))
    assert [(e.element, e.code) for e in result.errors] == [("DTM 137", "13")]
    assert "DTM 137, 3 or 182" in result.errors[0].message


@pytest.mark.parametrize(
    ("dtm", "date"),
    [
        ("DTM+137:20240610:102", dt.date(2024, 6, 10)),
        ("DTM+137:240610:101", dt.date(2024, 6, 10)),
        ("DTM+137:202406102359:203", dt.date(2024, 6, 10)),
        ("DTM+137:20240610235959:204", dt.date(2024, 6, 10)),
        ("DTM+137:202406102359?+0200:205", dt.date(2024, 6, 10)),  # the + released
        ("DTM+137:202406102359-0500:205", dt.date(2024, 6, 10)),
    ],
)
def test_each_format_reads_a_value_of_exactly_its_length(dtm, date):
    [bill] = read_edifact(dated(dtm)).documents
    assert bill.date == date


@pytest.mark.parametrize(
    "dtm",
    [
        "DTM+137:202406100000:102",  # 12 digits under CCYYMMDD: refused, no longer cut to 8
        "DTM+137:2024061:102",
        "DTM+137:20240610:203",
        "DTM+137:202406102460:203",
        "DTM+137:2024061023590200:205",
    ],
)
def test_a_value_not_exactly_its_format_is_refused_with_code_12(dtm):
    result = read_edifact(dated(dtm))
    assert [(e.element, e.code) for e in result.errors] == [("DTM 137 2380", "12")]


def test_the_refusal_says_which_layout_the_format_wants():
    [error] = read_edifact(dated("DTM+137:202406100000:102")).errors
    assert error.expected == "CCYYMMDD" and "format 102" in error.message


# --- TAX without MOA ---------------------------------------------------------------------------------


def taxed(*summary: str, total: str = "120.51") -> bytes:
    return invoic(BGM, "DTM+137:20240610:102", SUPPLIER, *LINES, "UNS+S", "MOA+79:113.90", *summary, f"MOA+77:{total}")


def tax_lines(data: bytes) -> list[tuple[str | None, Decimal]]:
    result = read_edifact(data)
    assert result.ok, result.errors
    [bill] = result.documents
    assert bill.lines_total == bill.total
    return [(line.description, line.amount) for line in bill.lines if line.kind == "tax"]


def test_a_tax_group_without_moa_takes_the_summary_total_tax():
    data = taxed("MOA+176:6.61", "TAX+7+VAT+++:::5.8+S")
    assert tax_lines(data) == [("VAT 5.8%", Decimal("6.61"))]


def test_a_summary_moa_124_outside_any_group_serves_as_well():
    data = taxed("MOA+124:6.61", "TAX+7+VAT+++:::5.8+S")
    assert tax_lines(data) == [("VAT 5.8%", Decimal("6.61"))]


def test_the_group_without_moa_gets_what_the_other_groups_leave_of_the_total():
    data = taxed("MOA+176:6.61", "TAX+7+VAT+++:::5.8+S", "MOA+124:5.16", "TAX+7+VAT+++:::5.8+S")
    assert tax_lines(data) == [("VAT 5.8%", Decimal("5.16")), ("VAT 5.8%", Decimal("1.45"))]


def test_an_exempt_or_zero_rate_group_without_moa_is_zero():
    data = taxed("TAX+7+VAT+++:::0+Z", "TAX+7+VAT+++:::+E", "MOA+176:6.61", "TAX+7+VAT+++:::5.8+S")
    assert tax_lines(data) == [("VAT 0%", Decimal(0)), ("VAT", Decimal(0)), ("VAT 5.8%", Decimal("6.61"))]


def test_several_groups_without_moa_share_the_total_as_one_tax_line():
    data = taxed("MOA+176:6.61", "TAX+7+VAT+++:::5.8+S", "TAX+7+VAT+++:::10+S")
    assert tax_lines(data) == [("VAT 5.8% + VAT 10%", Decimal("6.61"))]


def test_without_a_summary_tax_amount_the_group_is_refused():
    assert errors(taxed("TAX+7+VAT+++:::5.8+S")) == [("TAX MOA", "13")]


def test_a_summary_total_that_does_not_reconcile_with_the_invoice_total_is_refused():
    assert errors(taxed("MOA+176:9.99", "TAX+7+VAT+++:::5.8+S")) == [("MOA 77 5004", "12")]
    assert errors(taxed("MOA+176:1.00", "TAX+7+VAT+++:::5.8+S", "MOA+124:5.16", "TAX+7+VAT+++:::5.8+S")) == [
        ("TAX MOA", "13")
    ]
