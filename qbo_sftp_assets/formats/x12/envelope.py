"""ISA/GS/ST envelope validation in one pass, recording every error where the 997/TA1 builder needs it.

Codes follow docs/edi-rules.md §3: AK502 per set, AK905 per group, TA1 note codes per interchange.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from qbo_sftp_assets.formats.documents import SOURCE_DEFAULTS, Source, from_fields
from qbo_sftp_assets.formats.errors import ParseError, X12ParseError
from qbo_sftp_assets.formats.x12 import codes
from qbo_sftp_assets.formats.x12.codes import TA1_ACCEPTING_CODES
from qbo_sftp_assets.formats.x12.tokenizer import Delimiters, SegmentBatch

# TA1 note codes that still accept the interchange (with errors); every other code rejects it.
ACK_FUNCTIONAL_IDS = frozenset({"FA"})
# What `inspect` shows for an interchange read only after skipping layout between its segments.
NORMALISED_NOTICE = "blanks or line breaks between segments were skipped (pretty-printed file)"


# What each trailer closes, for its count message ("the group has 3").
_SCOPE = {"IEA": "interchange", "GE": "group", "SE": "set"}


@dataclass
class ElementIssue:
    """One AK4: element position in the segment, its X12 reference number, the AK403 code, the bad data."""

    position: int
    code: str
    reference: str | None = None
    data: str | None = None


@dataclass
class SegmentIssue:
    """One AK3 (with its AK4s): a segment inside a set that has errors. `fatal` errors reject the set."""

    segment_id: str
    position_in_set: int
    code: str
    message: str
    file_position: int
    elements: list[ElementIssue] = field(default_factory=list)
    fatal: bool = True
    expected: str | None = None


@dataclass
class SetReport:
    """What the 997 says about one transaction set (AK2/AK3/AK4/AK5)."""

    set_id: str
    control_number: str
    file_position: int
    implementation_reference: str | None = None
    codes: list[str] = field(default_factory=list)
    segment_errors: list[SegmentIssue] = field(default_factory=list)
    segment_count: int = 1

    @property
    def status(self) -> str:
        if self.codes:
            return "R"
        if self.segment_errors:
            return "E"
        return "A"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "transaction_set",
            "id": self.set_id,
            "control_number": self.control_number,
            "segment": self.file_position,
            "status": self.status,
            "codes": list(self.codes),
        }


@dataclass
class GroupReport:
    """What the 997 says about one functional group (AK1/AK9)."""

    functional_id: str
    control_number: str
    sender: str
    receiver: str
    date: str
    time: str
    version: str
    file_position: int
    sets: list[SetReport] = field(default_factory=list)
    received: int = 0
    accepted: int = 0
    accepted_with_errors: int = 0
    included: int | None = None
    codes: list[str] = field(default_factory=list)
    seen_set_numbers: set[str] = field(default_factory=set, repr=False)

    @property
    def is_acknowledgment(self) -> bool:
        return self.functional_id in ACK_FUNCTIONAL_IDS

    @property
    def status(self) -> str:
        if self.codes:
            return "R"
        if self.received and self.accepted == 0:
            return "R"
        if self.accepted < self.received:
            return "P"
        return "E" if self.accepted_with_errors else "A"

    @property
    def accepted_count(self) -> int:
        """AK904: none when the group envelope itself failed."""
        return 0 if self.codes else self.accepted

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "group",
            "functional_id": self.functional_id,
            "control_number": self.control_number,
            "sender": self.sender,
            "receiver": self.receiver,
            "date": self.date,
            "time": self.time,
            "version": self.version,
            "segment": self.file_position,
            "status": self.status,
            "codes": list(self.codes),
            "sets": [s.as_dict() for s in self.sets],
        }


@dataclass
class InterchangeReport:
    """What the TA1 says about one interchange, and the envelope a reply needs (parties, version)."""

    control_number: str
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str
    time: str
    version: str
    ack_requested: bool
    usage: str
    delimiters: Delimiters
    file_position: int
    groups: list[GroupReport] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    contains_ta1: bool = False
    normalised: bool = False  # blanks between segments were skipped to read it

    @property
    def status(self) -> str:
        if any(code not in TA1_ACCEPTING_CODES for code in self.codes):
            return "R"
        return "E" if self.codes else "A"

    @property
    def ta1_code(self) -> str:
        """TA105: the first rejecting code, else the first accepting-with-errors code, else 000."""
        for code in self.codes:
            if code not in TA1_ACCEPTING_CODES:
                return code
        return self.codes[0] if self.codes else codes.TA1_NO_ERROR

    @property
    def is_acknowledgment(self) -> bool:
        """Carries only acknowledgments (997/999 groups or TA1s): never acknowledged itself."""
        if self.groups:
            return all(group.is_acknowledgment for group in self.groups)
        return self.contains_ta1

    def iso_date(self) -> str:
        try:
            stamp = dt.datetime.strptime(self.date + self.time, "%y%m%d%H%M")
        except ValueError:
            return f"{self.date} {self.time}".strip()
        return stamp.isoformat(timespec="minutes")

    def as_dict(self) -> dict[str, Any]:
        envelope = {
            "type": "interchange",
            "control_number": self.control_number,
            "sender": {"qualifier": self.sender_qualifier, "id": self.sender_id},
            "receiver": {"qualifier": self.receiver_qualifier, "id": self.receiver_id},
            "date": self.iso_date(),
            "version": self.version,
            "usage": self.usage,
            "ack_requested": self.ack_requested,
            "segment": self.file_position,
            "status": self.status,
            "codes": list(self.codes),
            "groups": [g.as_dict() for g in self.groups],
        }
        if self.normalised:
            envelope["normalised"] = NORMALISED_NOTICE
        return envelope


@dataclass
class X12Acknowledgment:
    """Everything needed to acknowledge one file: its interchanges, in order."""

    file: str
    interchanges: list[InterchangeReport] = field(default_factory=list)


class SetHandler(Protocol):
    """Reads the body of one transaction set: the segments between ST and SE, the first at file
    position `first_position` (and at position 2 in the set, ST being 1)."""

    def read(self, body: list[list[str]], first_position: int) -> tuple[Any, list[SegmentIssue]]: ...


HandlerFactory = Callable[[InterchangeReport, GroupReport, SetReport, Source], "SetHandler | None"]


@dataclass
class CompletedSet:
    """A set whose SE was read: the handler's result (None when rejected) and its envelopes."""

    result: Any
    set_ack: SetReport
    group: GroupReport
    interchange: InterchangeReport


