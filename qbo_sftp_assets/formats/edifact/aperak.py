"""EDIFACT APERAK (D.96A) for invoices the CONTRL accepted but QuickBooks did not take.

One APERAK message per document not posted, all in one interchange to the partner:

    UNH+n+APERAK:D:96A:UN'  BGM+12E::9+<reference>-<n>+27'  DTM+137:<CCYYMMDDHHMM>:203'
    RFF+ACW:<original UNH reference>'  RFF+IV:<invoice number>'
    ERC+<code>::92'  FTX+AAO+++<reason>'  UNT'

BGM 12E (EANCOM "application error and acknowledgement", agency 9) with function 27 (not
accepted) is the default; a partner's guide may want another document code: pass
`document_code`. ERC 9321 (an..8) is the outcome's code when it fits (a QuickBooks fault code or a
short check name), else `REJECTED` / `SKIPPED`; `error_codes` maps codes first. FTX AAO holds the
reason in up to five 512-character pieces, cut beyond. Text is made to fit the partner's syntax
level (UNOA: upper case, unsupported characters become spaces). The envelope and escaping are the
CONTRL writer's. We never send an APERAK for a CONTRL or an APERAK.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.edifact.contrl import ServiceSegmentWriter, latin1_text
from qbo_sftp_assets.formats.edifact.envelope import EnvelopeWalker
from qbo_sftp_assets.formats.edifact.reader import EdifactSource
from qbo_sftp_assets.formats.edifact.tokenizer import (
    SUPPORTED_SYNTAX_IDS,
    SYNTAX_ENCODINGS,
    SegmentReader,
    invalid_characters,
)
from qbo_sftp_assets.formats.errors import EdifactParseError
from qbo_sftp_assets.formats.identities import EdifactIdentity
from qbo_sftp_assets.formats.outcomes import DocumentOutcome, OutcomeStatus

APERAK_D96A = ("APERAK", "D", "96A", "UN")
DEFAULT_DOCUMENT_CODE = ("12E", "", "9")
NOT_ACCEPTED = "27"
ERROR_CODE_LENGTH = 8  # ERC 9321 an..8
FTX_PIECE = 512  # FTX C108 4440 an..512, five times
FTX_PIECES = 5
ASSIGNED_BY_BUYER = "92"


@dataclass(frozen=True)
class AperakReport:
    """One APERAK as read back: the message and document it answers, the error codes and texts."""

    reference: str  # BGM 1004
    message_reference: str  # RFF ACW: the UNH reference of the message answered
    document_number: str  # RFF IV
    errors: tuple[tuple[str, str], ...]  # (ERC 9321, FTX text)
    interchange_reference: str


def build_aperak(
    outcomes: Iterable[DocumentOutcome],
    *,
    identity: EdifactIdentity,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
    reference: str,
    document_code: tuple[str, str, str] = DEFAULT_DOCUMENT_CODE,
    error_codes: Mapping[str, str] | None = None,
) -> bytes:
    """The APERAK interchange for the documents of one file that were not posted (rejected or
    skipped); empty bytes when every document was posted.

    `identity` is the partner's `EdifactIdentity` (our and their ids, qualifiers and syntax
    level). `reference` starts each BGM document number (`reference-1`, ... cut to 35),
    e.g. the file's name or a replay's revision. The UNB reference comes from `control_numbers`
    ("UNB"), as CONTRL's does. Deterministic given its arguments.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    reported = sorted((o for o in outcomes if not o.accepted), key=lambda o: o.record_index)
    if not reported:
        return b""
    syntax_id = identity.syntax if identity.syntax in SUPPORTED_SYNTAX_IDS else "UNOC"
    writer = ServiceSegmentWriter()
    fit = _fitter(syntax_id, writer.chars.separators)
    ours = (fit(identity.our_id), fit(identity.our_qualifier or ""))
    theirs = (fit(identity.partner_id), fit(identity.partner_qualifier or ""))
    stamp = as_of.astimezone(dt.UTC)
    interchange = str(control_numbers.next("UNB"))
    codes = error_codes or {}
    writer.add("UNB", (syntax_id, "3"), ours, theirs, (stamp.strftime("%y%m%d"), stamp.strftime("%H%M")), interchange)
    for number, outcome in enumerate(reported, start=1):
        start = len(writer.segments)
        message = str(number)
        writer.add("UNH", message, APERAK_D96A)
        writer.add("BGM", document_code, fit(f"{reference}-{number}")[-35:], NOT_ACCEPTED)
        writer.add("DTM", ("137", stamp.strftime("%Y%m%d%H%M"), "203"))
        if outcome.transaction_set:
            writer.add("RFF", ("ACW", fit(outcome.transaction_set)[:35]))
        if outcome.document_number:
            writer.add("RFF", ("IV", fit(outcome.document_number)[:35]))
        writer.add("ERC", (_error_code(outcome, codes), "", ASSIGNED_BY_BUYER))
        writer.add("FTX", "AAO", "", "", _pieces(fit(outcome.reason or outcome.status.value)))
        writer.add("UNT", str(len(writer.segments) - start + 1), message)
    writer.add("UNZ", str(len(reported)), interchange)
    return (writer.chars.una() + "".join(writer.segments)).encode(SYNTAX_ENCODINGS[syntax_id])


