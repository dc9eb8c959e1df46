"""Writing X12: the parties of an interchange and ISA/GS/ST envelopes.

Output is deterministic: control numbers come from the caller's counter, time from `as_of`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.identities import X12Identity
from qbo_sftp_assets.formats.x12.tokenizer import Delimiters

DEFAULT_DELIMITERS = Delimiters(element="*", component=":", segment="~", repetition="^")


class X12WriteError(ValueError):
    """A document cannot be written as X12 (a value too long or a missing required field)."""


@dataclass(frozen=True)
class Parties:
    """Who sends and who receives an interchange (ISA05-08, GS02-03) and its version and usage."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    sender_group_id: str | None = None
    receiver_group_id: str | None = None
    version: str = "00401"
    usage: str = "P"
    ack_requested: bool = False

    @classmethod
    def from_identity(cls, identity: X12Identity) -> Parties:
        """From a partner's `X12Identity`: we send, the partner receives."""
        return cls(
            sender_qualifier=identity.our_qualifier,
            sender_id=identity.our_id,
            receiver_qualifier=identity.partner_qualifier,
            receiver_id=identity.partner_id,
            sender_group_id=identity.our_group_id,
            receiver_group_id=identity.partner_group_id,
            version=identity.version,
            usage=identity.usage,
            ack_requested=identity.request_ta1,
        )


def as_parties(identity: Parties | X12Identity) -> Parties:
    return identity if isinstance(identity, Parties) else Parties.from_identity(identity)


def group_version(interchange_version: str) -> str:
    """GS08 for an ISA12: `00401` → `004010`, `00501` → `005010`."""
    return interchange_version + "0"


def check_as_of(as_of: dt.datetime) -> dt.datetime:
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be a timezone-aware datetime")
    return as_of


class SegmentWriter:
    """Collects segments with given delimiters; cleans data of delimiter characters (X12 has no escape)."""

    def __init__(self, delimiters: Delimiters = DEFAULT_DELIMITERS, *, line_breaks: bool = False) -> None:
        self.delimiters = delimiters
        self.terminator = delimiters.segment + ("\n" if line_breaks and delimiters.segment != "\n" else "")
        # Delimiters (X12 has no escape) and control characters (no X12 character set has them).
        controls = "".join(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))
        self._unsafe = str.maketrans(dict.fromkeys(delimiters.characters() + controls, " "))
        self.segments: list[str] = []

    def clean(self, value: str, longest: int | None = None) -> str:
        text = value.translate(self._unsafe).strip()
        return text[:longest] if longest is not None else text

    def render(self, *elements: str) -> str:
        """One segment's text (no terminator); trailing empty elements are dropped."""
        values = list(elements)
        while len(values) > 1 and values[-1] == "":
            values.pop()
        return self.delimiters.element.join(values)

    def add(self, *elements: str) -> None:
        self.segments.append(self.render(*elements))

    def add_raw(self, text: str) -> None:
        self.segments.append(text)

    def text(self) -> str:
        return "".join(segment + self.terminator for segment in self.segments)


def isa_segment(parties: Parties, control_number: int, as_of: dt.datetime, delimiters: Delimiters) -> str:
    """The fixed-width 106-byte ISA (without its terminator)."""
    writer = SegmentWriter(delimiters)

    def clean(value: str) -> str:
        # ISA ids are printable ASCII; an id echoed from a broken partner ISA may hold anything else.
        return "".join(c if c.isascii() and c.isprintable() else " " for c in writer.clean(value))

    repetition = delimiters.repetition if parties.version > "00401" and delimiters.repetition else "U"
    fields = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        clean(parties.sender_qualifier).ljust(2)[:2],
        clean(parties.sender_id).ljust(15)[:15],
        clean(parties.receiver_qualifier).ljust(2)[:2],
        clean(parties.receiver_id).ljust(15)[:15],
        as_of.strftime("%y%m%d"),
        as_of.strftime("%H%M"),
        repetition,
        clean(parties.version).ljust(5)[:5],
        f"{control_number:09d}",
        "1" if parties.ack_requested else "0",
        clean(parties.usage).ljust(1)[:1],
        delimiters.component,
    ]
    return delimiters.element.join(fields)


@dataclass(frozen=True)
class GroupSpec:
    """One functional group to write: GS01, GS08 and its sets, each `[set id, segment text, ...]`.

    `sender` / `receiver` override GS02 / GS03 (an ack answers each group with its ids swapped).
    """

    functional_id: str
    version: str
    sets: Sequence[Sequence[str]]
    sender: str | None = None
    receiver: str | None = None


def write_interchange(
    parties: Parties,
    groups: Sequence[GroupSpec],
    *,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = False,
    leading_segments: Sequence[list[str]] = (),
) -> bytes:
    """Render one ISA..IEA holding `groups`; ST/SE, GS/GE and IEA are numbered and counted here.

    `leading_segments` (e.g. a TA1, as element lists) go right after the ISA, before any GS.
    """
    check_as_of(as_of)
    writer = SegmentWriter(delimiters, line_breaks=line_breaks)
    interchange_number = control_numbers.next("ISA13")
    writer.add_raw(isa_segment(parties, interchange_number, as_of, delimiters))
    for elements in leading_segments:
        writer.add(*(writer.clean(value) for value in elements))
    for group in groups:
        group_number = control_numbers.next("GS06")
        writer.add(
            "GS",
            writer.clean(group.functional_id, 2),
            writer.clean(group.sender or parties.sender_group_id or parties.sender_id),
            writer.clean(group.receiver or parties.receiver_group_id or parties.receiver_id),
            as_of.strftime("%Y%m%d"),
            as_of.strftime("%H%M"),
            str(group_number),
            "X",
            writer.clean(group.version, 12),
        )
        set_count = 0
        for set_id, *body in group.sets:
            set_count += 1
            set_number = f"{control_numbers.next('ST02'):04d}"
            writer.add("ST", writer.clean(set_id, 3), set_number)
            for segment in body:
                writer.add_raw(segment)
            writer.add("SE", str(len(body) + 2), set_number)
        writer.add("GE", str(set_count), str(group_number))
    writer.add("IEA", str(len(groups)), f"{interchange_number:09d}")
    return writer.text().encode("utf-8")
