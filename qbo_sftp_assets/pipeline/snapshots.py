"""QBO snapshots: one entity of one company refreshed into the ledger's reference rows, and read back.

The refresh itself (full query the first time, CDC after, tombstones, resync past 30 days) is
`mapping.refresh_reference`; this module adds what a snapshot shows a person (counts and a preview)
and what outbound feeds render (the live rows of an entity).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qbo_sftp_assets import mapping
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.qbo import QboClient

# Snapshot asset name -> QBO entity, in the order the UI lists them.
SNAPSHOT_ENTITIES: dict[str, str] = {
    "qbo_vendors": "Vendor",
    "qbo_customers": "Customer",
    "qbo_accounts": "Account",
    "qbo_classes": "Class",
    "qbo_departments": "Department",
    "qbo_items": "Item",
    "qbo_terms": "Term",
    "qbo_bills": "Bill",
    "qbo_invoices": "Invoice",
}
# Outbound feed entity words -> the QBO entity whose snapshot they render.
FEED_ENTITIES: dict[str, str] = {
    "bills": "Bill",
    "invoices": "Invoice",
    "vendors": "Vendor",
    "accounts": "Account",
    "classes": "Class",
    "customers": "Customer",
    "items": "Item",
    "terms": "Term",
}
PREVIEW_ROWS = 20


@dataclass(frozen=True)
class SnapshotSummary:
    """One entity of one company as the ledger holds it after a refresh."""

    realm_id: str
    entity: str
    active: int
    inactive: int
    deleted: int
    refresh: mapping.RefreshResult | None
    preview: list[dict[str, Any]] = field(default_factory=list)


def refresh_snapshot(
    client: QboClient, ledger: Ledger, realm_id: str, entity: str, *, now: dt.datetime | None = None
) -> SnapshotSummary:
    """Refresh `entity` of the company into the ledger, then count and preview what it holds."""
    refresh = mapping.refresh_reference(client, ledger, realm_id, [entity], now=now)
    return summarize_snapshot(ledger, realm_id, entity, refresh)


def summarize_snapshot(
    ledger: Ledger, realm_id: str, entity: str, refresh: mapping.RefreshResult | None = None
) -> SnapshotSummary:
    counts = ledger.query(
        """
        SELECT count(*) FILTER (WHERE NOT deleted AND active),
               count(*) FILTER (WHERE NOT deleted AND NOT active),
               count(*) FILTER (WHERE deleted)
        FROM reference_rows WHERE realm_id = ? AND entity = ?
        """,
        [realm_id, entity],
    )[0]
    preview = [
        {"id": qbo_id, "name": name or "", "sync_token": sync_token or "", "last_updated": str(updated or "")}
        for qbo_id, name, sync_token, updated in ledger.query(
            """
            SELECT qbo_id, coalesce(fully_qualified_name, name), sync_token, last_updated
            FROM reference_rows WHERE realm_id = ? AND entity = ? AND NOT deleted
            ORDER BY last_updated DESC NULLS LAST, qbo_id LIMIT ?
            """,
            [realm_id, entity, PREVIEW_ROWS],
        )
    ]
    return SnapshotSummary(realm_id, entity, int(counts[0]), int(counts[1]), int(counts[2]), refresh, preview)


def snapshot_rows(ledger: Ledger, realm_id: str, entity: str) -> list[dict[str, Any]]:
    """The entity's objects (QBO JSON, amounts as Decimal) in the snapshot, deleted ones left out, by id."""
    rows = ledger.query(
        "SELECT qbo_id, CAST(data AS VARCHAR) FROM reference_rows WHERE realm_id = ? AND entity = ? AND NOT deleted",
        [realm_id, entity],
    )
    # Numeric ids in number order, any other after them (sorted here: the ledger may be DuckDB or PostgreSQL).
    rows.sort(key=lambda row: (0, int(row[0]), "") if row[0].isascii() and row[0].isdigit() else (1, 0, row[0]))
    return [json.loads(data, parse_float=Decimal) for _, data in rows]


def feed_rows(ledger: Ledger, realm_id: str, feed_entities: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per feed entity word ("bills", ...), the snapshot rows an outbound feed renders."""
    return {word: snapshot_rows(ledger, realm_id, FEED_ENTITIES[word]) for word in feed_entities}
