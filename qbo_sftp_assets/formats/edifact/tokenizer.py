"""EDIFACT tokenizer: service characters from UNA (or the defaults), the release character, and a
stream of segments with their file positions, read in large chunks with bounded memory.

Text is decoded by the interchange's syntax level (UNB S001): UNOA/UNOB as ISO 646, UNOC-UNOK as the
ISO 8859 part ISO 9735 names, UNOW/UNOY as UTF-8. Layout between segments is skipped: line breaks
after a terminator, and blanks (spaces, tabs) between a terminator and the next tag, never inside a
segment; the segments read after skipping blanks are listed (`normalised`) for the envelope to report.
"""

from __future__ import annotations

import io
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from qbo_sftp_assets.formats.errors import EdifactParseError
from qbo_sftp_assets.formats.gc_pause import cyclic_gc_paused

CHUNK_SIZE = 256 << 10  # text expands ~60x into segment objects: keep chunks small
# A segment longer than this is not EDIFACT (or has lost its terminators); stop instead of buffering it.
MAX_SEGMENT_CHARS = 4 << 20
_BOM = "\xef\xbb\xbf"  # a UTF-8 byte-order mark, as latin-1 text
_LINE_BREAKS = "\r\n"

# How each syntax level (UNB S001 0001, ISO 9735 code list) is encoded. UNOA/UNOB are ISO 646,
# ASCII's graphic characters; UNOC-UNOK the ISO 8859 part named by the code list; UNOW is UTF-8, and
# UNOY (ISO 10646-1 octets without code extension) is read as UTF-8 too, as partners send it.
SYNTAX_ENCODINGS = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "latin-1",  # ISO 8859-1
    "UNOD": "iso8859_2",
    "UNOE": "iso8859_5",  # Cyrillic
    "UNOF": "iso8859_7",  # Greek
    "UNOG": "iso8859_3",
    "UNOH": "iso8859_4",
    "UNOI": "iso8859_6",  # Arabic
    "UNOJ": "iso8859_8",  # Hebrew
    "UNOK": "iso8859_9",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}
# Bytes are read as latin-1 (one character per byte, lossless) and re-decoded only for these levels.
_REDECODED = {syntax_id: codec for syntax_id, codec in SYNTAX_ENCODINGS.items() if codec not in ("ascii", "latin-1")}
_ESCAPED_BYTES = ("\udc80", "\udcff")  # what surrogateescape makes of bytes the encoding does not define


def _iso8859_repertoire(codec: str) -> str:
    """ASCII's graphic characters and those of bytes A0-FF the ISO 8859 part defines, as a regex class body."""
    high = bytes(range(0xA0, 0x100)).decode(codec, "surrogateescape")
    return " -~" + "".join(re.escape(c) for c in high if not _ESCAPED_BYTES[0] <= c <= _ESCAPED_BYTES[1])


# Character repertoires per syntax level, as regex class bodies of what IS allowed.
# UNOA: ISO 646 upper case only; UNOB: ISO 646 (printable ASCII); UNOC: ISO 8859-1 graphic characters;
# UTF-8: every character but controls, surrogates (undecodable bytes) and the non-characters FFFE/FFFF.
_LEVEL_A = "A-Z0-9 .,\\-()/='+:?!\"%&*;<>"
_LEVEL_B = " -~"
_LEVEL_C = " -~\xa0-\xff"
_UNICODE = " -~\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff"
SYNTAX_REPERTOIRES = {
    "UNOA": _LEVEL_A,
    "UNOB": _LEVEL_B,
    "UNOC": _LEVEL_C,
    **{syntax_id: _iso8859_repertoire(codec) for syntax_id, codec in _REDECODED.items() if codec != "utf-8"},
    "UNOW": _UNICODE,
    "UNOY": _UNICODE,
}
SUPPORTED_SYNTAX_IDS = frozenset(SYNTAX_REPERTOIRES)
_BLANKS = " \t"


