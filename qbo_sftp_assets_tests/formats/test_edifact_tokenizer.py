"""The EDIFACT tokenizer: UNA or defaults, the release character, line breaks, several interchanges,
chunk boundaries, syntax-level characters, and pydifact (an outside parser) agreeing on the segments."""

from __future__ import annotations

import datetime as dt
import warnings
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydifact.parser import Parser

from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef
from qbo_sftp_assets.formats.edifact import SegmentReader, ServiceCharacters, write_invoic
from qbo_sftp_assets.formats.errors import EdifactParseError
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "edifact"
SAMPLES = ["invoic_d96a.edi", "invoic_exotic_una.edi"]


def tokens(data: bytes, chunk_size: int = 1 << 20) -> list[tuple[str, list[list[str]], int]]:
    return [(s.tag, s.elements, s.number) for s in SegmentReader.from_bytes(data, chunk_size=chunk_size)]


def _normalised(elements: list) -> list[list[str]]:
    """Elements as lists of components, trailing empty components and elements dropped (as pydifact does)."""
    out = []
    for element in elements:
        components = [element] if isinstance(element, str) else list(element)
        while components and components[-1] == "":
            components.pop()
        out.append(components)
    while out and not out[-1]:
        out.pop()
    return out


def test_default_service_characters_without_una():
    data = b"UNB+UNOA:3+S:14+R:14+240101:1200+1'UNH+1+INVOIC:D:96A:UN'UNT+2+1'UNZ+1+1'"
    assert tokens(data)[:2] == [
        ("UNB", [["UNOA", "3"], ["S", "14"], ["R", "14"], ["240101", "1200"], ["1"]], 1),
        ("UNH", [["1"], ["INVOIC", "D", "96A", "UN"]], 2),
    ]


def test_una_sets_the_separators_and_counts_as_a_segment():
    data = b"UNA=*,?^~UNB*UNOC=3*S*R*240101=1200*9~UNZ*0*9~"
    assert tokens(data) == [
        ("UNA", [["=*,?^~"]], 1),
        ("UNB", [["UNOC", "3"], ["S"], ["R"], ["240101", "1200"], ["9"]], 2),
        ("UNZ", [["0"], ["9"]], 3),
    ]


def test_release_character_escapes_every_separator_and_itself():
    data = b"UNB+UNOC:3+S+R+240101:1200+1'NAD+SU+1::9++O?'Brien ?+ Partners?: Ltd ??+X??'UNZ+0+1'"
    nad = tokens(data)[1]
    assert nad == ("NAD", [["SU"], ["1", "", "9"], [""], ["O'Brien + Partners: Ltd ?"], ["X?"]], 2)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="AB ?'+:\r\n", max_size=6), min_size=1, max_size=4),
    st.sampled_from([16, 64, 1 << 20]),
)
def test_escaped_values_come_back_whole_on_every_path(values, chunk_size):
    # Small chunks hold no UNB, so they take the fast path; the whole file at once takes the careful one.
    chars = ServiceCharacters()
    body = "".join(f"FTX+AAI+++{chars.escape(value)}'\n" for value in values)
    data = f"UNB+UNOC:3+S+R+240101:1200+1'\n{body}UNZ+0+1'".encode("latin-1")
    ftx = [segment for segment in tokens(data, chunk_size=chunk_size) if segment[0] == "FTX"]
    assert [elements[3] for _, elements, _ in ftx] == [[value] for value in values]


def test_a_tag_keeps_a_release_character_as_written_on_every_path():
    body = "".join(f"N?AD+O?'Brien {n}'\n" for n in range(20))
    data = f"UNB+UNOC:3+S+R+240101:1200+1'\n{body}UNZ+0+1'".encode("latin-1")
    for chunk_size in (16, 1 << 20):
        tags = {tag for tag, _, _ in tokens(data, chunk_size=chunk_size)}
        assert tags == {"UNB", "N?AD", "UNZ"}


def test_release_before_an_ordinary_character_is_dropped():
    # xlate/staedi's sample carries `006?415160`; we drop the stray release character.
    data = b"UNB+UNOC:3+S+R+240101:1200+1'RFF+ON:006?415160'UNZ+0+1'"
    assert tokens(data)[1][1] == [["ON", "006415160"]]


def test_line_breaks_after_terminators_are_layout():
    flat = b"UNB+UNOC:3+S+R+240101:1200+1'UNH+1+INVOIC:D:96A:UN'UNT+2+1'UNZ+1+1'"
    broken = flat.replace(b"'", b"'\r\n")
    assert tokens(broken) == tokens(flat)
    assert tokens(flat.replace(b"'", b"'\n")) == tokens(flat)


