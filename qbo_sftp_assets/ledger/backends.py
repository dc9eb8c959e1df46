"""Where the ledger's SQL runs: a DuckDB file (the embedded default) or a PostgreSQL database (many writers).

The `Ledger` writes its SQL once, in DuckDB's spelling with `?` placeholders, and only in forms both
databases accept (`ON CONFLICT ... DO UPDATE`, `RETURNING`, `IN (...)` lists, JSON read back with
`CAST(... AS VARCHAR)`). Everything that does differ is here: opening a connection, how a transaction
begins and which errors mean "retry", placeholders, BLOB versus bytea, and staging a data frame as a
table for set-based SQL.
"""

from __future__ import annotations

import contextlib
import functools
import random
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from qbo_sftp_assets import postgres
from qbo_sftp_assets.errors import UserFacingError


class LedgerError(UserFacingError):
    """The ledger cannot be used as asked."""


class LedgerBusy(LedgerError):
    """Another writer kept what we needed locked for longer than we were willing to wait."""


class LedgerCursor(Protocol):
    """What a transaction's work gets: DuckDB's connection, or the PostgreSQL adapter below."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


# Each backend's methods take the connection its own `connect()` opened (typed Any: the Ledger holds
# either kind behind one surface).


class DuckDBBackend:
    """One DuckDB file: one process writes at a time (the file lock), so writers retry until it is free."""

    name = "duckdb"
    errors: tuple[type[Exception], ...] = (duckdb.Error,)

    @staticmethod
    def is_conflict(error: Exception) -> bool:
        """Another writer won; retrying can succeed. A commit that failed for another reason (a full
        disk says "Failed to commit: ... No space left") is a TransactionException too, and is not."""
        return isinstance(error, duckdb.TransactionException) and "conflict" in str(error).lower()

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def location(self) -> str:
        return str(self.path)

    @contextlib.contextmanager
    def connect(self, lock_timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_timeout
        delay = 0.02
        while True:
            try:
                connection = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as error:
                if not _is_duckdb_lock_conflict(error) or time.monotonic() >= deadline:
                    raise self.busy(error, lock_timeout) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
        try:
            yield connection
        finally:
            connection.close()

    def begin(self, connection: Any, lock: str | None, lock_timeout: float) -> None:
        # `lock` serializes a check-then-insert among concurrent writers; DuckDB's single writer already does.
        connection.execute("BEGIN TRANSACTION")

    def commit(self, connection: Any) -> None:
        connection.execute("COMMIT")

    def rollback(self, connection: Any) -> None:
        connection.execute("ROLLBACK")

    def ddl(self, sql: str) -> str:
        return sql

    def stage_frame(self, connection: Any, name: str, frame: pd.DataFrame, like: str) -> None:
        """Make `frame` readable as table `name` (shaped like table `like`) until `unstage_frame`."""
        connection.register(name, frame)

    def unstage_frame(self, connection: Any, name: str) -> None:
        connection.unregister(name)

    def busy(self, error: Exception, lock_timeout: float) -> LedgerError:
        if isinstance(error, duckdb.Error) and _is_duckdb_lock_conflict(error):
            return LedgerBusy(
                f"{self.path}: another process held the ledger's write lock for over "
                f"{lock_timeout:.0f} s. Runs that write the ledger belong in one Dagster pool "
                "(duckdb_ledger, limit 1); close any other program that has the file open."
            )
        return LedgerError(f"{self.path}: cannot open the ledger: {error}")


def _is_duckdb_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error)
    return "lock" in text.lower() or isinstance(error, duckdb.TransactionException)


class PostgresBackend:
    """A PostgreSQL database: any number of processes on any hosts write at once.

    A transaction runs at REPEATABLE READ, the snapshot isolation DuckDB gives: a row two writers both
    change makes one of them fail with a serialization error, and the ledger retries it, as it retries
    DuckDB's conflicts, so no read-modify-write loses an update. A check-then-insert (is this file's
    hash new? the next control number) names a `lock`: that transaction runs at READ COMMITTED behind a
    transaction-scoped advisory lock on the name, so its check sees what the writer before it committed.
    """

    name = "postgres"
    errors: tuple[type[Exception], ...] = (psycopg2.Error,)
    _conflicts = (
        psycopg2.errors.SerializationFailure,
        psycopg2.errors.DeadlockDetected,
        psycopg2.errors.LockNotAvailable,
    )

    @classmethod
    def is_conflict(cls, error: Exception) -> bool:
        """Another writer won (serialization failure, deadlock, a lock not granted in time)."""
        return isinstance(error, cls._conflicts)

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def location(self) -> str:
        return postgres.redacted(self.url)

    @contextlib.contextmanager
    def connect(self, lock_timeout: float) -> Iterator[PostgresConnection]:
        try:
            connection = postgres.connect(self.url, application_name="qbo_sftp_assets ledger")
        except psycopg2.OperationalError as error:
            raise LedgerError(f"{self.location}: cannot reach the ledger database ({str(error).strip()})") from None
        connection.autocommit = True  # transactions are begun explicitly, with their isolation level
        try:
            wrapped = PostgresConnection(connection)
            # A writer stuck behind a lock gives up (and is retried) instead of waiting forever.
            wrapped.execute(f"SET lock_timeout = '{max(1, int(lock_timeout * 1000))}ms'")
            yield wrapped
        finally:
            connection.close()

    def begin(self, connection: Any, lock: str | None, lock_timeout: float) -> None:
        isolation = "READ COMMITTED" if lock else "REPEATABLE READ"
        connection.execute(f"BEGIN ISOLATION LEVEL {isolation}")
        if lock:
            connection.execute("SELECT pg_advisory_xact_lock(?)", [postgres.advisory_key(f"ledger:{lock}")])

    def commit(self, connection: Any) -> None:
        connection.execute("COMMIT")

    def rollback(self, connection: Any) -> None:
        connection.execute("ROLLBACK")

    def ddl(self, sql: str) -> str:
        return re.sub(r"\bBLOB\b", "BYTEA", sql)

    def stage_frame(self, connection: Any, name: str, frame: pd.DataFrame, like: str) -> None:
        """Copy `frame` into a temporary table `name` shaped like table `like`, dropped at commit."""
        connection.execute(f"CREATE TEMPORARY TABLE {name} (LIKE {like}) ON COMMIT DROP")
        if frame.empty:
            return
        rows = [tuple(_plain(value) for value in row) for row in frame.itertuples(index=False, name=None)]
        psycopg2.extras.execute_values(
            connection.cursor,
            f"INSERT INTO {name} ({', '.join(frame.columns)}) VALUES %s",
            rows,
            page_size=500,
        )

    def unstage_frame(self, connection: Any, name: str) -> None:
        connection.execute(f"DROP TABLE IF EXISTS {name}")

    def busy(self, error: Exception, lock_timeout: float) -> LedgerError:
        return LedgerBusy(
            f"{self.location}: the ledger's rows stayed locked or in conflict with other writers for over "
            f"{lock_timeout:.0f} s ({type(error).__name__}); a run holding a transaction open may be stuck."
        )


def _plain(value: Any) -> Any:
    """A pandas value as psycopg2 adapts it: NaT / NA / NaN as NULL, a Timestamp as a datetime, numpy scalars
    as Python ones."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


class PostgresConnection:
    """psycopg2 behind DuckDB's connection surface: `execute(sql with ?, parameters)` returns itself,
    then `fetchone()` / `fetchall()` / `description`, so the ledger's SQL is written once."""

    def __init__(self, connection: psycopg2.extensions.connection) -> None:
        self.connection = connection
        self.cursor = connection.cursor()

    def execute(self, sql: str, parameters: Sequence[Any] | None = None, /) -> PostgresConnection:
        if parameters:
            self.cursor.execute(_postgres_sql(sql), list(parameters))
        else:
            self.cursor.execute(sql)
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.cursor.fetchone() if self.cursor.description is not None else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.cursor.fetchall() if self.cursor.description is not None else []

    @property
    def description(self) -> Any:
        return self.cursor.description


_PLACEHOLDER_OR_PERCENT = re.compile(r"'(?:[^']|'')*'|\?|%")


@functools.lru_cache(maxsize=1024)
def _postgres_sql(sql: str) -> str:
    """DuckDB's `?` placeholders as psycopg2's `%s`, a literal `%` doubled; quoted strings left alone."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%")

    return _PLACEHOLDER_OR_PERCENT.sub(replace, sql)
