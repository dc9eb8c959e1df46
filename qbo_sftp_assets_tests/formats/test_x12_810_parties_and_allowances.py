"""Who the vendor of an 810 is (and what happens when none is named), SAC01 = N, line-level and
summary allowances against TDS01, and the 997 details that go with them (AK4 on TDS01, GS08)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from pyx12.x12file import X12Reader

from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import PartyRef
from qbo_sftp_assets.formats.x12 import acknowledge_x12, iter_x12_documents, read_x12
from qbo_sftp_assets.formats.x12.invoice_810 import VendorMissingError

AS_OF = dt.datetime(2026, 4, 1, 7, 0, tzinfo=dt.UTC)


def invoice(*body: str, version: str = "004010") -> bytes:
    """One interchange from Harbor Metals holding one 810 with `body` between ST and SE."""
    segments = [
        "ISA*00*          *00*          *ZZ*HARBORMETALS   *ZZ*OURCOMPANY     *260331*1600*U*00401*000000512*0*P*>",
        f"GS*IN*HARBORMETALS*OURCOMPANY*20260331*1600*512*X*{version}",
        "ST*810*5120",
        *body,
        f"SE*{len(body) + 2}*5120",
        "GE*1*512",
        "IEA*1*000000512",
    ]
    return ("~\r\n".join(segments) + "~\r\n").encode()


def ack(data: bytes) -> list[str]:
    text = acknowledge_x12(data, control_numbers=InMemoryControlNumbers(9), as_of=AS_OF).decode()
    return [segment.strip() for segment in text.split("~") if segment.strip()]


def ack_body(data: bytes) -> list[str]:
    return ack(data)[3:-3]


BIG = "BIG*20260330*HM-88"
ITEMS = ["IT1*1*10*EA*4.00**VP*PL-1", "IT1*2*1*EA*60.00**VP*PL-2"]  # 40.00 + 60.00


# --- who the vendor is ------------------------------------------------------------------------------


def test_without_a_seller_party_the_997_accepts_the_set_but_the_bill_is_withheld_with_a_named_error() -> None:
    data = invoice(BIG, "N1*ST*Our Dock 4", *ITEMS, "TDS*10000")
    assert ack_body(data) == ["AK1*IN*512", "AK2*810*5120", "AK5*A", "AK9*A*1*1*1"]
    result, _ = read_x12(data, file="hm.x12")
    assert result.documents == []
    [error] = result.errors
    assert isinstance(error, VendorMissingError)
    assert (error.segment, error.element) == (3, "N1")
    assert error.document.number == "HM-88" and error.document.vendor == PartyRef()
    assert "names no seller party" in error.render()


def test_a_remit_to_bank_is_never_taken_for_the_vendor() -> None:
    data = invoice(BIG, "N1*BY*Our Company", "N1*RE*First Harbor Bank*ZZ*021000021-5550123", *ITEMS, "TDS*10000")
    result, _ = read_x12(data)
    [error] = result.errors
    assert isinstance(error, VendorMissingError) and "N1*RE" in error.message
    assert ack_body(data)[-2:] == ["AK5*A", "AK9*A*1*1*1"]


def test_the_seller_is_preferred_to_the_remit_to_and_the_remittance_bank_is_ignored() -> None:
    body = ["N1*RE*First Harbor Bank*ZZ*021000021", "N1*RI*Harbor Lockbox*92*HM-LB", "N1*SE*Harbor Metals*92*HM"]
    [bill] = read_x12(invoice(BIG, *body, *ITEMS, "TDS*10000"))[0].documents
    assert bill.vendor == PartyRef("HM", "Harbor Metals")
    [bill] = read_x12(invoice(BIG, *body[:2], *ITEMS, "TDS*10000"))[0].documents
    assert bill.vendor == PartyRef("HM-LB", "Harbor Lockbox")


def test_streaming_reports_the_withheld_bill_too() -> None:
    errors: list = []
    stream = io.BytesIO(invoice(BIG, *ITEMS, "TDS*10000"))
    assert list(iter_x12_documents(stream, errors=errors)) == []
    assert [type(error) for error in errors] == [VendorMissingError]


# --- SAC01 = N ----------------------------------------------------------------------------------------


def test_sac01_n_is_a_zero_amount_information_line_not_an_error() -> None:
    data = invoice(BIG, "N1*SE*Harbor Metals", *ITEMS, "SAC*N*F050***0**********Freight prepaid by buyer", "TDS*10000")
    assert ack_body(data)[2] == "AK5*A"
    [bill] = read_x12(data)[0].documents
    info = bill.lines[-1]
    assert (info.kind, info.amount, info.item, info.description) == (
        "information",
        Decimal(0),
        "F050",
        "Freight prepaid by buyer",
    )
    assert bill.lines_total == bill.total == Decimal("100.00")


def test_an_unknown_sac01_is_still_refused_with_ak4_code_7() -> None:
    data = invoice(BIG, "N1*SE*Harbor Metals", *ITEMS, "SAC*X*F050***500", "TDS*10500")
    assert ack_body(data)[2:4] == ["AK3*SAC*6**8", "AK4*1*248*7*X"]


# --- line-level and summary allowances ----------------------------------------------------------------


def test_line_level_sacs_adjust_their_line_and_tds_includes_them() -> None:
    # Line 1 gets a 4.00 allowance inside its IT1 loop; TDS01 = 40.00 - 4.00 + 60.00.
    body = [BIG, "N1*SE*Harbor Metals", ITEMS[0], "SAC*A*C310***400", ITEMS[1], "TDS*9600"]
    [bill] = read_x12(invoice(*body))[0].documents
    assert [(line.kind, line.amount, line.source.segment) for line in bill.lines] == [
        ("item", Decimal("40.00"), 6),
        ("allowance", Decimal("-4.00"), 7),
        ("item", Decimal("60.00"), 8),
    ]
    assert bill.total == bill.lines_total == Decimal("96.00")


def test_summary_sacs_after_tds_are_in_tds01() -> None:
    # Freight charged at the summary level: TDS01 = 100.00 + 12.50.
    body = [BIG, "N1*SE*Harbor Metals", *ITEMS, "TDS*11250", "SAC*C*D240***1250"]
    [bill] = read_x12(invoice(*body))[0].documents
    assert [line.kind for line in bill.lines] == ["item", "item", "charge"]
    assert bill.total == bill.lines_total == Decimal("112.50")


def test_both_layouts_together_and_a_tds01_that_leaves_out_the_line_level_sac() -> None:
    body = [BIG, "N1*SE*Harbor Metals", ITEMS[0], "SAC*A*C310***400", ITEMS[1], "TDS*{}", "SAC*C*D240***1250"]
    [bill] = read_x12(invoice(*[s.format(10850) for s in body]))[0].documents
    assert bill.total == bill.lines_total == Decimal("108.50")
    # 112.50 is the total without the line-level allowance: refused, and the message says why.
    data = invoice(*[s.format(11250) for s in body])
    assert ack_body(data)[1:4] == ["AK2*810*5120", "AK3*TDS*7**8", "AK4*1*610*7*11250"]
    result, _ = read_x12(data)
    assert "leaves out the SACs inside the IT1 loops" in result.errors[0].message


# --- the 997 -------------------------------------------------------------------------------------------


def test_a_total_mismatch_gets_the_ak4_naming_tds01_and_pyx12_accepts_the_997() -> None:
    data = invoice(BIG, "N1*SE*Harbor Metals", *ITEMS, "TDS*9999")
    assert ack_body(data) == [
        "AK1*IN*512",
        "AK2*810*5120",
        "AK3*TDS*6**8",
        "AK4*1*610*7*9999",
        "AK5*R*5",
        "AK9*R*1*1*0",
    ]
    reader = X12Reader(io.StringIO("~".join(ack(data)) + "~"))
    for _ in reader:
        pass
    reader.cleanup()
    assert reader.pop_errors() == []


def test_the_997_names_its_own_version_not_the_partners_implementation_guide() -> None:
    data = invoice(BIG, "N1*SE*Harbor Metals", *ITEMS, "TDS*10000", version="004010X348")
    segments = ack(data)
    assert segments[1] == "GS*FA*OURCOMPANY*HARBORMETALS*20260401*0700*9*X*004010"
    assert segments[3] == "AK1*IN*512"
    assert ack(invoice(BIG, "N1*SE*Harbor Metals", *ITEMS, "TDS*10000"))[1].endswith("*X*004010")
