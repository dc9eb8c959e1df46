"""Pretty-printed EDIFACT: blanks and line breaks between a terminator and the next tag are skipped
(never inside a segment), the interchange says it was normalised, and pydifact (an outside parser)
reads the same file written compactly into the segments we read from the pretty one."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from pydifact.parser import Parser

from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.edifact import SegmentReader, build_contrl, read_edifact

AS_OF = dt.datetime(2024, 5, 2, 9, 0, tzinfo=dt.UTC)

# Written for this test: a UNA, one interchange, one INVOIC with a released apostrophe and a space in data.
SEGMENTS = [
    "UNB+UNOC:3+NORDKAFFE:14+OURCO:14+240502:0815+NK-31",
    "UNH+1+INVOIC:D:96A:UN",
    "BGM+380+NK-2024-310+9",
    "DTM+137:20240502:102",
    "NAD+SU+7350000000017::9++Nord?'kaffe AB  +Kaffegatan 3",
    "CUX+2:SEK:4",
    "LIN+1++KAF-500:SA",
    "IMD+F++:::Mörkrost 500 g",
    "QTY+47:12",
    "MOA+203:714.00",
    "PRI+AAA:59.50",
    "UNS+S",
    "MOA+77:714.00",
    "UNT+13+1",
    "UNZ+1+NK-31",
]
COMPACT = ("UNA:+.? '" + "".join(s + "'" for s in SEGMENTS)).encode("latin-1")
# Each segment on its own line, indented inside UNB and UNH as a viewer shows it; tabs and CRLF too.
PRETTY = (
    "UNA:+.? '\r\n"
    + "".join(
        ("" if s[:3] in ("UNB", "UNZ") else "  " if s[:3] in ("UNH", "UNT") else "\t    ") + s + "' \r\n\r\n"
        for s in SEGMENTS
    )
).encode("latin-1")


def segments(data: bytes, chunk_size: int = 1 << 20) -> list[tuple[str, list[list[str]]]]:
    return [(s.tag, s.elements) for s in SegmentReader.from_bytes(data, chunk_size=chunk_size)]


def test_a_pretty_printed_interchange_reads_as_its_compact_twin_and_says_it_was_normalised():
    pretty, compact = read_edifact(PRETTY, file="nk.edi"), read_edifact(COMPACT, file="nk.edi")
    assert pretty.ok and pretty.documents == compact.documents
    [bill] = pretty.documents
    assert bill.vendor.name == "Nord'kaffe AB  "  # blanks inside a segment are data
    assert bill.lines[0].description == "Mörkrost 500 g"
    assert pretty.envelopes[0]["normalised"].startswith("blanks or line breaks between segments")
    assert "normalised" not in compact.envelopes[0]


@pytest.mark.parametrize("chunk_size", [1, 3, 16, 70, 4096])
def test_chunk_boundaries_inside_the_layout_do_not_change_the_segments(chunk_size):
    assert segments(PRETTY, chunk_size) == segments(COMPACT)


def as_components(elements: list) -> list[list[str]]:
    """pydifact's elements (a string, or a list for a composite) as lists of components, as ours are."""
    return [[element] if isinstance(element, str) else list(element) for element in elements]


def test_pydifact_reads_the_compact_file_into_the_segments_we_read_from_the_pretty_one():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [(s.tag, as_components(s.elements)) for s in Parser().parse(COMPACT.decode("latin-1"))]
    ours = [(tag, elements) for tag, elements in segments(PRETTY) if tag != "UNA"]
    assert ours == [(tag, elements) for tag, elements in theirs if tag != "UNA"]


def test_the_contrl_of_a_pretty_file_is_that_of_its_compact_twin():
    def contrl(data: bytes) -> bytes:
        [interchange] = read_edifact(data).interchanges
        return build_contrl(interchange, counter=InMemoryControlNumbers(start=70), as_of=AS_OF)

    assert contrl(PRETTY) == contrl(COMPACT)
    assert b"UCI+NK-31+NORDKAFFE:14+OURCO:14+7'" in contrl(PRETTY)


def test_only_the_pretty_interchange_of_two_is_marked():
    result = read_edifact(COMPACT + b"\n" + PRETTY)
    assert result.ok and len(result.documents) == 2
    assert ["normalised" in envelope for envelope in result.envelopes] == [False, True]


def test_a_tab_inside_a_segment_is_still_an_invalid_character():
    data = COMPACT.replace(b"Kaffegatan 3", b"Kaffegatan\t3")
    result = read_edifact(data)
    assert result.documents == [] and [e.code for e in result.errors] == ["21"]
