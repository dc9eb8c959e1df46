"""Which format a file is in, from its first bytes: ISA is X12, UNA/UNB is EDIFACT, else the layout says."""

from __future__ import annotations

from typing import BinaryIO, Literal

from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.formats.layouts import Layout

FormatName = Literal["x12", "edifact", "csv", "fixed"]
SNIFF_BYTES = 512
_LEADING_NOISE = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark some partners' tools put before ISA / UNA


class UnknownFormatError(UserFacingError):
    """The first bytes are neither X12 nor EDIFACT and no layout says what else the file is."""


def sniff_edi(head: bytes) -> Literal["x12", "edifact"] | None:
    """ "x12" / "edifact" when the bytes start (after a BOM and whitespace) with ISA or UNA / UNB."""
    body = head.removeprefix(_LEADING_NOISE).lstrip()
    if body.startswith(b"ISA"):
        return "x12"
    if body.startswith((b"UNA", b"UNB")):
        return "edifact"
    return None


def detect_format(head: bytes, layout: Layout | None = None, *, name: str = "the file") -> FormatName:
    """The format of a file whose first bytes are `head`; CSV or fixed-width only with a layout."""
    edi = sniff_edi(head)
    if edi is not None:
        return edi
    if layout is not None:
        return layout.kind
    raise UnknownFormatError(
        f"{name}: not X12 (no ISA) or EDIFACT (no UNA/UNB); for a CSV or fixed-width file pass "
        "--layout NAME or --layout PATH to say how to read it"
    )


def detect_stream_format(stream: BinaryIO, layout: Layout | None = None, *, name: str = "the file") -> FormatName:
    """`detect_format` on a seekable stream's first bytes; the stream is left where it was."""
    position = stream.tell()
    head = stream.read(SNIFF_BYTES)
    stream.seek(position)
    return detect_format(head, layout, name=name)
