"""Per-realm throttling (requests/minute, in flight, batch/minute) and test fault injection rules."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

FAULT_KINDS = ("500", "503", "429", "timeout", "xml_fault", "json_fault_200")


class RealmLimiter:
    """Sliding one-minute windows on a clock that can run faster than real time."""

    def __init__(self, requests_per_minute: int, batch_per_minute: int, max_in_flight: int, clock_speed: float):
        self.requests_per_minute = requests_per_minute
        self.batch_per_minute = batch_per_minute
        self.max_in_flight = max_in_flight
        self.window = 60.0 / clock_speed
        self.requests: deque[float] = deque()
        self.batches: deque[float] = deque()
        self.in_flight = 0
        self.throttled = 0
        self._lock = threading.Lock()

    def _trim(self, stamps: deque[float], now: float) -> None:
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()

    def try_acquire(self, is_batch: bool, enforce: bool = True) -> float | None:
        """Take a slot; None when granted, else the real seconds until the window would allow it."""
        now = time.monotonic()
        with self._lock:
            if not enforce:
                self.in_flight += 1
                return None
            self._trim(self.requests, now)
            self._trim(self.batches, now)
            if self.in_flight >= self.max_in_flight:
                self.throttled += 1
                return 1.0
            if len(self.requests) >= self.requests_per_minute:
                self.throttled += 1
                return max(0.0, self.requests[0] + self.window - now)
            if is_batch and len(self.batches) >= self.batch_per_minute:
                self.throttled += 1
                return max(0.0, self.batches[0] + self.window - now)
            self.requests.append(now)
            if is_batch:
                self.batches.append(now)
            self.in_flight += 1
            return None

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1


@dataclass
class FaultRule:
    """The next `count` API calls matching realm and path misbehave as `kind`."""

    kind: str
    count: int = 1
    realm: str | None = None
    path_contains: str | None = None
    # timeout: seconds the response is held before the 504; also a delay for the other kinds.
    delay: float = 0.0
    # For 500/503/timeout: let the write happen first, then answer with the failure.
    after_write: bool | None = None
    status: int | None = None
    # For 429: the Retry-After header (seconds) the throttle answer carries. None sends none, as
    # QBO is not known to; a short value lets a test's throttle window pass in seconds, not QBO's minute.
    retry_after: float | None = None
    code: str | None = None
    message: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.after_write is None:
            # A timeout is most useful when the write did happen and only the answer was lost.
            self.after_write = self.kind == "timeout"
        if self.kind == "timeout":
            self.delay = self.delay or 5.0
        if self.retry_after is not None and (self.kind != "429" or self.retry_after < 0):
            raise ValueError("retry_after is for 429 rules, in seconds >= 0")

    def matches(self, realm: str, path: str) -> bool:
        return (self.realm is None or self.realm == realm) and (
            self.path_contains is None or self.path_contains in path
        )


class FaultInjector:
    """Holds the armed rules; `take` consumes one use of the first rule that matches a call."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.fired: list[str] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self.rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, realm: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.count > 0 and rule.matches(realm, path):
                    rule.count -= 1
                    self.fired.append(rule.kind)
                    if rule.count == 0:
                        self.rules.remove(rule)
                    return rule
        return None
