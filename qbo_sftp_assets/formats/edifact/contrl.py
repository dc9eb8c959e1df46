"""CONTRL (syntax and service report): one per received interchange, built from its report
(docs/edi-rules.md §4.1), and read back to learn which of our messages a partner accepted or rejected."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.edifact.envelope import (
    ACKNOWLEDGMENT_TYPES,
    EnvelopeWalker,
    InterchangeReport,
    MessageReport,
    SyntaxIssue,
)
from qbo_sftp_assets.formats.edifact.reader import EdifactSource
from qbo_sftp_assets.formats.edifact.tokenizer import (
    DEFAULT_SERVICE_CHARACTERS,
    SUPPORTED_SYNTAX_IDS,
    SYNTAX_ENCODINGS,
    Segment,
    SegmentReader,
    invalid_characters,
    is_digits,
    trim_empty,
)
from qbo_sftp_assets.formats.errors import EdifactParseError
from qbo_sftp_assets.formats.identities import EdifactIdentity

ACKNOWLEDGED = "7"  # this level acknowledged; lower levels too unless explicitly rejected
REJECTED = "4"  # this level and all lower levels rejected
RECEIVED = "8"  # interchange received (receipt-only agreements)
# Syntax v3 message identifier (docs/edi-rules.md §4.1). For syntax v4 we use CONTRL:4:1:UN, the v4 service
# message version — UNCONFIRMED against ISO 9735-? text; EANCOM partners may want an association code.
CONTRL_V3 = ("CONTRL", "D", "3", "UN")
CONTRL_V4 = ("CONTRL", "4", "1", "UN")
_ENVELOPE_TAGS = frozenset({"UNH", "UNT"})


def contrl_needed(interchange: InterchangeReport) -> bool:
    """False for an interchange of acknowledgments: a CONTRL or APERAK is never acknowledged."""
    return not interchange.is_acknowledgment


# Values echoed from a broken interchange may carry control characters; a CONTRL must not.
_NOT_LATIN1_TEXT = invalid_characters("UNOC", "")


def latin1_text(value: str) -> str:
    """`value` without the characters outside ISO 8859-1's graphic set (controls, most of Unicode)."""
    assert _NOT_LATIN1_TEXT is not None
    return _NOT_LATIN1_TEXT.sub("", value)


class ServiceSegmentWriter:
    """Renders the segments of the service messages we write (CONTRL, APERAK) with the default
    service characters, escaping them in data."""

    def __init__(self) -> None:
        self.chars = DEFAULT_SERVICE_CHARACTERS
        self.segments: list[str] = []

    def render(self, tag: str, *elements: str | Iterable[str]) -> str:
        chars = self.chars
        rendered = [
            chars.escape(latin1_text(v))
            if isinstance(v, str)
            else chars.component.join(chars.escape(latin1_text(c)) for c in trim_empty(v))
            for v in elements
        ]
        while rendered and rendered[-1] == "":
            rendered.pop()
        return chars.element.join([tag, *rendered]) + chars.terminator

    def add(self, tag: str, *elements: str | Iterable[str]) -> None:
        self.segments.append(self.render(tag, *elements))


def _error_elements(issue: SyntaxIssue | None) -> list[str | Iterable[str]]:
    """0085, 0013 and S011 for a UCI/UCM/UCF: the code, the segment tag, and the element position."""
    if issue is None:
        return []
    s011: list[str] = []
    if issue.element is not None:
        s011 = [str(issue.element)] + ([str(issue.component)] if issue.component is not None else [])
    return [issue.code, issue.tag, s011]


def _message_segments(writer: ServiceSegmentWriter, message: MessageReport, action: str) -> None:
    header = next((i for i in message.issues if i.tag in _ENVELOPE_TAGS), None)
    writer.add("UCM", message.reference, message.message_type, action, *_error_elements(header))
    by_position: dict[int, list[SyntaxIssue]] = {}
    for issue in message.issues:
        if issue is header or issue.tag in _ENVELOPE_TAGS or issue.position is None:
            continue
        by_position.setdefault(issue.position, []).append(issue)
    for position, issues in by_position.items():
        segment_code = next((i.code for i in issues if i.element is None), "")
        writer.add("UCS", str(position), segment_code)
        for issue in issues:
            if issue.element is not None:
                s011 = [str(issue.element)] + ([str(issue.component)] if issue.component is not None else [])
                writer.add("UCD", issue.code, s011)


