"""Per-realm request limits: requests/minute, batch/minute and requests in flight.

Every thread of a process shares one `RealmLimiter`; every process on the machine shares one
`SharedRealmBudget` (a small SQLite file beside the token store), because each Dagster run is its own
process and QBO counts the realm's requests, not ours. Run workers on several hosts share a
`PostgresRealmBudget` instead: the same rows in a PostgreSQL table, timed by the database's clock.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qbo_sftp_assets import postgres
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


_SHARED_SCHEMA = """
CREATE TABLE IF NOT EXISTS qbo_requests (
    id       INTEGER PRIMARY KEY,
    realm    TEXT NOT NULL,
    batch    INTEGER NOT NULL,
    settled  REAL,
    expires  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS qbo_requests_realm ON qbo_requests (realm);
"""


class SharedRealmBudget:
    """One realm's per-minute and in-flight budget, kept in a SQLite file every process on the host uses.

    A request is a row: in flight while `settled` is NULL, then counted for one window from the time
    it was settled (the same "held until answered" rule as `SlidingWindow`). A process killed in the
    middle of a request leaves its row in flight; it is counted as settled at `expires` (the longest
    a request may take), so a crash costs at most that long, never a wedged realm. Times are wall-clock
    seconds, the only clock processes share.
    """

    # While another process holds every in-flight slot there is no time to wait for: poll.
    POLL_SECONDS = 0.005

    def __init__(
        self,
        path: str | os.PathLike[str],
        realm: str,
        limits: QboLimits,
        *,
        clock_speed: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.realm = realm
        self.limits = limits
        self.window = 60.0 / clock_speed
        self.longest_request = limits.connect_timeout_seconds + 2 * limits.read_timeout_seconds
        self._sleep = sleep
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per budget, used under `_lock`; autocommit mode so BEGIN IMMEDIATE is ours.
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SHARED_SCHEMA)

    def __repr__(self) -> str:
        return f"SharedRealmBudget({str(self.path)!r}, realm={self.realm!r})"

    def acquire(self, *, batch: bool = False) -> tuple[int, float]:
        """Wait until the realm has room for one more request; return its row id and the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                granted, delay = self._try_acquire(batch)
            if granted is not None:
                return granted, waited
            self._sleep(delay)
            waited += delay

    def _try_acquire(self, batch: bool) -> tuple[int | None, float]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            horizon = now - self.window
            db.execute(
                "DELETE FROM qbo_requests WHERE realm = ? AND coalesce(settled, expires) <= ?",
                (self.realm, horizon),
            )
            rows = db.execute(
                "SELECT settled, expires, batch FROM qbo_requests WHERE realm = ?", (self.realm,)
            ).fetchall()
            in_flight = sum(1 for settled, expires, _ in rows if settled is None and expires > now)
            batches = sum(1 for *_, is_batch in rows if is_batch)
            full = (
                in_flight >= self.limits.max_in_flight
                or len(rows) >= self.limits.requests_per_minute
                or (batch and batches >= self.limits.batch_requests_per_minute)
            )
            if not full:
                cursor = db.execute(
                    "INSERT INTO qbo_requests (realm, batch, settled, expires) VALUES (?, ?, NULL, ?)",
                    (self.realm, int(batch), now + self.longest_request),
                )
                db.execute("COMMIT")
                return cursor.lastrowid, 0.0
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        # The earliest moment a counted request leaves the window; none settled yet means polling.
        leaving = [
            (settled if settled is not None else expires) + self.window - now
            for settled, expires, _ in rows
            if settled is not None or expires <= now
        ]
        if in_flight >= self.limits.max_in_flight or not leaving:
            return None, self.POLL_SECONDS
        return None, max(min(leaving), self.POLL_SECONDS)

    def settle(self, row_id: int) -> None:
        """The request's answer is back: from now it ages out of the window like any other."""
        with self._lock:
            self._db.execute("UPDATE qbo_requests SET settled = ? WHERE id = ?", (time.time(), row_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()


_POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS qbo_requests (
    id       BIGSERIAL PRIMARY KEY,
    realm    TEXT NOT NULL,
    batch    BOOLEAN NOT NULL,
    settled  DOUBLE PRECISION,
    expires  DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS qbo_requests_realm ON qbo_requests (realm)
"""

# The database's clock in epoch seconds: the one clock every host shares (theirs may disagree).
_DB_NOW = "extract(epoch FROM clock_timestamp())::double precision"


class PostgresRealmBudget:
    """`SharedRealmBudget` in PostgreSQL: one realm's budget shared by every process on every host.

    The same rows and rules. A transaction-scoped advisory lock per realm makes count-then-insert
    atomic (the part `BEGIN IMMEDIATE` plays in SQLite) without locking other realms; the times are the
    database server's, so hosts with skewed clocks still agree on one window.
    """

    POLL_SECONDS = SharedRealmBudget.POLL_SECONDS

    def __init__(
        self,
        url: str,
        realm: str,
        limits: QboLimits,
        *,
        clock_speed: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.realm = realm
        self.limits = limits
        self.window = 60.0 / clock_speed
        self.longest_request = limits.connect_timeout_seconds + 2 * limits.read_timeout_seconds
        self._sleep = sleep
        self._lock = threading.Lock()
        self._realm_key = postgres.advisory_key(f"qbo_requests:{realm}")
        self._db = self._connect()

    def _connect(self) -> Any:
        connection = postgres.connect(self.url, application_name="qbo_sftp_assets limiter")
        postgres.ensure_schema(connection, "qbo_requests", _POSTGRES_SCHEMA)
        return connection

    def _connection(self) -> Any:
        """The budget's connection; a new one after the old one was lost (a server restart fails one call)."""
        if self._db.closed:
            self._db = self._connect()
        return self._db

    def __repr__(self) -> str:
        return f"PostgresRealmBudget({postgres.redacted(self.url)!r}, realm={self.realm!r})"

    def acquire(self, *, batch: bool = False) -> tuple[int, float]:
        """Wait until the realm has room for one more request; return its row id and the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                granted, delay = self._try_acquire(batch)
            if granted is not None:
                return granted, waited
            self._sleep(delay)
            waited += delay

    def _try_acquire(self, batch: bool) -> tuple[int | None, float]:
        limits = self.limits
        db = self._connection()
        with db, db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self._realm_key,))
            cursor.execute(f"SELECT {_DB_NOW}")
            (now,) = cursor.fetchone()
            cursor.execute(
                "DELETE FROM qbo_requests WHERE realm = %s AND coalesce(settled, expires) <= %s",
                (self.realm, now - self.window),
            )
            # Counted: every row left. In flight: unsettled and not past its deadline. Leaving: the
            # earliest moment a settled (or expired) request ages out of the window.
            cursor.execute(
                "SELECT count(*), count(*) FILTER (WHERE settled IS NULL AND expires > %(now)s), "
                "count(*) FILTER (WHERE batch), "
                "min(coalesce(settled, expires)) FILTER (WHERE settled IS NOT NULL OR expires <= %(now)s) "
                "FROM qbo_requests WHERE realm = %(realm)s",
                {"now": now, "realm": self.realm},
            )
            counted, in_flight, batches, earliest = cursor.fetchone()
            full = (
                in_flight >= limits.max_in_flight
                or counted >= limits.requests_per_minute
                or (batch and batches >= limits.batch_requests_per_minute)
            )
            if not full:
                cursor.execute(
                    "INSERT INTO qbo_requests (realm, batch, settled, expires) VALUES (%s, %s, NULL, %s) RETURNING id",
                    (self.realm, batch, now + self.longest_request),
                )
                (row_id,) = cursor.fetchone()
                return row_id, 0.0
        if in_flight >= limits.max_in_flight or earliest is None:
            return None, self.POLL_SECONDS
        return None, max(earliest + self.window - now, self.POLL_SECONDS)

    def settle(self, row_id: int) -> None:
        """The request's answer is back: from now (the database's now) it ages out of the window."""
        with self._lock:
            db = self._connection()
            with db, db.cursor() as cursor:
                cursor.execute(f"UPDATE qbo_requests SET settled = {_DB_NOW} WHERE id = %s", (row_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RealmLimiter:
    """QBO's per-realm ceilings: requests and batch requests per minute, and requests in flight.

    `clock_speed` shortens the minute (a sandbox running 10x fast has 6-second minutes). With a
    `shared` budget the same ceilings also hold across every process that uses its file.
    """

    def __init__(
        self,
        limits: QboLimits,
        *,
        clock_speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        shared: SharedRealmBudget | PostgresRealmBudget | None = None,
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
        self.shared = shared
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
            shared_row = None
            try:
                if self.shared is not None:
                    shared_row, shared_wait = self.shared.acquire(batch=batch)
                    waited += shared_wait
                stats.add(requests=1, batch_requests=int(batch))
                if waited:
                    stats.add(waits=1, wait_seconds=waited)
                yield
            finally:
                if shared_row is not None:
                    assert self.shared is not None
                    self.shared.settle(shared_row)
                self.requests.settle()
                if batch:
                    self.batches.settle()


_registry: dict[tuple[str, str, QboLimits, float, str | None], RealmLimiter] = {}
_registry_lock = threading.Lock()

SHARED_BUDGET_FILE = "qbo_limits.sqlite"


def limiter_for(
    api_base: str,
    realm_id: str,
    limits: QboLimits,
    *,
    clock_speed: float = 1.0,
    shared_path: str | os.PathLike[str] | None = None,
    shared_url: str | None = None,
) -> RealmLimiter:
    """The one limiter this process uses for a realm, so every client and thread shares its budget.

    With `shared_path` (a SQLite file; the client puts it beside the token store) the budget is also
    shared with every other process on the host that names the same file; with `shared_url` (a
    PostgreSQL URL, which wins) with every process on every host that names the same database.
    """
    if shared_url is not None:
        shared_key: str | None = f"postgres:{shared_url}"
    else:
        shared_key = None if shared_path is None else str(Path(shared_path).resolve())
    key = (api_base, realm_id, limits, clock_speed, shared_key)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            budget_realm = f"{api_base}|{realm_id}"
            shared: SharedRealmBudget | PostgresRealmBudget | None = None
            if shared_url is not None:
                shared = PostgresRealmBudget(shared_url, budget_realm, limits, clock_speed=clock_speed)
            elif shared_path is not None:
                shared = SharedRealmBudget(str(shared_key), budget_realm, limits, clock_speed=clock_speed)
            limiter = _registry[key] = RealmLimiter(limits, clock_speed=clock_speed, shared=shared)
        return limiter


def backoff_delay(attempt: int, base: float, ceiling: float, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(ceiling, base * 2**attempt)]."""
    uniform = (rng or random).uniform
    top = min(ceiling, base * (2**attempt))
    return uniform(min(base / 2, top), top)


def throttle_delay(retry_after: float | None, base: float, *, rng: random.Random | None = None) -> float:
    """How long to wait after a 429: Retry-After when QBO sent one, else `base`, plus up to 10% jitter."""
    uniform = (rng or random).uniform
    wait = retry_after if retry_after is not None and retry_after >= 0 else base
    return wait + uniform(0, wait * 0.1)
