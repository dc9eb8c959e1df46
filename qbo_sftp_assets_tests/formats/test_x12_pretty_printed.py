"""Pretty-printed X12: blanks and line breaks between a terminator and the next segment id are skipped
(never inside a segment), the envelope says the file was normalised, and pyx12 (an outside reader)
splits the same file written compactly into the segments we read from the pretty one."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pyx12.x12file import X12Reader

from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.x12 import acknowledge_x12, iter_segment_batches, read_x12

AS_OF = dt.datetime(2026, 3, 2, 8, 15, tzinfo=dt.UTC)

# A file written for this test: one interchange, one 810, segments as a partner's tool lays them out.
SEGMENTS = [
    "ISA*00*          *00*          *ZZ*NORTHWIND      *ZZ*OURCOMPANY     *260301*1015*U*00401*000000777*0*P*>",
    "GS*IN*NORTHWIND*OURCOMPANY*20260301*1015*77*X*004010",
    "ST*810*7701",
    "BIG*20260301*NW-5501**PO-9",
    "N1*SE*Northwind  Traders *92*NW01",
    "IT1*1*4*EA*2.50**VN*BOLT-8",
    "PID*F****Hex bolt  M8",
    "TDS*1000",
    "SE*7*7701",
    "GE*1*77",
    "IEA*1*000000777",
]


def compact(segments: list[str] = SEGMENTS) -> str:
    return "".join(segment + "~" for segment in segments)


def pretty(segments: list[str] = SEGMENTS) -> str:
    """Each segment on its own line, indented by nesting as an editor or a translator's viewer shows it."""
    depth = {"ISA": 0, "IEA": 0, "GS": 1, "GE": 1, "ST": 2, "SE": 2}
    return "".join("  " * depth.get(s.split("*")[0], 3) + s + "~ \t\r\n\r\n" for s in segments)


def tokens(text: str, chunk_size: int = 1 << 15) -> list[list[str]]:
    batches = iter_segment_batches(io.BytesIO(text.encode()), chunk_size=chunk_size)
    return [elements for batch in batches for elements in batch.segments]


def pyx12_tokens(text: str) -> list[list[str]]:
    segments = []
    for segment in X12Reader(io.StringIO(text)):
        segment_id = segment.get_seg_id()
        segments.append(
            [segment_id] + [segment.get_value(f"{segment_id}{i:02d}") or "" for i in range(1, len(segment) + 1)]
        )
    return segments


def test_a_pretty_printed_file_reads_as_its_compact_twin_and_says_it_was_normalised() -> None:
    pretty_result, _ = read_x12(pretty().encode(), file="nw.x12")
    compact_result, _ = read_x12(compact().encode(), file="nw.x12")
    assert pretty_result.ok and pretty_result.documents == compact_result.documents
    [bill] = pretty_result.documents
    assert (bill.number, bill.vendor.name, bill.lines[0].description) == (
        "NW-5501",
        "Northwind  Traders ",
        "Hex bolt  M8",
    )
    assert pretty_result.envelopes[0]["normalised"].startswith("blanks or line breaks between segments")
    assert "normalised" not in compact_result.envelopes[0]


def test_pyx12_splits_the_compact_file_into_the_segments_we_read_from_the_pretty_one() -> None:
    ours = tokens(pretty())
    assert ours == pyx12_tokens(compact())
    assert ours[4] == ["N1", "SE", "Northwind  Traders ", "92", "NW01"]  # blanks inside a segment are data


@pytest.mark.parametrize("chunk_size", [1, 5, 64, 107, 300])
def test_chunk_boundaries_inside_the_layout_do_not_change_the_segments(chunk_size: int) -> None:
    assert tokens(pretty(), chunk_size) == tokens(compact())


def test_the_997_of_a_pretty_file_accepts_it_and_pyx12_finds_no_envelope_error_in_it() -> None:
    ack = acknowledge_x12(pretty().encode(), control_numbers=InMemoryControlNumbers(40), as_of=AS_OF)
    assert ack == acknowledge_x12(compact().encode(), control_numbers=InMemoryControlNumbers(40), as_of=AS_OF)
    reader = X12Reader(io.StringIO(ack.decode()))
    segments = [segment.format().rstrip("~") for segment in reader]
    reader.cleanup()
    assert reader.pop_errors() == []
    assert segments[3:6] == ["AK1*IN*77", "AK2*810*7701", "AK5*A"]


def test_newline_terminated_segments_with_indentation_and_blank_lines() -> None:
    text = "".join("\t" + segment + "\n\n" for segment in SEGMENTS).lstrip("\t")
    result, _ = read_x12(text.encode())
    assert result.ok and [bill.number for bill in result.documents] == ["NW-5501"]
    assert tokens(text) == [segment.split("*") for segment in SEGMENTS]
    assert "normalised" in result.envelopes[0]


def test_the_next_interchange_is_found_after_an_indented_iea() -> None:
    second = [s.replace("000000777", "000000778").replace("NW-5501", "NW-5502") for s in SEGMENTS]
    # The second interchange uses other delimiters: only a correctly found IEA lets its ISA be sniffed.
    other = [s.replace("*", "|").replace(">", "^") for s in second]
    text = pretty() + "".join("   " + s + "!\n" for s in other)
    result, _ = read_x12(text.encode())
    assert result.ok, result.errors
    assert [bill.number for bill in result.documents] == ["NW-5501", "NW-5502"]
    assert all("normalised" in envelope for envelope in result.envelopes)


def test_an_empty_segment_between_terminators_is_still_an_error() -> None:
    text = compact().replace("PID*F****Hex bolt  M8~", "PID*F****Hex bolt  M8~  ~")
    result, _ = read_x12(text.encode())
    assert result.documents == []
    assert {(error.element, error.code) for error in result.errors} >= {("", "1"), ("SE01", "4")}
