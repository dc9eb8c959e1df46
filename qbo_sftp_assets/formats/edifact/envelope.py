"""EDIFACT envelope validation: UNB/UNZ, UNG/UNE and UNH/UNT counts and references, with positions
and the CONTRL 0085 code of every problem (docs/edi-rules.md §4, §4.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from qbo_sftp_assets.formats.edifact.tokenizer import (
    SUPPORTED_SYNTAX_IDS,
    Segment,
    SegmentReader,
    is_digits,
    trim_empty,
)
from qbo_sftp_assets.formats.errors import EdifactParseError

# CONTRL 0085 codes used here (ISO 9735 service code list).
SYNTAX_NOT_SUPPORTED = "2"
INVALID_VALUE = "12"
MISSING = "13"
VALUE_NOT_SUPPORTED = "14"
NOT_SUPPORTED_IN_POSITION = "15"  # a segment where the message's structure has no place for it
INVALID_CHARACTER = "21"
TOO_MANY_REPETITIONS = "35"
REFERENCES_DO_NOT_MATCH = "28"
COUNT_DOES_NOT_MATCH = "29"
GROUPS_AND_MESSAGES_MIXED = "30"
OUTSIDE_MESSAGE = "33"

SUPPORTED_LEVELS = "UNOA to UNOK, UNOW or UNOY"

# A message's issues are capped: CONTRL allows 999 UCS per message, and a runaway file must not
# turn into an unbounded error list.
MAX_ISSUES_PER_MESSAGE = 99
ACKNOWLEDGMENT_TYPES = frozenset({"CONTRL", "APERAK"})
# What `inspect` shows for an interchange read only after skipping blanks between its segments.
NORMALISED_NOTICE = "blanks or line breaks between segments were skipped (pretty-printed file)"
_ENDS_A_MESSAGE = frozenset({"UNH", "UNZ", "UNB", "UNA", "UNG", "UNE"})  # besides UNT, which closes it


@dataclass(frozen=True)
class SyntaxIssue:
    """One problem, placed as CONTRL reports it.

    `segment` is the file position; `position` the position in the message (UNH = 1), for UCS
    0096; `element`/`component` the 1-based S011 position; `name` the element for people
    (e.g. "UNT 0074").
    """

    code: str
    message: str
    tag: str
    segment: int | None = None
    position: int | None = None
    element: int | None = None
    component: int | None = None
    name: str | None = None
    expected: str | None = None

    def to_error(self, file: str, context: str = "") -> EdifactParseError:
        text = f"{context}: {self.message}" if context else self.message
        return EdifactParseError(
            text,
            file=file,
            segment=self.segment,
            element=self.name or self.tag,
            expected=self.expected,
            code=self.code,
        )


@dataclass
class MessageReport:
    """A UNH..UNT message as received: identity, size, and what was wrong with it."""

    reference: str
    message_type: tuple[str, ...]
    segment: int
    group: str | None = None
    segment_count: int = 0
    issues: list[SyntaxIssue] = field(default_factory=list)
    document_number: str | None = None
    buyer: dict[str, Any] | None = None
    # Why a syntactically accepted message gives no document (an INVOIC naming no seller), or None.
    withheld: str | None = None

    @property
    def type(self) -> str:
        return self.message_type[0] if self.message_type else ""

    @property
    def accepted(self) -> bool:
        return not self.issues

    def add(self, issue: SyntaxIssue) -> None:
        if len(self.issues) < MAX_ISSUES_PER_MESSAGE:
            self.issues.append(issue)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "reference": self.reference,
            "type": ":".join(self.message_type),
            "segment": self.segment,
            "segment_count": self.segment_count,
            "group": self.group,
            "document_number": self.document_number,
            "buyer": self.buyer,
            "accepted": self.accepted,
            "errors": [issue.code for issue in self.issues],
        }
        if self.withheld is not None:
            data["withheld"] = self.withheld
        return data


@dataclass
class GroupReport:
    """A UNG..UNE functional group."""

    reference: str
    function: str
    sender: tuple[str, ...]
    recipient: tuple[str, ...]
    segment: int
    message_count: int = 0
    issues: list[SyntaxIssue] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.issues


@dataclass
class InterchangeReport:
    """A UNB..UNZ interchange: the envelope values a CONTRL echoes, and its messages' fates."""

    syntax_id: str
    syntax_version: str
    sender: tuple[str, ...]
    recipient: tuple[str, ...]
    date: str
    time: str
    reference: str
    segment: int
    ack_requested: bool = False
    test: bool = False
    una: str | None = None
    messages: list[MessageReport] = field(default_factory=list)
    groups: list[GroupReport] = field(default_factory=list)
    issues: list[SyntaxIssue] = field(default_factory=list)
    message_count: int = 0
    rejected_count: int = 0
    acknowledgment_count: int = 0  # CONTRL / APERAK messages
    normalised: bool = False  # blanks between segments were skipped to read it

    @property
    def accepted(self) -> bool:
        """The interchange envelope is sound (a rejected group rejects only its own messages)."""
        return not self.issues

    def accepts_group(self, group: str | None) -> bool:
        """Whether messages of `group` (UNG 0048; None outside groups) stand: envelope and group sound."""
        if self.issues:
            return False
        return group is None or all(g.accepted for g in self.groups if g.reference == group)

    @property
    def is_acknowledgment(self) -> bool:
        """True when every message is itself an acknowledgment (never acknowledged in turn)."""
        return self.message_count > 0 and self.acknowledgment_count == self.message_count

    def as_dict(self) -> dict[str, Any]:
        envelope = {
            "type": "interchange",
            "syntax": f"{self.syntax_id}:{self.syntax_version}",
            "sender": ":".join(self.sender),
            "recipient": ":".join(self.recipient),
            "date": self.date,
            "time": self.time,
            "reference": self.reference,
            "segment": self.segment,
            "ack_requested": self.ack_requested,
            "test": self.test,
            "accepted": self.accepted,
            "errors": [issue.code for issue in self.issues],
            "groups": [
                {"reference": g.reference, "function": g.function, "messages": g.message_count} for g in self.groups
            ],
            "message_count": self.message_count,
            "rejected_count": self.rejected_count,
            "messages": [m.as_dict() for m in self.messages],
        }
        if self.normalised:
            envelope["normalised"] = NORMALISED_NOTICE
        return envelope


