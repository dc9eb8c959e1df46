"""The one exception family every reader raises on bad input, each naming where and what."""

from __future__ import annotations

from typing import Any


class ParseError(ValueError):
    """A file could not be read as its format says.

    `line` is a 1-based text line, `segment` a 1-based segment position (X12/EDIFACT); `element`
    names the field or element (e.g. "BIG02", "amount"); `expected` says what would have been valid.
    `code` is the format's own error code where one exists (X12 AK304/AK403, EDIFACT 0085).
    """

    format_name = "file"

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        line: int | None = None,
        segment: int | None = None,
        element: str | None = None,
        expected: str | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.segment = segment
        self.element = element
        self.expected = expected
        self.code = code
        super().__init__(self.render())

    def location(self) -> str:
        """`file:line` for text formats, `file:segment N` for EDI."""
        where = self.file or "<input>"
        if self.line is not None:
            return f"{where}:{self.line}"
        if self.segment is not None:
            return f"{where}:segment {self.segment}"
        return where

    def render(self) -> str:
        text = f"{self.location()}: "
        if self.element:
            text += f"{self.element}: "
        text += self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return text


class CsvParseError(ParseError):
    format_name = "csv"


class FixedWidthParseError(ParseError):
    format_name = "fixed"


class X12ParseError(ParseError):
    format_name = "x12"


class EdifactParseError(ParseError):
    format_name = "edifact"


class PartyMissingError(ParseError):
    """A syntactically valid document that names no party to post it against; it is withheld.

    The file's syntax acknowledgment (997, CONTRL) accepts it; this error, in the read result's
    errors, is what stops posting from guessing. `document` is the document as read, party empty.
    """

    def __init__(self, message: str, *, document: object, format_name: str, **kwargs: Any) -> None:
        self.document = document
        self.format_name = format_name
        super().__init__(message, **kwargs)


class VendorMissingError(PartyMissingError):
    """A bill or vendor credit (X12 810, EDIFACT INVOIC) that names no seller: no N1*SE/VN/SU/RI in
    X12, no NAD+SU/SE/II in EDIFACT."""


class CustomerMissingError(PartyMissingError):
    """One of our own invoices (an 810 we sent) that names no customer (no N1*BT or N1*BY)."""
