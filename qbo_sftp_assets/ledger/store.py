"""The ledger's API over short-lived connections to DuckDB (the default) or PostgreSQL, retried on conflicts."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from qbo_sftp_assets.formats.control_numbers import CONTROL_NUMBER_MAXIMUM
from qbo_sftp_assets.ledger.backends import (
    DuckDBBackend,
    LedgerBusy,  # noqa: F401  (re-exported: callers catch it from here)
    LedgerCursor,
    LedgerError,
    PostgresBackend,
)
from qbo_sftp_assets.ledger.migrations import LATEST_SCHEMA_VERSION, MIGRATIONS

T = TypeVar("T")


class LedgerTooNew(LedgerError):
    """The ledger file was migrated by a newer qbo-sftp than this one."""

    exit_code = 3


@dataclass(frozen=True)
class InboundFile:
    id: int
    sha256: str
    partner: str
    remote_path: str
    size: int
    received_at: dt.datetime
    status: str
    duplicate_of: int | None


@dataclass(frozen=True)
class Posting:
    """One document's posting row: what it became in QBO (or why not) and which request carried it.

    `status` is pending (written before the call; resolved by requestid on the next run), posted,
    updated, linked (already in QBO: this file's document points at the existing record), skipped,
    or failed (QBO refused it: `error_code` / `error`).
    """

    file_sha256: str
    record_index: int
    document_key: str
    entity_type: str
    request_id: str
    qbo_id: str | None
    sync_token: str | None
    status: str
    error: str | None
    partner: str | None = None
    realm_id: str | None = None
    doc_number: str | None = None
    vendor_id: str | None = None
    content_sha256: str | None = None
    operation: str | None = None
    error_code: str | None = None
    attempts: int = 0
    batch_request_id: str | None = None
    batch_bid: str | None = None
    payload: str | None = None
    linked_file_sha256: str | None = None
    source_line: int | None = None
    source_segment: int | None = None


POSTING_COLUMNS = (
    "file_sha256, record_index, document_key, entity_type, request_id, qbo_id, sync_token, status, error, "
    "partner, realm_id, doc_number, vendor_id, content_sha256, operation, error_code, coalesce(attempts, 0), "
    "batch_request_id, batch_bid, CAST(payload AS VARCHAR), linked_file_sha256, source_line, source_segment"
)
DONE_STATUSES = ("posted", "updated", "linked")


@dataclass(frozen=True)
class PostingStart:
    """A posting row to write before its QBO call (or to record a link or skip that needs no call)."""

    file_sha256: str
    record_index: int
    document_key: str
    entity_type: str
    request_id: str
    partner: str
    realm_id: str
    doc_number: str | None
    vendor_id: str | None
    content_sha256: str | None
    operation: str  # create | update | link | skip
    status: str = "pending"
    source_line: int | None = None
    source_segment: int | None = None
    batch_request_id: str | None = None
    batch_bid: str | None = None
    payload: str | None = None  # the JSON body, kept so a crashed batch can be re-sent as it was
    qbo_id: str | None = None
    sync_token: str | None = None
    linked_file_sha256: str | None = None


@dataclass(frozen=True)
class PostingResult:
    """What QBO answered for one posting row."""

    file_sha256: str
    record_index: int
    status: str  # posted | updated | linked | failed
    qbo_id: str | None = None
    sync_token: str | None = None
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class OutboundDelivery:
    """One file we delivered: what it carried, its control numbers, and what the partner said of it."""

    id: int
    partner: str
    feed: str
    remote_path: str
    sha256: str
    record_count: int
    entity_versions: dict[str, str]
    control_numbers: dict[str, Any] | None
    ack_status: str
    delivered_at: dt.datetime
    acked_at: dt.datetime | None


@dataclass(frozen=True)
class StoredAck:
    """An acknowledgment we sent, with its bytes (so a re-sent file gets the same answer again)."""

    id: int
    kind: str
    remote_path: str | None
    status: str
    revision: int
    content: bytes | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Ledger:
    """The ledger: a DuckDB file at `path`, or with `url` a PostgreSQL database (`ledger_for` picks from
    the config). Every method opens, uses and closes its own connection, except inside `session()`,
    where the methods called on that thread share the session's one connection."""

    def __init__(self, path: str | Path | None = None, *, url: str | None = None, lock_timeout: float = 30.0) -> None:
        if (path is None) == (url is None):
            raise ValueError("a ledger is a DuckDB file (path) or a PostgreSQL database (url), exactly one")
        self.path = None if path is None else Path(path)
        self.backend: DuckDBBackend | PostgresBackend = (
            DuckDBBackend(self.path) if self.path is not None else PostgresBackend(str(url))
        )
        self.lock_timeout = lock_timeout
        self._migrated = False
        self._held = threading.local()

    def __repr__(self) -> str:
        if self.path is not None:
            return f"Ledger({str(self.path)!r})"
        return f"Ledger(url={self.location!r})"

    @property
    def location(self) -> str:
        """Where the ledger is, for messages: the file, or the database without its password."""
        return self.backend.location

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_held"]  # a session's connection belongs to this process and thread
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._held = threading.local()

    # --- connections ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def session(self) -> Iterator[Ledger]:
        """Hold one connection for a unit of work on this thread: each method inside it reuses it.

        Opening a connection costs tens of milliseconds, so a step that writes the ledger many times
        (posting: rows before, results as each batch answers) holds one. Each method still runs in its
        own transaction, retried on a conflict. While the session lasts this process holds a DuckDB
        file, so keep it to one step. Sessions nest: an inner one reuses the outer connection.
        """
        if getattr(self._held, "connection", None) is not None:
            yield self
            return
        self.migrate()
        with self._raw_connection() as connection:
            self._held.connection = connection
            try:
                yield self
            finally:
                self._held.connection = None

    @contextlib.contextmanager
    def _raw_connection(self) -> Iterator[Any]:
        held = getattr(self._held, "connection", None)
        if held is not None:
            yield held
            return
        with self.backend.connect(self.lock_timeout) as connection:
            yield connection

    def transaction(self, work: Callable[[Any], T], *, lock: str | None = None) -> T:
        """Run `work` in one transaction, retrying on conflicts with other writers.

        `lock` names what a check-then-insert must not race on (a file's hash, a counter): on PostgreSQL
        writers of the same name take turns, each seeing what the one before committed.
        """
        self.migrate()
        backend = self.backend
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        while True:
            with self._raw_connection() as connection:
                try:
                    backend.begin(connection, lock, self.lock_timeout)
                    result = work(connection)
                    backend.commit(connection)
                    return result
                except backend.errors as error:
                    # A failed commit may leave no transaction to roll back; the error that matters is its own.
                    with contextlib.suppress(*backend.errors):
                        backend.rollback(connection)
                    if not backend.is_conflict(error):
                        raise
                    if time.monotonic() >= deadline:
                        raise backend.busy(error, self.lock_timeout) from None
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.transaction(lambda c: c.execute(sql, list(parameters)).fetchall())

    # --- schema -------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._raw_connection() as connection:
            return self._version(connection)

    @staticmethod
    def _version(connection: LedgerCursor) -> int:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)"
        )
        row = connection.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> int:
        """Bring the ledger to the latest schema; idempotent, and refuses a ledger from a newer release.

        One transaction holds the `schema` lock, so processes starting at once on PostgreSQL migrate it
        once between them (the others wait, then find it done).
        """
        if self._migrated:
            return LATEST_SCHEMA_VERSION
        backend = self.backend
        with self._raw_connection() as connection:
            backend.begin(connection, "schema", self.lock_timeout)
            try:
                current = self._version(connection)
                if current > LATEST_SCHEMA_VERSION:
                    raise LedgerTooNew(
                        f"{self.location}: the ledger has schema version {current}, but this qbo-sftp only knows "
                        f"versions up to {LATEST_SCHEMA_VERSION}. It was written by a newer release; upgrade "
                        "qbo-sftp (pip install -U qbo_sftp_assets) instead of running an older one against it."
                    )
                for version in range(current + 1, LATEST_SCHEMA_VERSION + 1):
                    connection.execute(backend.ddl(MIGRATIONS[version - 1]))
                    connection.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, _now()])
                backend.commit(connection)
            except BaseException:
                with contextlib.suppress(*backend.errors):
                    backend.rollback(connection)
                raise
        self._migrated = True
        return LATEST_SCHEMA_VERSION

    # --- inbound files ----------------------------------------------------------------------------

    def record_inbound_file(
        self,
        *,
        sha256: str,
        partner: str,
        remote_path: str,
        size: int,
        received_at: dt.datetime | None = None,
        stage: str | None = None,
        landing: str | None = None,
    ) -> InboundFile:
        """Record a received file; `duplicate_of` is set when the same bytes already came from this partner.
        `stage` starts the file's progress (see `set_inbound_stage`) and `landing` names the landing that
        holds it (see `take_over_inbound_file`), in the same write."""

        def work(c: LedgerCursor) -> InboundFile:
            first = c.execute(
                "SELECT id FROM inbound_files WHERE sha256 = ? AND partner = ? AND duplicate_of IS NULL "
                "ORDER BY id LIMIT 1",
                [sha256, partner],
            ).fetchone()
            duplicate_of = first[0] if first else None
            status = "duplicate" if duplicate_of else "received"
            now = _now()
            row = c.execute(
                "INSERT INTO inbound_files (sha256, partner, remote_path, size, received_at, status, "
                "duplicate_of, updated_at, stage, landing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [sha256, partner, remote_path, size, received_at or now, status, duplicate_of, now, stage, landing],
            ).fetchone()
            return self._inbound_by_id(c, row[0])

        # Two runs landing the same bytes at once: the second must see the first as the original.
        return self.transaction(work, lock=f"inbound:{partner}:{sha256}")

    @staticmethod
    def _inbound_by_id(c: LedgerCursor, file_id: int) -> InboundFile:
        row = c.execute(
            "SELECT id, sha256, partner, remote_path, size, received_at, status, duplicate_of "
            "FROM inbound_files WHERE id = ?",
            [file_id],
        ).fetchone()
        return InboundFile(*row)

    def set_inbound_status(
        self,
        file_id: int,
        status: str,
        detail: str | None = None,
        *,
        remote_path: str | None = None,
        stage: str | None = None,
        landing: str | None = None,
    ) -> None:
        """Record what became of an inbound file; `remote_path` is where it now lies (archive/, error/),
        `stage` how far the pipeline got with it and `landing` the landing that holds it, in the same write."""
        self.transaction(
            lambda c: c.execute(
                "UPDATE inbound_files SET status = ?, detail = ?, remote_path = coalesce(?, remote_path), "
                "stage = coalesce(?, stage), landing = coalesce(?, landing), updated_at = ? WHERE id = ?",
                [status, detail, remote_path, stage, landing, _now(), file_id],
            )
        )

    def inbound_file(self, file_id: int) -> InboundFile:
        return self.transaction(lambda c: self._inbound_by_id(c, file_id))

    def set_inbound_stage(self, file_id: int, stage: str) -> None:
        """How far the pipeline got with a file (landed, read, filing, filed), for resuming it."""
        self.set_inbound_stages([file_id], stage)

    def set_inbound_stages(self, file_ids: Sequence[int], stage: str) -> None:
        """`set_inbound_stage` for many files in one write (a step's files that all reached `stage`)."""
        if not file_ids:
            return
        placeholders = ", ".join("?" for _ in file_ids)
        self.transaction(
            lambda c: c.execute(
                f"UPDATE inbound_files SET stage = ?, updated_at = ? WHERE id IN ({placeholders})",
                [stage, _now(), *file_ids],
            )
        )

    def take_over_inbound_file(self, file_id: int, landing: str, remote_path: str | None = None) -> None:
        """Name `landing` as the one that holds the file from now on (a run resuming it from processing/,
        perhaps while another still works on it), and where the file is when that changed."""
        self.transaction(
            lambda c: c.execute(
                "UPDATE inbound_files SET landing = ?, remote_path = coalesce(?, remote_path), updated_at = ? "
                "WHERE id = ?",
                [landing, remote_path, _now(), file_id],
            )
        )

    def inbound_landings(self, file_ids: Sequence[int]) -> dict[int, str | None]:
        """The landing that holds each file now (None for a file recorded before landings were named)."""
        if not file_ids:
            return {}
        placeholders = ", ".join("?" for _ in file_ids)
        rows = self.query(f"SELECT id, landing FROM inbound_files WHERE id IN ({placeholders})", list(file_ids))
        return {int(file_id): landing for file_id, landing in rows}

    def inbound_stage(self, file_id: int) -> str | None:
        rows = self.query("SELECT stage FROM inbound_files WHERE id = ?", [file_id])
        return rows[0][0] if rows else None

    def interrupted_filings(self, partner: str) -> list[InboundFile]:
        """Rows whose file was being moved to archive/ or error/ when a run stopped (stage 'filing')."""
        rows = self.query("SELECT id FROM inbound_files WHERE partner = ? AND stage = 'filing' ORDER BY id", [partner])
        return [self.inbound_file(row[0]) for row in rows]

    def unfinished_inbound_file(self, partner: str, remote_path: str) -> InboundFile | None:
        """The newest row for a file still in processing/ that was never filed (a run crashed on it)."""
        rows = self.query(
            "SELECT id FROM inbound_files WHERE partner = ? AND remote_path = ? "
            "AND coalesce(stage, 'landed') <> 'filed' ORDER BY id DESC LIMIT 1",
            [partner, remote_path],
        )
        return self.inbound_file(rows[0][0]) if rows else None

    # --- postings ---------------------------------------------------------------------------------

    def begin_posting(
        self,
        *,
        file_sha256: str,
        record_index: int,
        document_key: str,
        entity_type: str,
        request_id: str,
        source_line: int | None = None,
        source_segment: int | None = None,
        partner: str | None = None,
        realm_id: str | None = None,
        doc_number: str | None = None,
        vendor_id: str | None = None,
        content_sha256: str | None = None,
        operation: str = "create",
    ) -> Posting:
        """Write the posting row before the QBO call; an existing row (a replay) is returned unchanged."""

        def work(c: LedgerCursor) -> Posting:
            now = _now()
            c.execute(
                "INSERT INTO postings (file_sha256, record_index, document_key, source_line, source_segment, "
                "entity_type, request_id, status, created_at, updated_at, partner, realm_id, doc_number, vendor_id, "
                "content_sha256, operation, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING",
                [
                    file_sha256,
                    record_index,
                    document_key,
                    source_line,
                    source_segment,
                    entity_type,
                    request_id,
                    now,
                    now,
                    partner,
                    realm_id,
                    doc_number,
                    vendor_id,
                    content_sha256,
                    operation,
                ],
            )
            return self._posting(c, file_sha256, record_index)

        return self.transaction(work)

    def begin_postings(self, starts: Sequence[PostingStart]) -> None:
        """Write many posting rows in one transaction, before any of their QBO calls.

        A row already there (a replay of a failed or skipped document) keeps its own requestid and is
        given the new batch, body and status; a row that is done must not be passed in again.
        """
        if not starts:
            return
        now = _now()
        rows = [
            [
                s.file_sha256,
                s.record_index,
                s.document_key,
                s.source_line,
                s.source_segment,
                s.entity_type,
                s.request_id,
                s.status,
                now,
                now,
                s.partner,
                s.realm_id,
                s.doc_number,
                s.vendor_id,
                s.content_sha256,
                s.operation,
                s.batch_request_id,
                s.batch_bid,
                s.payload,
                s.qbo_id,
                s.sync_token,
                s.linked_file_sha256,
            ]
            for s in starts
        ]
        # One multi-row statement per chunk: DuckDB's executemany costs milliseconds a row.
        marks = "(" + ", ".join(["?"] * 22) + ", 1)"

        def work(c: LedgerCursor) -> None:
            for start in range(0, len(rows), 200):
                chunk = rows[start : start + 200]
                c.execute(
                    "INSERT INTO postings (file_sha256, record_index, document_key, source_line, source_segment, "
                    "entity_type, request_id, status, created_at, updated_at, partner, realm_id, doc_number, "
                    "vendor_id, content_sha256, operation, batch_request_id, batch_bid, payload, qbo_id, sync_token, "
                    f"linked_file_sha256, attempts) VALUES {', '.join([marks] * len(chunk))} "
                    "ON CONFLICT (file_sha256, record_index) DO UPDATE SET status = excluded.status, "
                    "operation = excluded.operation, content_sha256 = excluded.content_sha256, "
                    "batch_request_id = excluded.batch_request_id, batch_bid = excluded.batch_bid, "
                    "payload = excluded.payload, qbo_id = coalesce(excluded.qbo_id, postings.qbo_id), "
                    "sync_token = coalesce(excluded.sync_token, postings.sync_token), "
                    "linked_file_sha256 = excluded.linked_file_sha256, partner = excluded.partner, "
                    "realm_id = excluded.realm_id, doc_number = excluded.doc_number, vendor_id = excluded.vendor_id, "
                    "error = NULL, error_code = NULL, attempts = coalesce(postings.attempts, 0) + 1, "
                    "updated_at = excluded.updated_at",
                    [value for row in chunk for value in row],
                )

        self.transaction(work)

    def finish_postings(self, results: Sequence[PostingResult]) -> None:
        """Record QBO's answers for many posting rows in one transaction."""
        if not results:
            return
        now = _now()
        values = [
            [r.file_sha256, r.record_index, r.status, r.qbo_id, r.sync_token, r.error_code, r.error] for r in results
        ]

        def work(c: LedgerCursor) -> None:
            for start in range(0, len(values), 200):
                chunk = values[start : start + 200]
                c.execute(
                    "UPDATE postings SET status = v.status, qbo_id = coalesce(v.qbo_id, postings.qbo_id), "
                    "sync_token = coalesce(v.sync_token, postings.sync_token), error_code = v.error_code, "
                    "error = v.error, updated_at = ? FROM (VALUES "
                    + ", ".join(["(?, ?::INTEGER, ?, ?, ?, ?, ?)"] * len(chunk))
                    + ") AS v(file_sha256, record_index, status, qbo_id, sync_token, error_code, error) "
                    "WHERE postings.file_sha256 = v.file_sha256 AND postings.record_index = v.record_index",
                    [now, *(value for row in chunk for value in row)],
                )

        self.transaction(work)

    def postings_for_files(self, file_sha256s: Sequence[str]) -> list[Posting]:
        """Every posting row of these files."""
        if not file_sha256s:
            return []
        marks = ", ".join("?" for _ in file_sha256s)
        rows = self.query(f"SELECT {POSTING_COLUMNS} FROM postings WHERE file_sha256 IN ({marks})", list(file_sha256s))
        return [Posting(*row) for row in rows]

    def pending_postings(self, realm_id: str, batch_request_ids: Sequence[str] | None = None) -> list[Posting]:
        """Postings a crash left pending in a company (optionally only those of some batch requests)."""
        sql = f"SELECT {POSTING_COLUMNS} FROM postings WHERE status = 'pending' AND realm_id = ?"
        parameters: list[Any] = [realm_id]
        if batch_request_ids is not None:
            if not batch_request_ids:
                return []
            sql += f" AND batch_request_id IN ({', '.join('?' for _ in batch_request_ids)})"
            parameters.extend(batch_request_ids)
        return [Posting(*row) for row in self.query(sql + " ORDER BY batch_request_id, batch_bid", parameters)]

    def posted_documents(
        self, partner: str, realm_id: str, keys: Sequence[tuple[str, str | None, str]]
    ) -> dict[tuple[str, str | None, str], Posting]:
        """The first done posting of each (entity type, vendor id, document number), whatever file it came in."""
        if not keys:
            return {}
        numbers = sorted({number for _, _, number in keys})
        found: dict[tuple[str, str | None, str], Posting] = {}
        wanted = set(keys)
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            rows = self.query(
                f"SELECT {POSTING_COLUMNS} FROM postings WHERE partner = ? AND realm_id = ? AND status IN "
                f"('posted', 'updated', 'linked') AND doc_number IN ({', '.join('?' for _ in chunk)}) "
                "ORDER BY created_at",
                [partner, realm_id, *chunk],
            )
            for row in rows:
                posting = Posting(*row)
                key = (posting.entity_type, posting.vendor_id, posting.doc_number or "")
                if key in wanted and key not in found:
                    found[key] = posting
        # A later update carries the SyncToken QBO last returned: the newest row of the record wins it.
        return found

    def latest_sync_token(self, entity_type: str, qbo_id: str) -> str | None:
        """The SyncToken QBO last returned to us for a record (from its newest posting row)."""
        rows = self.query(
            "SELECT sync_token FROM postings WHERE entity_type = ? AND qbo_id = ? AND sync_token IS NOT NULL "
            "ORDER BY updated_at DESC LIMIT 1",
            [entity_type, qbo_id],
        )
        return rows[0][0] if rows else None

    @staticmethod
    def _posting(c: LedgerCursor, file_sha256: str, record_index: int) -> Posting:
        row = c.execute(
            f"SELECT {POSTING_COLUMNS} FROM postings WHERE file_sha256 = ? AND record_index = ?",
            [file_sha256, record_index],
        ).fetchone()
        return Posting(*row)

    def complete_posting(self, file_sha256: str, record_index: int, *, qbo_id: str, sync_token: str) -> None:
        self.transaction(
            lambda c: c.execute(
                "UPDATE postings SET status = 'posted', qbo_id = ?, sync_token = ?, error = NULL, updated_at = ? "
                "WHERE file_sha256 = ? AND record_index = ?",
                [qbo_id, sync_token, _now(), file_sha256, record_index],
            )
        )

    def fail_posting(self, file_sha256: str, record_index: int, *, error: str) -> None:
        self.transaction(
            lambda c: c.execute(
                "UPDATE postings SET status = 'failed', error = ?, updated_at = ? "
                "WHERE file_sha256 = ? AND record_index = ?",
                [error, _now(), file_sha256, record_index],
            )
        )

    def trace(self, qbo_id: str, entity_type: str | None = None) -> list[dict[str, Any]]:
        """From a QBO id back to the file, line or segment, and hash it came from."""
        sql = (
            "SELECT p.entity_type, p.qbo_id, p.sync_token, p.request_id, p.document_key, p.record_index, "
            "p.source_line, p.source_segment, p.file_sha256, f.partner, f.remote_path, f.received_at, "
            "p.status, p.operation, p.doc_number FROM postings p LEFT JOIN inbound_files f ON f.sha256 = p.file_sha256 "
            "AND f.duplicate_of IS NULL WHERE p.qbo_id = ?"
        )
        parameters: list[Any] = [qbo_id]
        if entity_type:
            sql += " AND lower(p.entity_type) = lower(?)"
            parameters.append(entity_type)
        columns = [
            "entity_type",
            "qbo_id",
            "sync_token",
            "request_id",
            "document_key",
            "record_index",
            "source_line",
            "source_segment",
            "file_sha256",
            "partner",
            "remote_path",
            "received_at",
            "status",
            "operation",
            "doc_number",
        ]
        return [dict(zip(columns, row, strict=True)) for row in self.query(sql + " ORDER BY p.created_at", parameters)]

    # --- outbound deliveries and acknowledgments --------------------------------------------------

    def record_delivery(
        self,
        *,
        partner: str,
        feed: str,
        remote_path: str,
        sha256: str,
        record_count: int,
        entity_versions: dict[str, str],
        control_numbers: dict[str, Any] | None = None,
        ack_status: str = "not_expected",
    ) -> int:
        row = self.transaction(
            lambda c: c.execute(
                "INSERT INTO outbound_deliveries (partner, feed, remote_path, sha256, record_count, "
                "entity_versions, control_numbers, ack_status, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                [
                    partner,
                    feed,
                    remote_path,
                    sha256,
                    record_count,
                    json.dumps(entity_versions, sort_keys=True),
                    None if control_numbers is None else json.dumps(control_numbers, sort_keys=True),
                    ack_status,
                    _now(),
                ],
            ).fetchone()
        )
        return int(row[0])

    def set_delivery_ack(self, delivery_id: int, ack_status: str) -> None:
        self.transaction(
            lambda c: c.execute(
                "UPDATE outbound_deliveries SET ack_status = ?, acked_at = ? WHERE id = ?",
                [ack_status, _now(), delivery_id],
            )
        )

    def delivered_versions(self, partner: str, feed: str) -> dict[str, str]:
        """Each entity key (`Bill/12`) the feed has delivered to the partner, with the newest version sent."""
        versions: dict[str, str] = {}
        for (text,) in self.query(
            "SELECT CAST(entity_versions AS VARCHAR) FROM outbound_deliveries WHERE partner = ? AND feed = ? "
            "ORDER BY id",
            [partner, feed],
        ):
            versions.update(json.loads(text))
        return versions

    def outbound_deliveries(
        self,
        *,
        partner: str | None = None,
        feed: str | None = None,
        ack_statuses: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[OutboundDelivery]:
        """Deliveries, newest first, optionally of one partner / feed or in some ack states."""
        sql = (
            "SELECT id, partner, feed, remote_path, sha256, record_count, CAST(entity_versions AS VARCHAR), "
            "CAST(control_numbers AS VARCHAR), ack_status, delivered_at, acked_at FROM outbound_deliveries WHERE TRUE"
        )
        parameters: list[Any] = []
        for column, value in (("partner", partner), ("feed", feed)):
            if value is not None:
                sql += f" AND {column} = ?"
                parameters.append(value)
        if ack_statuses:
            sql += f" AND ack_status IN ({', '.join('?' for _ in ack_statuses)})"
            parameters.extend(ack_statuses)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            parameters.append(limit)
        return [
            OutboundDelivery(
                id=int(row[0]),
                partner=row[1],
                feed=row[2],
                remote_path=row[3],
                sha256=row[4],
                record_count=int(row[5]),
                entity_versions=json.loads(row[6]),
                control_numbers=None if row[7] is None else json.loads(row[7]),
                ack_status=row[8],
                delivered_at=row[9],
                acked_at=row[10],
            )
            for row in self.query(sql, parameters)
        ]

    def received_acknowledgments(self, partner: str, file_sha256s: Sequence[str]) -> list[dict[str, Any]]:
        """What the partner's acknowledgments said about our files (by their sha256), oldest first."""
        if not file_sha256s:
            return []
        rows = self.query(
            "SELECT id, file_sha256, kind, control_number, status, detail, remote_path, created_at "
            "FROM acknowledgments WHERE direction = 'received' AND partner = ? "
            f"AND file_sha256 IN ({', '.join('?' for _ in file_sha256s)}) ORDER BY id",
            [partner, *file_sha256s],
        )
        names = ["id", "file_sha256", "kind", "control_number", "status", "detail", "remote_path", "created_at"]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def record_acknowledgment(
        self,
        *,
        partner: str,
        direction: str,
        kind: str,
        status: str,
        file_sha256: str | None = None,
        remote_path: str | None = None,
        control_number: str | None = None,
        detail: str | None = None,
        content: bytes | None = None,
        revision: int = 1,
    ) -> int:
        row = self.transaction(
            lambda c: c.execute(
                "INSERT INTO acknowledgments (partner, direction, kind, file_sha256, remote_path, control_number, "
                "status, detail, created_at, content, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    partner,
                    direction,
                    kind,
                    file_sha256,
                    remote_path,
                    control_number,
                    status,
                    detail,
                    _now(),
                    content,
                    revision,
                ],
            ).fetchone()
        )
        return int(row[0])

    def sent_acknowledgments(self, file_sha256: str, kinds: Sequence[str] | None = None) -> list[StoredAck]:
        """The acknowledgments we sent for a file, oldest first (optionally only some kinds)."""
        sql = (
            "SELECT id, kind, remote_path, status, coalesce(revision, 1), content FROM acknowledgments "
            "WHERE direction = 'sent' AND file_sha256 = ?"
        )
        parameters: list[Any] = [file_sha256]
        if kinds:
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            parameters.extend(kinds)
        return [
            StoredAck(row[0], row[1], row[2], row[3], row[4], None if row[5] is None else bytes(row[5]))
            for row in self.query(sql + " ORDER BY id", parameters)
        ]

    # --- interchanges -------------------------------------------------------------------------------

    def record_interchange(
        self, *, partner: str, standard: str, sender: str, control_number: str, file_sha256: str
    ) -> str | None:
        """Remember an EDI interchange; the sha256 of the earlier file when it was already seen in another."""

        def work(c: LedgerCursor) -> str | None:
            row = c.execute(
                "SELECT file_sha256 FROM interchanges WHERE partner = ? AND standard = ? AND sender = ? "
                "AND control_number = ?",
                [partner, standard, sender, control_number],
            ).fetchone()
            if row is not None:
                return None if row[0] == file_sha256 else str(row[0])
            c.execute(
                "INSERT INTO interchanges VALUES (?, ?, ?, ?, ?, ?)",
                [partner, standard, sender, control_number, file_sha256, _now()],
            )
            return None

        return self.transaction(work, lock=f"interchange:{partner}:{standard}:{sender}:{control_number}")

    def inbound_file_by_sha(self, partner: str, sha256: str) -> InboundFile | None:
        """The first (non-duplicate) inbound file with these bytes from this partner."""
        rows = self.query(
            "SELECT id FROM inbound_files WHERE partner = ? AND sha256 = ? ORDER BY duplicate_of NULLS FIRST, id "
            "LIMIT 1",
            [partner, sha256],
        )
        return self.inbound_file(rows[0][0]) if rows else None

    # --- control numbers and cursors ----------------------------------------------------------------

    def next_control_number(self, partner: str, kind: str) -> int:
        """The next ISA13 / GS06 / ST02 / UNB reference for `partner`: 1, 2, ... wrapping after 999999999."""

        def work(c: LedgerCursor) -> int:
            # One UPDATE ... RETURNING: DuckDB's upsert costs about twice as much, and this runs per envelope.
            row = c.execute(
                "UPDATE control_numbers SET value = CASE WHEN value >= ? THEN 1 ELSE value + 1 END "
                "WHERE partner = ? AND kind = ? RETURNING value",
                [CONTROL_NUMBER_MAXIMUM, partner, kind],
            ).fetchone()
            if row is not None:
                return int(row[0])
            c.execute("INSERT INTO control_numbers VALUES (?, ?, 1)", [partner, kind])
            return 1

        # Writers take turns on a counter instead of colliding and retrying.
        return self.transaction(work, lock=f"control:{partner}:{kind}")

    def control_numbers_for(self, partner: str) -> PartnerControlNumbers:
        return PartnerControlNumbers(self, partner)

    def get_cursor(self, name: str) -> str | None:
        rows = self.query("SELECT value FROM cursors WHERE name = ?", [name])
        return rows[0][0] if rows else None

    def set_cursor(self, name: str, value: str) -> None:
        self.transaction(
            lambda c: c.execute(
                "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                [name, value, _now()],
            )
        )

    # --- reporting ------------------------------------------------------------------------------------

    def recent_activity(self, limit: int = 20) -> dict[str, list[dict[str, Any]]]:
        """The newest rows of each table, for `qbo-sftp ledger`."""
        queries = {
            "inbound_files": "SELECT id, received_at, partner, remote_path, size, substr(sha256, 1, 12) AS sha256, "
            "status, duplicate_of FROM inbound_files ORDER BY id DESC LIMIT ?",
            "postings": "SELECT updated_at, entity_type, qbo_id, status, document_key, substr(file_sha256, 1, 12) "
            "AS file_sha256, record_index, error FROM postings ORDER BY updated_at DESC LIMIT ?",
            "outbound_deliveries": "SELECT id, delivered_at, partner, feed, remote_path, record_count, ack_status "
            "FROM outbound_deliveries ORDER BY id DESC LIMIT ?",
            "acknowledgments": "SELECT id, created_at, partner, direction, kind, control_number, status, remote_path "
            "FROM acknowledgments ORDER BY id DESC LIMIT ?",
        }

        def work(c: LedgerCursor) -> dict[str, list[dict[str, Any]]]:
            activity = {}
            for table, sql in queries.items():
                cursor = c.execute(sql, [limit])
                names = [d[0] for d in cursor.description]
                activity[table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            return activity

        return self.transaction(work)


@dataclass(frozen=True)
class PartnerControlNumbers:
    """The ledger's counters for one partner, in the `next(kind)` shape the EDI writers take."""

    ledger: Ledger
    partner: str

    def next(self, kind: str) -> int:
        return self.ledger.next_control_number(self.partner, kind)
