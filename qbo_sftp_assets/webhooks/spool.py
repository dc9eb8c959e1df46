"""The webhook spool: a small SQLite file (never the ledger) the receiver appends to and a sensor reads,
or, for receivers and run workers on several hosts, `PostgresSpool` with the same API (`spool_for(config)`
picks by `webhooks.spool_backend`).

Why SQLite in WAL mode: the receiver must keep answering Intuit while pipeline runs hold the
DuckDB ledger's lock or the Dagster daemon is down, and a reader must never block the writer (a
read-only DuckDB reader made the writer crash: a lost webhook, see docs/asset-graph.md, "Measured choices").

Writes: every event of a delivery with `INSERT OR IGNORE` on a UNIQUE dedup key, `synchronous=FULL`
so the 200 Intuit gets means the event is on disk. The receiver writes through `SpoolWriter`, one
thread that commits all deliveries waiting at that moment in ONE transaction (group commit): an
fsync costs 1 ms on an idle disk and 20-30 ms on a busy one, and one fsync per request capped the
receiver near 100 events/s. `Spool.append` is the same write on a short connection of its own.

Cursor: `seq` is `INTEGER PRIMARY KEY AUTOINCREMENT`, assigned inside the write transaction. SQLite
has one writer at a time and a transaction's rows are invisible until it commits, so a row with a
higher `seq` can never become visible before a lower one: `seq > cursor` misses nothing (the
out-of-order commit loss seen on Postgres cannot happen here). AUTOINCREMENT never reuses a `seq`,
even after pruning. The cursor text is `<spool id>:<seq>`; the spool id is random per spool file, so a
cursor from a deleted and recreated spool starts again from the beginning instead of skipping rows.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg2
import psycopg2.errors

from qbo_sftp_assets import postgres
from qbo_sftp_assets.qbo.webhooks import ChangeEvent

if TYPE_CHECKING:
    from qbo_sftp_assets.config import Config

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key TEXT NOT NULL UNIQUE,
    realm_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    source_format TEXT NOT NULL,
    event_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at);
"""
BUSY_TIMEOUT_MS = 10_000


class SpoolUnavailable(RuntimeError):
    """The spool file is missing, has no schema yet, or cannot be read; a sensor should skip this tick."""


@dataclass(frozen=True)
class SpooledEvent:
    """One stored change event; `cursor` is what a reader stores to continue after it."""

    seq: int
    cursor: str
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    occurred_at: datetime
    received_at: datetime
    source_format: str
    event_id: str
    dedup_key: str


@dataclass(frozen=True)
class AppendResult:
    """How many events of one delivery were new, and how many the spool already had."""

    stored: int
    duplicates: int


