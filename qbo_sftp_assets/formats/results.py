"""What reading a file gives back: its documents, its envelopes, and the errors found on the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qbo_sftp_assets.formats.documents import FileDocument
from qbo_sftp_assets.formats.errors import ParseError


@dataclass
class ReadResult:
    """A whole file read. `errors` are the problems that rejected part of it (a transaction set,
    a document, a line) while the rest was read; a file that cannot be read at all raises instead.
    `envelopes` describe interchanges / groups / sets (EDI) as plain dicts for `inspect` and acks.
    """

    format: str
    documents: list[FileDocument] = field(default_factory=list)
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "envelopes": self.envelopes,
            "documents": [doc.as_dict() for doc in self.documents],
            "errors": [
                {"location": e.location(), "element": e.element, "message": e.message, "code": e.code}
                for e in self.errors
            ],
        }