def _fitter(syntax_id: str, separators: str) -> Callable[[str], str]:
    invalid = invalid_characters(syntax_id, separators)

    def fit(text: str) -> str:
        text = " ".join(latin1_text(text).split())
        if syntax_id == "UNOA":
            text = text.upper()
        return invalid.sub(" ", text) if invalid is not None else text

    return fit


def _error_code(outcome: DocumentOutcome, codes: Mapping[str, str]) -> str:
    if outcome.code and outcome.code in codes:
        return codes[outcome.code][:ERROR_CODE_LENGTH]
    if outcome.code and len(outcome.code) <= ERROR_CODE_LENGTH and outcome.code.replace("_", "").isalnum():
        return outcome.code
    return "SKIPPED" if outcome.status == OutcomeStatus.SKIPPED else "REJECTED"


def _pieces(text: str) -> list[str]:
    pieces = [text[at : at + FTX_PIECE] for at in range(0, len(text), FTX_PIECE)][:FTX_PIECES]
    return pieces or [""]


def read_aperak(source: EdifactSource, *, file: str = "") -> list[AperakReport]:
    """Every APERAK in a file (ours, or a partner's about our invoices). Raises EdifactParseError
    when an envelope is broken or there is no APERAK."""
    stream: BinaryIO
    if isinstance(source, bytes):
        stream = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        stream = io.BytesIO(Path(source).read_bytes())
        file = file or str(source)
    else:
        stream = source
    walker = EnvelopeWalker(SegmentReader(stream, file=file), file=file)
    reports = []
    for interchange, message, body in walker:
        if message.type != "APERAK":
            continue
        reference = message_reference = document_number = ""
        errors: list[tuple[str, str]] = []
        for segment in body:
            if segment.tag == "BGM":
                reference = segment.get(1)
            elif segment.tag == "RFF" and segment.composite(0)[:1] == ["ACW"]:
                message_reference = segment.composite(0)[1]
            elif segment.tag == "RFF" and segment.composite(0)[:1] == ["IV"]:
                document_number = segment.composite(0)[1]
            elif segment.tag == "ERC":
                errors.append((segment.composite(0)[0], ""))
            elif segment.tag == "FTX" and errors:
                errors[-1] = (errors[-1][0], "".join(segment.composite(3)))
        reports.append(
            AperakReport(reference, message_reference, document_number, tuple(errors), interchange.reference)
        )
    for interchange in walker.interchanges:
        broken = interchange.issues or [i for m in interchange.messages for i in m.issues]
        if broken:
            raise broken[0].to_error(file, f"interchange {interchange.reference}")
    if not reports:
        raise EdifactParseError("no APERAK message in the file", file=file, expected="UNH+ref+APERAK:...", code="13")
    return reports
