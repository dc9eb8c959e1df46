"""Apply the QBO webhook events of one company's spool to its snapshot rows in the ledger.

A webhook names an entity and an operation, never its content, so each changed entity is read again
in full from QuickBooks: one query per entity type (`SELECT * FROM Bill WHERE Id IN (...)`, in
chunks), never one GET per event, never the payload. An id whose latest event is a Delete, or that the
query no longer returns (deleted, or merged into another), becomes a tombstone. Rows are written
with the SyncToken and LastUpdatedTime QBO returns, as the snapshot refresh writes them.

The ledger cursor `webhooks:{realm_id}` holds the spool position applied so far, so the step is
idempotent and a run that failed halfway applies the same events again (re-reading is harmless).
This runs inside a Dagster run (the sensor only reads the spool): sensors never write DuckDB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from qbo_sftp_assets.ledger import Ledger, ReferenceStore, parse_qbo_time
from qbo_sftp_assets.mapping import NAME_LIST_ENTITIES, TRANSACTION_ENTITIES, ReferenceClient
from qbo_sftp_assets.webhooks import AnySpool, SpooledEvent, SpoolUnavailable

# The entities the snapshots keep; events for others (JournalEntry, Payment, ...) are counted, not applied.
APPLIED_ENTITIES: tuple[str, ...] = NAME_LIST_ENTITIES + TRANSACTION_ENTITIES
QUERY_CHUNK = 100
READ_PAGE = 1000
# A webhook's time and the entity's LastUpdatedTime come from different clocks inside Intuit.
SEEN_TOLERANCE = dt.timedelta(seconds=2)


def applied_cursor_name(realm_id: str) -> str:
    return f"webhooks:{realm_id}"


@dataclass
class EntityChanges:
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass
class AppliedEvents:
    """What one application did: events read, per entity the ids rewritten and tombstoned, queries sent."""

    realm_id: str
    events: int = 0
    ignored: int = 0
    queries: int = 0
    cursor: str | None = None
    entities: dict[str, EntityChanges] = field(default_factory=dict)
    note: str | None = None

    @property
    def changed_entities(self) -> list[str]:
        return sorted(e for e, c in self.entities.items() if c.written or c.deleted)


def pending_events(spool: AnySpool, realm_id: str, after: str | None) -> tuple[list[SpooledEvent], str | None]:
    """Every spooled event of the realm after `after`, and the spool position read up to."""
    events: list[SpooledEvent] = []
    while True:
        page = spool.read_after(after, READ_PAGE)
        if not page:
            return events, after
        events.extend(e for e in page if e.realm_id == realm_id)
        after = page[-1].cursor


def apply_change_events(
    client: ReferenceClient, ledger: Ledger, spool: AnySpool, realm_id: str, *, now: dt.datetime | None = None
) -> AppliedEvents:
    """Fetch what the realm's new spooled events name, write it to the snapshot rows, advance the cursor."""
    cursor_name = applied_cursor_name(realm_id)
    try:
        events, position = pending_events(spool, realm_id, ledger.get_cursor(cursor_name))
    except SpoolUnavailable as error:
        # No receiver has run yet (or its spool is unreadable): nothing arrived by webhook to apply.
        return AppliedEvents(realm_id=realm_id, note=str(error))
    result = AppliedEvents(realm_id=realm_id, events=len(events), cursor=position)
    latest: dict[tuple[str, str], SpooledEvent] = {}
    for event in events:
        if event.entity not in APPLIED_ENTITIES:
            result.ignored += 1
            continue
        key = (event.entity, event.entity_id)
        if key not in latest or event.occurred_at >= latest[key].occurred_at:
            latest[key] = event
    store = ReferenceStore(ledger)
    stored_at = now or dt.datetime.now(dt.UTC)
    for entity in sorted({entity for entity, _ in latest}):
        changes = result.entities.setdefault(entity, EntityChanges())
        named = {qbo_id: event for (kind, qbo_id), event in latest.items() if kind == entity}
        wanted = sorted(i for i, e in named.items() if e.operation != "Delete")
        found = _fetch(client, entity, wanted, result)
        store.upsert(realm_id, entity, found, now=stored_at)
        changes.written = sorted(str(o["Id"]) for o in found)
        gone = sorted(set(named) - set(changes.written))
        store.mark_deleted(realm_id, entity, [(i, named[i].occurred_at.isoformat()) for i in gone], now=stored_at)
        changes.deleted = gone
    if position is not None:
        ledger.set_cursor(cursor_name, position)
    return result


def _fetch(client: ReferenceClient, entity: str, ids: Iterable[str], result: AppliedEvents) -> list[dict]:
    ids = list(ids)
    # Name lists answer only active rows unless the query names Active; an entity made inactive is a change.
    active = " AND Active IN (true, false)" if entity in NAME_LIST_ENTITIES else ""
    found: list[dict] = []
    for start in range(0, len(ids), QUERY_CHUNK):
        chunk = ids[start : start + QUERY_CHUNK]
        listed = ", ".join("'" + i.replace("'", "''") + "'" for i in chunk)
        found.extend(client.query(f"SELECT * FROM {entity} WHERE Id IN ({listed}){active}"))
        result.queries += 1
    return found


def seen_by_webhooks(
    spool: AnySpool, realm_id: str, changes: Mapping[str, Sequence[tuple[str, str | None]]]
) -> set[tuple[str, str]]:
    """Which `(entity, id)` of `changes` (per entity: id and LastUpdatedTime) the spool already has an
    event for, no older than the change; read-only, and a spool not there or not readable has seen nothing."""
    wanted = [(entity, qbo_id, parse_qbo_time(when)) for entity, rows in changes.items() for qbo_id, when in rows]
    if not wanted:
        return set()
    try:
        latest = spool.latest_events(realm_id, [(entity, qbo_id) for entity, qbo_id, _when in wanted])
    except SpoolUnavailable:
        return set()  # CDC then handles every change itself (the safe side)
    return {
        (entity, qbo_id)
        for entity, qbo_id, when in wanted
        if (entity, qbo_id) in latest and (when is None or latest[(entity, qbo_id)] >= when - SEEN_TOLERANCE)
    }