def build_contrl(
    interchange: InterchangeReport,
    *,
    counter: ControlNumbers,
    as_of: dt.datetime,
    receipt_only: bool = False,
    identity: EdifactIdentity | None = None,
) -> bytes:
    """The CONTRL interchange answering `interchange`, deterministic given the counter and `as_of`.

    UCI 7 when the envelope is sound (UCM 7 or 4 per message), UCI 4 with the first envelope error
    when it is not (then UCMs only for messages with their own errors), UCI 8 when `receipt_only`.
    Parties are swapped in our UNB; UCI echoes them as received. When the UNB names no sender or
    recipient, `identity` (the partner's configured ids) addresses the CONTRL instead; without it
    such an interchange raises EdifactParseError (code 13). Raises ValueError for an interchange of
    acknowledgments (check `contrl_needed` first) or a naive `as_of`.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if not contrl_needed(interchange):
        raise ValueError(f"interchange {interchange.reference} holds acknowledgments; a CONTRL is never answered")
    stamp = as_of.astimezone(dt.UTC)
    syntax_id = interchange.syntax_id if interchange.syntax_id in SUPPORTED_SYNTAX_IDS else "UNOC"
    version = interchange.syntax_version if interchange.syntax_version in ("1", "2", "3", "4") else "3"
    ours = tuple(latin1_text(c) for c in interchange.recipient)
    theirs = tuple(latin1_text(c) for c in interchange.sender)
    if identity is not None:
        ours = ours if ours and ours[0] else (identity.our_id, identity.our_qualifier or "")
        theirs = theirs if theirs and theirs[0] else (identity.partner_id, identity.partner_qualifier or "")
    if not (ours and ours[0] and theirs and theirs[0]):
        raise EdifactParseError(
            f"interchange {interchange.reference!r} names no {'recipient' if theirs and theirs[0] else 'sender'}"
            " to address a CONTRL to, and no partner identity was given",
            segment=interchange.segment,
            element="UNB S003" if theirs and theirs[0] else "UNB S002",
            expected="an interchange sender and recipient id",
            code="13",
        )
    reference = str(counter.next("UNB"))
    writer = ServiceSegmentWriter()
    stamp_element = (stamp.strftime("%Y%m%d" if version == "4" else "%y%m%d"), stamp.strftime("%H%M"))
    writer.add("UNB", (syntax_id, version), ours, theirs, stamp_element, reference)
    body_start = len(writer.segments)
    writer.add("UNH", "1", CONTRL_V4 if version == "4" else CONTRL_V3)
    envelope_issue = interchange.issues[0] if interchange.issues else None
    action = RECEIVED if receipt_only else REJECTED if envelope_issue is not None else ACKNOWLEDGED
    writer.add(
        "UCI",
        interchange.reference,
        interchange.sender or ("",),
        interchange.recipient or ("",),
        action,
        *_error_elements(envelope_issue),
    )
    if not receipt_only:
        messages = [m for m in interchange.messages if m.type not in ACKNOWLEDGMENT_TYPES]
        if action == REJECTED:
            messages = [m for m in messages if m.issues]
        if interchange.groups:
            for group in interchange.groups:
                group_issue = group.issues[0] if group.issues else None
                group_action = REJECTED if (group_issue is not None or action == REJECTED) else ACKNOWLEDGED
                writer.add(
                    "UCF", group.reference, group.sender, group.recipient, group_action, *_error_elements(group_issue)
                )
                for message in messages:
                    if message.group == group.reference:
                        _message_segments(writer, message, REJECTED if message.issues or group_issue else ACKNOWLEDGED)
        else:
            for message in messages:
                _message_segments(writer, message, REJECTED if message.issues else ACKNOWLEDGED)
    writer.add("UNT", str(len(writer.segments) - body_start + 1), "1")
    writer.add("UNZ", "1", reference)
    invalid = invalid_characters(syntax_id, writer.chars.separators)
    if invalid is not None and invalid.search("".join(writer.segments)):
        # What we echo is outside the partner's level (their UNB was wrong): say UNOC, which holds it.
        syntax_id = "UNOC"
        writer.segments[0] = writer.render("UNB", (syntax_id, version), ours, theirs, stamp_element, reference)
    # Written in the level's own encoding: what `latin1_text` keeps is Latin-1, which UTF-8 also holds.
    return (writer.chars.una() + "".join(writer.segments)).encode(SYNTAX_ENCODINGS[syntax_id])


def build_contrls(
    interchanges: Iterable[InterchangeReport],
    *,
    counter: ControlNumbers,
    as_of: dt.datetime,
    receipt_only: bool = False,
    identity: EdifactIdentity | None = None,
) -> list[tuple[InterchangeReport, bytes]]:
    """One CONTRL per interchange that needs one (never for acknowledgments), in file order."""
    return [
        (
            interchange,
            build_contrl(interchange, counter=counter, as_of=as_of, receipt_only=receipt_only, identity=identity),
        )
        for interchange in interchanges
        if contrl_needed(interchange)
    ]


# -- reader -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentIssue:
    """A UCS (segment position in the message, optional code) with its UCD element errors."""

    position: int
    code: str | None
    elements: tuple[tuple[str, str], ...] = ()  # (0085 code, S011 "element[:component]")


@dataclass(frozen=True)
class MessageAck:
    """A UCM: one of our messages and what the partner did with it."""

    reference: str
    message_type: tuple[str, ...]
    action: str
    error_code: str | None = None
    error_segment: str | None = None
    group: str | None = None
    segment_errors: tuple[SegmentIssue, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.action == ACKNOWLEDGED


@dataclass(frozen=True)
class ContrlReport:
    """One CONTRL: the interchange of ours it answers (UCI) and the fate of each message named."""

    interchange_reference: str
    sender: tuple[str, ...]
    recipient: tuple[str, ...]
    action: str
    error_code: str | None
    error_segment: str | None
    messages: tuple[MessageAck, ...]
    groups: tuple[MessageAck, ...]
    contrl_reference: str
    contrl_sender: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        return self.action == ACKNOWLEDGED

    @property
    def receipt_only(self) -> bool:
        return self.action == RECEIVED

    def message_accepted(self, reference: str) -> bool | None:
        """True/False for a message the CONTRL covers; None when it only confirms receipt."""
        for ack in self.messages:
            if ack.reference == reference:
                return ack.accepted and not any(g.reference == ack.group and not g.accepted for g in self.groups)
        if self.action == ACKNOWLEDGED:
            return True
        if self.action == REJECTED:
            return False
        return None

    @property
    def rejected_messages(self) -> list[str]:
        return [ack.reference for ack in self.messages if not ack.accepted]


def _tuple(seg: Segment, element: int) -> tuple[str, ...]:
    return tuple(trim_empty(seg.composite(element)))


def _parse_contrl(body: list[Segment], unb: InterchangeReport, file: str) -> ContrlReport:
    uci: Segment | None = None
    messages: list[MessageAck] = []
    groups: list[MessageAck] = []
    pending: MessageAck | None = None  # the UCM being read; its UCS/UCD follow it
    segment_errors: list[SegmentIssue] = []
    group_ref: str | None = None

    def flush() -> None:
        if pending is not None:
            messages.append(replace(pending, segment_errors=tuple(segment_errors)))

    for seg in body[1:]:
        if seg.tag == "UCI":
            uci = seg
        elif seg.tag in ("UCM", "UCF"):
            flush()
            pending, segment_errors = None, []
            # UCF: 0048, S006, S007, 0083...; UCM: 0062, S009, 0083...
            at = 3 if seg.tag == "UCF" else 2
            action = seg.get(at)
            if action not in (ACKNOWLEDGED, REJECTED, RECEIVED):
                raise EdifactParseError(
                    f"{seg.tag} action {action!r} is not 4, 7 or 8",
                    file=file,
                    segment=seg.number,
                    element=f"{seg.tag} 0083",
                    expected="4, 7 or 8",
                    code="12",
                )
            if seg.tag == "UCF":
                group_ref = seg.get(0)
                groups.append(
                    MessageAck(group_ref, (), action, seg.get(at + 1) or None, seg.get(at + 2) or None, group=group_ref)
                )
            else:
                pending = MessageAck(
                    reference=seg.get(0),
                    message_type=_tuple(seg, 1),
                    action=action,
                    error_code=seg.get(at + 1) or None,
                    error_segment=seg.get(at + 2) or None,
                    group=group_ref,
                )
        elif seg.tag == "UCS" and pending is not None:
            position = seg.get(0)
            if not is_digits(position):
                raise EdifactParseError(
                    f"UCS segment position {position!r} is not a number",
                    file=file,
                    segment=seg.number,
                    element="UCS 0096",
                    expected="digits",
                    code="12",
                )
            segment_errors.append(SegmentIssue(int(position), seg.get(1) or None))
        elif seg.tag == "UCD" and segment_errors:
            last = segment_errors[-1]
            s011 = ":".join(c for c in seg.composite(1) if c)
            segment_errors[-1] = SegmentIssue(last.position, last.code, (*last.elements, (seg.get(0), s011)))
    flush()
    if uci is None or uci.get(3) not in (ACKNOWLEDGED, REJECTED, RECEIVED):
        raise EdifactParseError(
            "CONTRL has no UCI with an action",
            file=file,
            segment=body[0].number if uci is None else uci.number,
            element="UCI 0083",
            expected="UCI+reference+sender+recipient+4|7|8",
            code="13",
        )
    return ContrlReport(
        interchange_reference=uci.get(0),
        sender=_tuple(uci, 1),
        recipient=_tuple(uci, 2),
        action=uci.get(3),
        error_code=uci.get(4) or None,
        error_segment=uci.get(5) or None,
        messages=tuple(messages),
        groups=tuple(groups),
        contrl_reference=unb.reference,
        contrl_sender=unb.sender,
    )


def read_contrl(source: EdifactSource, *, file: str = "") -> list[ContrlReport]:
    """Every CONTRL in a file. Raises EdifactParseError when the file or a CONTRL's envelope is broken."""
    stream: BinaryIO
    if isinstance(source, bytes):
        stream = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        stream = io.BytesIO(Path(source).read_bytes())
        file = file or str(source)
    else:
        stream = source
    walker = EnvelopeWalker(SegmentReader(stream, file=file), file=file)
    reports = [
        _parse_contrl(body, interchange, file) for interchange, message, body in walker if message.type == "CONTRL"
    ]
    for interchange in walker.interchanges:
        broken = interchange.issues or [i for m in interchange.messages for i in m.issues]
        if broken:
            raise broken[0].to_error(file, f"interchange {interchange.reference}")
    if not reports:
        raise EdifactParseError("no CONTRL message in the file", file=file, expected="UNH+ref+CONTRL:...", code="13")
    return reports
