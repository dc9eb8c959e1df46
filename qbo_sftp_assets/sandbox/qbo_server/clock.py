"""The sandbox's notion of now: real UTC time plus an offset tests can advance, QBO-style printing."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# Sandbox companies live in US Pacific time, as Intuit's US sandboxes do; QBO prints times with the
# company's offset (e.g. 2015-07-14T12:34:04-07:00).
COMPANY_ZONE = ZoneInfo("America/Los_Angeles")


class SandboxClock:
    """Wall-clock time that tests can move forward (token expiry, the CDC 30-day window)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def company_today(self) -> date:
        return self.now().astimezone(COMPANY_ZONE).date()


def qbo_timestamp(moment: datetime) -> str:
    """`MetaData` style: seconds precision with the company offset, `2015-07-14T12:34:04-07:00`."""
    return moment.astimezone(COMPANY_ZONE).isoformat(timespec="seconds")


def qbo_response_time(moment: datetime) -> str:
    """The `time` field of a response: milliseconds with the company offset."""
    return moment.astimezone(COMPANY_ZONE).isoformat(timespec="milliseconds")


def parse_qbo_datetime(text: str) -> datetime:
    """Parse the timestamp forms QBO accepts: offsets with or without colon, `Z`, or a bare date."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if len(value) >= 5 and value[-5] in "+-" and value[-4:].isdigit() and "T" in value:
        value = value[:-2] + ":" + value[-2:]
    if "." in value:
        head, _, rest = value.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=COMPANY_ZONE)
    return parsed
