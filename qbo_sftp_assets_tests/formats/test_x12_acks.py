"""The 997/TA1 a file gets, segment for segment, for a valid 810 and for each classic envelope mutation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.x12 import (
    Parties,
    acknowledge_x12,
    read_997,
    read_x12,
    write_810,
)
from qbo_sftp_assets_tests.paths import TEST_DATA

SAMPLE = (TEST_DATA / "x12" / "invoices_810.edi").read_text()
AS_OF = dt.datetime(2026, 11, 25, 12, 30, tzinfo=dt.UTC)
REPLY_ISA = "ISA*00*          *00*          *ZZ*OURCOMPANY     *ZZ*ACMESUPPLY     *261125*1230*U*00401*000000001*0*P*>"
REPLY_GS = "GS*FA*OURCOMPANY*ACMESUPPLY*20261125*1230*1*X*004010"


def ack_segments(text: str) -> list[str]:
    output = acknowledge_x12(text.encode(), control_numbers=InMemoryControlNumbers(), as_of=AS_OF)
    return [segment.strip() for segment in output.decode().split("~") if segment.strip()]


def replying_997(*body: str) -> list[str]:
    return [
        REPLY_ISA,
        REPLY_GS,
        "ST*997*0001",
        "AK1*IN*101",
        *body,
        f"SE*{len(body) + 3}*0001",
        "GE*1*1",
        "IEA*1*000000001",
    ]


def mutate(old: str, new: str) -> str:
    assert SAMPLE.count(old) == 1, old
    return SAMPLE.replace(old, new)


def test_valid_810_gets_an_accepting_997_with_every_set() -> None:
    assert ack_segments(SAMPLE) == replying_997("AK2*810*0001", "AK5*A", "AK2*810*0002", "AK5*A", "AK9*A*2*2*2")


def test_wrong_se01_rejects_that_set_only() -> None:
    text = mutate("SE*13*0001", "SE*12*0001")
    assert ack_segments(text) == replying_997("AK2*810*0001", "AK5*R*4", "AK2*810*0002", "AK5*A", "AK9*P*2*2*1")
    result, _ = read_x12(text.encode())
    assert [doc.number for doc in result.documents] == ["INV-1002"]
    assert [(e.segment, e.element, e.code) for e in result.errors] == [(15, "SE01", "4")]


def test_st02_not_matching_se02_rejects_the_set() -> None:
    assert ack_segments(mutate("SE*13*0001", "SE*13*0009")) == replying_997(
        "AK2*810*0001", "AK5*R*3", "AK2*810*0002", "AK5*A", "AK9*P*2*2*1"
    )


def test_wrong_ge01_rejects_the_group_and_withholds_its_documents() -> None:
    text = mutate("GE*2*101", "GE*3*101")
    assert ack_segments(text) == replying_997("AK2*810*0001", "AK5*A", "AK2*810*0002", "AK5*A", "AK9*R*3*2*0*5")
    result, _ = read_x12(text.encode())
    assert result.documents == []
    assert [(e.segment, e.element, e.code) for e in result.errors] == [(22, "GE01", "5")]


def test_missing_iea_gets_a_rejecting_ta1_and_no_997() -> None:
    text = mutate("IEA*1*000000101~\n", "")
    assert ack_segments(text) == [
        REPLY_ISA,
        "TA1*000000101*261120*0930*R*023",
        "IEA*0*000000001",
    ]
    result, _ = read_x12(text.encode())
    assert result.documents == []
    assert result.errors[-1].code == "023"


def test_duplicate_st02_in_a_group_rejects_the_repeat() -> None:
    text = mutate("ST*810*0002", "ST*810*0001").replace("SE*6*0002", "SE*6*0001")
    assert ack_segments(text) == replying_997("AK2*810*0001", "AK5*A", "AK2*810*0001", "AK5*R*23", "AK9*P*2*2*1")


def test_total_not_matching_the_lines_rejects_the_set_with_ak3_on_tds() -> None:
    text = mutate("TDS*15275", "TDS*15000")
    assert ack_segments(text) == replying_997(
        "AK2*810*0001", "AK3*TDS*11**8", "AK4*1*610*7*15000", "AK5*R*5", "AK2*810*0002", "AK5*A", "AK9*P*2*2*1"
    )
    result, _ = read_x12(text.encode())
    assert [doc.number for doc in result.documents] == ["INV-1002"]
    assert "does not equal the lines' sum 152.75" in result.errors[0].message


def test_bad_date_gets_ak4_with_element_position_reference_and_data() -> None:
    assert ack_segments(mutate("BIG*20261118*INV-1001", "BIG*20261318*INV-1001")) == replying_997(
        "AK2*810*0001",
        "AK3*BIG*2**8",
        "AK4*1*373*8*20261318",
        "AK5*R*5",
        "AK2*810*0002",
        "AK5*A",
        "AK9*P*2*2*1",
    )


def test_decimal_point_in_tds_is_accepted_with_errors() -> None:
    text = mutate("TDS*15275", "TDS*152.75")
    assert ack_segments(text) == replying_997(
        "AK2*810*0001",
        "AK3*TDS*11**8",
        "AK4*1*610*6*152.75",
        "AK5*E",
        "AK2*810*0002",
        "AK5*A",
        "AK9*E*2*2*2",
    )
    result, _ = read_x12(text.encode())
    assert [doc.total for doc in result.documents] == [Decimal("152.75"), Decimal("100.00")]


def test_every_set_rejected_gives_ak9_r() -> None:
    text = mutate("SE*13*0001", "SE*1*0001").replace("SE*6*0002", "SE*1*0002")
    assert ack_segments(text)[-5:] == ["AK5*R*4", "AK9*R*2*2*0", "SE*8*0001", "GE*1*1", "IEA*1*000000001"]


@pytest.mark.parametrize(
    ("offset", "byte", "code"),
    [(3, "A", "026"), (104, "B", "027"), (105, "7", "004")],
)
def test_unknown_delimiters_get_a_rejecting_ta1(offset: int, byte: str, code: str) -> None:
    text = SAMPLE[:offset] + byte + SAMPLE[offset + 1 :]
    with pytest.raises(Exception) as raised:
        read_x12(text.encode(), file="bad.x12")
    assert raised.type.__name__ == "X12DelimiterError"
    assert raised.value.code == code and raised.value.file == "bad.x12" and raised.value.segment == 1
    reply = acknowledge_x12(text.encode(), control_numbers=InMemoryControlNumbers(), as_of=AS_OF)
    assert reply.decode().split("~")[1:] == [f"TA1*000000101*261120*0930*R*{code}", "IEA*0*000000001", ""]


def test_ack_requested_adds_an_accepting_ta1_before_the_997() -> None:
    segments = ack_segments(mutate("*000000101*0*P*>", "*000000101*1*P*>"))
    assert segments[:3] == [REPLY_ISA, "TA1*000000101*261120*0930*A*000", REPLY_GS]
    assert segments[-1] == "IEA*1*000000001"


def test_iea_control_number_mismatch_is_accepted_with_a_ta1_e() -> None:
    segments = ack_segments(mutate("IEA*1*000000101", "IEA*1*000000102"))
    assert segments[1] == "TA1*000000101*261120*0930*E*001"
    assert "AK9*A*2*2*2" in segments


def test_several_interchanges_with_their_own_delimiters_each_get_a_reply() -> None:
    second = (
        SAMPLE.replace("*", "|")
        .replace("~", "!")
        .replace("|U|00401|000000101", "|U|00401|000000102")
        .replace("IEA|1|000000101", "IEA|1|000000102")
    )
    text = SAMPLE + second
    result, _ = read_x12(text.encode())
    assert len(result.documents) == 4 and not result.errors
    assert [envelope["control_number"] for envelope in result.envelopes] == ["000000101", "000000102"]
    output = acknowledge_x12(text.encode(), control_numbers=InMemoryControlNumbers(), as_of=AS_OF).decode()
    assert output.count("ISA*") == 1 and output.count("ISA|") == 1
    assert "GS|FA|OURCOMPANY|ACMESUPPLY|20261125|1230|2|X|004010!" in output
    assert "IEA|1|000000002!" in output


def test_an_inbound_997_gets_no_acknowledgment_and_reads_as_results() -> None:
    our_810 = write_810(
        [],
        parties=Parties("ZZ", "OURCOMPANY", "ZZ", "ACMESUPPLY"),
        control_numbers=InMemoryControlNumbers(),
        as_of=AS_OF,
    )
    assert our_810.startswith(b"ISA")
    partner_997 = acknowledge_x12(
        mutate("SE*13*0001", "SE*12*0001").encode(), control_numbers=InMemoryControlNumbers(50), as_of=AS_OF
    )
    assert acknowledge_x12(partner_997, control_numbers=InMemoryControlNumbers(), as_of=AS_OF) == b""
    results, errors = read_997(partner_997)
    assert errors == []
    assert [(r.level, r.group, r.transaction_set, r.status, r.codes, r.accepted) for r in results] == [
        ("set", "101", "0001", "R", ("4",), False),
        ("set", "101", "0002", "A", (), True),
        ("group", "101", None, "P", (), False),
    ]


def test_an_inbound_ta1_reads_as_an_interchange_result() -> None:
    ta1_only = acknowledge_x12(
        mutate("IEA*1*000000101~\n", "").encode(), control_numbers=InMemoryControlNumbers(), as_of=AS_OF
    )
    assert acknowledge_x12(ta1_only, control_numbers=InMemoryControlNumbers(), as_of=AS_OF) == b""
    [result], _ = read_997(ta1_only)
    assert (result.level, result.interchange, result.status, result.codes) == (
        "interchange",
        "000000101",
        "R",
        ("023",),
    )


def test_a_partner_999_reads_like_a_997_and_gets_no_acknowledgment() -> None:
    partner_999 = (
        b"ISA*00*          *00*          *ZZ*ACMESUPPLY     *ZZ*OURCOMPANY     *261121*1000*^*00501*000000077*0*P*:~"
        b"GS*FA*ACMESUPPLY*OURCOMPANY*20261121*1000*77*X*005010X231A1~ST*999*0001*005010X231A1~"
        b"AK1*IN*41*005010~AK2*810*0041~IK3*TDS*11**8~IK5*R*5~AK2*810*0042~IK5*A~AK9*P*2*2*1~SE*9*0001~"
        b"GE*1*77~IEA*1*000000077~"
    )
    assert acknowledge_x12(partner_999, control_numbers=InMemoryControlNumbers(), as_of=AS_OF) == b""
    results, errors = read_997(partner_999)
    assert errors == []
    assert [(r.level, r.transaction_set, r.status, r.errors) for r in results] == [
        ("set", "0041", "R", ("segment TDS at 11: code 8",)),
        ("set", "0042", "A", ()),
        ("group", None, "P", ()),
    ]


def test_a_malformed_partner_997_gives_errors_not_silence() -> None:
    partner_997 = acknowledge_x12(SAMPLE.encode(), control_numbers=InMemoryControlNumbers(50), as_of=AS_OF)
    results, errors = read_997(partner_997.replace(b"SE*8*0050", b"SE*7*0050"), file="ack.x12")
    assert results == []
    assert [(e.file, e.element, e.code) for e in errors] == [("ack.x12", "SE01", "4")]