def test_a_line_break_inside_a_segment_is_an_invalid_character():
    data = b"UNB+UNOC:3+S+R+240101:1200+1'NAD+SU+1::9++ACME\nLTD'UNZ+0+1'"
    nad = list(SegmentReader.from_bytes(data))[1]
    assert nad.invalid == (4, 1, "\n")


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 1 << 20])
def test_chunk_boundaries_never_change_the_segments(chunk_size):
    for name in SAMPLES:
        data = (DATA / name).read_bytes()
        assert tokens(data, chunk_size=chunk_size) == tokens(data)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="AB1 ?'+:\r\n\x00é", max_size=120), st.sampled_from([1, 5, 16, 64]))
def test_chunk_boundaries_never_change_the_segments_of_any_body(body, chunk_size):
    # Arbitrary text after a sound UNB: stray release characters, breaks anywhere, NULs, latin-1.
    data = ("UNB+UNOC:3+S+R+240101:1200+1'\n" + body + "'UNZ+0+1'").encode("latin-1")
    whole = [(s.tag, s.elements, s.number, s.invalid) for s in SegmentReader.from_bytes(data)]
    chunked = [(s.tag, s.elements, s.number, s.invalid) for s in SegmentReader.from_bytes(data, chunk_size=chunk_size)]
    assert chunked == whole


def test_several_interchanges_each_with_its_own_service_characters():
    first = (DATA / "invoic_exotic_una.edi").read_bytes()
    second = (DATA / "invoic_d96a.edi").read_bytes()
    plain = b"UNB+UNOA:3+S+R+240101:1200+77'UNZ+0+77'"
    segments = list(SegmentReader.from_bytes(first + second + plain))
    unbs = [s for s in segments if s.tag == "UNB"]
    assert [u.get(4) for u in unbs] == ["CTRL-7", "INT00042", "77"]
    assert [s.tag for s in segments].count("UNA") == 2
    assert segments[-1].tag == "UNZ" and segments[-1].elements == [["0"], ["77"]]
    assert [s.number for s in segments] == list(range(1, len(segments) + 1))


def test_unoa_rejects_lower_case_but_unoc_takes_latin1():
    unoa = b"UNB+UNOA:3+S+R+240101:1200+1'NAD+SU+1::9++Acme'UNZ+0+1'"
    assert list(SegmentReader.from_bytes(unoa))[1].invalid == (4, 1, "c")
    unoc = "UNB+UNOC:3+S+R+240101:1200+1'NAD+SU+1::9++Müller'UNZ+0+1'".encode("latin-1")
    nad = list(SegmentReader.from_bytes(unoc))[1]
    assert nad.invalid is None and nad.get(3) == "Müller"


def test_unob_rejects_latin1_letters():
    data = "UNB+UNOB:3+S+R+240101:1200+1'NAD+SU+1::9++Müller'UNZ+0+1'".encode("latin-1")
    assert list(SegmentReader.from_bytes(data))[1].invalid == (4, 1, "ü")


def test_unusable_una_is_a_parse_error_with_code_20():
    with pytest.raises(EdifactParseError) as caught:
        list(SegmentReader.from_bytes(b"UNA+++? 'UNB+UNOC:3'", file="bad.edi"))
    assert caught.value.code == "20" and caught.value.file == "bad.edi" and caught.value.segment == 1


def test_cut_short_una_is_a_parse_error():
    with pytest.raises(EdifactParseError, match="cut short"):
        list(SegmentReader.from_bytes(b"UNA:+"))


def test_escape_puts_the_release_character_before_service_characters():
    chars = ServiceCharacters()
    assert chars.escape("a+b:c'd?e") == "a?+b?:c?'d??e"
    assert chars.escape("plain") == "plain"


@pytest.mark.parametrize("name", SAMPLES)
def test_pydifact_agrees_with_our_segments(name):
    data = (DATA / name).read_bytes()
    ours = [(s.tag, _normalised(s.elements)) for s in SegmentReader.from_bytes(data) if s.tag != "UNA"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [(s.tag, _normalised(s.elements)) for s in Parser().parse(data.decode("latin-1")) if s.tag != "UNA"]
    assert ours == theirs
    assert len(ours) > 15


def test_pydifact_reads_our_invoic_writer_output_as_we_do():
    bill = Bill(
        vendor=PartyRef(id="V1", name="O'Brien + Partners: Ltd?"),
        number="INV-1",
        date=dt.date(2024, 1, 2),
        due_date=dt.date(2024, 2, 1),
        terms="Net 30",
        currency="EUR",
        lines=(Line(amount=Decimal("20.00"), description="Widget", quantity=Decimal(2), unit_price=Decimal("10.00")),),
        total=Decimal("20.00"),
    )
    data = write_invoic(
        [bill], sender="PARTNER", recipient="US", reference="7", as_of=dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    )
    ours = [(s.tag, _normalised(s.elements)) for s in SegmentReader.from_bytes(data) if s.tag != "UNA"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [(s.tag, _normalised(s.elements)) for s in Parser().parse(data.decode("latin-1")) if s.tag != "UNA"]
    assert ours == theirs
    assert ("NAD", [["SU"], ["V1", "", "92"], [], ["O'Brien + Partners: Ltd?"]]) in theirs
