"""Broken input is never called valid: one number rule for every format, an EDIFACT file with a UNA
and nothing else, an INVOIC or 810 that names no seller (withheld with the same named error), an
810 whose N1 loop was moved out of its set."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.csv_format import read_csv
from qbo_sftp_assets.formats.decimals import MAX_DIGITS
from qbo_sftp_assets.formats.edifact import build_contrls, read_edifact
from qbo_sftp_assets.formats.errors import EdifactParseError, VendorMissingError
from qbo_sftp_assets.formats.files import acknowledge_file
from qbo_sftp_assets.formats.fixed_width import parse_number
from qbo_sftp_assets.formats.flat_documents import ValueProblem, parse_decimal
from qbo_sftp_assets.formats.layouts import FixedField
from qbo_sftp_assets.formats.x12 import read_x12
from qbo_sftp_assets.formats.x12.invoice_810 import parse_decimal as x12_decimal
from qbo_sftp_assets.formats.x12.invoice_810 import parse_n2

AS_OF = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
LONGEST = "9" * MAX_DIGITS
TOO_LONG = "9" * (MAX_DIGITS + 1)
# Refused by every reader: two signs, an exponent, NaN, too many digits, non-ASCII digits, no digit.
REFUSED_EVERYWHERE = ["(-5)", "--5", "1E-21", "1e5", "NaN", "Infinity", "5" * 5000, TOO_LONG, "٣", ".", ""]


def edifact_decimal(raw: str) -> Decimal | None:
    """What the INVOIC reader makes of `raw` as a MOA amount: the amount, or None when refused."""
    data = (
        "UNA:+.? 'UNB+UNOC:3+S:14+B:14+260105:1000+R1'UNH+1+INVOIC:D:96A:UN'BGM+380+INV-9+9'"
        f"DTM+137:20260105:102'NAD+SU+S1::92++Supplier Ltd'LIN+1'MOA+203:{raw}'UNS+S'UNT+8+1'UNZ+1+R1'"
    ).encode()
    result = read_edifact(data)
    lines = result.documents[0].lines if result.ok and result.documents else ()
    return lines[0].amount if lines else None


@pytest.mark.parametrize("raw", REFUSED_EVERYWHERE)
def test_one_number_rule_refuses_the_same_texts_in_every_format(raw: str) -> None:
    with pytest.raises(ValueProblem):
        parse_decimal(raw)
    assert x12_decimal(raw) is None and parse_n2(raw)[0] is None
    assert edifact_decimal(raw) is None
    if raw == "":
        return  # an empty fixed-width field is an absent value, not a bad number
    with pytest.raises(ValueProblem):
        parse_number(raw, FixedField(name="amount", start=1, length=max(len(raw), 1), implied_decimals=2))


def test_the_rule_accepts_18_digits_and_one_sign_in_the_formats_notation() -> None:
    assert parse_decimal(LONGEST) == x12_decimal(LONGEST) == edifact_decimal(LONGEST) == Decimal(LONGEST)
    assert parse_decimal("-" + LONGEST) == x12_decimal("-" + LONGEST) == -Decimal(LONGEST)
    forms = {"(5)": "-5", "5-": "-5", "+5": "5", "-5": "-5", "$5.50": "5.50", ".5": "0.5", "5.": "5"}
    assert {text: parse_decimal(text) for text in forms} == {text: Decimal(v) for text, v in forms.items()}
    assert edifact_decimal("12,5") == Decimal("12.5")


def test_a_csv_with_a_5000_digit_amount_is_refused_with_a_short_message(tmp_path: Path) -> None:
    from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts

    path = tmp_path / "bills.csv"
    path.write_text(f"Vendor,Invoice Number,Date,Amount\r\nA,1,2026-01-05,{'5' * 5000}\r\n")
    result = read_csv(path, builtin_layouts()["bills_csv"], name="bills.csv")
    assert not result.ok and result.documents == []
    assert all(len(error.render()) < 300 for error in result.errors)


def test_an_edifact_file_holding_only_a_una_is_refused_not_valid_without_an_ack(tmp_path: Path) -> None:
    for data in (b"UNA:+.? '", b"UNA:+.? '\r\n", b"UNA:+.? 'UNZ+0+1'"):
        with pytest.raises(EdifactParseError, match="no UNB"):
            read_edifact(data, file="una.edi")
    path = tmp_path / "una.edi"
    path.write_bytes(b"UNA:+.? '")
    with pytest.raises(Exception, match="no UNB") as raised:
        acknowledge_file(path, "edifact", None, name="una.edi", control_numbers=InMemoryControlNumbers(), as_of=AS_OF)
    assert type(raised.value).__name__ == "Unacknowledgeable"


def test_an_invoic_naming_no_seller_is_withheld_with_the_same_error_as_x12() -> None:
    data = (
        b"UNA:+.? 'UNB+UNOC:3+S:14+B:14+260105:1000+R1'UNH+1+INVOIC:D:96A:UN'BGM+380+INV-9+9'"
        b"DTM+137:20260105:102'NAD+BY+B1::92++Buyer Inc'LIN+1'MOA+203:100.00'UNS+S'UNT+8+1'UNZ+1+R1'"
    )
    result = read_edifact(data, file="nos.edi")
    assert result.documents == []
    [error] = result.errors
    assert isinstance(error, VendorMissingError) and error.format_name == "edifact"
    assert error.document.number == "INV-9" and "names no seller party" in error.render()
    [message] = result.interchanges[0].messages
    assert message.accepted and message.withheld and result.envelopes[0]["messages"][0]["withheld"]
    [(_, contrl)] = build_contrls(result.interchanges, counter=InMemoryControlNumbers(), as_of=AS_OF)
    assert b"UCI+R1+S:14+B:14+7'" in contrl  # syntactically the message is fine


X12_810 = [
    "ISA*00*          *00*          *ZZ*ACMESUPPLY     *ZZ*OURCOMPANY     *261120*0930*U*00401*000000101*0*P*>",
    "GS*IN*ACMESUPPLY*OURCOMPANY*20261120*0930*101*X*004010",
    "ST*810*0001",
    "BIG*20261118*INV-1001",
    "IT1*1*10*EA*12.50**VN*WID-1",
    "TDS*12500",
    "SE*5*0001",
    "GE*1*101",
    "IEA*1*000000101",
]


@pytest.mark.parametrize("at", [1, 2, 7, 8, 9])
def test_an_810_whose_n1_loop_moved_out_of_its_set_gives_no_bill(at: int) -> None:
    segments = [*X12_810[:at], "N1*VN*Acme Supply Co*92*ACME01", *X12_810[at:]]
    result, _ = read_x12(("~".join(segments) + "~").encode())
    assert result.documents == [] and not result.ok
    assert any(isinstance(error, VendorMissingError) for error in result.errors)


def test_inspect_as_edifact_of_a_csv_quotes_a_short_excerpt_not_the_file(capsys, tmp_path: Path) -> None:
    from qbo_sftp_assets.cli import main

    path = tmp_path / "bills.csv"
    path.write_text("Vendor,Invoice Number,Date,Amount\r\n" + "Acme,1,2026-01-05,1.00\r\n" * 200)
    assert main(["inspect", "--format", "edifact", str(path)]) == 2
    out, err = capsys.readouterr()
    [message] = [line for line in err.splitlines() if "not an EDIFACT interchange" in line]
    assert len(message) < 200 and "'Vendor,Invoice Number,Date,Amount" in message and "..." in message
    assert "Acme,1,2026" not in out


def x12_set(*body: str) -> bytes:
    segments = [*X12_810[:3], *body, f"SE*{len(body) + 2}*0001", *X12_810[7:]]
    return ("~".join(segments) + "~").encode()


@pytest.mark.parametrize(
    "body, segment_id",
    [
        (["BIG*20261118*INV-1", "N1*SE*Acme", "CUR*SE*USD", "IT1*1*1*EA*1", "TDS*100"], "CUR"),  # CUR before N1
        (["BIG*20261118*INV-1", "N1*SE*Acme", "IT1*1*1*EA*1", "TDS*100", "IT1*2*1*EA*1"], "IT1"),
        (["BIG*20261118*INV-1", "N1*SE*Acme", "IT1*1*1*EA*1", "CTT*1", "TDS*100"], "CTT"),
        (["BIG*20261118*INV-1", "N1*SE*Acme", "IT1*1*1*EA*1", "TDS*100", "CTT*1", "SAC*C*D240***100"], "SAC"),
        (["N1*SE*Acme", "BIG*20261118*INV-1", "IT1*1*1*EA*1", "TDS*100"], "BIG"),
    ],
)
def test_an_810_segment_out_of_its_place_rejects_the_set_with_ak304_7(body: list[str], segment_id: str) -> None:
    result, acknowledgment = read_x12(x12_set(*body))
    assert result.documents == []
    [set_ack] = acknowledgment.interchanges[0].groups[0].sets
    assert [(e.segment_id, e.code) for e in set_ack.segment_errors] == [(segment_id, "7")]


def test_the_same_810_in_order_reads_as_valid() -> None:
    result, _ = read_x12(x12_set("BIG*20261118*INV-1", "CUR*SE*USD", "N1*SE*Acme", "IT1*1*1*EA*1", "TDS*100", "CTT*1"))
    assert result.ok and len(result.documents) == 1
