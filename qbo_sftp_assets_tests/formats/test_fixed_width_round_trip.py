"""Fixed-width writing: write then read gives the same documents, with the trailer the reader checks."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.documents import Bill, JournalEntry, JournalLine, Line, PartyRef, VendorCredit
from qbo_sftp_assets.formats.fixed_width import FixedWidthWriteError, read_fixed_width, render_fixed_width
from qbo_sftp_assets_tests.formats.test_fixed_width_reading import GL_FIXED

LEGACY = builtin_layouts()["legacy_bills_fixed"]


def content(document) -> dict:
    data = document.as_dict()
    data.pop("source")
    return data


def round_trip(documents, layout):
    data = render_fixed_width(documents, layout)
    result = read_fixed_width(io.BytesIO(data), layout, name="out.txt")
    assert result.ok, result.errors
    return data, result.documents


def bill(number="INV-1", cls=Bill, **changes):
    fields = dict(
        vendor=PartyRef("V1", "Acme"),
        number=number,
        date=dt.date(2026, 1, 5),
        currency="USD",
        lines=(
            Line(Decimal("42.50"), "Paper", Decimal("10.000"), Decimal("4.25"), account="6000", class_="Admin"),
            Line(Decimal("-3.10"), "Discount", account="6000"),
        ),
    )
    fields.update(changes)
    return cls(**fields)


def test_bills_and_credits_round_trip_and_trailer_is_right():
    documents = [bill(), bill("CM-1", VendorCredit, due_date=dt.date(2026, 3, 1))]
    data, back = round_trip(documents, LEGACY)
    assert [content(d) for d in back] == [content(d) for d in documents]
    trailer = data.split(b"\r\n")[-2]
    assert trailer[:15] == b"T00000040000002"
    assert trailer[15:30] == b"00000000000788{"  # 2 x (42.50 - 3.10) = 78.80, last digit overpunched
    assert all(len(line) == 80 for line in data.split(b"\r\n")[:-1])


def test_writer_is_deterministic():
    assert render_fixed_width([bill()], LEGACY) == render_fixed_width([bill()], LEGACY)


def test_journal_entries_round_trip_without_header_records():
    entry = JournalEntry(
        number="JE0001",
        date=dt.date(2026, 1, 31),
        lines=(JournalLine("600000", debit=Decimal("125.00")), JournalLine("100000", credit=Decimal("125.00"))),
    )
    data, back = round_trip([entry], GL_FIXED)
    assert [content(d) for d in back] == [content(entry)]
    assert data.endswith(b"99000003000000012500\r\n")  # count includes the trailer itself


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"number": "X" * 16}, "number 'XXXXXXXXXXXXXXXX' does not fit in 15 characters"),
        ({"lines": (Line(Decimal("1.005"), account="6000"),)}, "more than 2 decimals"),
        ({"lines": (Line(Decimal("1000000000"), account="6000"),)}, "does not fit in 11 characters"),
    ],
)
def test_values_that_do_not_fit_are_write_errors(change, message):
    with pytest.raises(FixedWidthWriteError, match=message):
        render_fixed_width([bill(**change)], LEGACY)


def test_unsigned_field_refuses_negative():
    entry = JournalEntry("J", dt.date(2026, 1, 1), (JournalLine("1", debit=Decimal("-1")),))
    with pytest.raises(FixedWidthWriteError, match="negative but the field is unsigned"):
        render_fixed_width([entry], GL_FIXED)


ascii_text = (
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-./ éü", min_size=1, max_size=10).map(str.strip).filter(bool)
)
money = st.decimals(min_value=Decimal("-999999.99"), max_value=Decimal("999999.99"), places=2, allow_nan=False)
bills = st.builds(
    Bill,
    vendor=st.builds(PartyRef, id=ascii_text, name=st.none() | ascii_text),
    number=ascii_text,
    date=st.dates(),
    lines=st.lists(
        st.builds(Line, amount=money, description=st.none() | ascii_text, account=ascii_text), min_size=1, max_size=3
    ).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(documents=st.lists(bills, min_size=1, max_size=3))
def test_any_bills_round_trip(documents):
    _, back = round_trip(documents, LEGACY)
    assert [content(d) for d in back] == [content(d) for d in documents]
