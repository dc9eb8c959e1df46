"""Per-realm request limits shared by every thread of a process: requests/minute, batch/minute, in flight."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from qbo_sftp_assets.config import QboLimits


class SlidingWindow:
    """At most `limit` events in any `window` seconds; `acquire` blocks until one more fits."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._events: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Record one event as soon as the window allows; return the seconds spent waiting."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._events and self._events[0] <= now - self.window:
                    self._events.popleft()
                if len(self._events) < self.limit:
                    self._events.append(now)
                    return waited
                delay = self._events[0] + self.window - now
            # A small floor keeps a busy loop off the CPU when the clock has coarse resolution.
            delay = max(delay, 0.001)
            self._sleep(delay)
            waited += delay

    def __len__(self) -> int:
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._events if t > now - self.window)


@dataclass
class LimiterStats:
    """What the limiter and the retry loop did for one realm, for logs and metrics."""

    requests: int = 0
    batch_requests: int = 0
    waits: int = 0
    wait_seconds: float = 0.0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    timeouts: int = 0
    token_refreshes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, amount in counts.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {
                name: getattr(self, name)
                for name in (
                    "requests",
                    "batch_requests",
                    "waits",
                    "wait_seconds",
                    "retries",
                    "throttled",
                    "server_errors",
                    "timeouts",
                    "token_refreshes",
                )
            }


class RealmLimiter:
    """QBO's per-realm ceilings: requests and batch requests per minute, and requests in flight.

    `clock_speed` shortens the minute (a sandbox running 10x fast has 6-second minutes).
    """

    def __init__(
        self,
        limits: QboLimits,
        *,
        clock_speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # QBO counts a request when it arrives, we when we send it: a small margin keeps a request that
        # travels faster than the one it replaces in the window from landing a moment too early.
        minute = 60.0 / clock_speed
        minute += max(0.01 * minute, 0.1)
        self.limits = limits
        self.clock_speed = clock_speed
        self.requests = SlidingWindow(limits.requests_per_minute, minute, clock=clock, sleep=sleep)
        self.batches = SlidingWindow(limits.batch_requests_per_minute, minute, clock=clock, sleep=sleep)
        self.in_flight = threading.BoundedSemaphore(limits.max_in_flight)
        self.stats = LimiterStats()

    @contextmanager
    def slot(self, *, batch: bool = False, stats: LimiterStats | None = None) -> Iterator[None]:
        """Hold one in-flight slot, after the per-minute windows admit the request; count it in `stats`."""
        stats = stats or self.stats
        waited = 0.0
        with self.in_flight:
            # Counted inside the in-flight slot so a request's minute starts when it can really go.
            if batch:
                waited += self.batches.acquire()
            waited += self.requests.acquire()
            stats.add(requests=1, batch_requests=int(batch))
            if waited:
                stats.add(waits=1, wait_seconds=waited)
            yield


_registry: dict[tuple[str, str, QboLimits, float], RealmLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(api_base: str, realm_id: str, limits: QboLimits, *, clock_speed: float = 1.0) -> RealmLimiter:
    """The one limiter this process uses for a realm, so every client and thread shares its budget."""
    key = (api_base, realm_id, limits, clock_speed)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RealmLimiter(limits, clock_speed=clock_speed)
        return limiter


def backoff_delay(attempt: int, base: float, ceiling: float, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(ceiling, base * 2**attempt)]."""
    rng = rng or random
    top = min(ceiling, base * (2**attempt))
    return rng.uniform(min(base / 2, top), top)


def throttle_delay(retry_after: float | None, base: float, *, rng: random.Random | None = None) -> float:
    """How long to wait after a 429: Retry-After when QBO sent one, else `base`, plus up to 10% jitter."""
    rng = rng or random
    wait = retry_after if retry_after is not None and retry_after >= 0 else base
    return wait + rng.uniform(0, wait * 0.1)
