"""Short-lived DuckDB connections to the ledger, retried while another process holds the write lock."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.formats.control_numbers import CONTROL_NUMBER_MAXIMUM
from qbo_sftp_assets.ledger.migrations import LATEST_SCHEMA_VERSION, MIGRATIONS

T = TypeVar("T")


class LedgerError(UserFacingError):
    """The ledger cannot be used as asked."""


class LedgerBusy(LedgerError):
    """Another process kept the ledger's write lock for longer than we were willing to wait."""


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
    file_sha256: str
    record_index: int
    document_key: str
    entity_type: str
    request_id: str
    qbo_id: str | None
    sync_token: str | None
    status: str
    error: str | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error)
    return "lock" in text.lower() or isinstance(error, duckdb.TransactionException)


class Ledger:
    """The ledger file at `path`. Every method opens, uses and closes its own connection."""

    def __init__(self, path: str | Path, *, lock_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._migrated = False

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    # --- connections ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _raw_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        while True:
            try:
                connection = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as error:
                if not _is_lock_conflict(error) or time.monotonic() >= deadline:
                    raise self._busy(error) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
        try:
            yield connection
        finally:
            connection.close()

    def _busy(self, error: duckdb.Error) -> LedgerError:
        if _is_lock_conflict(error):
            return LedgerBusy(
                f"{self.path}: another process held the ledger's write lock for over "
                f"{self.lock_timeout:.0f} s. Runs that write the ledger belong in one Dagster pool "
                "(duckdb_ledger, limit 1); close any other program that has the file open."
            )
        return LedgerError(f"{self.path}: cannot open the ledger: {error}")

    def transaction(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run `work` in one transaction on a fresh connection, retrying on lock conflicts."""
        self.migrate()
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        while True:
            with self._raw_connection() as connection:
                try:
                    connection.execute("BEGIN TRANSACTION")
                    result = work(connection)
                    connection.execute("COMMIT")
                    return result
                except duckdb.TransactionException as error:
                    connection.execute("ROLLBACK")
                    if time.monotonic() >= deadline:
                        raise self._busy(error) from None
                except duckdb.Error:
                    with contextlib.suppress(duckdb.Error):
                        connection.execute("ROLLBACK")
                    raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.transaction(lambda c: c.execute(sql, list(parameters)).fetchall())

    # --- schema -------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._raw_connection() as connection:
            return self._version(connection)

    @staticmethod
    def _version(connection: duckdb.DuckDBPyConnection) -> int:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)"
        )
        row = connection.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> int:
        """Bring the file to the latest schema; idempotent, and refuses a file from a newer release."""
        if self._migrated:
            return LATEST_SCHEMA_VERSION
        with self._raw_connection() as connection:
            current = self._version(connection)
            if current > LATEST_SCHEMA_VERSION:
                raise LedgerTooNew(
                    f"{self.path}: the ledger has schema version {current}, but this qbo-sftp only knows "
                    f"versions up to {LATEST_SCHEMA_VERSION}. It was written by a newer release; upgrade "
                    "qbo-sftp (pip install -U qbo_sftp_assets) instead of running an older one against it."
                )
            for version in range(current + 1, LATEST_SCHEMA_VERSION + 1):
                connection.execute("BEGIN TRANSACTION")
                connection.execute(MIGRATIONS[version - 1])
                connection.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, _now()])
                connection.execute("COMMIT")
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
    ) -> InboundFile:
        """Record a received file; `duplicate_of` is set when the same bytes already came from this partner."""

        def work(c: duckdb.DuckDBPyConnection) -> InboundFile:
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
                "duplicate_of, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [sha256, partner, remote_path, size, received_at or now, status, duplicate_of, now],
            ).fetchone()
            return self._inbound_by_id(c, row[0])

        return self.transaction(work)

    @staticmethod
    def _inbound_by_id(c: duckdb.DuckDBPyConnection, file_id: int) -> InboundFile:
        row = c.execute(
            "SELECT id, sha256, partner, remote_path, size, received_at, status, duplicate_of "
            "FROM inbound_files WHERE id = ?",
            [file_id],
        ).fetchone()
        return InboundFile(*row)

    def set_inbound_status(
        self, file_id: int, status: str, detail: str | None = None, *, remote_path: str | None = None
    ) -> None:
        """Record what became of an inbound file; `remote_path` is where it now lies (archive/, error/)."""
        self.transaction(
            lambda c: c.execute(
                "UPDATE inbound_files SET status = ?, detail = ?, remote_path = coalesce(?, remote_path), "
                "updated_at = ? WHERE id = ?",
                [status, detail, remote_path, _now(), file_id],
            )
        )

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
    ) -> Posting:
        """Write the posting row before the QBO call; an existing row (a replay) is returned unchanged."""

        def work(c: duckdb.DuckDBPyConnection) -> Posting:
            now = _now()
            c.execute(
                "INSERT INTO postings (file_sha256, record_index, document_key, source_line, source_segment, "
                "entity_type, request_id, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
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
                ],
            )
            return self._posting(c, file_sha256, record_index)

        return self.transaction(work)

    @staticmethod
    def _posting(c: duckdb.DuckDBPyConnection, file_sha256: str, record_index: int) -> Posting:
        row = c.execute(
            "SELECT file_sha256, record_index, document_key, entity_type, request_id, qbo_id, sync_token, "
            "status, error FROM postings WHERE file_sha256 = ? AND record_index = ?",
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
            "p.status FROM postings p LEFT JOIN inbound_files f ON f.sha256 = p.file_sha256 "
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
        control_numbers: dict[str, int] | None = None,
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
    ) -> int:
        row = self.transaction(
            lambda c: c.execute(
                "INSERT INTO acknowledgments (partner, direction, kind, file_sha256, remote_path, control_number, "
                "status, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [partner, direction, kind, file_sha256, remote_path, control_number, status, detail, _now()],
            ).fetchone()
        )
        return int(row[0])

    # --- control numbers and cursors ----------------------------------------------------------------

    def next_control_number(self, partner: str, kind: str) -> int:
        """The next ISA13 / GS06 / ST02 / UNB reference for `partner`: 1, 2, ... wrapping after 999999999."""

        def work(c: duckdb.DuckDBPyConnection) -> int:
            row = c.execute(
                "SELECT value FROM control_numbers WHERE partner = ? AND kind = ?", [partner, kind]
            ).fetchone()
            value = 1 if row is None or row[0] >= CONTROL_NUMBER_MAXIMUM else row[0] + 1
            c.execute(
                "INSERT INTO control_numbers VALUES (?, ?, ?) "
                "ON CONFLICT (partner, kind) DO UPDATE SET value = excluded.value",
                [partner, kind, value],
            )
            return value

        return self.transaction(work)

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

        def work(c: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
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