def invalid_characters(syntax_id: str, separators: str) -> re.Pattern[str] | None:
    """A regex matching a character the syntax level does not allow (None for an unknown level)."""
    repertoire = SYNTAX_REPERTOIRES.get(syntax_id)
    return None if repertoire is None else re.compile("[^" + repertoire + re.escape(separators) + "]")


@dataclass(frozen=True)
class ServiceCharacters:
    """The six characters a UNA advises (or the defaults `:+.? '`)."""

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str = "?"
    reserved: str = " "
    terminator: str = "'"

    @classmethod
    def from_una(cls, una: str, *, file: str = "", segment: int | None = None) -> ServiceCharacters:
        """Read a 9-character `UNA......` string; raise EdifactParseError (0085 = 20) when unusable."""
        if len(una) != 9 or not una.startswith("UNA"):
            raise EdifactParseError(
                "UNA service string advice is cut short",
                file=file,
                segment=segment,
                element="UNA",
                expected="'UNA' followed by six service characters",
                code="20",
            )
        chars = cls(*una[3:9])
        separators = (chars.component, chars.element, chars.release, chars.terminator)
        if len(set(separators)) != 4 or any(c.isalnum() or c in _LINE_BREAKS + " " for c in separators):
            raise EdifactParseError(
                f"UNA advises unusable service characters {una[3:9]!r}",
                file=file,
                segment=segment,
                element="UNA",
                expected="distinct, non-alphanumeric component, element, release and terminator characters",
                code="20",
            )
        return chars

    def una(self) -> str:
        return f"UNA{self.component}{self.element}{self.decimal}{self.release}{self.reserved}{self.terminator}"

    @property
    def separators(self) -> str:
        return self.component + self.element + self.release + self.terminator

    def escape(self, text: str) -> str:
        """Put the release character before every service character inside `text`."""
        release = self.release
        if not any(c in text for c in self.separators):
            return text
        return "".join(release + c if c in self.separators else c for c in text)


DEFAULT_SERVICE_CHARACTERS = ServiceCharacters()


