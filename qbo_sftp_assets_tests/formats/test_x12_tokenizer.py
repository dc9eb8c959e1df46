"""The X12 tokenizer: delimiters from each ISA, BOM and CR/LF tolerance, chunk boundaries, clear errors.

pyx12's `X12Reader` (which we did not write) is the oracle for how a file splits into segments.
"""

from __future__ import annotations

import io

import pytest
from pyx12.x12file import X12Reader

from qbo_sftp_assets.formats.errors import X12ParseError
from qbo_sftp_assets.formats.x12 import Delimiters, iter_segment_batches, iter_segments
from qbo_sftp_assets_tests.paths import TEST_DATA

SAMPLE = (TEST_DATA / "x12" / "invoices_810.edi").read_text()


def tokens(data: bytes, chunk_size: int = 1 << 22) -> list[tuple[int, list[str]]]:
    return [
        (batch.first_position + offset, elements)
        for batch in iter_segment_batches(io.BytesIO(data), chunk_size=chunk_size)
        for offset, elements in enumerate(batch.segments)
    ]


def pyx12_tokens(text: str) -> list[list[str]]:
    """Segment ids and element values as pyx12 reads them (composites rejoined with their separator)."""
    segments = []
    for segment in X12Reader(io.StringIO(text)):
        segment_id = segment.get_seg_id()
        values = [segment.get_value(f"{segment_id}{index:02d}") or "" for index in range(1, len(segment) + 1)]
        segments.append([segment_id, *values])
    return segments


def with_delimiters(text: str, element: str, component: str, terminator: str) -> str:
    return text.replace("*", element).replace(">", component).replace("~", terminator)


def test_segments_match_pyx12_and_positions_count_from_one() -> None:
    ours = tokens(SAMPLE.encode())
    assert [position for position, _ in ours] == list(range(1, 24))
    assert [elements for _, elements in ours] == pyx12_tokens(SAMPLE)
    assert ours[3] == (4, ["BIG", "20261118", "INV-1001", "", "PO-55"])


@pytest.mark.parametrize(("element", "component", "terminator"), [("|", "^", "!"), ("^", "\\", "\n"), ("*", ":", "'")])
def test_unusual_delimiters_are_sniffed_from_the_isa(element: str, component: str, terminator: str) -> None:
    text = with_delimiters(SAMPLE.replace("~\n", "~"), element, component, terminator)
    batches = list(iter_segment_batches(io.BytesIO(text.encode())))
    assert batches[0].delimiters == Delimiters(element, component, terminator, None)
    ours = [elements for batch in batches for elements in batch.segments]
    assert ours[1:] == [elements for _, elements in tokens(SAMPLE.encode())][1:]
    assert ours[0][16] == component
    assert ours == pyx12_tokens(text)


def test_repetition_separator_only_after_00401_and_only_when_not_alphanumeric() -> None:
    v5010 = SAMPLE.replace("*U*00401*", "*^*00501*")
    [first, *_] = iter_segment_batches(io.BytesIO(v5010.encode()))
    assert first.delimiters.repetition == "^"
    [first, *_] = iter_segment_batches(io.BytesIO(SAMPLE.replace("*U*00401*", "*U*00501*").encode()))
    assert first.delimiters.repetition is None
    [first, *_] = iter_segment_batches(io.BytesIO(SAMPLE.replace("*U*00401*", "*^*00401*").encode()))
    assert first.delimiters.repetition is None


def test_bom_crlf_and_blank_lines_are_tolerated() -> None:
    text = "\ufeff" + SAMPLE.replace("~\n", "~\r\n") + "\r\n\r\n"
    assert tokens(text.encode("utf-8")) == tokens(SAMPLE.encode())


def test_newline_as_terminator_with_crlf() -> None:
    text = SAMPLE.replace("~\n", "\r\n")
    assert [elements for _, elements in tokens(text.encode())] == [e for _, e in tokens(SAMPLE.encode())]


def test_unpadded_isa_is_read_by_counting_separators() -> None:
    text = SAMPLE.replace("*ACMESUPPLY     *", "*ACMESUPPLY*").replace("*OURCOMPANY     *", "*OURCOMPANY*", 1)
    ours = tokens(text.encode())
    assert ours[0][1][6] == "ACMESUPPLY" and ours[0][1][16] == ">"
    assert len(ours) == 23


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 106, 500])
def test_chunk_boundaries_do_not_change_the_segments(chunk_size: int) -> None:
    text = (SAMPLE + with_delimiters(SAMPLE.replace("~\n", "~"), "|", "^", "!")).encode()
    assert tokens(text, chunk_size=chunk_size) == tokens(text)


def test_several_interchanges_number_segments_through_the_file() -> None:
    second = with_delimiters(SAMPLE.replace("~\n", "~"), "|", "^", "\n")
    positions = [
        (position, elements[0]) for position, elements, _ in iter_segments(io.BytesIO((SAMPLE + second).encode()))
    ]
    assert positions[22] == (23, "IEA") and positions[23] == (24, "ISA") and positions[-1] == (46, "IEA")


def test_latin1_bytes_decode_instead_of_failing() -> None:
    text = SAMPLE.replace("Blue widget", "Bl\xe9 widget").encode("latin-1")
    assert any("Bl\xe9 widget" in elements for _, elements in tokens(text))


@pytest.mark.parametrize(
    ("data", "element", "expected_code"),
    [
        (b"", "ISA", None),
        (b"GS*IN*A*B~", "ISA", "022"),
        (SAMPLE.replace("ISA*00", "ISA000", 1).encode(), "ISA", "026"),
        (SAMPLE[:104].encode() + b"*~", "ISA16", "027"),
        (SAMPLE[:105].encode() + b"A", "ISA16", "004"),
        (SAMPLE[:60].encode(), "ISA", "023"),
    ],
)
def test_bad_starts_raise_x12_parse_error_naming_segment_and_element(
    data: bytes, element: str, expected_code: str | None
) -> None:
    with pytest.raises(X12ParseError) as raised:
        list(iter_segment_batches(io.BytesIO(data), file="in.x12"))
    error = raised.value
    assert (error.file, error.segment, error.element, error.code) == ("in.x12", 1, element, expected_code)
    assert error.expected
    assert str(error).startswith("in.x12:segment 1: ")


def test_garbage_after_an_interchange_names_its_segment() -> None:
    with pytest.raises(X12ParseError) as raised:
        list(iter_segment_batches(io.BytesIO((SAMPLE + "HELLO~").encode())))
    assert raised.value.segment == 24 and raised.value.element == "ISA"


def test_a_missing_terminator_fails_within_bounded_memory() -> None:
    data = SAMPLE[:106].encode() + b"GS*IN" + b"*X" * 600_000
    with pytest.raises(X12ParseError) as raised:
        list(iter_segment_batches(io.BytesIO(data), file="big.x12", chunk_size=1 << 16))
    assert (raised.value.segment, raised.value.code) == (2, "004")
    assert "no segment terminator '~'" in str(raised.value)


def test_nul_padding_and_blank_lines_between_interchanges_are_skipped() -> None:
    data = SAMPLE.encode() + b"\x00" * 200_000 + b"\r\n" * 50_000 + SAMPLE.encode() + b"\x00" * 10
    assert len(tokens(data, chunk_size=1 << 16)) == 46
