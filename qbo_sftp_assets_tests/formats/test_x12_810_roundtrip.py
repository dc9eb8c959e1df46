"""Writing 810s then reading them gives the same documents; pyx12 reads our 810 and 997 as we meant them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from decimal import Decimal

import pytest
from pyx12.x12file import X12Reader

from qbo_sftp_assets.config import X12Identity
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Bill, Invoice, Line, PartyRef, Source, VendorCredit
from qbo_sftp_assets.formats.x12 import (
    Delimiters,
    Parties,
    X12WriteError,
    acknowledge_x12,
    read_x12,
    write_810,
)

AS_OF = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
PARTIES = Parties("ZZ", "OURCOMPANY", "01", "123456789", sender_group_id="OURAPP", receiver_group_id="THEIRAPP")


def without_sources(document: Bill) -> Bill:
    lines = tuple(dataclasses.replace(line, source=Source()) for line in document.lines)
    return dataclasses.replace(document, lines=lines, source=Source())


BILL = Bill(
    vendor=PartyRef("ACME01", "Acme Supply Co"),
    number="INV-1001",
    date=dt.date(2026, 11, 18),
    lines=(
        Line(Decimal("125.00"), "Blue widget", Decimal("10"), Decimal("12.50"), "WID-1", unit="EA"),
        Line(Decimal("1.88"), "Half pound of bolts", Decimal("0.5"), Decimal("3.75"), "BLT-9", unit="LB"),
        Line(Decimal("15.00"), "Freight", item="D240", kind="charge"),
        Line(Decimal("-2.50"), "Promo", item="C310", kind="allowance"),
    ),
    due_date=dt.date(2026, 12, 18),
    terms="Net 30",
    currency="CAD",
    memo="Thank you",
    total=Decimal("139.38"),
    po_number="PO-55",
)
CREDIT = VendorCredit(
    vendor=PartyRef("ACME01", "Acme Supply Co"),
    number="CM-7",
    date=dt.date(2026, 11, 20),
    lines=(Line(Decimal("40.00"), "Returned widgets", Decimal("4"), Decimal("10"), "WID-1", unit="EA"),),
    total=Decimal("40.00"),
)


@pytest.mark.parametrize("delimiters", [Delimiters(), Delimiters("|", "^", "!", None), Delimiters("*", ">", "\n")])
def test_bills_and_vendor_credits_round_trip(delimiters: Delimiters) -> None:
    data = write_810(
        [BILL, CREDIT], parties=PARTIES, control_numbers=InMemoryControlNumbers(41), as_of=AS_OF, delimiters=delimiters
    )
    result, _ = read_x12(data)
    assert result.errors == []
    assert [without_sources(doc) for doc in result.documents] == [BILL, CREDIT]
    assert [doc.source.as_dict() for doc in result.documents] == [
        {"segment": 3, "interchange": "000000041", "group": "41", "transaction_set": "0041"},
        {"segment": 19, "interchange": "000000041", "group": "41", "transaction_set": "0042"},
    ]


def test_output_is_deterministic_and_enveloped_from_the_identity() -> None:
    identity = X12Identity(our_id="OURCOMPANY", partner_qualifier="01", partner_id="123456789", usage="T")
    first = write_810([BILL], parties=identity, control_numbers=InMemoryControlNumbers(7), as_of=AS_OF)
    second = write_810([BILL], parties=identity, control_numbers=InMemoryControlNumbers(7), as_of=AS_OF)
    assert first == second
    text = first.decode()
    assert text.startswith(
        "ISA*00*          *00*          *ZZ*OURCOMPANY     *01*123456789      *261125*0905*U*00401*000000007*0*T*:~"
        "GS*IN*OURCOMPANY*123456789*20261125*0905*7*X*004010~ST*810*0007~BIG*20261118*INV-1001**PO-55~"
    )
    assert text.endswith("TDS*13938~CTT*2~SE*16*0007~GE*1*7~IEA*1*000000007~")


def test_invoice_puts_the_customer_in_n1_bt_and_reads_back_as_a_bill_from_the_seller() -> None:
    invoice = Invoice(
        customer=PartyRef("CUST-9", "Big Retail"),
        number="S-100",
        date=dt.date(2026, 11, 21),
        lines=(Line(Decimal("30.00"), "Service", Decimal("2"), Decimal("15"), "SVC", unit="HR"),),
        due_date=dt.date(2026, 12, 21),
    )
    data = write_810(
        [invoice],
        parties=PARTIES,
        control_numbers=InMemoryControlNumbers(),
        as_of=AS_OF,
        seller=PartyRef("OUR-1", "Our Company"),
    )
    assert b"~N1*SE*Our Company*92*OUR-1~N1*BT*Big Retail*92*CUST-9~ITD*01*3****20261221~" in data
    [bill], _ = (lambda r: (r[0].documents, r[1]))(read_x12(data))
    assert (bill.vendor, bill.number, bill.due_date, bill.terms, bill.total) == (
        PartyRef("OUR-1", "Our Company"),
        "S-100",
        dt.date(2026, 12, 21),
        None,
        Decimal("30.00"),
    )
    assert without_sources(bill).lines == invoice.lines


def test_delimiters_inside_data_are_replaced_because_x12_has_no_escape() -> None:
    bill = dataclasses.replace(BILL, memo="a*b~c:d\ne", vendor=PartyRef("A~1", "Smith*Jones"))
    result, _ = read_x12(write_810([bill], parties=PARTIES, control_numbers=InMemoryControlNumbers(), as_of=AS_OF))
    [read] = result.documents
    assert (read.memo, read.vendor) == ("a b c d e", PartyRef("A 1", "Smith Jones"))


def test_an_invoice_number_too_long_for_big02_is_refused() -> None:
    with pytest.raises(X12WriteError, match="longer than 22"):
        write_810(
            [dataclasses.replace(BILL, number="X" * 23)],
            parties=PARTIES,
            control_numbers=InMemoryControlNumbers(),
            as_of=AS_OF,
        )


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        write_810([BILL], parties=PARTIES, control_numbers=InMemoryControlNumbers(), as_of=dt.datetime(2026, 1, 1))


def pyx12_segments(data: bytes) -> list[list[str]]:
    segments = []
    for segment in X12Reader(io.StringIO(data.decode())):
        segment_id = segment.get_seg_id()
        segments.append(
            [segment_id] + [segment.get_value(f"{segment_id}{i:02d}") or "" for i in range(1, len(segment) + 1)]
        )
    return segments


def test_pyx12_reads_our_810_as_the_segments_we_meant() -> None:
    data = write_810([BILL, CREDIT], parties=PARTIES, control_numbers=InMemoryControlNumbers(3), as_of=AS_OF)
    meant = [segment.split("*") for segment in data.decode().split("~")[:-1]]
    assert pyx12_segments(data) == meant
    assert [s[0] for s in meant[:4]] == ["ISA", "GS", "ST", "BIG"]
    assert meant[-3:] == [["SE", "9", "0004"], ["GE", "2", "3"], ["IEA", "1", "000000003"]]


def test_pyx12_reads_our_997_as_the_segments_we_meant_and_finds_no_envelope_errors() -> None:
    received = write_810([BILL, CREDIT], parties=PARTIES, control_numbers=InMemoryControlNumbers(3), as_of=AS_OF)
    data = acknowledge_x12(
        received.replace(b"SE*9*0004", b"SE*8*0004"),
        control_numbers=InMemoryControlNumbers(900),
        as_of=AS_OF,
        line_breaks=True,
    )
    reader = X12Reader(io.StringIO(data.decode()))
    segments = []
    for segment in reader:
        segments.append(segment.format().rstrip("~"))
    reader.cleanup()
    assert reader.pop_errors() == []
    assert segments == [
        "ISA*00*          *00*          *01*123456789      *ZZ*OURCOMPANY     *261125*0905*U*00401*000000900*0*P*:",
        "GS*FA*THEIRAPP*OURAPP*20261125*0905*900*X*004010",
        "ST*997*0900",
        "AK1*IN*3",
        "AK2*810*0003",
        "AK5*A",
        "AK2*810*0004",
        "AK5*R*4",
        "AK9*P*2*2*1",
        "SE*8*0900",
        "GE*1*900",
        "IEA*1*000000900",
    ]