def element(elements: list[str], index: int) -> str:
    """Element `index` (1-based, as X12 counts) or "" when the segment is shorter."""
    return elements[index] if index < len(elements) else ""


class EnvelopeParser:
    """Validates envelopes segment by segment and hands each set body to a handler from `factory`.

    `retain=False` keeps no record of finished interchanges, groups or sets (for huge files streamed
    without an ack), so memory stays flat however many interchanges a file holds.
    """

    def __init__(self, *, file: str, factory: HandlerFactory, retain: bool = True) -> None:
        self.file = file
        self.factory = factory
        self.retain = retain
        self.acknowledgment = X12Acknowledgment(file=file)
        self.errors: list[ParseError] = []
        self.completed: list[CompletedSet] = []
        self.inbound_ta1s: list[tuple[list[str], int, InterchangeReport]] = []
        self._interchange: InterchangeReport | None = None
        self._group: GroupReport | None = None
        self._set: SetReport | None = None
        self._handler: SetHandler | None = None
        self._body: list[list[str]] = []
        self._group_count = 0
        self._last_position = 0

    def _check_trailer(
        self,
        codes: list[str],
        elements: list[str],
        position: int,
        trailer: str,
        counted: tuple[int | None, int, str, str],
        reference: tuple[str, str, str],
    ) -> None:
        """The count (element 01) and the control number (element 02) every trailer repeats.

        `counted` is (the count the trailer states, the count we made, what was counted, error code);
        `reference` is (the header's element name, its control number, error code).
        """
        stated, actual, noun, count_code = counted
        if stated != actual:
            codes.append(count_code)
            self._error(
                f"{trailer}01 says {element(elements, 1)!r} {noun} but the {_SCOPE[trailer]} has {actual}",
                position,
                f"{trailer}01",
                str(actual),
                count_code,
            )
        header, control_number, reference_code = reference
        found = element(elements, 2)
        if found != control_number:
            codes.append(reference_code)
            self._error(
                f"{trailer}02 {found!r} does not match {header} {control_number!r}",
                position,
                f"{trailer}02",
                control_number,
                reference_code,
            )

    def _error(
        self,
        message: str,
        position: int,
        element_name: str | None = None,
        expected: str | None = None,
        code: str | None = None,
    ) -> None:
        self.errors.append(
            X12ParseError(message, file=self.file, segment=position, element=element_name, expected=expected, code=code)
        )

    def feed(self, batch: SegmentBatch) -> None:
        # The hot loop, once per segment of the file. Envelope segments are a few per set, so a
        # comprehension (no call, no branch per segment) finds them, and the body segments between
        # two of them are taken as one slice instead of being tested and appended one by one.
        segments = batch.segments
        first = batch.first_position
        handlers = _ENVELOPE_HANDLERS
        if batch.normalised and self._interchange is not None:
            # A body batch never reaches past its interchange's IEA, so the batch is this interchange's.
            self._interchange.normalised = True
        envelope_indexes = [index for index, elements in enumerate(segments) if elements[0] in handlers]
        start = 0
        for index in envelope_indexes:
            if index > start:
                self._take_body(segments, start, index, first)
            elements = segments[index]
            handlers[elements[0]](self, elements, first + index, batch.delimiters)
            start = index + 1
        if start < len(segments):
            self._take_body(segments, start, len(segments), first)
        self._last_position = first + len(segments) - 1

    def _take_body(self, segments: list[list[str]], start: int, stop: int, first_position: int) -> None:
        """Segments `start:stop` of a batch, none of them an envelope segment: a set's body, or errors."""
        if self._set is not None:
            if self._body:
                self._body.extend(segments[start:stop])
            else:
                self._body = segments[start:stop]
            return
        for index in range(start, stop):
            self._outside_set(segments[index], first_position + index)

    def feed_all(self, batches: Iterable[SegmentBatch]) -> None:
        for batch in batches:
            self.feed(batch)
        self.close()

    def close(self) -> None:
        """End of file: report every trailer still missing."""
        end = self._last_position + 1
        if self._interchange is not None:
            self._close_interchange_missing(end)

    def _outside_set(self, elements: list[str], position: int) -> None:
        interchange = self._interchange
        segment_id = elements[0]
        if interchange is None:
            self._error(f"segment {segment_id!r} outside any interchange", position, segment_id, "ISA")
            return
        self._error(
            f"segment {segment_id!r} outside a transaction set",
            position,
            segment_id,
            "ST before any other segment of a set",
            codes.TA1_INVALID_CONTROL_STRUCTURE,
        )
        if codes.TA1_INVALID_CONTROL_STRUCTURE not in interchange.codes:
            interchange.codes.append(codes.TA1_INVALID_CONTROL_STRUCTURE)

    # --- interchange -------------------------------------------------------------------------------

    def _on_isa(self, elements: list[str], position: int, delimiters: Delimiters) -> None:
        if self._interchange is not None:
            self._close_interchange_missing(position)
        if len(elements) != 17:
            raise X12ParseError(
                f"ISA has {len(elements) - 1} elements",
                file=self.file,
                segment=position,
                element="ISA",
                expected="16 elements",
                code=codes.TA1_INVALID_CONTROL_STRUCTURE,
            )
        interchange = InterchangeReport(
            control_number=elements[13].strip(),
            sender_qualifier=elements[5].strip(),
            sender_id=elements[6].strip(),
            receiver_qualifier=elements[7].strip(),
            receiver_id=elements[8].strip(),
            date=elements[9].strip(),
            time=elements[10].strip(),
            version=elements[12].strip(),
            ack_requested=elements[14].strip() == "1",
            usage=elements[15].strip(),
            delimiters=delimiters,
            file_position=position,
        )
        checks = (
            (13, "ISA13", _is_digits(interchange.control_number, 9, 9), "9 digits", codes.TA1_INVALID_CONTROL_NUMBER),
            (9, "ISA09", _is_date(interchange.date, "%y%m%d"), "a YYMMDD date", codes.TA1_INVALID_DATE),
            (10, "ISA10", _is_date(interchange.time, "%H%M"), "an HHMM time", codes.TA1_INVALID_TIME),
            (14, "ISA14", elements[14].strip() in ("0", "1"), "0 or 1", codes.TA1_INVALID_ACK_REQUESTED),
            (15, "ISA15", interchange.usage in ("P", "T", "I"), "P or T", codes.TA1_INVALID_USAGE),
            (12, "ISA12", _is_digits(interchange.version, 5, 5), "5 digits like 00401", codes.TA1_INVALID_VERSION),
            (6, "ISA06", _is_id(interchange.sender_id), "printable ASCII", codes.TA1_INVALID_SENDER_ID),
            (8, "ISA08", _is_id(interchange.receiver_id), "printable ASCII", codes.TA1_INVALID_RECEIVER_ID),
        )
        for index, name, ok, expected, code in checks:
            if not ok:
                interchange.codes.append(code)
                self._error(f"invalid {name} {elements[index]!r}", position, name, expected, code)
        if self.retain:
            self.acknowledgment.interchanges.append(interchange)
        self._interchange = interchange
        self._group_count = 0

    def _on_ta1(self, elements: list[str], position: int, delimiters: Delimiters) -> None:
        if self._interchange is not None and self._group is None:
            self._interchange.contains_ta1 = True
            self.inbound_ta1s.append((elements, position, self._interchange))
            return
        self._on_other_envelope(elements, position, delimiters)

    def _on_iea(self, elements: list[str], position: int, delimiters: Delimiters) -> None:
        interchange = self._interchange
        if interchange is None:
            self._error("IEA without ISA", position, "IEA", "ISA before IEA", codes.TA1_INVALID_CONTROL_STRUCTURE)
            return
        if self._group is not None:
            self._close_group_missing(position)
        self._check_trailer(
            interchange.codes,
            elements,
            position,
            "IEA",
            (_to_int(element(elements, 1)), self._group_count, "groups", codes.TA1_INVALID_GROUP_COUNT),
            ("ISA13", interchange.control_number, codes.TA1_CONTROL_NUMBER_MISMATCH),
        )
        self._interchange = None

    def _close_interchange_missing(self, position: int) -> None:
        interchange = self._interchange
        assert interchange is not None
        if self._group is not None:
            self._close_group_missing(position)
        interchange.codes.append(codes.TA1_PREMATURE_END)
        self._error(
            f"interchange {interchange.control_number} has no IEA trailer",
            position,
            "IEA",
            f"IEA*{self._group_count}*{interchange.control_number}",
            codes.TA1_PREMATURE_END,
        )
        self._interchange = None

    # --- group -------------------------------------------------------------------------------------

    def _on_gs(self, elements: list[str], position: int, delimiters: Delimiters) -> None:
        if self._interchange is None:
            self._error("GS outside an interchange", position, "GS", "ISA before GS", codes.TA1_INVALID_GROUP)
            return
        if self._group is not None:
            self._close_group_missing(position)
        group = GroupReport(
            functional_id=element(elements, 1),
            sender=element(elements, 2),
            receiver=element(elements, 3),
            date=element(elements, 4),
            time=element(elements, 5),
            control_number=element(elements, 6),
            version=element(elements, 8),
            file_position=position,
        )
        if not _is_digits(group.control_number, 1, 9):
            group.codes.append(codes.GROUP_CONTROL_NUMBER_SYNTAX)
            self._error(
                f"invalid GS06 {group.control_number!r}",
                position,
                "GS06",
                "1 to 9 digits",
                codes.GROUP_CONTROL_NUMBER_SYNTAX,
            )
        if self.retain:
            self._interchange.groups.append(group)
        self._group = group
        self._group_count += 1

    def _on_ge(self, elements: list[str], position: int, delimiters: Delimiters) -> None:
        group = self._group
        if group is None:
            self._on_other_envelope(elements, position, delimiters)
            return
        if self._set is not None:
            self._close_set_missing(position)
        group.included = _to_int(element(elements, 1))
        self._check_trailer(
            group.codes,
            elements,
            position,
            "GE",
            (group.included, group.received, "transaction sets", codes.GROUP_SET_COUNT_MISMATCH),
            ("GS06", group.control_number, codes.GROUP_CONTROL_NUMBER_MISMATCH),
        )
        group.seen_set_numbers.clear()
        self._group = None

    def _close_group_missing(self, position: int) -> None:
        group = self._group
        assert group is not None
        if self._set is not None:
            self._close_set_missing(position)
        group.codes.append(codes.GROUP_TRAILER_MISSING)
        self._error(
            f"group {group.control_number} has no GE trailer",
            position,
            "GE",
            f"GE*{group.received}*{group.control_number}",
            codes.GROUP_TRAILER_MISSING,
        )
        group.seen_set_numbers.clear()
        self._group = None

    # --- transaction set ---------------------------------------------------------------------------

    def _on_st(self, elements: list[str], position: int, delimiters: Delimiters) -> None:
        group = self._group
        if group is None:
            self._on_other_envelope(elements, position, delimiters)
            return
        if self._set is not None:
            self._close_set_missing(position)
        set_ack = SetReport(
            set_id=element(elements, 1),
            control_number=element(elements, 2),
            file_position=position,
            implementation_reference=element(elements, 3) or None,
        )
        group.received += 1
        if self.retain:
            group.sets.append(set_ack)
        if not set_ack.set_id.isdigit() or len(set_ack.set_id) != 3:
            set_ack.codes.append(codes.SET_INVALID_IDENTIFIER)
            self._error(
                f"invalid ST01 {set_ack.set_id!r}", position, "ST01", "a 3-digit set id", codes.SET_INVALID_IDENTIFIER
            )
        if not (4 <= len(set_ack.control_number) <= 9) or not set_ack.control_number.isalnum():
            set_ack.codes.append(codes.SET_INVALID_CONTROL_NUMBER)
            self._error(
                f"invalid ST02 {set_ack.control_number!r}",
                position,
                "ST02",
                "4 to 9 characters",
                codes.SET_INVALID_CONTROL_NUMBER,
            )
        elif set_ack.control_number in group.seen_set_numbers:
            set_ack.codes.append(codes.SET_CONTROL_NUMBER_NOT_UNIQUE)
            self._error(
                f"ST02 {set_ack.control_number!r} repeats within group {group.control_number}",
                position,
                "ST02",
                "a control number unique within the group",
                codes.SET_CONTROL_NUMBER_NOT_UNIQUE,
            )
        group.seen_set_numbers.add(set_ack.control_number)
        self._set = set_ack
        self._body = []
        interchange = self._interchange
        assert interchange is not None
        source_fields = SOURCE_DEFAULTS.copy()
        source_fields["file"] = self.file
        source_fields["segment"] = position
        source_fields["interchange"] = interchange.control_number
        source_fields["group"] = group.control_number
        source_fields["transaction_set"] = set_ack.control_number
        source = from_fields(Source, source_fields)
        self._handler = self.factory(interchange, group, set_ack, source)
        if self._handler is None and not set_ack.codes:
            set_ack.codes.append(codes.SET_NOT_SUPPORTED)
            self._error(
                f"transaction set {set_ack.set_id!r} is not supported in a {group.functional_id!r} group",
                position,
                "ST01",
                "810 in an IN group or 997 in an FA group",
                codes.SET_NOT_SUPPORTED,
            )

    def _on_se(self, elements: list[str], position: int, delimiters: Delimiters) -> None:
        set_ack = self._set
        if set_ack is None:
            self._on_other_envelope(elements, position, delimiters)
            return
        set_ack.segment_count = len(self._body) + 2
        self._check_trailer(
            set_ack.codes,
            elements,
            position,
            "SE",
            (_to_int(element(elements, 1)), set_ack.segment_count, "segments", codes.SET_SEGMENT_COUNT_MISMATCH),
            ("ST02", set_ack.control_number, codes.SET_CONTROL_NUMBER_MISMATCH),
        )
        self._finish_set()

    def _close_set_missing(self, position: int) -> None:
        set_ack = self._set
        assert set_ack is not None
        set_ack.codes.append(codes.SET_TRAILER_MISSING)
        self._error(
            f"transaction set {set_ack.control_number} has no SE trailer",
            position,
            "SE",
            f"SE*{len(self._body) + 2}*{set_ack.control_number}",
            codes.SET_TRAILER_MISSING,
        )
        self._finish_set()

    def _finish_set(self) -> None:
        set_ack = self._set
        group = self._group
        interchange = self._interchange
        assert set_ack is not None and group is not None and interchange is not None
        result = None
        if self._handler is not None:
            result, segment_errors = self._handler.read(self._body, set_ack.file_position + 1)
            set_ack.segment_errors.extend(segment_errors)
            for error in segment_errors:
                self._report_segment_error(error)
            if any(error.fatal for error in segment_errors) and codes.SET_SEGMENTS_IN_ERROR not in set_ack.codes:
                set_ack.codes.append(codes.SET_SEGMENTS_IN_ERROR)
        if set_ack.codes:
            result = None
        else:
            group.accepted += 1
            if set_ack.segment_errors:
                group.accepted_with_errors += 1
            if isinstance(result, ParseError):
                # Valid X12 whose document cannot be used as read (e.g. no vendor): the 997 accepts
                # the set, and the handler's error says why no document comes of it.
                self.errors.append(result)
        self.completed.append(CompletedSet(result, set_ack, group, interchange))
        self._set = None
        self._handler = None
        self._body = []

    def _report_segment_error(self, error: SegmentIssue) -> None:
        if error.elements:
            bad = error.elements[0]
            name, code = f"{error.segment_id}{bad.position:02d}", bad.code
            expected = error.expected or _EXPECTED_ELEMENT.get(code)
        else:
            name, code = error.segment_id, error.code
            expected = error.expected or _EXPECTED_SEGMENT.get(code)
        self._error(error.message, error.file_position, name, expected, code)

    def _on_other_envelope(self, elements: list[str], position: int, delimiters: Delimiters) -> None:
        """An envelope segment where it cannot be: a control-structure error of the interchange."""
        if self._set is not None:
            self._body.append(elements)
            return
        self._outside_set(elements, position)


