"""CSV writing: write then read gives the same documents; deterministic bytes; formulas neutralised."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.csv_format import (
    CsvWriteError,
    neutralise_formula,
    read_csv,
    render_csv,
    render_reference_csv,
    restore_formula,
)
from qbo_sftp_assets.formats.documents import (
    Account,
    Bill,
    Class,
    Invoice,
    JournalEntry,
    JournalLine,
    Line,
    PartyRef,
    Vendor,
    VendorCredit,
)
from qbo_sftp_assets.formats.layouts import CsvLayout

BILLS = builtin_layouts()["bills_csv"]
BILLS_EU = builtin_layouts()["bills_csv_eu"]
GL = builtin_layouts()["gl_csv"]


def content(document) -> dict:
    """A document's data without where it came from (the source differs between write and read)."""
    data = document.as_dict()
    data.pop("source")
    return data


def round_trip(documents, layout: CsvLayout):
    data = render_csv(documents, layout)
    result = read_csv(io.BytesIO(data), layout, name="out.csv")
    assert result.ok, result.errors
    return data, result.documents


ACME = PartyRef("V1", "Acme")


def bill(number="INV-1", cls=Bill, vendor=ACME, **changes):
    # An Invoice's counterparty is its customer; the layout's party columns carry either.
    fields = dict(
        **{"customer" if cls is Invoice else "vendor": vendor},
        number=number,
        date=dt.date(2026, 1, 5),
        due_date=dt.date(2026, 2, 4),
        currency="USD",
        lines=(
            Line(Decimal("42.50"), "Paper", Decimal(10), Decimal("4.25"), item="P-1", account="6000", class_="Admin"),
            Line(Decimal("-3.10"), "Discount", account="6000"),
        ),
    )
    fields.update(changes)
    return cls(**fields)


def test_bills_and_vendor_credits_round_trip():
    documents = [bill(), bill("CM-1", VendorCredit), bill("INV-2", total=Decimal("39.40"), memo="memo")]
    _, back = round_trip(documents, BILLS)
    assert [content(d) for d in back] == [content(d) for d in documents]
    assert [type(d) for d in back] == [Bill, VendorCredit, Bill]


def test_invoices_round_trip_with_an_invoice_layout():
    layout = CsvLayout(document="invoice", columns={"vendor_name": ["Customer Name"]})
    documents = [bill("S-1", Invoice, vendor=PartyRef("C9", "Client"))]
    data, back = round_trip(documents, layout)
    assert b"Customer Name" in data.splitlines()[0]
    assert [content(d) for d in back] == [content(d) for d in documents]


def test_journal_entries_round_trip():
    entry = JournalEntry(
        number="JE-7",
        date=dt.date(2026, 1, 31),
        currency="EUR",
        memo="Month end",
        lines=(
            JournalLine("6200", debit=Decimal("250.00"), description="Rent", class_="Admin"),
            JournalLine("1000", credit=Decimal("250.00"), entity=PartyRef("V1", "Landlord"), entity_type="vendor"),
        ),
    )
    _, back = round_trip([entry], GL)
    assert [content(d) for d in back] == [content(entry)]


def test_european_layout_round_trip_quotes_nothing_it_does_not_need_to():
    documents = [bill(vendor=PartyRef("V1", "Weiß; Söhne"))]
    data, back = round_trip(documents, BILLS_EU)
    assert [content(d) for d in back] == [content(d) for d in documents]
    assert '"Weiß; Söhne"'.encode("cp1252") in data
    assert b"42,50" in data and b"-3,10" in data and b"05.01.2026" in data


def test_writer_is_deterministic_with_crlf_and_fixed_columns():
    documents = [bill(), bill("CM-1", VendorCredit)]
    first = render_csv(documents, BILLS)
    assert first == render_csv(list(documents), BILLS)
    assert first.startswith(b"\xef\xbb\xbfType,Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,")
    assert first.count(b"\r\n") == 5 and b"\n" not in first.replace(b"\r\n", b"")


def test_write_columns_choose_and_order_the_columns():
    layout = CsvLayout(write_columns=["number", "vendor_name", "amount"], encoding="utf-8", line_terminator="\n")
    assert render_csv([bill()], layout) == b"number,vendor_name,amount\nINV-1,Acme,42.50\nINV-1,Acme,-3.10\n"


