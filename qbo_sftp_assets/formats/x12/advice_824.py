"""X12 824 Application Advice (004010): what became of invoices the 997 accepted but QuickBooks did not take.

One interchange, one AG group, one 824 whose OTI loops each name an original 810 (OTI01 TR rejected
or TE accepted with error, OTI02 `IV` + OTI03 its BIG02 invoice number, OTI08 its GS06, OTI09 its
ST02, OTI10 `810`) with a TED (TED01 an X12 647 code, TED02 the reason). Envelopes come from
`outbound.write_interchange`, as the 997's do. We never send an 824 for a 997 or an 824.

Long reasons: TED02 holds at most 60 characters. The reason is cut at the last space within those
60 (or at 60 when there is none); the rest follows in NTE segments of up to 80 characters
(NTE02), at most `MAX_NOTES`, the last ending in `...` when the text was longer still.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.identities import X12Identity
from qbo_sftp_assets.formats.outcomes import DocumentOutcome, OutcomeStatus
from qbo_sftp_assets.formats.x12.tokenizer import Delimiters
from qbo_sftp_assets.formats.x12.writer import (
    DEFAULT_DELIMITERS,
    GroupSpec,
    Parties,
    SegmentWriter,
    as_parties,
    group_version,
    write_interchange,
)

TED_TEXT = 60  # TED02 is AN 1..60
NOTE_TEXT = 80  # NTE02 is AN 1..80
MAX_NOTES = 5
BGN_REFERENCE = 30  # BGN02 is AN 1..30
OTI_REFERENCE = 30  # OTI03 is AN 1..30 in 004010

# OTI01: TA accepted, TE accepted with error, TR rejected (application_acks.md).
OTI_CODES: Mapping[OutcomeStatus, str] = {
    OutcomeStatus.POSTED: "TA",
    OutcomeStatus.UPDATED: "TA",
    OutcomeStatus.DUPLICATE: "TA",
    OutcomeStatus.REJECTED: "TR",
    OutcomeStatus.SKIPPED: "TE",  # the invoice is in QuickBooks, but not as this file has it
}
# TED01 from X12 element 647. Outcome codes (QuickBooks fault codes, validation checks) not named
# here are "024 Other Unlisted Reason"; a partner's guide may ask for others: pass `error_codes`.
DEFAULT_ERROR_CODES: Mapping[str, str] = {
    "6140": "006",  # QuickBooks: duplicate document number
    "duplicate": "006",
    "balanced": "010",  # total out of balance
    "lines_sum_to_total": "010",
    "date": "009",
    "not_before_book_close": "009",
}
SKIPPED_ERROR_CODE = "006"  # already in QuickBooks with other content: a duplicate to the partner
OTHER_ERROR_CODE = "024"


@dataclass(frozen=True)
class AdviceEntry:
    """One OTI loop of an 824, as read back: the original set and what was said about it."""

    code: str  # OTI01
    reference_qualifier: str
    reference: str
    group: str
    transaction_set: str
    set_id: str
    errors: tuple[tuple[str, str], ...]  # (TED01, TED02 + NTE text)


def advice_needed(outcomes: Iterable[DocumentOutcome], *, include_accepted: bool = False) -> list[DocumentOutcome]:
    """The outcomes an 824 reports: those not posted (rejected, skipped), or all with `include_accepted`."""
    return [o for o in outcomes if include_accepted or not o.accepted]


def split_message(text: str) -> tuple[str, list[str]]:
    """TED02 and the NTE02 texts for `text` (see the module docstring for the rule)."""
    text = " ".join(text.split())
    head, rest = _cut(text, TED_TEXT)
    notes: list[str] = []
    while rest and len(notes) < MAX_NOTES:
        note, rest = _cut(rest, NOTE_TEXT)
        notes.append(note)
    if rest and notes:
        notes[-1] = notes[-1][: NOTE_TEXT - 3].rstrip() + "..."
    return head, notes


def _cut(text: str, longest: int) -> tuple[str, str]:
    if len(text) <= longest:
        return text, ""
    space = text.rfind(" ", 0, longest + 1)
    at = space if space > 0 else longest
    return text[:at].rstrip(), text[at:].lstrip()


def build_824(
    outcomes: Iterable[DocumentOutcome],
    *,
    parties: Parties | X12Identity,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
    reference: str,
    revision: int = 1,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = False,
    include_accepted: bool = False,
    error_codes: Mapping[str, str] | None = None,
) -> bytes:
    """The 824 interchange reporting the documents of one file that were not posted; empty bytes
    when there is nothing to report.

    `parties` is a `Parties` or the partner's `config.X12Identity` (from us to the partner).
    `reference` (BGN02, cut to 30) names what is reported, e.g. the file's name; `revision` 1 sends
    BGN01 `00` (original), a replay's later revision `05` (replace). `error_codes` maps an
    outcome's `code` to TED01 before the defaults. Outcomes without the original ST02 / GS06 still
    get an OTI (those elements left empty). Deterministic given its arguments.
    """
    if revision < 1:
        raise ValueError(f"revision must be 1 or more, got {revision}")
    reported = sorted(advice_needed(outcomes, include_accepted=include_accepted), key=lambda o: o.record_index)
    if not reported:
        return b""
    parties = as_parties(parties)
    codes = {**DEFAULT_ERROR_CODES, **(error_codes or {})}
    writer = SegmentWriter(delimiters)
    body = [
        writer.render(
            "BGN",
            "00" if revision == 1 else "05",
            writer.clean(reference, BGN_REFERENCE) or "NONE",
            as_of.strftime("%Y%m%d"),
            as_of.strftime("%H%M"),
        )
    ]
    for outcome in reported:
        number = outcome.document_number or outcome.transaction_set or str(outcome.record_index + 1)
        body.append(
            writer.render(
                "OTI",
                OTI_CODES[outcome.status],
                "IV",
                writer.clean(number, OTI_REFERENCE),
                "",
                "",
                "",
                "",
                writer.clean(outcome.group or "", 9),
                writer.clean(outcome.transaction_set or "", 9),
                "810",
            )
        )
        if outcome.accepted:
            continue
        code = _error_code(outcome, codes)
        head, notes = split_message(writer.clean(outcome.reason or outcome.status.value))
        body.append(writer.render("TED", code, head))
        body.extend(writer.render("NTE", "", note) for note in notes)
    return write_interchange(
        parties,
        [GroupSpec("AG", group_version(parties.version), [["824", *body]])],
        control_numbers=control_numbers,
        as_of=as_of,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )


def _error_code(outcome: DocumentOutcome, codes: Mapping[str, str]) -> str:
    if outcome.code and outcome.code in codes:
        return codes[outcome.code]
    if outcome.status == OutcomeStatus.SKIPPED:
        return SKIPPED_ERROR_CODE
    return OTHER_ERROR_CODE


def read_824(segments: Iterable[list[str]]) -> list[AdviceEntry]:
    """The OTI loops of 824 sets in a stream of segments (e.g. from `tokenizer.iter_segments`):
    every OTI with its TED codes and texts (NTE text appended to the TED before it)."""
    entries: list[AdviceEntry] = []
    current: dict[str, Any] | None = None
    errors: list[tuple[str, str]] = []

    def flush() -> None:
        if current is not None:
            entries.append(AdviceEntry(errors=tuple(errors), **current))

    for elements in segments:
        tag = elements[0]
        if tag == "OTI":
            flush()
            values = [*elements[1:], *[""] * 10]
            current = {
                "code": values[0],
                "reference_qualifier": values[1],
                "reference": values[2],
                "group": values[7],
                "transaction_set": values[8],
                "set_id": values[9],
            }
            errors = []
        elif tag == "TED" and current is not None:
            errors.append((elements[1] if len(elements) > 1 else "", elements[2] if len(elements) > 2 else ""))
        elif tag == "NTE" and errors:
            code, text = errors[-1]
            errors[-1] = (code, f"{text} {elements[2] if len(elements) > 2 else ''}".strip())
        elif tag in ("SE", "ST"):
            flush()
            current, errors = None, []
    flush()
    return entries
