"""Reference rows: one company's QBO objects (vendors, accounts, ... bills) kept in the ledger database.

Each row keeps QBO's Id, SyncToken and LastUpdatedTime and the whole object as JSON; a deleted object
stays as a tombstone (`deleted`), so a late reference to it is explained instead of unknown.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from qbo_sftp_assets.ledger.backends import LedgerCursor
from qbo_sftp_assets.ledger.store import Ledger

# Which field names a row, per entity (transactions by their document number).
_NAME_FIELD = {
    "Vendor": "DisplayName",
    "Customer": "DisplayName",
    "Employee": "DisplayName",
    "Bill": "DocNumber",
    "Invoice": "DocNumber",
    "JournalEntry": "DocNumber",
    "VendorCredit": "DocNumber",
    "CompanyInfo": "CompanyName",
}

_COLUMNS = (
    "realm_id",
    "entity",
    "qbo_id",
    "sync_token",
    "last_updated",
    "name",
    "fully_qualified_name",
    "acct_num",
    "active",
    "deleted",
    "data",
    "refreshed_at",
)


@dataclass(frozen=True)
class ReferenceRow:
    """One stored QBO object."""

    entity: str
    qbo_id: str
    sync_token: str | None
    last_updated: dt.datetime | None
    name: str | None
    active: bool
    deleted: bool
    data: dict[str, Any]


def cursor_name(realm_id: str, entity: str) -> str:
    """The ledger cursor holding an entity's refresh watermark (QBO's time of the last read)."""
    return f"reference:{realm_id}:{entity}"


def parse_qbo_time(text: str | None) -> dt.datetime | None:
    """A QBO timestamp (`2026-01-05T10:20:30-08:00`, `...Z`, with or without fractions) as aware datetime."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class ReferenceStore:
    """Reads and writes `reference_rows` for one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def upsert(self, realm_id: str, entity: str, objects: Iterable[Mapping[str, Any]], *, now: dt.datetime) -> int:
        """Insert or replace `objects` (live QBO bodies); returns how many were written."""
        frame = _frame(realm_id, entity, objects, now)
        if frame.empty:
            return 0
        self.ledger.transaction(lambda c: self._insert(c, frame))
        return len(frame)

    def mark_deleted(
        self, realm_id: str, entity: str, tombstones: Iterable[tuple[str, str | None]], *, now: dt.datetime
    ) -> int:
        """Mark `(qbo_id, last_updated)` rows deleted, creating a tombstone for an id never seen."""
        rows = [
            {
                "Id": qbo_id,
                "MetaData": {"LastUpdatedTime": last_updated} if last_updated else {},
                "status": "Deleted",
            }
            for qbo_id, last_updated in tombstones
        ]
        frame = _frame(realm_id, entity, rows, now, deleted=True)
        if frame.empty:
            return 0

        def work(c: LedgerCursor) -> None:
            # Keep what we knew of the object (its name, for an explanation), only flag it deleted.
            self.ledger.backend.stage_frame(c, "tombstones", frame, like="reference_rows")
            c.execute(
                "UPDATE reference_rows r SET deleted = TRUE, active = FALSE, refreshed_at = t.refreshed_at, "
                "last_updated = coalesce(t.last_updated, r.last_updated) FROM tombstones t "
                "WHERE r.realm_id = t.realm_id AND r.entity = t.entity AND r.qbo_id = t.qbo_id"
            )
            c.execute(
                "INSERT INTO reference_rows SELECT t.* FROM tombstones t WHERE NOT EXISTS (SELECT 1 FROM "
                "reference_rows r WHERE r.realm_id = t.realm_id AND r.entity = t.entity AND r.qbo_id = t.qbo_id)"
            )
            self.ledger.backend.unstage_frame(c, "tombstones")

        self.ledger.transaction(work)
        return len(frame)

    def replace_all(
        self, realm_id: str, entity: str, objects: Sequence[Mapping[str, Any]], *, now: dt.datetime
    ) -> tuple[int, int]:
        """A full resync: write `objects` and mark every other stored row of the entity deleted.

        Returns (rows written, rows newly marked deleted).
        """
        frame = _frame(realm_id, entity, objects, now)

        def work(c: LedgerCursor) -> int:
            backend = self.ledger.backend
            backend.stage_frame(c, "incoming", frame, like="reference_rows")
            self._upsert_staged(c)
            gone = c.execute(
                "UPDATE reference_rows SET deleted = TRUE, active = FALSE, refreshed_at = ? "
                "WHERE realm_id = ? AND entity = ? AND NOT deleted AND NOT EXISTS (SELECT 1 FROM incoming i "
                "WHERE i.qbo_id = reference_rows.qbo_id) RETURNING qbo_id",
                [now, realm_id, entity],
            ).fetchall()
            backend.unstage_frame(c, "incoming")
            return len(gone)

        deleted = self.ledger.transaction(work)
        return len(frame), deleted

    def rows(
        self, realm_id: str, entities: Iterable[str] | None = None, *, include_deleted: bool = False
    ) -> list[ReferenceRow]:
        """Stored rows of a company, optionally only some entities; deleted rows only when asked."""
        sql = (
            "SELECT entity, qbo_id, sync_token, last_updated, name, active, deleted, CAST(data AS VARCHAR) "
            "FROM reference_rows "
            "WHERE realm_id = ?"
        )
        parameters: list[Any] = [realm_id]
        if entities is not None:
            wanted = list(entities)
            if not wanted:
                return []
            sql += f" AND entity IN ({', '.join('?' for _ in wanted)})"
            parameters.extend(wanted)
        if not include_deleted:
            sql += " AND NOT deleted"
        sql += " ORDER BY entity, qbo_id"
        return [
            ReferenceRow(
                entity=entity,
                qbo_id=qbo_id,
                sync_token=sync_token,
                last_updated=last_updated,
                name=name,
                active=bool(active),
                deleted=bool(deleted),
                data=json.loads(data, parse_float=Decimal),
            )
            for entity, qbo_id, sync_token, last_updated, name, active, deleted, data in self.ledger.query(
                sql, parameters
            )
        ]

    def _insert(self, c: LedgerCursor, frame: pd.DataFrame) -> None:
        self.ledger.backend.stage_frame(c, "incoming", frame, like="reference_rows")
        self._upsert_staged(c)
        self.ledger.backend.unstage_frame(c, "incoming")

    @staticmethod
    def _upsert_staged(c: LedgerCursor) -> None:
        """Insert the staged `incoming` rows, replacing a stored row with the same key."""
        keys = ("realm_id", "entity", "qbo_id")
        updates = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS if column not in keys)
        c.execute(
            f"INSERT INTO reference_rows ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} FROM incoming "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )

    def counts(self, realm_id: str) -> dict[str, int]:
        """Live rows per entity, e.g. for asset metadata."""
        rows = self.ledger.query(
            "SELECT entity, count(*) FROM reference_rows WHERE realm_id = ? AND NOT deleted GROUP BY entity",
            [realm_id],
        )
        return {entity: int(count) for entity, count in rows}


def _frame(
    realm_id: str, entity: str, objects: Iterable[Mapping[str, Any]], now: dt.datetime, *, deleted: bool = False
) -> pd.DataFrame:
    records = []
    for obj in objects:
        meta = obj.get("MetaData") or {}
        records.append(
            {
                "realm_id": realm_id,
                "entity": entity,
                "qbo_id": str(obj.get("Id", "")),
                "sync_token": _text(obj.get("SyncToken")),
                "last_updated": parse_qbo_time(_text(meta.get("LastUpdatedTime"))),
                "name": _text(obj.get(_NAME_FIELD.get(entity, "Name"))),
                "fully_qualified_name": _text(obj.get("FullyQualifiedName")),
                "acct_num": _text(obj.get("AcctNum")),
                "active": (not deleted) and obj.get("Active", True) is not False,
                "deleted": deleted,
                "data": _json_text(obj),
                "refreshed_at": now,
            }
        )
    frame = pd.DataFrame.from_records(records, columns=list(_COLUMNS))
    # One row per object: an upsert may not touch the same row twice (the later copy is the newer).
    frame = frame.drop_duplicates(subset=["qbo_id"], keep="last").reset_index(drop=True)
    # All-None columns would come through as object/float; DuckDB needs them typed.
    frame["last_updated"] = pd.to_datetime(frame["last_updated"], utc=True)
    frame["refreshed_at"] = pd.to_datetime(frame["refreshed_at"], utc=True)
    for column in ("sync_token", "name", "fully_qualified_name", "acct_num"):
        frame[column] = frame[column].astype("string")
    return frame


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _json_text(value: Any) -> str:
    """JSON with Decimals written as their exact digits (read back with parse_float=Decimal)."""
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_json_text(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else json.dumps(str(value))
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    return json.dumps(value)
