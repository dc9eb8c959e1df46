"""Streaming X12 tokenizer: delimiters sniffed from each ISA, segments split in big chunks.

The file is read in chunks of `CHUNK_SIZE` bytes; each chunk is cut at its last segment terminator,
decoded once and split with `str.split`, so memory stays bounded and no Python loop runs per byte.

Layout between segments is skipped: a line break after a terminator always, and blanks (spaces, tabs,
further line breaks) between a terminator and the next segment id, never inside a segment. A batch
that needed the latter says so (`normalised`), for the envelope to report it.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from qbo_sftp_assets.formats.errors import X12ParseError

# Small on purpose: a chunk's segments (about ten times its size as Python lists and strings) must
# still be in the CPU cache when the parser reads them. 32 KB made a parse 1.5x faster than 4 MB.
CHUNK_SIZE = 1 << 15
ISA_LENGTH = 106
MAX_SEGMENT_BYTES = 1 << 20
# 0-based offsets in a fixed-width ISA where the element separator must repeat (docs/edi-rules.md §1.1).
_FIXED_SEPARATOR_OFFSETS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
_SNIFF_WINDOW = 512
_BLANK = b" \t\r\n\x00"


@dataclass(frozen=True)
class Delimiters:
    """The separators of one interchange, as text."""

    element: str = "*"
    component: str = ":"
    segment: str = "~"
    repetition: str | None = None

    def characters(self) -> str:
        """All delimiter characters, for sanitizing data on output."""
        return self.element + self.component + self.segment + (self.repetition or "")


@dataclass(frozen=True)
class SegmentBatch:
    """Consecutive segments of one interchange: `segments[i]` is at file position `first_position + i`.

    Each segment is its list of elements, the segment id first (`["BIG", "20261125", "INV1"]`).
    """

    first_position: int
    segments: list[list[str]]
    delimiters: Delimiters
    normalised: bool = False  # blanks between a terminator and the next segment id were skipped


class X12DelimiterError(X12ParseError):
    """An ISA whose delimiters cannot be read; `header` keeps its raw bytes so a TA1 can still answer."""

    def __init__(self, message: str, *, header: bytes, **kwargs: Any) -> None:
        self.header = header
        super().__init__(message, **kwargs)


def _is_bad_separator(byte: bytes) -> bool:
    return not byte or byte.isalnum() or byte in b" \x00" or byte[0] > 0x7E


def sniff_delimiters(head: bytes, *, file: str = "", position: int = 1) -> tuple[Delimiters, int]:
    """Read the delimiters from the ISA at the start of `head`; returns them and the ISA's byte length."""

    def fail(message: str, element: str, expected: str, code: str) -> X12DelimiterError:
        return X12DelimiterError(
            message,
            header=head[:_SNIFF_WINDOW],
            file=file,
            segment=position,
            element=element,
            expected=expected,
            code=code,
        )

    if not head.startswith(b"ISA"):
        raise fail(f"interchange does not start with ISA (found {head[:3]!r})", "ISA", "'ISA'", "022")
    separator = head[3:4]
    if _is_bad_separator(separator) or separator in b"\r\n":
        raise fail(
            f"invalid element separator {separator!r}",
            "ISA",
            "a printable non-alphanumeric character at byte 4",
            "026",
        )
    if len(head) >= ISA_LENGTH and all(head[i : i + 1] == separator for i in _FIXED_SEPARATOR_OFFSETS):
        component_at = 104
    else:
        # Not padded to 106 bytes: the component separator follows the 16th element separator.
        component_at = -1
        found = 0
        at = 3
        while found < 16:
            at = head.find(separator, at, _SNIFF_WINDOW)
            if at < 0:
                raise fail(
                    "ISA does not have 16 elements",
                    "ISA",
                    "a 106-byte ISA with 16 elements",
                    "022" if len(head) >= ISA_LENGTH else "023",
                )
            found += 1
            at += 1
        component_at = at
    component = head[component_at : component_at + 1]
    terminator = head[component_at + 1 : component_at + 2]
    if not terminator:
        raise fail("file ends inside the ISA segment", "ISA16", "a segment terminator after ISA16", "023")
    if _is_bad_separator(component) or component in b"\r\n" or component == separator:
        raise fail(
            f"invalid component separator {component!r}",
            "ISA16",
            "a non-alphanumeric character different from the element separator",
            "027",
        )
    if (terminator not in b"\r\n" and _is_bad_separator(terminator)) or terminator in (separator, component):
        raise fail(
            f"invalid segment terminator {terminator!r}",
            "ISA16",
            "a non-alphanumeric segment terminator right after ISA16",
            "004",
        )
    elements = head[: component_at + 1].split(separator)
    version = elements[12] if len(elements) > 12 else b""
    repetition_byte = elements[11] if len(elements) > 11 else b""
    repetition: str | None = None
    if (
        version > b"00401"
        and len(repetition_byte) == 1
        and not _is_bad_separator(repetition_byte)
        and repetition_byte not in (separator, component, terminator)
    ):
        repetition = repetition_byte.decode("ascii")
    delimiters = Delimiters(
        element=separator.decode("ascii"),
        component=component.decode("ascii"),
        segment=terminator.decode("ascii"),
        repetition=repetition,
    )
    return delimiters, component_at + 2


