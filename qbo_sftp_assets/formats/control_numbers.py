"""Control numbers for the envelopes we write: the shape every writer takes, and a counter in memory."""

from __future__ import annotations

from typing import Protocol

# The largest 9-digit ISA13 / GS06 / ST02; the ledger wraps every kind here too.
CONTROL_NUMBER_MAXIMUM = 999_999_999


class ControlNumbers(Protocol):
    """Hands out the next control number of a kind: "ISA13", "GS06", "ST02" (X12), "UNB" (EDIFACT),
    "ACK" (flat-file acknowledgments). The ledger's `PartnerControlNumbers` persists them per partner."""

    def next(self, kind: str) -> int: ...


class InMemoryControlNumbers:
    """`ControlNumbers` kept in memory: every kind counts up from `start` and wraps after 999999999,
    as the ledger does. For `inspect`/`ack`, the demo and tests; a real partner needs the ledger's."""

    def __init__(self, start: int = 1) -> None:
        if not 1 <= start <= CONTROL_NUMBER_MAXIMUM:
            raise ValueError(f"control number must be 1..{CONTROL_NUMBER_MAXIMUM}, got {start}")
        self._start = start
        self._next: dict[str, int] = {}

    def next(self, kind: str) -> int:
        value = self._next.get(kind, self._start)
        self._next[kind] = 1 if value >= CONTROL_NUMBER_MAXIMUM else value + 1
        return value