def _excerpt(text: str, longest: int = 40) -> str:
    """The start of `text` as an error quotes it: whatever a non-EDIFACT file holds, a few words."""
    return text if len(text) <= longest else text[: longest - 3] + "..."


def _components(seg: Segment, element: int) -> tuple[str, ...]:
    """A composite with its trailing empty components dropped."""
    return tuple(trim_empty(seg.composite(element)))


def _invalid_character_issue(seg: Segment, position: int | None) -> SyntaxIssue:
    assert seg.invalid is not None
    element, component, char = seg.invalid
    return SyntaxIssue(
        INVALID_CHARACTER,
        f"character {char!r} is not allowed by the interchange's syntax level",
        seg.tag,
        segment=seg.number,
        position=position,
        element=element or None,
        component=component or None,
        name=f"{seg.tag} element {element}" if element else seg.tag,
        expected="characters of the syntax level named in UNB S001",
    )


class EnvelopeWalker:
    """Checks the envelopes of a segment stream and yields each message whose envelope is sound.

    `interchanges` grows as UNBs arrive (so a caller sees the current one while iterating); an
    interchange's UNZ checks are known only once its UNZ (or the end) has been read. `keep_messages`
    False keeps only rejected messages' reports, for bounded memory on very large files.

    As in X12's envelope parser, `__iter__` collects a message's body inline (nearly every segment
    of a file) and hands each envelope segment to the handler for its tag (`_ENVELOPE_HANDLERS`);
    the handlers keep the open interchange, group and message below.
    """

    def __init__(self, segments: Iterable[Segment], *, file: str = "", keep_messages: bool = True) -> None:
        self.file = file
        self.keep_messages = keep_messages
        self.interchanges: list[InterchangeReport] = []
        self.stray: list[SyntaxIssue] = []
        self._segments = segments
        self._flagged = segments.flagged if isinstance(segments, SegmentReader) else None
        self._normalised = segments.normalised if isinstance(segments, SegmentReader) else None
        # The envelopes open at the current segment, and what the walk has reported so far.
        self._interchange: InterchangeReport | None = None
        self._group: GroupReport | None = None
        self._message: MessageReport | None = None
        self._body: list[Segment] = []
        self._pending_una: str | None = None  # a UNA's service characters, for the UNB after it
        self._seen_any = False  # a UNA or UNB was read
        self._stray_reported = False  # segments outside any interchange (once per gap)
        self._outside_reported = False  # segments outside a message (once per interchange)

    def __iter__(self) -> Iterator[tuple[InterchangeReport, MessageReport, list[Segment]]]:
        segments = self._segments
        # Chunks of segments from the tokenizer, flattened in C: cheaper than a generator per segment.
        flat = chain.from_iterable(segments.batches()) if isinstance(segments, SegmentReader) else segments
        handlers = _ENVELOPE_HANDLERS
        ends_a_message = _ENDS_A_MESSAGE
        message, body = self._message, self._body  # kept in locals for the segments of a message
        for seg in flat:
            tag = seg.tag
            if message is not None:
                if tag == "UNT":
                    interchange = self._interchange
                    assert interchange is not None
                    self._close_message(interchange, message, body, seg)
                    if message.accepted:
                        yield interchange, message, body
                    message, body = self._message, self._body = None, []
                    continue
                if tag not in ends_a_message:
                    body.append(seg)
                    continue
                self._unterminated(message, body, seg)
                message, body = self._message, self._body = None, []
            handler = handlers.get(tag)
            if handler is not None and (tag == "UNA" or tag == "UNB" or self._interchange is not None):
                handler(self, seg)
                message, body = self._message, self._body
            elif self._interchange is None:
                self._outside_interchange(seg)
            else:
                self._outside_message(seg)
        self._end_of_file()

    # -- segments ----------------------------------------------------------------------------------

    def _una(self, seg: Segment) -> None:
        if self._interchange is not None:
            self._missing_unz(self._interchange, self._group, seg)
            self._interchange, self._group = None, None
        self._pending_una = seg.get(0)
        self._seen_any = True

    def _unb(self, seg: Segment) -> None:
        if self._interchange is not None:
            self._missing_unz(self._interchange, self._group, seg)
            self._group = None
        self._interchange = self._open_interchange(seg, self._pending_una)
        self._pending_una = None
        self._seen_any = True
        self._stray_reported = self._outside_reported = False

    def _unh(self, seg: Segment) -> None:
        assert self._interchange is not None
        self._message = self._open_message(self._interchange, self._group, seg)
        self._body = [seg]

    def _unz(self, seg: Segment) -> None:
        interchange = self._interchange
        assert interchange is not None
        if self._group is not None:
            self._missing_une(interchange, self._group, seg)
            self._group = None
        self._close_interchange(interchange, seg)
        self._interchange = None

    def _ung(self, seg: Segment) -> None:
        interchange = self._interchange
        assert interchange is not None
        if self._group is not None:
            self._missing_une(interchange, self._group, seg)
        self._group = self._open_group(interchange, seg)

    def _une(self, seg: Segment) -> None:
        assert self._interchange is not None
        if self._group is None:
            self._interchange_issue(
                self._interchange, SyntaxIssue(OUTSIDE_MESSAGE, "UNE without UNG", "UNE", segment=seg.number)
            )
        else:
            self._close_group(self._group, seg)
            self._group = None

    def _unterminated(self, message: MessageReport, body: list[Segment], seg: Segment) -> None:
        """A message cut short by the next envelope segment: filed with a missing-UNT issue."""
        interchange = self._interchange
        assert interchange is not None
        message.add(
            SyntaxIssue(
                MISSING,
                f"message {message.reference} has no UNT before {seg.tag}",
                "UNT",
                segment=seg.number,
                name="UNT",
                expected=f"UNT+{len(body) + 2}+{message.reference}",
            )
        )
        message.segment_count = len(body) + 1
        self._file_message(interchange, message)

    def _outside_interchange(self, seg: Segment) -> None:
        if not self._seen_any:
            raise EdifactParseError(
                f"not an EDIFACT interchange: starts with {_excerpt(seg.tag)!r}",
                file=self.file,
                segment=seg.number,
                expected="UNA or UNB",
                code=MISSING,
            )
        if not self._stray_reported:
            self.stray.append(
                SyntaxIssue(
                    OUTSIDE_MESSAGE,
                    f"segment {_excerpt(seg.tag)} outside any interchange",
                    seg.tag,
                    segment=seg.number,
                    expected="UNB",
                )
            )
            self._stray_reported = True

    def _outside_message(self, seg: Segment) -> None:
        assert self._interchange is not None
        if not self._outside_reported:
            self._interchange_issue(
                self._interchange,
                SyntaxIssue(
                    OUTSIDE_MESSAGE,
                    f"segment {_excerpt(seg.tag)!r} outside a message",
                    seg.tag or "UNH",
                    segment=seg.number,
                    expected="UNH, UNG or UNZ",
                ),
            )
            self._outside_reported = True

    def _end_of_file(self) -> None:
        message, interchange = self._message, self._interchange
        if message is not None:
            assert interchange is not None
            message.add(
                SyntaxIssue(
                    MISSING,
                    f"message {message.reference} has no UNT before the end of the file",
                    "UNT",
                    name="UNT",
                    expected=f"UNT+{len(self._body) + 1}+{message.reference}",
                )
            )
            message.segment_count = len(self._body)
            self._file_message(interchange, message)
            self._message, self._body = None, []
        if interchange is not None:
            self._missing_unz(interchange, self._group, None)
        if not self._seen_any:
            raise EdifactParseError(
                "empty input: no EDIFACT interchange", file=self.file, expected="UNA or UNB", code=MISSING
            )
        if not self.interchanges:
            # A UNA (and perhaps stray segments) but no UNB: nothing to read and nobody to answer,
            # which must not pass for a valid file that owes no acknowledgment.
            raise EdifactParseError(
                "no EDIFACT interchange: the file has a UNA but no UNB",
                file=self.file,
                expected="UNB ... UNZ after the UNA",
                code=MISSING,
            )

    # -- interchange ---------------------------------------------------------------------------------

    def _open_interchange(self, unb: Segment, una: str | None) -> InterchangeReport:
        syntax = unb.composite(0)
        report = InterchangeReport(
            syntax_id=unb.get(0, 0),
            syntax_version=unb.get(0, 1),
            sender=_components(unb, 1),
            recipient=_components(unb, 2),
            date=unb.get(3, 0),
            time=unb.get(3, 1),
            reference=unb.get(4),
            segment=unb.number,
            ack_requested=unb.get(8) == "1",
            test=unb.get(10) == "1",
            una=una,
        )
        self.interchanges.append(report)
        checks = (
            (not syntax or not syntax[0], MISSING, "UNB S001 syntax identifier is missing", 1, 1, SUPPORTED_LEVELS),
            (
                bool(syntax and syntax[0]) and syntax[0] not in SUPPORTED_SYNTAX_IDS,
                SYNTAX_NOT_SUPPORTED,
                f"syntax identifier {report.syntax_id!r} is not supported",
                1,
                1,
                SUPPORTED_LEVELS,
            ),
            (
                bool(syntax and syntax[0]) and report.syntax_version not in ("1", "2", "3", "4"),
                SYNTAX_NOT_SUPPORTED,
                f"syntax version {report.syntax_version!r} is not supported",
                1,
                2,
                "1, 2, 3 or 4",
            ),
            (not report.sender or not report.sender[0], MISSING, "UNB S002 sender is missing", 2, 1, "a sender id"),
            (
                not report.recipient or not report.recipient[0],
                MISSING,
                "UNB S003 recipient is missing",
                3,
                1,
                "a recipient id",
            ),
            (
                not report.reference,
                MISSING,
                "UNB 0020 interchange control reference is missing",
                5,
                None,
                "a reference",
            ),
        )
        for failed, code, text, element, component, expected in checks:
            if failed:
                report.issues.append(
                    SyntaxIssue(
                        code,
                        text,
                        "UNB",
                        segment=unb.number,
                        element=element,
                        component=component,
                        name=f"UNB element {element}",
                        expected=expected,
                    )
                )
        if unb.invalid is not None:
            report.issues.append(_invalid_character_issue(unb, None))
        return report

    def _interchange_issue(self, interchange: InterchangeReport, issue: SyntaxIssue) -> None:
        if len(interchange.issues) < MAX_ISSUES_PER_MESSAGE:
            interchange.issues.append(issue)

    def _note_normalised(self, interchange: InterchangeReport, last: int | None) -> None:
        """Mark the interchange (UNB to segment `last`, None for the end of the file) when the
        tokenizer skipped blanks inside it. Runs before the interchange are dropped as we go."""
        runs = self._normalised
        while runs and runs[0][1] < interchange.segment:
            runs.popleft()
        if runs and (last is None or runs[0][0] <= last):
            interchange.normalised = True

    def _close_interchange(self, interchange: InterchangeReport, unz: Segment) -> None:
        self._note_normalised(interchange, unz.number)
        if unz.invalid is not None:
            self._interchange_issue(interchange, _invalid_character_issue(unz, None))
        expected_count = len(interchange.groups) if interchange.groups else interchange.message_count
        counted = "groups" if interchange.groups else "messages"
        count = unz.get(0)
        if count != str(expected_count) and not (is_digits(count) and int(count) == expected_count):
            self._interchange_issue(
                interchange,
                SyntaxIssue(
                    COUNT_DOES_NOT_MATCH,
                    f"UNZ counts {count or 'nothing'} but the interchange has {expected_count} {counted}",
                    "UNZ",
                    segment=unz.number,
                    element=1,
                    name="UNZ 0036",
                    expected=str(expected_count),
                ),
            )
        if unz.get(1) != interchange.reference:
            self._interchange_issue(
                interchange,
                SyntaxIssue(
                    REFERENCES_DO_NOT_MATCH,
                    f"UNZ reference {unz.get(1)!r} does not match UNB 0020 {interchange.reference!r}",
                    "UNZ",
                    segment=unz.number,
                    element=2,
                    name="UNZ 0020",
                    expected=interchange.reference,
                ),
            )

    def _missing_unz(self, interchange: InterchangeReport, group: GroupReport | None, seg: Segment | None) -> None:
        self._note_normalised(interchange, None if seg is None else seg.number - 1)
        if group is not None:
            self._missing_une(interchange, group, seg)
        where = f"before segment {seg.tag}" if seg is not None else "before the end of the file"
        self._interchange_issue(
            interchange,
            SyntaxIssue(
                MISSING,
                f"interchange {interchange.reference} has no UNZ {where}",
                "UNZ",
                segment=None if seg is None else seg.number,
                name="UNZ",
                expected=f"UNZ+{len(interchange.groups) or interchange.message_count}+{interchange.reference}",
            ),
        )

    # -- groups --------------------------------------------------------------------------------------

    def _open_group(self, interchange: InterchangeReport, ung: Segment) -> GroupReport:
        group = GroupReport(
            reference=ung.get(4),
            function=ung.get(0),
            sender=_components(ung, 1),
            recipient=_components(ung, 2),
            segment=ung.number,
        )
        interchange.groups.append(group)
        if interchange.message_count and len(interchange.groups) == 1:
            self._interchange_issue(
                interchange,
                SyntaxIssue(
                    GROUPS_AND_MESSAGES_MIXED, "functional groups and messages are mixed", "UNG", segment=ung.number
                ),
            )
        if not group.reference:
            group.issues.append(
                SyntaxIssue(MISSING, "UNG 0048 group reference is missing", "UNG", segment=ung.number, element=5)
            )
        if ung.invalid is not None:
            group.issues.append(_invalid_character_issue(ung, None))
        return group

    def _close_group(self, group: GroupReport, une: Segment) -> None:
        count = une.get(0)
        if not (is_digits(count) and int(count) == group.message_count):
            group.issues.append(
                SyntaxIssue(
                    COUNT_DOES_NOT_MATCH,
                    f"UNE counts {count or 'nothing'} but the group has {group.message_count} messages",
                    "UNE",
                    segment=une.number,
                    element=1,
                    name="UNE 0060",
                    expected=str(group.message_count),
                )
            )
        if une.get(1) != group.reference:
            group.issues.append(
                SyntaxIssue(
                    REFERENCES_DO_NOT_MATCH,
                    f"UNE reference {une.get(1)!r} does not match UNG 0048 {group.reference!r}",
                    "UNE",
                    segment=une.number,
                    element=2,
                    name="UNE 0048",
                    expected=group.reference,
                )
            )

    def _missing_une(self, interchange: InterchangeReport, group: GroupReport, seg: Segment | None) -> None:
        group.issues.append(
            SyntaxIssue(
                MISSING,
                f"group {group.reference} has no UNE",
                "UNE",
                segment=None if seg is None else seg.number,
                name="UNE",
                expected=f"UNE+{group.message_count}+{group.reference}",
            )
        )

    # -- messages ------------------------------------------------------------------------------------

    def _open_message(self, interchange: InterchangeReport, group: GroupReport | None, unh: Segment) -> MessageReport:
        interchange.message_count += 1
        if group is not None:
            group.message_count += 1
        elif interchange.groups:
            self._interchange_issue(
                interchange,
                SyntaxIssue(
                    GROUPS_AND_MESSAGES_MIXED,
                    "a message outside a group in an interchange with groups",
                    "UNH",
                    segment=unh.number,
                ),
            )
        message = MessageReport(
            reference=unh.get(0),
            message_type=_components(unh, 1),
            segment=unh.number,
            group=None if group is None else group.reference,
        )
        if message.type in ACKNOWLEDGMENT_TYPES:
            interchange.acknowledgment_count += 1
        if not message.reference:
            message.add(
                SyntaxIssue(
                    MISSING,
                    "UNH 0062 message reference is missing",
                    "UNH",
                    segment=unh.number,
                    position=1,
                    element=1,
                    name="UNH 0062",
                    expected="a message reference",
                )
            )
        if len(message.message_type) < 4 or not all(message.message_type[:4]):
            message.add(
                SyntaxIssue(
                    MISSING,
                    "UNH S009 message identifier is incomplete",
                    "UNH",
                    segment=unh.number,
                    position=1,
                    element=2,
                    name="UNH S009",
                    expected="type:version:release:agency, e.g. INVOIC:D:96A:UN",
                )
            )
        return message

    def _close_message(
        self, interchange: InterchangeReport, message: MessageReport, body: list[Segment], unt: Segment
    ) -> None:
        message.segment_count = len(body) + 1
        flagged = self._flagged
        if flagged is not None:
            # The tokenizer listed its flagged segments: look only when one falls in this message.
            while flagged and flagged[0] < body[0].number:
                flagged.popleft()
            if not flagged or flagged[0] > unt.number:
                body = []
        for position, seg in enumerate(body, start=1):
            if seg.invalid is not None:
                message.add(_invalid_character_issue(seg, position))
            if not seg.tag:
                message.add(
                    SyntaxIssue(
                        MISSING,
                        "empty segment (no tag)",
                        "",
                        segment=seg.number,
                        position=position,
                        expected="a segment tag",
                    )
                )
        if unt.invalid is not None:
            message.add(_invalid_character_issue(unt, message.segment_count))
        count = unt.get(0)
        if not (is_digits(count) and int(count) == message.segment_count):
            message.add(
                SyntaxIssue(
                    COUNT_DOES_NOT_MATCH,
                    f"UNT counts {count or 'nothing'} segments but message {message.reference} has "
                    f"{message.segment_count} (UNH to UNT)",
                    "UNT",
                    segment=unt.number,
                    position=message.segment_count,
                    element=1,
                    name="UNT 0074",
                    expected=str(message.segment_count),
                )
            )
        if unt.get(1) != message.reference:
            message.add(
                SyntaxIssue(
                    REFERENCES_DO_NOT_MATCH,
                    f"UNT reference {unt.get(1)!r} does not match UNH 0062 {message.reference!r}",
                    "UNT",
                    segment=unt.number,
                    position=message.segment_count,
                    element=2,
                    name="UNT 0062",
                    expected=message.reference,
                )
            )
        self._file_message(interchange, message)

    def _file_message(self, interchange: InterchangeReport, message: MessageReport) -> None:
        """Keep the message's report; an accepted one may be amended later by the message reader."""
        if not message.accepted:
            interchange.rejected_count += 1
        if self.keep_messages or not message.accepted:
            interchange.messages.append(message)


# The handler of each envelope segment; UNH, UNZ, UNG and UNE are handled inside an interchange only.
_ENVELOPE_HANDLERS: dict[str, Callable[[EnvelopeWalker, Segment], None]] = {
    "UNA": EnvelopeWalker._una,
    "UNB": EnvelopeWalker._unb,
    "UNH": EnvelopeWalker._unh,
    "UNZ": EnvelopeWalker._unz,
    "UNG": EnvelopeWalker._ung,
    "UNE": EnvelopeWalker._une,
}