def _decode(raw: bytes) -> str:
    # UTF-8 first; legacy partners send Latin-1 bytes, which always decode.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _starts_blank(raw: bytes) -> bool:
    """Whether a segment's bytes begin with a space or tab (after the usual line break)."""
    return raw.lstrip(b"\r\n")[:1] in (b" ", b"\t")


def _normalize_line_breaks(text: str, terminator: str) -> str:
    if "\r" not in text and "\n" not in text:
        return text
    if terminator == "\n":
        return text.replace("\r\n", "\n")
    if terminator == "\r":
        return text.replace("\r\n", "\r")
    return (
        text.replace(terminator + "\r\n", terminator)
        .replace(terminator + "\n", terminator)
        .replace(terminator + "\r", terminator)
    )


class _Buffer:
    """A byte buffer over a binary stream with a read offset, refilled in chunks."""

    def __init__(self, stream: BinaryIO, chunk_size: int) -> None:
        self.stream = stream
        self.chunk_size = chunk_size
        self.data = b""
        self.start = 0
        self.eof = False

    def fill(self) -> bool:
        """Read one more chunk; False at end of file."""
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk_size)
        if not chunk:
            self.eof = True
            return False
        self.data = self.data[self.start :] + chunk
        self.start = 0
        return True

    def available(self) -> int:
        return len(self.data) - self.start

    def skip_blank(self) -> None:
        """Skip whitespace (and NUL padding) between interchanges, a bounded slice at a time."""
        while True:
            window = self.data[self.start : self.start + 65536]
            blank = len(window) - len(window.lstrip(_BLANK))
            self.start += blank
            if blank < len(window) or (self.start >= len(self.data) and not self.fill()):
                return


def _find_segment_start(data: bytes, pattern: bytes, begin: int, end: int, terminator: bytes, blanks: bytes) -> int:
    """The offset of the first segment in data[begin:end] that starts with `pattern`, or -1.

    A segment starts right after a terminator or a line break, or after blanks that follow a terminator.
    """
    at = data.find(pattern, begin, end)
    while at >= 0:
        if at == begin or data[at - 1 : at] in (terminator, b"\r", b"\n"):
            return at
        first_blank = at
        while first_blank > begin and data[first_blank - 1] in blanks:
            first_blank -= 1
        if first_blank < at and (first_blank == begin or data[first_blank - 1 : first_blank] == terminator):
            return at
        at = data.find(pattern, at + 1, end)
    return -1


class _Layout:
    """What counts as blank between the segments of one interchange, and how to find it fast.

    Blanks are space, tab, CR and LF, less any the interchange uses as a delimiter. A plain file has
    none right after a terminator, and the check must cost little there: a two-character search that
    starts with the (frequent) terminator takes about a tenth of a chunk's split, so it is made only
    for a blank that occurs in the chunk at all (tabs and line breaks rarely do once line breaks
    after terminators are removed) and always for the space.
    """

    def __init__(self, delimiters: Delimiters) -> None:
        terminator = delimiters.segment
        used = delimiters.characters()
        self.blanks = "".join(c for c in " \t\r\n" if c not in used)
        self.blank_bytes = self.blanks.encode("ascii")
        # A terminator that is itself a line break makes an empty line a blank, not an empty segment.
        self.skip_empty = terminator in "\r\n"
        self.probes = tuple((blank, terminator + blank) for blank in self.blanks)
        if self.skip_empty:
            self.probes += ((terminator, terminator * 2),)

    def is_loose(self, text: str) -> bool:
        """Whether `text` (a chunk cut after a terminator) has blanks after any of its terminators."""
        if text[:1] and text[:1] in self.blanks:
            return True
        return any(blank in text and marker in text for blank, marker in self.probes)

    def tighten(self, parts: list[str]) -> list[str]:
        """The parts without their leading blanks. A blank part between two terminators stays an
        empty segment (an error), unless the terminator is a line break: then it is an empty line."""
        blanks = self.blanks
        if self.skip_empty:
            return [tight for tight in (part.lstrip(blanks) for part in parts) if tight]
        return [part.lstrip(blanks) for part in parts]


