"""997 functional acknowledgments: building ours (docs/edi-rules.md §3.2) and reading the partner's.

We answer every non-FA group with one 997 (AK1, AK2/AK3/AK4/AK5 per set, AK9), add a TA1 when the
interchange asked for one or its envelope is broken, and never acknowledge an acknowledgment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.documents import Source
from qbo_sftp_assets.formats.x12.envelope import (
    GroupReport,
    InterchangeReport,
    SegmentIssue,
    X12Acknowledgment,
    element,
)
from qbo_sftp_assets.formats.x12.ta1 import reply_version, ta1_elements
from qbo_sftp_assets.formats.x12.tokenizer import Delimiters
from qbo_sftp_assets.formats.x12.writer import (
    GroupSpec,
    Parties,
    SegmentWriter,
    group_version,
    write_interchange,
)

_MAX_CODES = 5


def render_997_body(group: GroupReport, writer: SegmentWriter) -> list[str]:
    """The segments of the 997 for `group`, between ST and SE."""
    five_ten = group.version >= "005010"
    segments = [
        writer.render(
            "AK1",
            writer.clean(group.functional_id, 2),
            writer.clean(group.control_number, 9),
            writer.clean(group.version, 12) if five_ten else "",
        )
    ]
    for set_ack in group.sets:
        segments.append(
            writer.render(
                "AK2",
                writer.clean(set_ack.set_id, 3),
                writer.clean(set_ack.control_number, 9),
                writer.clean(set_ack.implementation_reference or "", 35) if five_ten else "",
            )
        )
        for error in set_ack.segment_errors:
            segments.append(
                writer.render("AK3", writer.clean(error.segment_id, 3), str(error.position_in_set), "", error.code)
            )
            for bad in error.elements:
                segments.append(
                    writer.render(
                        "AK4",
                        str(bad.position),
                        bad.reference or "",
                        bad.code,
                        writer.clean(bad.data or "", 99),
                    )
                )
        segments.append(writer.render("AK5", set_ack.status, *set_ack.codes[:_MAX_CODES]))
    included = group.included if group.included is not None else group.received
    segments.append(
        writer.render(
            "AK9",
            group.status,
            str(included),
            str(group.received),
            str(group.accepted_count),
            *group.codes[:_MAX_CODES],
        )
    )
    return segments


def ack_version(group: GroupReport, interchange: InterchangeReport) -> str:
    """GS08 of our 997: the received group's standard version without its implementation guide
    (`004010X348` → `004010`), since the 997 follows the standard, not the partner's guide."""
    standard = group.version[:6]
    if len(standard) == 6 and standard.isascii() and standard.isdigit():
        return standard
    return group_version(reply_parties(interchange).version)


def reply_parties(interchange: InterchangeReport) -> Parties:
    """The received interchange's parties swapped: we answer from its receiver to its sender."""
    return Parties(
        sender_qualifier=interchange.receiver_qualifier,
        sender_id=interchange.receiver_id,
        receiver_qualifier=interchange.sender_qualifier,
        receiver_id=interchange.sender_id,
        version=reply_version(interchange.version),
        usage=interchange.usage if interchange.usage in ("P", "T") else "P",
    )


def build_acknowledgments(
    acknowledgment: X12Acknowledgment,
    *,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
    delimiters: Delimiters | None = None,
    line_breaks: bool = False,
) -> bytes:
    """The 997s and TA1s answering a file: one reply interchange per received interchange that needs one.

    Empty bytes when nothing is owed (e.g. the file held only 997s). Delimiters default to the
    received interchange's own.
    """
    output = []
    for interchange in acknowledgment.interchanges:
        if interchange.is_acknowledgment:
            continue
        leading = [ta1_elements(interchange)] if interchange.ack_requested or interchange.codes else []
        reply_delimiters = delimiters or interchange.delimiters
        writer = SegmentWriter(reply_delimiters)
        groups = []
        if interchange.status != "R":
            for group in interchange.groups:
                if group.is_acknowledgment:
                    continue
                groups.append(
                    GroupSpec(
                        "FA",
                        ack_version(group, interchange),
                        [["997", *render_997_body(group, writer)]],
                        sender=group.receiver,
                        receiver=group.sender,
                    )
                )
        if not groups and not leading:
            continue
        output.append(
            write_interchange(
                reply_parties(interchange),
                groups,
                control_numbers=control_numbers,
                as_of=as_of,
                delimiters=reply_delimiters,
                line_breaks=line_breaks,
                leading_segments=leading,
            )
        )
    return b"".join(output)


