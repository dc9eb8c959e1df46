"""The OAuth token store: one record per realm, refreshed by one process, the rotated token stored before use.

`TokenStore` is a 0600 JSON file written atomically: several processes (Dagster runs, sensors, the
CLI) read it at once and an OS file lock on `<path>.lock` makes exactly one of them refresh a realm.
`PostgresTokenStore` is one row per realm in PostgreSQL for run workers on several hosts: the row lock
(`SELECT ... FOR UPDATE`) is held for the refresh call, and the new tokens are committed before use.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors
from filelock import FileLock

from qbo_sftp_assets import postgres
from qbo_sftp_assets.config import Config

STORE_VERSION = 1
DEFAULT_LOCK_TIMEOUT = 120.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint returned (authorization_code or refresh_token grant)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: float
    refresh_expires_in: float | None = None
    refresh_hard_expires_in: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenGrant:
        """Read the fields we need and ignore the rest ("the response may have other parameters")."""

        def seconds(key: str) -> float | None:
            value = data.get(key)
            return float(value) if value not in (None, "") else None

        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            expires_in=seconds("expires_in") or 3600.0,
            refresh_expires_in=seconds("x_refresh_token_expires_in"),
            refresh_hard_expires_in=seconds("x_refresh_token_hard_expires_in"),
        )


@dataclass(frozen=True)
class TokenRecord:
    """One realm's tokens and when they expire (timezone-aware UTC); the tokens never appear in a repr."""

    realm_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    obtained_at: datetime
    refresh_hard_expires_at: datetime | None = None
    # Set once the token endpoint answered invalid_grant: nobody asks again until `connect` replaces it.
    reconnect_required: bool = False

    @classmethod
    def from_grant(cls, realm_id: str, grant: TokenGrant, now: datetime | None = None) -> TokenRecord:
        now = now or utc_now()

        def after(seconds: float | None) -> datetime | None:
            return now + timedelta(seconds=seconds) if seconds is not None else None

        return cls(
            realm_id=realm_id,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            access_expires_at=now + timedelta(seconds=grant.expires_in),
            refresh_expires_at=after(grant.refresh_expires_in),
            obtained_at=now,
            refresh_hard_expires_at=after(grant.refresh_hard_expires_in),
        )

    @property
    def access_lifetime(self) -> float:
        return (self.access_expires_at - self.obtained_at).total_seconds()

    def access_usable(self, margin_seconds: float, now: datetime | None = None) -> bool:
        """Whether the access token still has more than the margin left.

        The margin is capped at a quarter of the token's lifetime so short-lived test tokens stay usable.
        """
        now = now or utc_now()
        margin = min(margin_seconds, self.access_lifetime / 4)
        return self.access_expires_at - timedelta(seconds=margin) > now

    def to_json(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return value.astimezone(UTC).isoformat() if value else None

        return {
            "realm_id": self.realm_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": stamp(self.access_expires_at),
            "refresh_expires_at": stamp(self.refresh_expires_at),
            "refresh_hard_expires_at": stamp(self.refresh_hard_expires_at),
            "obtained_at": stamp(self.obtained_at),
            "reconnect_required": self.reconnect_required,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenRecord:
        def parse(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        access_expires_at = parse(data["access_expires_at"])
        assert access_expires_at is not None
        return cls(
            realm_id=str(data["realm_id"]),
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            access_expires_at=access_expires_at,
            refresh_expires_at=parse(data.get("refresh_expires_at")),
            obtained_at=parse(data.get("obtained_at")) or access_expires_at,
            refresh_hard_expires_at=parse(data.get("refresh_hard_expires_at")),
            reconnect_required=bool(data.get("reconnect_required", False)),
        )


class TokenStoreError(Exception):
    """The token file cannot be read or written (corrupt JSON, permissions)."""


class RefreshRefused(Exception):
    """The token endpoint refused the refresh token for good (invalid_grant); only a new consent helps."""


class NotConnected(TokenStoreError):
    """The store holds no tokens for the realm: the company was never connected."""


class TokenStore:
    """A JSON file of TokenRecords keyed by realm id; mode 0600; safe across processes and threads."""

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_timeout = lock_timeout
        self._thread_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"TokenStore(path={str(self.path)!r})"

    @property
    def location(self) -> str:
        """Where the tokens are, for messages."""
        return str(self.path)

    # --- reading ------------------------------------------------------------------------------

    def records(self) -> dict[str, TokenRecord]:
        """Every realm's record, read from disk now (writes are atomic renames, so no lock is needed)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
            return {realm: TokenRecord.from_json(item) for realm, item in data.get("realms", {}).items()}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise TokenStoreError(f"{self.path}: the token file is not readable ({type(error).__name__})") from None

    def get(self, realm_id: str) -> TokenRecord | None:
        return self.records().get(realm_id)

    def require(self, realm_id: str) -> TokenRecord:
        record = self.get(realm_id)
        if record is None:
            raise NotConnected(f"{self.path}: no tokens for realm {realm_id}")
        return record

    # --- writing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's OS file lock (and this process's thread lock) for a read-modify-write."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, FileLock(str(self.lock_path), timeout=self._lock_timeout, mode=0o600):
            yield

    def put(self, record: TokenRecord) -> None:
        """Store (or replace) one realm's record."""
        with self.locked():
            self._write_locked({**self.records(), record.realm_id: record})

    def remove(self, realm_id: str) -> bool:
        with self.locked():
            records = self.records()
            found = records.pop(realm_id, None) is not None
            if found:
                self._write_locked(records)
            return found

    def refresh(
        self,
        realm_id: str,
        refresher: Callable[[str], TokenGrant],
        *,
        stale_access_token: str | None = None,
        margin_seconds: float = 300.0,
    ) -> tuple[TokenRecord, bool]:
        """Refresh a realm's tokens unless another process already did; return (record, refreshed_here).

        Under the file lock the store is re-read: if its access token is no longer the one the caller
        found stale (or expiring), someone else refreshed and that record is returned. Otherwise
        `refresher(refresh_token)` is called once and its grant is written (fsync + rename) before
        the new record is returned. A refresher raising RefreshRefused marks the record, so no process
        asks the token endpoint again with a dead token.
        """
        with self.locked():
            current = self.records().get(realm_id)
            if current is None:
                raise NotConnected(f"{self.path}: no tokens for realm {realm_id}")
            return _refresh_under_lock(
                current,
                refresher,
                lambda record: self._write_locked({**self.records(), realm_id: record}),
                stale_access_token=stale_access_token,
                margin_seconds=margin_seconds,
            )

    def _write_locked(self, records: dict[str, TokenRecord]) -> None:
        payload = json.dumps(
            {"version": STORE_VERSION, "realms": {realm: r.to_json() for realm, r in sorted(records.items())}},
            indent=2,
        )
        directory = self.path.parent
        handle, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


def _refresh_under_lock(
    current: TokenRecord,
    refresher: Callable[[str], TokenGrant],
    write: Callable[[TokenRecord], None],
    *,
    stale_access_token: str | None,
    margin_seconds: float,
) -> tuple[TokenRecord, bool]:
    """The refresh decision every store makes while it holds the realm's lock; `write` stores a record durably."""
    someone_else_refreshed = stale_access_token is not None and current.access_token != stale_access_token
    if someone_else_refreshed and current.access_usable(margin_seconds):
        return current, False
    if stale_access_token is None and current.access_usable(margin_seconds):
        return current, False
    if current.reconnect_required:
        raise RefreshRefused(f"realm {current.realm_id}: an earlier refresh was refused (invalid_grant)")
    try:
        grant = refresher(current.refresh_token)
    except RefreshRefused:
        write(replace(current, reconnect_required=True))
        raise
    fresh = TokenRecord.from_grant(current.realm_id, grant)
    if fresh.refresh_expires_at is None:
        fresh = replace(fresh, refresh_expires_at=current.refresh_expires_at)
    write(fresh)
    return fresh, True


_TOKENS_SCHEMA = """
CREATE TABLE IF NOT EXISTS qbo_tokens (
    realm_id   TEXT PRIMARY KEY,
    record     JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class PostgresTokenStore:
    """The token store as one PostgreSQL row per realm; the same API as `TokenStore`.

    A refresh runs in one transaction that holds the realm's row lock (`SELECT ... FOR UPDATE`) across
    the call to the token endpoint: every other process, on any host, waits on that lock and then reads
    the rotated tokens, which are committed before the caller gets them. The tokens are as readable as
    the database role's grants allow; give the table's role to the pipeline only.
    """

    def __init__(self, url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.url = url
        self._lock_timeout = lock_timeout
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresTokenStore({self.location!r})"

    @property
    def location(self) -> str:
        """Where the tokens are, for messages: the database without its password."""
        return f"{postgres.redacted(self.url)} (table qbo_tokens)"

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor in one transaction: committed when the block ends, rolled back when it raises."""
        connection = self._connect()
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(self._lock_timeout * 1000)}ms",))
                yield cursor
        except psycopg2.errors.LockNotAvailable:
            raise TokenStoreError(
                f"{self!r}: another process held the token row for over {self._lock_timeout:.0f} s"
            ) from None
        finally:
            connection.close()

    def _connect(self) -> Any:
        try:
            connection = postgres.connect(self.url)
        except psycopg2.OperationalError as error:
            raise TokenStoreError(f"{self!r}: cannot reach the database ({str(error).strip()})") from None
        with self._schema_lock:
            if not self._schema_ready:
                postgres.ensure_schema(connection, "qbo_tokens", _TOKENS_SCHEMA)
                self._schema_ready = True
        return connection

    # --- reading ------------------------------------------------------------------------------

    def records(self) -> dict[str, TokenRecord]:
        with self._transaction() as cursor:
            cursor.execute("SELECT realm_id, record FROM qbo_tokens")
            rows = cursor.fetchall()
        try:
            return {realm: TokenRecord.from_json(record) for realm, record in rows}
        except (KeyError, TypeError, ValueError) as error:
            raise TokenStoreError(f"{self!r}: a token row is not readable ({type(error).__name__})") from None

    def get(self, realm_id: str) -> TokenRecord | None:
        with self._transaction() as cursor:
            return self._select(cursor, realm_id, lock=False)

    def require(self, realm_id: str) -> TokenRecord:
        record = self.get(realm_id)
        if record is None:
            raise NotConnected(f"{self!r}: no tokens for realm {realm_id}")
        return record

    def _select(self, cursor: Any, realm_id: str, *, lock: bool) -> TokenRecord | None:
        cursor.execute(
            "SELECT record FROM qbo_tokens WHERE realm_id = %s" + (" FOR UPDATE" if lock else ""), (realm_id,)
        )
        row = cursor.fetchone()
        if row is None:
            return None
        try:
            return TokenRecord.from_json(row[0])
        except (KeyError, TypeError, ValueError) as error:
            kind = type(error).__name__
            raise TokenStoreError(f"{self!r}: realm {realm_id}'s row is not readable ({kind})") from None

    # --- writing ------------------------------------------------------------------------------

    def put(self, record: TokenRecord) -> None:
        with self._transaction() as cursor:
            self._write(cursor, record)

    def remove(self, realm_id: str) -> bool:
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM qbo_tokens WHERE realm_id = %s", (realm_id,))
            return bool(cursor.rowcount)

    def refresh(
        self,
        realm_id: str,
        refresher: Callable[[str], TokenGrant],
        *,
        stale_access_token: str | None = None,
        margin_seconds: float = 300.0,
    ) -> tuple[TokenRecord, bool]:
        """As `TokenStore.refresh`, with the realm's row lock in place of the file lock."""
        with self._transaction() as cursor:
            current = self._select(cursor, realm_id, lock=True)
            if current is None:
                raise NotConnected(f"{self!r}: no tokens for realm {realm_id}")
            try:
                return _refresh_under_lock(
                    current,
                    refresher,
                    lambda record: self._write(cursor, record),
                    stale_access_token=stale_access_token,
                    margin_seconds=margin_seconds,
                )
            except RefreshRefused:
                # The mark is written inside this transaction: commit it rather than roll it back.
                cursor.connection.commit()
                raise

    @staticmethod
    def _write(cursor: Any, record: TokenRecord) -> None:
        cursor.execute(
            "INSERT INTO qbo_tokens (realm_id, record, updated_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (realm_id) DO UPDATE SET record = EXCLUDED.record, updated_at = EXCLUDED.updated_at",
            (record.realm_id, json.dumps(record.to_json())),
        )


AnyTokenStore = TokenStore | PostgresTokenStore


def open_token_store(config: Config) -> AnyTokenStore:
    """The token store `tokens.backend` names: the JSON file at `tokens.path`, or the `postgres:` database."""
    if config.tokens.backend == "postgres":
        return PostgresTokenStore(config.postgres.url())
    return TokenStore(config.tokens.path)
