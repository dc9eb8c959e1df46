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
    """At most `limit` events in any `window` seconds; `acquire` blocks until one more fits.

    An event acquired with `held=True` counts as happening *now* until `settle()` gives it its final
    time: a request's place in the server's window is fixed when it arrives, which the sender only
    knows to be no later than the moment the answer came back.
    """

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
        self._held = 0
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)

    def acquire(self, *, held: bool = False) -> float:
        """Record one event as soon as the window allows; return the seconds spent waiting."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._events and self._events[0] <= now - self.window:
                    self._events.popleft()
                if len(self._events) + self._held < self.limit:
                    if held:
                        self._held += 1
                    else:
                        self._events.append(now)
                    return waited
                if not self._events:
                    # Every counted event is still held: only a `settle()` can start its minute.
                    self._settled.wait()
                    waited += self._clock() - now
                    continue
                delay = self._events[0] + self.window - now
            # A small floor keeps a busy loop off the CPU when the clock has coarse resolution.
            delay = max(delay, 0.001)
            self._sleep(delay)
            waited += delay

    def settle(self) -> None:
        """Give one held event its time (now); from here it ages out of the window like any other."""
        with self._lock:
            if self._held <= 0:
                raise RuntimeError("settle() without a held acquire()")
            self._held -= 1
            self._events.append(self._clock())
            self._settled.notify_all()

    def __len__(self) -> int:
        with self._lock:
            now = self._clock()
            return self._held + sum(1 for t in self._events if t > now - self.window)


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
        # QBO counts a request when it arrives. `slot` keeps each request in the windows until its answer
        # is back, the latest moment it can have arrived, so the next minute opens exactly then and no
        # guessed margin for network or queueing delay is needed.
        minute = 60.0 / clock_speed
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
                waited += self.batches.acquire(held=True)
            try:
                waited += self.requests.acquire(held=True)
            except BaseException:
                if batch:
                    self.batches.settle()
                raise
            stats.add(requests=1, batch_requests=int(batch))
            if waited:
                stats.add(waits=1, wait_seconds=waited)
            try:
                yield
            finally:
                self.requests.settle()
                if batch:
                    self.batches.settle()


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