_ENVELOPE_HANDLERS: dict[str, Callable[[EnvelopeParser, list[str], int, Delimiters], None]] = {
    "ISA": EnvelopeParser._on_isa,
    "IEA": EnvelopeParser._on_iea,
    "TA1": EnvelopeParser._on_ta1,
    "GS": EnvelopeParser._on_gs,
    "GE": EnvelopeParser._on_ge,
    "ST": EnvelopeParser._on_st,
    "SE": EnvelopeParser._on_se,
}


_EXPECTED_ELEMENT = {
    codes.ELEMENT_MANDATORY_MISSING: "a value (mandatory)",
    codes.ELEMENT_CONDITIONAL_MISSING: "a value (required with the others present)",
    codes.ELEMENT_INVALID_CHARACTER: "a number with only digits, sign and decimal point",
    codes.ELEMENT_INVALID_CODE: "a valid code",
    codes.ELEMENT_INVALID_DATE: "a CCYYMMDD date",
}
_EXPECTED_SEGMENT = {
    codes.SEGMENT_MANDATORY_MISSING: "the segment (mandatory)",
    codes.SEGMENT_EXCEEDS_MAXIMUM_USE: "the segment once",
}


def _is_digits(value: str, shortest: int, longest: int) -> bool:
    return value.isascii() and value.isdigit() and shortest <= len(value) <= longest


def _is_id(value: str) -> bool:
    """An interchange id: printable ASCII (the X12 basic and extended sets hold nothing else)."""
    return bool(value) and value.isascii() and value.isprintable()


def _is_date(value: str, pattern: str) -> bool:
    try:
        dt.datetime.strptime(value, pattern)
    except ValueError:
        return False
    return True


def _to_int(value: str) -> int | None:
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    return None