@pytest.mark.parametrize("text", ["=SUM(A1:A9)", "+1", "-2+3", "@cmd", "\tTAB", "\rCR", "'=already"])
def test_formula_injection_is_neutralised_and_read_back_exactly(text):
    document = bill(vendor=PartyRef("V1", text), lines=(Line(Decimal("1.00"), description=text),))
    data, back = round_trip([document], BILLS)
    cells = data.decode("utf-8-sig").split("\r\n")[1]
    assert "'" + text.replace('"', '""') in cells or f'"\'{text}"' in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells.split(","))
    assert back[0].vendor.name == text and back[0].lines[0].description == text


def test_negative_amounts_are_numbers_not_escaped_text():
    data = render_csv([bill()], BILLS)
    assert b",-3.10," in data


def test_neutralise_and_restore_are_inverse():
    for text in ["=1", "'=1", "''+x", "plain", "'quoted", "", "-"]:
        assert restore_formula(neutralise_formula(text)) == text
    assert neutralise_formula("plain") == "plain" and neutralise_formula("'quoted") == "'quoted"


def test_reference_lists_for_outbound_feeds():
    vendors = [Vendor("56", '=HYPERLINK("x")', email="a@b.c"), Vendor("57", "Plain", active=False)]
    data = render_reference_csv(vendors, Vendor)
    assert data.decode("utf-8-sig").split("\r\n") == [
        "id,name,email,phone,tax_id,active",
        '56,"\'=HYPERLINK(""x"")",a@b.c,,,true',
        "57,Plain,,,,false",
        "",
    ]
    assert render_reference_csv([Account("1", "Cash", number="1000", account_type="Bank")], Account).endswith(
        b"1,Cash,1000,Bank,true\r\n"
    )
    assert render_reference_csv([], Class) == b"\xef\xbb\xbfid,name,active\r\n"
    with pytest.raises(CsvWriteError):
        render_reference_csv([Class("1", "A")], Vendor)


def test_unencodable_character_is_a_write_error_naming_the_document():
    layout = BILLS.model_copy(update={"encoding": "cp1252"})
    with pytest.raises(CsvWriteError, match=r"bill INV-1.*cp1252"):
        render_csv([bill(vendor=PartyRef("V1", "Snow ☃"))], layout)


def test_mixed_kinds_need_a_document_type_column():
    layout = CsvLayout(write_columns=["vendor_name", "number", "date", "amount"])
    with pytest.raises(CsvWriteError, match="no document_type column"):
        render_csv([bill("CM", VendorCredit)], layout)
    with pytest.raises(CsvWriteError, match="cannot write a journal_entry"):
        render_csv([JournalEntry("1", dt.date(2026, 1, 1), ())], BILLS)


text = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"), min_size=1, max_size=12
    )
    .map(str.strip)
    .filter(bool)
)
money = st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2, allow_nan=False)
lines = st.lists(
    st.builds(Line, amount=money, description=st.none() | text, account=st.none() | text, class_=st.none() | text),
    min_size=1,
    max_size=3,
)
bills = st.builds(
    Bill,
    vendor=st.builds(PartyRef, id=text, name=st.none() | text),
    number=text,
    date=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31)),
    lines=lines.map(tuple),
    memo=st.none() | text,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=st.lists(bills, min_size=1, max_size=3, unique_by=lambda b: (b.vendor.id, b.number)))
def test_any_bills_round_trip(documents):
    # Adjacent documents must differ in their key, or they would be read as one.
    _, back = round_trip(documents, BILLS)
    assert [content(d) for d in back] == [content(d) for d in documents]


positive = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2, allow_nan=False)


@st.composite
def journal_entries(draw, number: str):
    debits = draw(st.lists(positive, min_size=1, max_size=3))
    lines = [JournalLine(draw(text), debit=amount, description=draw(st.none() | text)) for amount in debits]
    lines.append(JournalLine(draw(text), credit=sum(debits, Decimal(0)), class_=draw(st.none() | text)))
    return JournalEntry(number=number, date=draw(st.dates()), lines=tuple(draw(st.permutations(lines))))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), count=st.integers(1, 3))
def test_any_balanced_journal_entries_round_trip(data, count):
    entries = [data.draw(journal_entries(f"JE-{n}")) for n in range(count)]
    _, back = round_trip(entries, GL)
    assert [content(d) for d in back] == [content(d) for d in entries]
