"""Broken interchanges get the exact CONTRL docs/edi-rules.md §4.1 prescribes (UCI 7/4/8, UCM per message, 0085
codes, UCS/UCD positions); pydifact parses every CONTRL we write; our CONTRL reader reads them back."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from pydifact.parser import Parser

from qbo_sftp_assets.config import EdifactIdentity
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.edifact import (
    build_contrl,
    build_contrls,
    contrl_needed,
    read_contrl,
    read_edifact,
)
from qbo_sftp_assets.formats.errors import EdifactParseError

AS_OF = dt.datetime(2024, 3, 16, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 08:00 UTC


def message(ref: str, number: str, name: str = "ACME LTD", line_total: str = "20.00", unt: str | None = None) -> str:
    body = [
        f"UNH+{ref}+INVOIC:D:96A:UN",
        f"BGM+380+{number}+9",
        "DTM+137:20240315:102",
        f"NAD+SU+PARTNER::92++{name}",
        "LIN+1++W1:SA",
        "QTY+47:2",
        "MOA+203:20.00",
        "PRI+AAA:10.00",
        "UNS+S",
        f"MOA+79:{line_total}",
        "MOA+77:20.00",
    ]
    body.append(unt or f"UNT+{len(body) + 1}+{ref}")
    return "".join(s + "'" for s in body)


def interchange(first: str | None = None, second: str | None = None, unz: str | None = "UNZ+2+ICR1") -> bytes:
    text = "UNB+UNOA:3+PARTNER:14+US:14+240315:1030+ICR1'"
    text += (first or message("1", "INV1")) + (second or message("2", "INV2"))
    if unz is not None:
        text += unz + "'"
    return text.encode("ascii")


HEAD = "UNA:+.? 'UNB+UNOA:3+US:14+PARTNER:14+240316:0800+500'UNH+1+CONTRL:D:3:UN'"


def contrl_for(data: bytes) -> str:
    result = read_edifact(data, file="in.edi")
    return build_contrl(result.interchanges[0], counter=InMemoryControlNumbers(start=500), as_of=AS_OF).decode(
        "latin-1"
    )


def pydifact_segments(text: str) -> list[tuple[str, list]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(s.tag, s.elements) for s in Parser().parse(text)]


def test_sound_interchange_is_acknowledged_with_every_message():
    data = interchange()
    result = read_edifact(data)
    assert result.ok and [d.number for d in result.documents] == ["INV1", "INV2"]
    assert contrl_for(data) == (
        HEAD + "UCI+ICR1+PARTNER:14+US:14+7'UCM+1+INVOIC:D:96A:UN+7'UCM+2+INVOIC:D:96A:UN+7'UNT+5+1'UNZ+1+500'"
    )


def test_unt_count_wrong_rejects_that_message_only():
    data = interchange(first=message("1", "INV1", unt="UNT+13+1"))
    result = read_edifact(data, file="in.edi")
    assert [d.number for d in result.documents] == ["INV2"]
    (error,) = result.errors
    assert (error.file, error.segment, error.element, error.code, error.expected) == (
        "in.edi",
        13,
        "UNT 0074",
        "29",
        "12",
    )
    assert "UNT counts 13 segments but message 1 has 12" in str(error)
    assert contrl_for(data) == (
        HEAD + "UCI+ICR1+PARTNER:14+US:14+7'UCM+1+INVOIC:D:96A:UN+4+29+UNT+1'UCM+2+INVOIC:D:96A:UN+7'UNT+5+1'UNZ+1+500'"
    )


def test_unz_reference_wrong_rejects_the_interchange():
    data = interchange(unz="UNZ+2+ICR9")
    result = read_edifact(data)
    assert result.documents == []
    (error,) = result.errors
    assert (error.segment, error.element, error.code, error.expected) == (26, "UNZ 0020", "28", "ICR1")
    assert contrl_for(data) == HEAD + "UCI+ICR1+PARTNER:14+US:14+4+28+UNZ+2'UNT+3+1'UNZ+1+500'"


def test_unz_count_wrong_rejects_the_interchange():
    data = interchange(unz="UNZ+3+ICR1")
    assert contrl_for(data) == HEAD + "UCI+ICR1+PARTNER:14+US:14+4+29+UNZ+1'UNT+3+1'UNZ+1+500'"


def test_unh_unt_reference_mismatch():
    data = interchange(second=message("2", "INV2", unt="UNT+12+9"))
    result = read_edifact(data)
    assert [d.number for d in result.documents] == ["INV1"]
    assert result.errors[0].code == "28" and result.errors[0].element == "UNT 0062"
    assert contrl_for(data) == (
        HEAD + "UCI+ICR1+PARTNER:14+US:14+7'UCM+1+INVOIC:D:96A:UN+7'UCM+2+INVOIC:D:96A:UN+4+28+UNT+2'UNT+5+1'UNZ+1+500'"
    )


def test_lower_case_in_a_unoa_interchange_is_an_invalid_character():
    data = interchange(second=message("2", "INV2", name="Acme Ltd"))
    result = read_edifact(data)
    assert [d.number for d in result.documents] == ["INV1"]
    (error,) = result.errors
    assert (error.segment, error.code) == (17, "21") and "'c'" in error.message
    assert contrl_for(data) == (
        HEAD
        + "UCI+ICR1+PARTNER:14+US:14+7'UCM+1+INVOIC:D:96A:UN+7'"
        + "UCM+2+INVOIC:D:96A:UN+4'UCS+4'UCD+21+4:1'UNT+7+1'UNZ+1+500'"
    )


def test_line_total_mismatch_rejects_that_message():
    data = interchange(first=message("1", "INV1", line_total="25.00"))
    result = read_edifact(data)
    assert [d.number for d in result.documents] == ["INV2"]
    (error,) = result.errors
    assert (error.segment, error.element, error.code, error.expected) == (11, "MOA 79 5004", "12", "20.00")
    assert "MOA 79 total line items 25.00 does not equal the sum of the lines 20.00" in error.message
    assert contrl_for(data) == (
        HEAD
        + "UCI+ICR1+PARTNER:14+US:14+7'UCM+1+INVOIC:D:96A:UN+4'UCS+10'UCD+12+1:2'"
        + "UCM+2+INVOIC:D:96A:UN+7'UNT+7+1'UNZ+1+500'"
    )


def test_missing_unz_rejects_the_interchange():
    data = interchange(unz=None)
    result = read_edifact(data)
    assert result.documents == [] and result.errors[0].code == "13" and result.errors[0].element == "UNZ"
    assert contrl_for(data) == HEAD + "UCI+ICR1+PARTNER:14+US:14+4+13+UNZ'UNT+3+1'UNZ+1+500'"


def test_missing_unt_rejects_the_message_and_the_next_still_parses():
    broken = message("1", "INV1").removesuffix("UNT+12+1'")
    data = interchange(first=broken)
    result = read_edifact(data)
    assert [d.number for d in result.documents] == ["INV2"]
    assert contrl_for(data) == (
        HEAD + "UCI+ICR1+PARTNER:14+US:14+7'UCM+1+INVOIC:D:96A:UN+4+13+UNT'UCM+2+INVOIC:D:96A:UN+7'UNT+5+1'UNZ+1+500'"
    )


def test_unsupported_syntax_identifier_is_code_2():
    data = interchange().replace(b"UNOA:3", b"UNOX:4")  # ISO 2022 code extension: not read here
    assert contrl_for(data).startswith("UNA:+.? 'UNB+UNOC:4+US:14+PARTNER:14+20240316:0800+500'UNH+1+CONTRL:4:1:UN'")
    assert "UCI+ICR1+PARTNER:14+US:14+4+2+UNB+1:1'" in contrl_for(data)


def test_a_message_type_we_do_not_read_is_rejected_with_code_14():
    orders = "UNH+7+ORDERS:D:96A:UN'BGM+220+PO1+9'UNT+3+7'"
    data = interchange(second=orders)
    assert "UCM+7+ORDERS:D:96A:UN+4+14+UNH+2:1'" in contrl_for(data)


def test_receipt_only_agreement_gives_uci_8_without_ucm():
    result = read_edifact(interchange())
    contrl = build_contrl(result.interchanges[0], counter=InMemoryControlNumbers(500), as_of=AS_OF, receipt_only=True)
    assert contrl.decode() == HEAD + "UCI+ICR1+PARTNER:14+US:14+8'UNT+3+1'UNZ+1+500'"


def test_groups_are_answered_with_ucf_and_a_wrong_une_count_rejects_the_group():
    inner = message("1", "INV1")
    data = (
        "UNB+UNOA:3+PARTNER:14+US:14+240315:1030+ICR1'UNG+INVOIC+PARTNER:14+US:14+240315:1030+G1+UN+D:96A'"
        + inner
        + "UNE+2+G1'UNZ+1+ICR1'"
    ).encode()
    result = read_edifact(data)
    assert result.errors[0].code == "29" and result.errors[0].element == "UNE 0060"
    assert contrl_for(data) == (
        HEAD
        + "UCI+ICR1+PARTNER:14+US:14+7'UCF+G1+PARTNER:14+US:14+4+29+UNE+1'UCM+1+INVOIC:D:96A:UN+4'UNT+5+1'UNZ+1+500'"
    )


def test_contrl_is_deterministic_and_takes_the_counter():
    data = interchange()
    report = read_edifact(data).interchanges[0]
    counter = InMemoryControlNumbers(start=41)
    first = build_contrl(report, counter=counter, as_of=AS_OF)
    second = build_contrl(report, counter=counter, as_of=AS_OF)
    assert b"+41'UNH" in first and b"+42'UNH" in second
    assert first.replace(b"+41'", b"+42'") == second
    with pytest.raises(ValueError, match="timezone-aware"):
        build_contrl(report, counter=counter, as_of=dt.datetime(2024, 1, 1))


def test_never_a_contrl_for_a_contrl():
    ours = contrl_for(interchange()).encode()
    result = read_edifact(ours)
    assert result.ok and result.documents == []
    (report,) = result.interchanges
    assert report.is_acknowledgment and not contrl_needed(report)
    assert build_contrls(result.interchanges, counter=InMemoryControlNumbers(), as_of=AS_OF) == []
    with pytest.raises(ValueError, match="never answered"):
        build_contrl(report, counter=InMemoryControlNumbers(), as_of=AS_OF)


@pytest.mark.parametrize(
    "data",
    [
        interchange(),
        interchange(first=message("1", "INV1", unt="UNT+13+1")),
        interchange(unz="UNZ+2+ICR9"),
        interchange(second=message("2", "INV2", name="Acme Ltd")),
        interchange(first=message("1", "INV1", line_total="25.00")),
    ],
    ids=["sound", "unt-count", "unz-ref", "bad-char", "line-total"],
)
def test_pydifact_parses_our_contrl_into_the_segments_we_meant(data):
    text = contrl_for(data)
    segments = pydifact_segments(text)
    assert [tag for tag, _ in segments][:4] == ["UNA", "UNB", "UNH", "UCI"]
    assert segments[1][1] == [["UNOA", "3"], ["US", "14"], ["PARTNER", "14"], ["240316", "0800"], "500"]
    assert segments[2][1] == ["1", ["CONTRL", "D", "3", "UN"]]
    assert segments[3][1][:3] == ["ICR1", ["PARTNER", "14"], ["US", "14"]]
    unt = segments[-2]
    assert unt[0] == "UNT" and int(unt[1][0]) == len(segments) - 3  # UNH..UNT, without UNA/UNB/UNZ
    assert segments[-1] == ("UNZ", ["1", "500"])
    ucms = [elements for tag, elements in segments if tag == "UCM"]
    report = read_edifact(data).interchanges[0]
    if report.accepted:
        assert [(u[0], u[2]) for u in ucms] == [(m.reference, "7" if m.accepted else "4") for m in report.messages]


def test_contrl_reader_tells_which_of_our_messages_were_accepted():
    data = interchange(first=message("1", "INV1", line_total="25.00"))
    (report,) = read_contrl(contrl_for(data).encode(), file="contrl.edi")
    assert report.interchange_reference == "ICR1" and report.accepted
    assert report.contrl_reference == "500" and report.contrl_sender == ("US", "14")
    assert report.message_accepted("1") is False and report.message_accepted("2") is True
    assert report.rejected_messages == ["1"]
    ack = report.messages[0]
    assert ack.segment_errors[0].position == 10 and ack.segment_errors[0].elements == (("12", "1:2"),)


def test_contrl_reader_on_rejected_and_receipt_only_interchanges():
    (rejected,) = read_contrl(contrl_for(interchange(unz="UNZ+2+ICR9")).encode())
    assert not rejected.accepted and rejected.error_code == "28" and rejected.error_segment == "UNZ"
    assert rejected.message_accepted("1") is False
    report = read_edifact(interchange()).interchanges[0]
    receipt = build_contrl(report, counter=InMemoryControlNumbers(), as_of=AS_OF, receipt_only=True)
    (received,) = read_contrl(receipt)
    assert received.receipt_only and received.message_accepted("1") is None


def test_contrl_reader_refuses_a_file_without_contrl():
    with pytest.raises(EdifactParseError, match="no CONTRL"):
        read_contrl(interchange())
    broken = contrl_for(interchange()).replace("UNT+5+1", "UNT+9+1").encode()
    with pytest.raises(EdifactParseError) as caught:
        read_contrl(broken, file="c.edi")
    assert caught.value.code == "29" and caught.value.file == "c.edi"


def test_input_that_is_not_edifact_raises_a_parse_error():
    with pytest.raises(EdifactParseError, match="not an EDIFACT interchange") as caught:
        read_edifact(b"ISA*00*...", file="x.edi")
    assert caught.value.file == "x.edi" and caught.value.segment == 1
    with pytest.raises(EdifactParseError, match="empty input"):
        read_edifact(b"\r\n")


def test_an_interchange_naming_no_sender_is_answered_only_with_the_partner_identity():
    data = interchange().replace(b"+PARTNER:14+US:14+240315", b"++US:14+240315")
    report = read_edifact(data).interchanges[0]
    assert report.issues[0].code == "13" and report.issues[0].name == "UNB element 2"
    with pytest.raises(EdifactParseError) as caught:
        build_contrl(report, counter=InMemoryControlNumbers(500), as_of=AS_OF)
    assert caught.value.element == "UNB S002" and caught.value.segment == 1
    partner = EdifactIdentity(our_id="US", our_qualifier="14", partner_id="PARTNER", partner_qualifier="14")
    contrl = build_contrl(report, counter=InMemoryControlNumbers(500), as_of=AS_OF, identity=partner).decode()
    assert contrl == HEAD + "UCI+ICR1++US:14+4+13+UNB+2:1'UNT+3+1'UNZ+1+500'"


def test_a_rejected_group_rejects_only_its_own_messages():
    data = (
        "UNB+UNOA:3+PARTNER:14+US:14+240315:1030+ICR1'"
        "UNG+INVOIC+PARTNER:14+US:14+240315:1030+G1+UN+D:96A'" + message("1", "INV1") + "UNE+1+G1'"
        "UNG+INVOIC+PARTNER:14+US:14+240315:1030+G2+UN+D:96A'" + message("2", "INV2") + "UNE+1+G9'"
        "UNZ+2+ICR1'"
    ).encode()
    result = read_edifact(data)
    assert [(d.number, d.source.group) for d in result.documents] == [("INV1", "G1")]
    assert contrl_for(data) == (
        HEAD + "UCI+ICR1+PARTNER:14+US:14+7'"
        "UCF+G1+PARTNER:14+US:14+7'UCM+1+INVOIC:D:96A:UN+7'"
        "UCF+G2+PARTNER:14+US:14+4+28+UNE+2'UCM+2+INVOIC:D:96A:UN+4'UNT+7+1'UNZ+1+500'"
    )
    (report,) = read_contrl(contrl_for(data).encode())
    assert report.message_accepted("1") is True and report.message_accepted("2") is False
