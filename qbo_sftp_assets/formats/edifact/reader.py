"""Reading an EDIFACT file: tokenizer, envelope checks and INVOIC messages into documents, streamed."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from qbo_sftp_assets.formats.documents import Bill
from qbo_sftp_assets.formats.edifact.envelope import (
    ACKNOWLEDGMENT_TYPES,
    VALUE_NOT_SUPPORTED,
    EnvelopeWalker,
    InterchangeReport,
    MessageReport,
    SyntaxIssue,
)
from qbo_sftp_assets.formats.edifact.invoic import InvoicMessageReader
from qbo_sftp_assets.formats.edifact.tokenizer import CHUNK_SIZE, SegmentReader
from qbo_sftp_assets.formats.errors import EdifactParseError, VendorMissingError
from qbo_sftp_assets.formats.results import ReadResult

EdifactSource = bytes | str | os.PathLike[str] | BinaryIO


@dataclass
class EdifactReadResult(ReadResult):
    """A ReadResult plus the per-interchange reports a CONTRL is built from."""

    interchanges: list[InterchangeReport] = field(default_factory=list)


def issue_errors(interchanges: list[InterchangeReport], stray: list[SyntaxIssue], file: str) -> list[EdifactParseError]:
    """Every issue as an EdifactParseError naming file, segment, element, expectation and 0085 code."""
    errors = [issue.to_error(file) for issue in stray]
    for interchange in interchanges:
        where = f"interchange {interchange.reference or '?'}"
        errors.extend(issue.to_error(file, where) for issue in interchange.issues)
        for group in interchange.groups:
            errors.extend(issue.to_error(file, f"{where} group {group.reference}") for issue in group.issues)
        for message in interchange.messages:
            context = f"{where} message {message.reference or '?'}"
            errors.extend(issue.to_error(file, context) for issue in message.issues)
    return errors


class EdifactReader:
    """Iterates the documents of an EDIFACT file with bounded memory (one message at a time).

    A document is yielded as soon as its message is read and sound; the interchange's trailer is
    checked later, so a streaming caller must check `interchange.accepts_group(document.source.group)`
    once the file is read (or use `read_edifact`, which drops documents of rejected interchanges
    and groups). After iteration, `interchanges`
    and `errors` describe the whole file. With `keep_messages=False` only rejected messages' reports
    are kept (for files with millions of messages).
    """

    def __init__(
        self,
        source: EdifactSource,
        *,
        file: str = "",
        keep_messages: bool = True,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.file = file or (str(source) if isinstance(source, str | os.PathLike) else "")
        self._source = source
        self._chunk_size = chunk_size
        self._walker: EnvelopeWalker | None = None
        self._withheld: list[VendorMissingError] = []
        self.keep_messages = keep_messages

    @property
    def interchanges(self) -> list[InterchangeReport]:
        return [] if self._walker is None else self._walker.interchanges

    @property
    def errors(self) -> list[EdifactParseError | VendorMissingError]:
        if self._walker is None:
            return []
        return [*issue_errors(self._walker.interchanges, self._walker.stray, self.file), *self._withheld]

    def __iter__(self) -> Iterator[tuple[InterchangeReport, Bill]]:
        source = self._source
        if isinstance(source, bytes):
            yield from self._read(io.BytesIO(source))
        elif isinstance(source, str | os.PathLike):
            with Path(source).open("rb") as stream:
                yield from self._read(stream)
        else:
            yield from self._read(source)

    def documents(self) -> Iterator[Bill]:
        """Only the documents, streamed."""
        for _, document in self:
            yield document

    def _read(self, stream: BinaryIO) -> Iterator[tuple[InterchangeReport, Bill]]:
        segments = SegmentReader(stream, file=self.file, chunk_size=self._chunk_size)
        walker = EnvelopeWalker(segments, file=self.file, keep_messages=self.keep_messages)
        self._walker = walker
        for interchange, message, body in walker:
            if message.type == "INVOIC":
                reader = InvoicMessageReader(
                    body, file=self.file, interchange=interchange.reference, group=message.group
                )
                document = reader.read()
                if document is None:
                    self._reject(interchange, message, reader.issues)
                    continue
                message.document_number = document.number
                if not (document.vendor.id or document.vendor.name):
                    self._withhold(message, document)
                    continue
                buyer = reader.parties.get("BY")
                if buyer is not None:
                    message.buyer = buyer.as_dict()
                yield interchange, document
            elif message.type not in ACKNOWLEDGMENT_TYPES:
                self._reject(
                    interchange,
                    message,
                    [
                        SyntaxIssue(
                            VALUE_NOT_SUPPORTED,
                            f"message type {message.type!r} is not read here",
                            "UNH",
                            segment=message.segment,
                            position=1,
                            element=2,
                            component=1,
                            name="UNH S009 0065",
                            expected="INVOIC",
                        )
                    ],
                )

    def _withhold(self, message: MessageReport, document: Bill) -> None:
        """A sound INVOIC naming no seller: its CONTRL accepts it, the bill is not yielded, and the
        error is on the message and in `errors`, as X12's 810 reader does."""
        error = VendorMissingError(
            f"invoice {document.number!r} names no seller party; the bill is withheld",
            document=document,
            format_name="edifact",
            file=self.file,
            segment=message.segment,
            element="NAD",
            expected="NAD+SU, NAD+SE or NAD+II with the vendor's name or id",
        )
        message.withheld = error.message
        self._withheld.append(error)

    def _reject(self, interchange: InterchangeReport, message: MessageReport, issues: list[SyntaxIssue]) -> None:
        for issue in issues:
            message.add(issue)
        interchange.rejected_count += 1
        if not self.keep_messages:
            interchange.messages.append(message)


def read_edifact(source: EdifactSource, *, file: str = "") -> EdifactReadResult:
    """Read a whole file: documents of accepted interchanges, envelopes, errors and CONTRL reports.

    Raises EdifactParseError only when the file cannot be read as EDIFACT at all (not starting
    with UNA/UNB, an unusable UNA, a runaway segment without terminator).
    """
    reader = EdifactReader(source, file=file)
    pairs = list(reader)
    documents = [document for interchange, document in pairs if interchange.accepts_group(document.source.group)]
    return EdifactReadResult(
        format="edifact",
        documents=list(documents),
        envelopes=[interchange.as_dict() for interchange in reader.interchanges],
        errors=list(reader.errors),
        interchanges=reader.interchanges,
    )


def iter_edifact_documents(
    source: EdifactSource, *, file: str = "", keep_messages: bool = False, chunk_size: int = CHUNK_SIZE
) -> EdifactReader:
    """A streaming reader; iterate `.documents()` (or the reader for (interchange, document) pairs)."""
    return EdifactReader(source, file=file, keep_messages=keep_messages, chunk_size=chunk_size)