# --- reading a partner's 997 ----------------------------------------------------------------------


@dataclass(frozen=True)
class AckResult:
    """What a partner said about something we sent.

    `level` is "interchange" (a TA1: `interchange` = our ISA13), "group" (an AK9: `group` = our GS06)
    or "set" (an AK2/AK5: `group` = GS06, `transaction_set` = our ST02). `accepted` is True for A/E.
    """

    level: str
    status: str
    codes: tuple[str, ...]
    interchange: str | None = None
    group: str | None = None
    functional_id: str | None = None
    transaction_set: str | None = None
    set_id: str | None = None
    errors: tuple[str, ...] = ()
    source: Source = field(default_factory=Source)

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")


class Ack997Reader:
    """Reads the body of one inbound 997 (the `SetHandler` of an FA group)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.functional_id: str | None = None
        self.group: str | None = None
        self.results: list[AckResult] = []
        self.errors: list[SegmentIssue] = []
        self._set: tuple[str, str] | None = None
        self._set_errors: list[str] = []
        self._saw_ak9 = False

    def read(self, body: list[list[str]], first_position: int) -> tuple[list[AckResult], list[SegmentIssue]]:
        """Read the segments between ST and SE (the first at file position `first_position`)."""
        for offset, elements in enumerate(body):
            self._add(elements, first_position + offset)
        return self.finish()

    def _add(self, elements: list[str], file_position: int) -> None:
        segment_id = elements[0]
        source = Source(
            file=self.source.file,
            segment=file_position,
            interchange=self.source.interchange,
            group=self.source.group,
            transaction_set=self.source.transaction_set,
        )
        if segment_id == "AK1":
            self.functional_id, self.group = element(elements, 1), element(elements, 2)
        elif segment_id == "AK2":
            self._set = (element(elements, 1), element(elements, 2))
            self._set_errors = []
        elif segment_id in ("AK3", "IK3"):
            self._set_errors.append(
                f"segment {element(elements, 1)} at {element(elements, 2)}: code {element(elements, 4)}"
            )
        elif segment_id in ("AK4", "IK4"):
            self._set_errors.append(f"element {element(elements, 1)}: code {element(elements, 3)}")
        elif segment_id in ("AK5", "IK5"):
            set_id, set_number = self._set or ("", "")
            self.results.append(
                AckResult(
                    level="set",
                    status=element(elements, 1),
                    codes=tuple(code for code in elements[2:7] if code),
                    group=self.group,
                    functional_id=self.functional_id,
                    transaction_set=set_number or None,
                    set_id=set_id or None,
                    errors=tuple(self._set_errors),
                    source=source,
                )
            )
            self._set = None
        elif segment_id == "AK9":
            self._saw_ak9 = True
            self.results.append(
                AckResult(
                    level="group",
                    status=element(elements, 1),
                    codes=tuple(code for code in elements[5:10] if code),
                    group=self.group,
                    functional_id=self.functional_id,
                    source=source,
                )
            )

    def finish(self) -> tuple[list[AckResult], list[SegmentIssue]]:
        position = self.source.segment or 0
        if self.group is None:
            self.errors.append(SegmentIssue("AK1", 2, "3", "mandatory AK1 segment is missing", position))
        if not self._saw_ak9:
            self.errors.append(SegmentIssue("AK9", 0, "3", "mandatory AK9 segment is missing", position))
        return self.results, self.errors


def ta1_result(elements: list[str], position: int, file: str, carrier: str) -> AckResult:
    """An inbound TA1 (inside the partner's interchange `carrier`): its verdict on our interchange TA101."""
    return AckResult(
        level="interchange",
        status=element(elements, 4),
        codes=(element(elements, 5),) if element(elements, 5) else (),
        interchange=element(elements, 1),
        source=Source(file=file, segment=position, interchange=carrier),
    )