class Spool:
    """The spool file at `path`: `create()` once (the receiver at startup), then `append` / `read_after`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    # --- writer side (the receiver) ---------------------------------------------------------------

    def create(self) -> str:
        """Create the file and schema if absent (idempotent); returns the spool id."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write_connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO spool_meta (key, value) VALUES ('spool_id', ?)", (uuid.uuid4().hex,)
            )
            connection.commit()
            return connection.execute("SELECT value FROM spool_meta WHERE key = 'spool_id'").fetchone()[0]

    def append(self, events: Iterable[ChangeEvent], *, received_at: datetime | None = None) -> AppendResult:
        """Store the events of one delivery in one transaction; a known dedup key is ignored."""
        rows = event_rows(events, received_at or datetime.now(UTC))
        if not rows:
            return AppendResult(0, 0)
        with self._write_connection() as connection:
            return insert_deliveries(connection, [rows])[0]

    def prune(self, received_before: datetime, *, realm_id: str | None = None, through: str | None = None) -> int:
        """Delete events received before the moment, and only those a reader has passed: of `realm_id`
        (None: every realm) at or before the cursor `through` (None: any; a cursor of another spool:
        none). Keep at least the receiver's max event age, since a deleted row's dedup key no longer
        stops a signed replay that is still young enough. The number of events deleted."""
        conditions, parameters = (
            ["received_at < ?"],
            [received_before.astimezone(UTC).isoformat(timespec="microseconds")],
        )
        if realm_id is not None:
            conditions.append("realm_id = ?")
            parameters.append(realm_id)
        with self._write_connection() as connection, connection:
            if through is not None:
                conditions.append("seq <= ?")
                parameters.append(str(parse_cursor(through, self._spool_id(connection))))
            cursor = connection.execute(f"DELETE FROM events WHERE {' AND '.join(conditions)}", parameters)
            return cursor.rowcount

    # --- reader side (the webhook sensor, `qbo-sftp webhooks` listings) -----------------------------

    def read_after(self, cursor: str | None, limit: int = 500) -> list[SpooledEvent]:
        """Events committed after `cursor` (None: from the start), oldest first, at most `limit`.

        Opens the file read-only; raises SpoolUnavailable when there is no spool to read yet."""
        with self._read_connection() as connection:
            spool_id = self._spool_id(connection)
            after = parse_cursor(cursor, spool_id)
            rows = connection.execute(
                "SELECT seq, realm_id, entity, entity_id, operation, occurred_at, received_at, source_format, "
                "event_id, dedup_key FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, max(1, int(limit))),
            ).fetchall()
        return [
            SpooledEvent(
                seq=row[0],
                cursor=f"{spool_id}:{row[0]}",
                realm_id=row[1],
                entity=row[2],
                entity_id=row[3],
                operation=row[4],
                occurred_at=datetime.fromisoformat(row[5]),
                received_at=datetime.fromisoformat(row[6]),
                source_format=row[7],
                event_id=row[8],
                dedup_key=row[9],
            )
            for row in rows
        ]

    def count(self) -> int:
        """Events stored (read-only)."""
        with self._read_connection() as connection:
            return connection.execute("SELECT count(*) FROM events").fetchone()[0]

    def latest_events(self, realm_id: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
        """When the newest spooled event of each `(entity, id)` of the realm occurred; keys without one are absent."""
        latest: dict[tuple[str, str], datetime] = {}
        with self._read_connection() as connection:
            for entity, entity_id in keys:
                for (text,) in connection.execute(
                    "SELECT occurred_at FROM events WHERE realm_id = ? AND entity = ? AND entity_id = ?",
                    (realm_id, entity, entity_id),
                ):
                    when = datetime.fromisoformat(text)
                    latest[(entity, entity_id)] = max(when, latest.get((entity, entity_id), when))
        return latest

    def spool_id(self) -> str:
        with self._read_connection() as connection:
            return self._spool_id(connection)

    def writer(self) -> SpoolWriter:
        """The receiver's group-committing writer for this spool (start it after `create`)."""
        return SpoolWriter(self)

    # --- connections --------------------------------------------------------------------------------

    @contextmanager
    def _write_connection(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level="IMMEDIATE")
        with closing(connection):
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA synchronous=FULL")
            yield connection

    @contextmanager
    def _read_connection(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            raise SpoolUnavailable(f"no webhook spool at {self.path} yet (start `qbo-sftp webhooks serve`)")
        try:
            connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error as error:
            raise SpoolUnavailable(f"cannot open the webhook spool {self.path}: {error}") from error
        with closing(connection):
            try:
                connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                yield connection
            except sqlite3.OperationalError as error:
                raise SpoolUnavailable(f"cannot read the webhook spool {self.path}: {error}") from error

    @staticmethod
    def _spool_id(connection: sqlite3.Connection) -> str:
        row = connection.execute("SELECT value FROM spool_meta WHERE key = 'spool_id'").fetchone()
        if row is None:
            raise sqlite3.OperationalError("the spool has no id yet")
        return row[0]


def parse_cursor(cursor: str | None, spool_id: str) -> int:
    """The `seq` to read after: 0 for no cursor, or for a cursor of another (recreated) spool."""
    if not cursor:
        return 0
    cursor_spool, _, seq = cursor.rpartition(":")
    if cursor_spool != spool_id or not seq.isdigit():
        return 0
    return int(seq)


Row = tuple[str, str, str, str, str, str, str, str, str]


def event_rows(events: Iterable[ChangeEvent], received_at: datetime) -> list[Row]:
    received = received_at.astimezone(UTC).isoformat(timespec="microseconds")
    return [
        (
            event.dedup_key,
            event.realm_id,
            event.entity,
            event.entity_id,
            event.operation,
            (event.occurred_at or received_at).astimezone(UTC).isoformat(timespec="microseconds"),
            received,
            event.source_format,
            event.event_id,
        )
        for event in events
    ]


def insert_deliveries(connection: sqlite3.Connection, deliveries: Sequence[list[Row]]) -> list[AppendResult]:
    """Insert several deliveries in ONE transaction (committed before returning); a result per delivery."""
    results = []
    with connection:  # BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error
        for rows in deliveries:
            before = connection.total_changes
            connection.executemany(
                "INSERT OR IGNORE INTO events (dedup_key, realm_id, entity, entity_id, operation, "
                "occurred_at, received_at, source_format, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            stored = connection.total_changes - before
            results.append(AppendResult(stored=stored, duplicates=len(rows) - stored))
    return results


class _GroupCommitWriter:
    """The receiver's one writer: a thread that group-commits the deliveries waiting in its queue.

    `submit` returns a Future resolved after the commit (or failed with the storage's error, one of
    SPOOL_WRITE_ERRORS). A subclass keeps one connection for as long as the writer runs, so each batch
    is one commit (one fsync)."""

    def __init__(self, *, max_batch: int = 1000) -> None:
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[list[Row], Future[AppendResult]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="webhook-spool-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def submit(self, events: Iterable[ChangeEvent], received_at: datetime) -> Future[AppendResult]:
        future: Future[AppendResult] = Future()
        rows = event_rows(events, received_at)
        if rows:
            self._queue.put((rows, future))
        else:
            future.set_result(AppendResult(0, 0))
        return future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch = []
            while item is not None:
                batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = item is None
            # A request that gave up (client gone, write deadline) cancelled its future: skip it, the
            # sender retries. After this call a future can no longer be cancelled, so setting it is safe.
            batch = [(rows, future) for rows, future in batch if future.set_running_or_notify_cancel()]
            if batch:
                self._commit(batch)
        self._close()

    def _commit(self, batch: list[tuple[list[Row], Future[AppendResult]]]) -> None:
        try:
            results = self._insert([rows for rows, _ in batch])
        except SPOOL_WRITE_ERRORS as error:
            self._close()
            for _, future in batch:
                future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    def _insert(self, deliveries: list[list[Row]]) -> list[AppendResult]:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class SpoolWriter(_GroupCommitWriter):
    """The group-committing writer of a SQLite spool file.

    Before each batch the file's identity is checked, so a spool removed or replaced under a running
    receiver fails loudly instead of acknowledging events into an unlinked file."""

    def __init__(self, spool: Spool, *, max_batch: int = 1000) -> None:
        super().__init__(max_batch=max_batch)
        self.spool = spool
        self._connection: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None

    def _insert(self, deliveries: list[list[Row]]) -> list[AppendResult]:
        return insert_deliveries(self._open(), deliveries)

    def _open(self) -> sqlite3.Connection:
        try:
            status = os.stat(self.spool.path)
        except FileNotFoundError:
            self._close()
            raise sqlite3.OperationalError(f"the spool file {self.spool.path} is gone") from None
        identity = (status.st_dev, status.st_ino)
        if self._connection is not None and identity != self._identity:
            self._close()
        if self._connection is None:
            # mode=rw: never create an empty spool here; the receiver's startup creates it with its schema.
            self._connection = sqlite3.connect(
                f"{self.spool.path.resolve().as_uri()}?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level="IMMEDIATE",
                check_same_thread=False,
            )
            self._connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._connection.execute("PRAGMA synchronous=FULL")
            self._identity = identity
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# --- the spool on PostgreSQL (several receivers and sensors on several hosts) ---------------------------

_POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_events (
    seq BIGSERIAL PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,
    realm_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    source_format TEXT NOT NULL,
    event_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_events_received_at ON webhook_events (received_at);
"""


class PostgresSpool:
    """The spool as a PostgreSQL table: the same API as `Spool`, for receivers and sensors on several hosts.

    A `seq > cursor` reader on PostgreSQL loses rows that commit out of order: a BIGSERIAL is drawn
    when a row is inserted, so seq 1 may commit after seq 2 was read, and is never seen. Here every
    writing transaction first takes one transaction-scoped advisory lock for the spool and draws its
    seqs under it. PostgreSQL makes a committed transaction visible before it releases its locks, so
    the next writer draws a higher seq only after the previous one is visible: seq order is commit
    order and `seq > cursor` misses nothing. Writers wait for each other for one insert and commit
    (milliseconds); webhook deliveries are far below that rate. Duplicates are a UNIQUE dedup key with
    `ON CONFLICT DO NOTHING`.
    """

    def __init__(self, url: str) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"PostgresSpool({postgres.redacted(self.url)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        try:
            connection = postgres.connect(self.url, application_name="qbo_sftp_assets webhook spool")
        except psycopg2.OperationalError as error:
            raise SpoolUnavailable(f"cannot reach the webhook spool {self!r}: {str(error).strip()}") from None
        try:
            with connection, connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    # --- writer side ---------------------------------------------------------------------------------

    def create(self) -> str:
        """Create the tables if absent (idempotent, safe from several receivers at once); the spool id."""
        with self._transaction() as cursor:
            postgres.ensure_schema(cursor.connection, "webhook_spool", _POSTGRES_SCHEMA)
            cursor.execute(
                "INSERT INTO webhook_spool_meta (key, value) VALUES ('spool_id', %s) ON CONFLICT DO NOTHING",
                (uuid.uuid4().hex,),
            )
            cursor.execute("SELECT value FROM webhook_spool_meta WHERE key = 'spool_id'")
            return str(cursor.fetchone()[0])

    def append(self, events: Iterable[ChangeEvent], *, received_at: datetime | None = None) -> AppendResult:
        """Store the events of one delivery in one transaction (committed on return); known keys are ignored."""
        rows = event_rows(events, received_at or datetime.now(UTC))
        if not rows:
            return AppendResult(0, 0)
        with self._transaction() as cursor:
            return self.insert_deliveries(cursor, [rows])[0]

    def insert_deliveries(self, cursor: Any, deliveries: Sequence[list[Row]]) -> list[AppendResult]:
        """Insert deliveries in the cursor's transaction, seqs drawn under the spool's writer lock; the
        caller commits (until then later writers wait, so nothing commits past these rows)."""
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (postgres.advisory_key("webhook_spool:writer"),))
        results = []
        for rows in deliveries:
            stored = 0
            for row in rows:
                cursor.execute(
                    "INSERT INTO webhook_events (dedup_key, realm_id, entity, entity_id, operation, occurred_at, "
                    "received_at, source_format, event_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (dedup_key) DO NOTHING",
                    row,
                )
                stored += cursor.rowcount
            results.append(AppendResult(stored=stored, duplicates=len(rows) - stored))
        return results

    def prune(self, received_before: datetime, *, realm_id: str | None = None, through: str | None = None) -> int:
        """As `Spool.prune` (keep at least the receiver's max event age)."""
        with self._transaction() as cursor:
            conditions = ["received_at < %s"]
            parameters: list[object] = [received_before]
            if realm_id is not None:
                conditions.append("realm_id = %s")
                parameters.append(realm_id)
            if through is not None:
                conditions.append("seq <= %s")
                parameters.append(parse_cursor(through, self._spool_id(cursor)))
            cursor.execute(f"DELETE FROM webhook_events WHERE {' AND '.join(conditions)}", parameters)
            return int(cursor.rowcount)

    # --- reader side ---------------------------------------------------------------------------------

    def read_after(self, cursor: str | None, limit: int = 500) -> list[SpooledEvent]:
        """Events committed after `cursor` (None: from the start), oldest first, at most `limit`."""
        with self._readable() as db:
            spool_id = self._spool_id(db)
            db.execute(
                "SELECT seq, realm_id, entity, entity_id, operation, occurred_at, received_at, source_format, "
                "event_id, dedup_key FROM webhook_events WHERE seq > %s ORDER BY seq LIMIT %s",
                (parse_cursor(cursor, spool_id), max(1, int(limit))),
            )
            rows = db.fetchall()
        return [
            SpooledEvent(
                seq=row[0],
                cursor=f"{spool_id}:{row[0]}",
                realm_id=row[1],
                entity=row[2],
                entity_id=row[3],
                operation=row[4],
                occurred_at=row[5].astimezone(UTC),
                received_at=row[6].astimezone(UTC),
                source_format=row[7],
                event_id=row[8],
                dedup_key=row[9],
            )
            for row in rows
        ]

    def count(self) -> int:
        with self._readable() as db:
            db.execute("SELECT count(*) FROM webhook_events")
            return int(db.fetchone()[0])

    def latest_events(self, realm_id: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
        """As `Spool.latest_events`."""
        latest: dict[tuple[str, str], datetime] = {}
        with self._readable() as db:
            for entity, entity_id in keys:
                db.execute(
                    "SELECT max(occurred_at) FROM webhook_events "
                    "WHERE realm_id = %s AND entity = %s AND entity_id = %s",
                    (realm_id, entity, entity_id),
                )
                (when,) = db.fetchone()
                if when is not None:
                    latest[(entity, entity_id)] = when.astimezone(UTC)
        return latest

    def spool_id(self) -> str:
        with self._readable() as db:
            return self._spool_id(db)

    def writer(self) -> PostgresSpoolWriter:
        """The receiver's group-committing writer for this spool (start it after `create`)."""
        return PostgresSpoolWriter(self)

    @contextmanager
    def _readable(self) -> Iterator[Any]:
        """A cursor for reading; a spool without its tables yet, or a server that went away while it was
        read, is SpoolUnavailable (the sensor skips the tick and reads from the same cursor next time)."""
        try:
            with self._transaction() as cursor:
                yield cursor
        except psycopg2.errors.UndefinedTable:
            raise SpoolUnavailable(f"the webhook spool {self!r} has no tables yet (start the receiver)") from None
        except psycopg2.OperationalError as error:
            raise SpoolUnavailable(f"cannot read the webhook spool {self!r}: {str(error).strip()}") from None

    @staticmethod
    def _spool_id(cursor: Any) -> str:
        cursor.execute("SELECT value FROM webhook_spool_meta WHERE key = 'spool_id'")
        row = cursor.fetchone()
        if row is None:
            raise SpoolUnavailable("the webhook spool has no id yet (start the receiver)")
        return str(row[0])


class PostgresSpoolWriter(_GroupCommitWriter):
    """The group-committing writer of the PostgreSQL spool: one connection, one transaction per batch,
    its seqs drawn under the spool's writer lock (see PostgresSpool). A failed batch closes the
    connection; the next one connects again, so a restarted server costs the requests of one batch (503s
    that Intuit retries), not the receiver."""

    def __init__(self, spool: PostgresSpool, *, max_batch: int = 1000) -> None:
        super().__init__(max_batch=max_batch)
        self.spool = spool
        self._connection: Any = None

    def _insert(self, deliveries: list[list[Row]]) -> list[AppendResult]:
        connection = self._open()
        with connection, connection.cursor() as cursor:  # COMMIT, or ROLLBACK on an error
            return self.spool.insert_deliveries(cursor, deliveries)

    def _open(self) -> Any:
        if self._connection is None:
            try:
                self._connection = postgres.connect(self.spool.url, application_name="qbo_sftp_assets webhook receiver")
            except psycopg2.OperationalError as error:
                raise SpoolUnavailable(f"cannot reach the webhook spool {self.spool!r}: {str(error).strip()}") from None
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


AnySpool = Spool | PostgresSpool
# What a spool write can fail with; the receiver answers 503 to each and Intuit retries.
SPOOL_WRITE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg2.Error, SpoolUnavailable)


def spool_for(config: Config, environ: Mapping[str, str] | None = None) -> AnySpool:
    """The spool `webhooks.spool_backend` names: the SQLite file at `webhooks.spool_path`, or the tables in
    the `postgres:` database (its URL from the variable `postgres.url_env` names; unset is a ConfigError)."""
    if config.spool_backend == "postgres":
        return PostgresSpool(config.postgres.url(environ))
    return Spool(config.webhooks.spool_path)