class Segment:
    """One segment: its tag, its data elements as lists of (unescaped) components, and where it is.

    `number` is the 1-based position in the file (a UNA counts). `invalid` names the first
    character outside the interchange's syntax level: (element position, component position, char),
    positions 1-based as CONTRL's S011 counts them (element 0 is the tag). Elements are split only
    when asked for: most segments of a large file are read for one or two values, and one small
    object per segment keeps the garbage collector's work down.
    """

    __slots__ = ("_chars", "_elements", "_rest", "invalid", "number", "tag")

    def __init__(
        self,
        tag: str,
        elements: list[list[str]] | None,
        number: int,
        rest: str | None = None,
        chars: ServiceCharacters | None = None,
    ) -> None:
        self.tag = tag
        self.number = number
        self.invalid: tuple[int, int, str] | None = None
        self._elements = elements
        self._rest = rest  # the text after the tag's separator, when it holds no release character
        self._chars = chars

    @classmethod
    def _plain(cls, tag: str, number: int, rest: str | None, chars: ServiceCharacters) -> Segment:
        """What `Segment(tag, None, number, rest, chars)` makes (or, without `rest`, a segment of no
        elements), stored slot by slot: the tokenizer's fast path, where calling __init__ once per
        segment measured as 40% of the loop. Keep it in step with __init__ (a test compares them)."""
        segment = cls.__new__(cls)
        segment.tag = tag
        segment.number = number
        segment.invalid = None
        if rest is None:
            segment._elements = []
            segment._rest = None
            segment._chars = None
        else:
            segment._elements = None
            segment._rest = rest
            segment._chars = chars
        return segment

    @property
    def elements(self) -> list[list[str]]:
        elements = self._elements
        if elements is None:
            rest, chars = self._rest, self._chars
            assert rest is not None and chars is not None
            component = chars.component
            elements = self._elements = [p.split(component) for p in rest.split(chars.element)]
            self._rest = None
        return elements

    def get(self, element: int, component: int = 0) -> str:
        """The component at 0-based (element, component), or "" when the segment does not carry it."""
        components = self.composite(element)
        return components[component] if component < len(components) else ""

    def composite(self, element: int) -> list[str]:
        """The components of one 0-based element (empty when absent), without splitting the others."""
        rest = self._rest
        if rest is not None:
            chars = self._chars
            assert chars is not None
            if element == 0:
                end = rest.find(chars.element)
                return (rest if end < 0 else rest[:end]).split(chars.component)
            parts = rest.split(chars.element, element + 1)
            return parts[element].split(chars.component) if element < len(parts) else []
        elements = self.elements
        return elements[element] if element < len(elements) else []

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Segment):
            return NotImplemented
        return (self.tag, self.elements, self.number) == (other.tag, other.elements, other.number)

    # Unhashable, as a mutable value should be; typeshed declares __hash__ a method, hence the ignore.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Segment({self.tag!r}, {self.elements!r}, {self.number})"


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes '²', which int() refuses."""
    return text.isascii() and text.isdigit()


def trim_empty(values: Iterable[str]) -> list[str]:
    """Components (or elements) without the trailing empty ones, as EDIFACT omits them."""
    trimmed = list(values)
    while trimmed and trimmed[-1] == "":
        trimmed.pop()
    return trimmed


_PLACEHOLDER = "\x00"  # never valid in UNOA/UNOB/UNOC text, so free to stand for an escape sequence


def _protect(text: str, chars: ServiceCharacters) -> str:
    """Replace each escape sequence (release + character) by NUL + a code; the order handles `??`."""
    release = chars.release
    text = text.replace(release + release, "\x00\x01")
    text = text.replace(release + chars.terminator, "\x00\x02")
    text = text.replace(release + chars.element, "\x00\x03")
    text = text.replace(release + chars.component, "\x00\x04")
    return text.replace(release, "\x00\x05")  # a release before an ordinary character


def _restore(text: str, chars: ServiceCharacters) -> str:
    if _PLACEHOLDER not in text:
        return text
    release = chars.release
    return (
        text.replace("\x00\x05", release)
        .replace("\x00\x04", release + chars.component)
        .replace("\x00\x03", release + chars.element)
        .replace("\x00\x02", release + chars.terminator)
        .replace("\x00\x01", release + release)
    )


def _unescape_protected(text: str, chars: ServiceCharacters) -> str:
    """The data a protected value stands for: each escape sequence becomes the character it escapes."""
    if _PLACEHOLDER not in text:
        return text
    return (
        text.replace("\x00\x05", "")
        .replace("\x00\x04", chars.component)
        .replace("\x00\x03", chars.element)
        .replace("\x00\x02", chars.terminator)
        .replace("\x00\x01", chars.release)
    )


def _merge_released(pieces: list[str], release: str, separator: str) -> list[str]:
    """Re-join pieces split at a separator that an odd run of release characters escaped."""
    merged: list[str] = []
    pending: str | None = None
    for piece in pieces:
        if pending is not None:
            piece = pending + separator + piece
            pending = None
        if piece.endswith(release) and (len(piece) - len(piece.rstrip(release))) % 2 == 1:
            pending = piece
        else:
            merged.append(piece)
    if pending is not None:
        merged.append(pending)
    return merged


class SegmentReader:
    """Iterates the segments of an EDIFACT byte stream, one interchange's service characters at a time.

    Bytes are decoded as latin-1 (lossless), so the syntax level's repertoire is checked per segment;
    UNOC text is therefore decoded correctly and UNOA/UNOB text is checked against its subset. Other
    levels re-decode each chunk's text from those bytes once their UNB is read (see `_split`).
    """

    def __init__(self, stream: BinaryIO, *, file: str = "", chunk_size: int = CHUNK_SIZE) -> None:
        self.file = file
        self.chars = DEFAULT_SERVICE_CHARACTERS
        self.syntax_id: str | None = None
        self._stream = stream
        self._chunk_size = chunk_size
        self._number = 0
        # Numbers of segments with an invalid character or no tag, so a consumer can skip looking.
        self.flagged: deque[int] = deque()
        # Runs [first, last] of segment numbers read after skipping blanks before their tag.
        self.normalised: deque[list[int]] = deque()
        self._codec: str | None = None
        self._configure()

    @classmethod
    def from_bytes(cls, data: bytes, *, file: str = "", chunk_size: int = CHUNK_SIZE) -> SegmentReader:
        return cls(io.BytesIO(data), file=file, chunk_size=chunk_size)

    def _configure(self) -> None:
        chars = self.chars
        self._unescape = re.compile(re.escape(chars.release) + "(.)", re.S)
        # A line break is fine right after a terminator (or another break), nowhere else.
        self._inner_break = re.compile("[^" + re.escape(chars.terminator) + "\\r\\n][\\r\\n]")
        self._invalid = invalid_characters(self.syntax_id or "", chars.separators)
        # Blanks between segments: spaces, tabs and line breaks, less any the UNA made a separator.
        self._blanks = "".join(c for c in _BLANKS + _LINE_BREAKS if c not in chars.separators)
        self._codec = _REDECODED.get(self.syntax_id or "")

    def _decoded(self, text: str) -> str:
        """Latin-1 text (the raw bytes) as the interchange's encoding reads it; undecodable bytes
        become lone surrogates, outside every repertoire, and go back unchanged with `_raw`."""
        codec = self._codec
        return text if codec is None else text.encode("latin-1").decode(codec, "surrogateescape")

    def _raw(self, text: str) -> str:
        codec = self._codec
        return text if codec is None else text.encode(codec, "surrogateescape").decode("latin-1")

    def _skip_blanks(self, raw: str, number: int) -> str:
        """`raw` without the layout before its tag; a space or tab skipped is noted for the envelope."""
        tight = raw.lstrip(self._blanks)
        if len(tight) != len(raw.lstrip(_LINE_BREAKS)):
            runs = self.normalised
            if runs and runs[-1][1] >= number - 1:
                runs[-1][1] = max(runs[-1][1], number)
            else:
                runs.append([number, number])
        return tight

    def _error(self, message: str, *, expected: str | None = None, code: str | None = None) -> EdifactParseError:
        return EdifactParseError(message, file=self.file, segment=self._number + 1, expected=expected, code=code)

    def __iter__(self) -> Iterator[Segment]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Segment]]:
        """The segments in lists, one per chunk read: the fast way to walk a large file."""
        read = self._stream.read
        size = self._chunk_size
        buf = ""
        eof = False
        first = True
        after_unz = False
        while True:
            if not eof and len(buf) < 64:
                chunk = read(size)
                if chunk:
                    buf += chunk.decode("latin-1")
                    continue
                eof = True
            if first:
                buf = buf.removeprefix(_BOM)
                first = False
            if buf[:1] in self._blanks and buf:
                buf = self._skip_blanks(buf, self._number + 1)
                continue
            if not buf:
                return
            if after_unz and (eof or len(buf) >= 4):
                after_unz = False
                # A new interchange without its own UNA uses the defaults again.
                default = DEFAULT_SERVICE_CHARACTERS
                if self.chars != default and buf[:3] == "UNB" and buf[3:4] == default.element:
                    self.chars = default
                    self._configure()
            if buf.startswith("UNA"):
                if len(buf) < 9 and not eof:
                    chunk = read(size)
                    eof = not chunk
                    buf += chunk.decode("latin-1")
                    continue
                self.chars = ServiceCharacters.from_una(buf[:9], file=self.file, segment=self._number + 1)
                self._configure()
                self._number += 1
                yield [Segment("UNA", [[buf[3:9]]], self._number)]
                buf = buf[9:]
                continue
            # A chunk becomes thousands of Segments at once, none in a cycle: the collector scanning
            # them while they are built measured as a quarter of the tokenizer's time.
            with cyclic_gc_paused():
                batch, restart = self._split(buf)
            if batch:
                yield batch
            if restart is not None:
                buf, after_unz = restart
                continue
            # Everything complete was yielded; keep the unterminated tail and read on.
            buf = self._tail
            if eof:
                last = self._skip_blanks(buf, self._number + 1).rstrip(_LINE_BREAKS)
                if last:
                    self._number += 1
                    yield [self._segment(self._decoded(last), self._number)]
                return
            if len(buf) > MAX_SEGMENT_CHARS:
                raise self._error(
                    f"no segment terminator {self.chars.terminator!r} within {MAX_SEGMENT_CHARS} characters",
                    expected=f"segments ending in {self.chars.terminator!r}",
                )
            chunk = read(size)
            if chunk:
                buf += chunk.decode("latin-1")
            else:
                eof = True

    def _split(self, buf: str) -> tuple[list[Segment], tuple[str, bool] | None]:
        """The complete segments of `buf`, and (rest, after_unz) when the service characters or
        syntax level change part-way (the rest is then re-split with the new ones)."""
        chars = self.chars
        terminator = chars.terminator
        release = chars.release
        buf = self._decoded(buf)
        released = release in buf
        invalid = self._invalid
        suspect = invalid is not None and invalid.search(buf.replace("\r", "").replace("\n", "")) is not None
        protected = released and _PLACEHOLDER not in buf
        if protected:
            # Hide every escape sequence behind a NUL (never valid EDIFACT text) so that a plain split
            # is right; the few segments holding one are restored and unescaped one by one.
            buf = _protect(buf, chars)
        if "\n" in buf or "\r" in buf:
            # Line breaks after terminators are layout, not data. str.replace drops the usual one
            # (measured 20x faster than a regex); the segment loop strips any further ones.
            buf = (
                buf.replace(terminator + "\r\n", terminator)
                .replace(terminator + "\n", terminator)
                .replace(terminator + "\r", terminator)
            )
        pieces = buf.split(terminator)
        if released and not protected and release + terminator in buf:
            pieces = _merge_released(pieces, release, terminator)
        self._tail = self._raw(_restore(pieces.pop(), chars) if protected else pieces.pop())
        breaks = "\n" in buf or "\r" in buf
        # Blanks after a terminator, or after a line break that followed one: a pretty-printed file.
        # A search for terminator + blank is slow (the terminator is everywhere): the tab's is made
        # only when the chunk has a tab, and line breaks left after the replace above are rare.
        loose = breaks or terminator + " " in buf or ("\t" in buf and terminator + "\t" in buf)
        if breaks and invalid is not None and self._inner_break.search(buf) is not None:
            suspect = True
        special = "UNA" in buf or "UNB" in buf or (chars != DEFAULT_SERVICE_CHARACTERS and "UNZ" in buf)
        if suspect or special:
            if protected:
                pieces = [_restore(p, chars) for p in pieces]
            return self._split_carefully(pieces, suspect, loose)
        # The common case: plain segments, nothing to re-check.
        element = chars.element
        marker = _PLACEHOLDER if protected else release
        segment = self._segment
        plain = Segment._plain
        batch: list[Segment] = []
        append = batch.append
        blanks = self._blanks
        for number, raw in enumerate(pieces, start=self._number + 1):
            if loose and raw[:1] in blanks and raw:
                raw = self._skip_blanks(raw, number)
            if released and marker in raw:
                append(self._protected_segment(raw, number) if protected else segment(raw, number, check=False))
                continue
            tag, found, rest = raw.partition(element)
            if found:
                append(plain(tag, number, rest, chars))
            else:
                append(plain(tag, number, None, chars))
                if not raw:
                    self.flagged.append(number)
        self._number += len(pieces)
        return batch, None

    def _split_carefully(
        self, pieces: list[str], suspect: bool, loose: bool
    ) -> tuple[list[Segment], tuple[str, bool] | None]:
        chars = self.chars
        blanks = self._blanks
        batch: list[Segment] = []
        for index, raw in enumerate(pieces):
            if loose and raw[:1] in blanks and raw:
                raw = self._skip_blanks(raw, self._number + 1)
            if raw[:3] == "UNA":
                return batch, (self._rest(pieces[index:], raw), False)
            self._number += 1
            seg = self._segment(raw, self._number, check=suspect)
            batch.append(seg)
            if seg.tag == "UNB" or (seg.tag == "UNZ" and chars != DEFAULT_SERVICE_CHARACTERS):
                # The rest goes back as raw bytes: the new interchange may decode them differently.
                rest = self._rest(pieces[index + 1 :])
                if seg.tag == "UNB":
                    if self._set_syntax(seg):
                        return batch, (rest, False)
                    continue
                return batch, (rest, True)
        return batch, None

    def _rest(self, pieces: list[str], first: str | None = None) -> str:
        """Unread pieces (the first possibly already stripped) and the tail, joined again as raw text."""
        if not pieces:
            return self._tail
        if first is not None:
            pieces = [first, *pieces[1:]]
        return self._raw(self.chars.terminator.join(pieces)) + self.chars.terminator + self._tail

    def _set_syntax(self, unb: Segment) -> bool:
        """Take the syntax level from a UNB; say whether the rest must be re-read with new checks."""
        syntax_id = unb.get(0, 0)
        if syntax_id == self.syntax_id:
            return False
        raw_values = [[self._raw(value) for value in values] for values in unb.elements]
        self.syntax_id = syntax_id
        self._configure()
        if not all(value.isascii() for values in raw_values for value in values):
            # The UNB was read before its own level was known: read its values again by that level.
            unb._elements = [[self._decoded(value) for value in values] for values in raw_values]
            unb._rest = None
        if self._invalid is not None and unb.invalid is None:
            unb.invalid = self._find_invalid(unb)
            if unb.invalid is not None:
                self.flagged.append(unb.number)
        return True

    def _protected_segment(self, raw: str, number: int) -> Segment:
        """A segment whose escape sequences are hidden behind placeholders (see `_protect`), so that
        plain splits find its elements and components; each value is unescaped after the split."""
        chars = self.chars
        parts = raw.split(chars.element)
        component = chars.component
        elements = [[_unescape_protected(c, chars) for c in p.split(component)] for p in parts[1:]]
        # A tag is never escaped: one holding a release character keeps it, and is unknown as written.
        seg = Segment(_restore(parts[0].split(component, 1)[0], chars), elements, number)
        if not seg.tag:
            self.flagged.append(number)
        return seg

    def _segment(self, raw: str, number: int, *, check: bool = True) -> Segment:
        chars = self.chars
        if _PLACEHOLDER in raw:
            raw = _restore(raw, chars)
        if chars.release in raw:
            parts = _merge_released(raw.split(chars.element), chars.release, chars.element)
            unescape = self._unescape.sub
            elements = [
                [unescape(r"\1", c) for c in _merge_released(p.split(chars.component), chars.release, chars.component)]
                for p in parts[1:]
            ]
            seg = Segment(parts[0].split(chars.component, 1)[0], elements, number)
        else:
            tag, found, rest = raw.partition(chars.element)
            seg = Segment(
                tag.split(chars.component, 1)[0], None if found else [], number, rest if found else None, chars
            )
        if check and self._invalid is not None and self._invalid.search(raw) is not None:
            seg.invalid = self._find_invalid(seg)
        if seg.invalid is not None or not seg.tag:
            self.flagged.append(number)
        return seg

    def _find_invalid(self, seg: Segment) -> tuple[int, int, str] | None:
        invalid = self._invalid
        assert invalid is not None
        found = invalid.search(seg.tag)
        if found:
            return (0, 0, found.group())
        for e, components in enumerate(seg.elements, start=1):
            for c, value in enumerate(components, start=1):
                found = invalid.search(value)
                if found:
                    return (e, c, found.group())
        return None