@functools.lru_cache(maxsize=64)
def _layout_of(delimiters: Delimiters) -> _Layout:
    """One `_Layout` per set of delimiters: files of many small interchanges would rebuild it each time."""
    return _Layout(delimiters)


def iter_segment_batches(stream: BinaryIO, *, file: str = "", chunk_size: int = CHUNK_SIZE) -> Iterator[SegmentBatch]:
    """Yield the segments of every interchange in `stream`, in batches, each with its delimiters.

    Raises `X12ParseError` (an `X12DelimiterError` for a bad ISA) when the file does not start with
    an ISA, an ISA's delimiters are invalid, or something other than an ISA follows an IEA.
    """
    buffer = _Buffer(stream, chunk_size)
    buffer.fill()
    if buffer.data.startswith(codecs.BOM_UTF8):
        buffer.start = len(codecs.BOM_UTF8)
    position = 1
    while True:
        buffer.skip_blank()
        if buffer.available() == 0:
            if position == 1:
                raise X12ParseError("file is empty", file=file, segment=1, element="ISA", expected="'ISA'")
            return
        while buffer.available() < _SNIFF_WINDOW and buffer.fill():
            pass
        head = buffer.data[buffer.start : buffer.start + _SNIFF_WINDOW]
        delimiters, isa_length = sniff_delimiters(head, file=file, position=position)
        isa_text = _decode(head[: isa_length - 1])
        yield SegmentBatch(position, [isa_text.split(delimiters.element)], delimiters)
        position += 1
        buffer.start += isa_length
        position = yield from _iter_interchange_body(buffer, delimiters, position, file)


def _iter_interchange_body(
    buffer: _Buffer, delimiters: Delimiters, position: int, file: str
) -> Generator[SegmentBatch, None, int]:
    """Yield batches up to and including the IEA (or end of file); returns the next position."""
    terminator = delimiters.segment.encode("ascii")
    separator = delimiters.element
    iea = b"IEA" + separator.encode("ascii")
    layout = _layout_of(delimiters)
    while True:
        data = buffer.data
        last = data.rfind(terminator, buffer.start)
        if last < 0:
            if buffer.available() > MAX_SEGMENT_BYTES:
                # Bounded memory: a "segment" this long means the terminator the ISA named is wrong.
                raise X12ParseError(
                    f"no segment terminator {delimiters.segment!r} in {MAX_SEGMENT_BYTES} bytes",
                    file=file,
                    segment=position,
                    element="ISA16",
                    expected=f"segments ending with {delimiters.segment!r} as the ISA declares",
                    code="004",
                )
            if buffer.fill():
                continue
            rest = buffer.data[buffer.start :]
            if rest.strip(_BLANK):
                # An unterminated last segment: keep it, the envelope check reports what is missing.
                text = _decode(rest.strip(_BLANK))
                yield SegmentBatch(position, [text.split(separator)], delimiters, _starts_blank(rest))
                position += 1
            buffer.start = len(buffer.data)
            return position
        end = last + 1
        found = _find_segment_start(data, iea, buffer.start, end, terminator, layout.blank_bytes)
        finished = found >= 0
        if finished:
            end = data.find(terminator, found) + 1
        # Line breaks after the previous chunk's last terminator (or after a CR terminator).
        raw = data[buffer.start : end].lstrip(b"\r\n")
        text = _normalize_line_breaks(_decode(raw), delimiters.segment)
        parts = text.split(delimiters.segment)
        parts.pop()
        loose = layout.is_loose(text)
        if loose:
            parts = layout.tighten(parts)
        segments = [part.split(separator) for part in parts]
        if segments:
            yield SegmentBatch(position, segments, delimiters, loose)
            position += len(segments)
        buffer.start = end
        if finished:
            return position
        if not buffer.fill() and buffer.available() == 0:
            return position


def iter_segments(stream: BinaryIO, *, file: str = "") -> Iterator[tuple[int, list[str], Delimiters]]:
    """Yield `(position, elements, delimiters)` for every segment; convenience over the batches."""
    for batch in iter_segment_batches(stream, file=file):
        for offset, elements in enumerate(batch.segments):
            yield batch.first_position + offset, elements, batch.delimiters
