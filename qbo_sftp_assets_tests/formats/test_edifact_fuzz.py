"""Hypothesis fuzzing: arbitrary bytes and mutated valid EDIFACT files either read (with errors listed)
or raise EdifactParseError — never another exception — and every readable interchange gets a CONTRL."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_sftp_assets.config import EdifactIdentity
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.edifact import (
    build_contrls,
    read_contrl,
    read_edifact,
)
from qbo_sftp_assets.formats.errors import EdifactParseError, VendorMissingError
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "edifact"
VALID = [(DATA / name).read_bytes() for name in ("invoic_d96a.edi", "invoic_exotic_una.edi")]
CONTRL = (
    b"UNA:+.? 'UNB+UNOA:3+US:14+PARTNER:14+240316:0800+500'UNH+1+CONTRL:D:3:UN'UCI+ICR1+PARTNER:14+US:14+7'"
    b"UCM+1+INVOIC:D:96A:UN+4'UCS+10'UCD+12+1:2'UCM+2+INVOIC:D:96A:UN+7'UNT+7+1'UNZ+1+500'"
)
AS_OF = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
PARTNER = EdifactIdentity(our_id="US", our_qualifier="14", partner_id="PARTNER", partner_qualifier="14")
# Bytes that matter to EDIFACT, so mutations hit separators, tags and numbers, not just noise.
INTERESTING = st.sampled_from(
    [b"'", b"+", b":", b"?", b"*", b"=", b"~", b"\r\n", b"UNA", b"UNA:+.? '", b"UNB", b"UNH", b"UNT", b"UNZ",
     b"UNG", b"UNE", b"UNS", b"MOA+77:", b"LIN", b"BGM+381", b"9", b"0", b"-", b",", b".", b"\xff", b"\x00", b"a",
     b"\xb2"]
)  # fmt: skip


def check(data: bytes) -> None:
    """Read `data`; only EdifactParseError may escape, and every result must be acknowledgeable."""
    try:
        result = read_edifact(data, file="fuzz.edi")
    except EdifactParseError as exc:
        assert exc.file == "fuzz.edi" and str(exc).startswith("fuzz.edi")
        return
    for error in result.errors:
        assert (isinstance(error, EdifactParseError) and error.code) or isinstance(error, VendorMissingError)
    contrls = build_contrls(result.interchanges, counter=InMemoryControlNumbers(), as_of=AS_OF, identity=PARTNER)
    for _, contrl in contrls:
        # Whatever we received, our own CONTRL is sound and reads back.
        assert read_contrl(contrl)[0].interchange_reference is not None
    result.as_dict()


@st.composite
def mutated(draw, originals=VALID):
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        if action == "insert":
            data[at:at] = draw(INTERESTING)
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 12))]
        elif action == "replace":
            data[at : at + 1] = draw(INTERESTING)
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_edifact_parse_error(data):
    check(data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200).map(lambda tail: b"UNB+UNOC:3+S+R+240101:1200+1'UNH+1+INVOIC:D:96A:UN'" + tail))
def test_garbage_after_a_valid_header_raises_only_edifact_parse_error(data):
    check(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_valid_files_raise_only_edifact_parse_error(data):
    check(data)


@settings(max_examples=200, deadline=None)
@given(mutated(originals=[CONTRL]))
def test_mutated_contrl_raise_only_edifact_parse_error(data):
    try:
        reports = read_contrl(data, file="c.edi")
    except EdifactParseError as exc:
        assert exc.file == "c.edi"
        return
    for report in reports:
        report.message_accepted("1")


# Messages built from INVOIC's own vocabulary, with sound envelopes, so the message reader itself is fuzzed.
_TAGS = ["BGM", "DTM", "NAD", "CUX", "PAT", "RFF", "FTX", "LIN", "PIA", "IMD", "QTY", "PRI", "MOA", "UNS", "TAX",
         "ALC", "CNT", "", "UNH"]  # fmt: skip
_VALUES = st.sampled_from(
    ["", "137", "13", "140", "102", "203", "101", "20240131", "240131", "202401311200", "380", "381", "SU", "BY",
     "ON", "47", "AAA", "AAB", "203", "79", "77", "86", "124", "176", "8", "A", "C", "D", "30", "5", "-1.5", "2,50",
     "1E3", "\xb2", "NaN", "10.00", "X"]
)  # fmt: skip
_ELEMENT = st.lists(_VALUES, max_size=5).map(":".join)
_SEGMENT = st.tuples(st.sampled_from(_TAGS), st.lists(_ELEMENT, max_size=5)).map(lambda t: "+".join([t[0], *t[1]]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SEGMENT, max_size=25), st.lists(_SEGMENT, max_size=6), st.booleans())
def test_random_invoic_bodies_raise_only_edifact_parse_error(segments, summary, sound_header):
    # A sound header and UNS half the time, so lines and totals are reached, not just the header checks.
    header = ["BGM+380+N1+9", "DTM+137:20240101:102"] if sound_header else []
    body = ["UNH+1+INVOIC:D:96A:UN", *header, *segments, *(["UNS+S", *summary] if sound_header else [])]
    body.append(f"UNT+{len(body) + 1}+1")
    text = "UNB+UNOC:3+S:14+R:14+240101:1200+9'" + "".join(s + "'" for s in body) + "UNZ+1+9'"
    check(text.encode("latin-1"))


def test_the_valid_originals_read_cleanly():
    for data in VALID:
        assert read_edifact(data).ok
    assert read_contrl(CONTRL)[0].rejected_messages == ["1"]
