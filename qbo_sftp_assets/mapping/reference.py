"""The company's reference data: read from QBO into the ledger (full query once, CDC after), and loaded
back for mapping. Refreshed per entity by the snapshot assets, never once per document."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from qbo_sftp_assets.ledger import Ledger, ReferenceStore, cursor_name, parse_qbo_time
from qbo_sftp_assets.qbo import CdcOverflow, CdcWindowTooOld, QboValidationError, UnknownEntity

log = logging.getLogger(__name__)

# What mapping resolves against, and the transactions kept for outbound feeds and duplicate checks.
NAME_LIST_ENTITIES: tuple[str, ...] = ("Vendor", "Customer", "Account", "Class", "Department", "Item", "Term")
TRANSACTION_ENTITIES: tuple[str, ...] = ("Bill", "Invoice")
# Read when the client and the company have them; TaxCode has no CDC (QBO's CDC page), so it is re-read whole.
OPTIONAL_ENTITIES: tuple[str, ...] = ("Employee", "TaxCode")
SINGLETONS: tuple[str, ...] = ("Preferences", "CompanyInfo")
REFRESHABLE: tuple[str, ...] = SINGLETONS + NAME_LIST_ENTITIES + TRANSACTION_ENTITIES + OPTIONAL_ENTITIES
_NO_CDC = frozenset({"TaxCode"})
_NAME_LISTS = frozenset(NAME_LIST_ENTITIES + OPTIONAL_ENTITIES)
# QBO's CDC covers 30 days; a watermark this old (with a margin for clock skew) means a full resync.
CDC_MAX_AGE = dt.timedelta(days=30)
_CDC_MARGIN = dt.timedelta(minutes=5)


class ReferenceClient(Protocol):
    """The part of QboClient that refreshing uses (so tests of other layers can stand in a fake)."""

    realm_id: str

    def request(self, method: str, path: str) -> dict[str, Any]: ...

    def query(self, select: str, *, page_size: int | None = None) -> Iterable[dict[str, Any]]: ...

    def cdc(
        self, entity_names: Iterable[str], changed_since: dt.datetime, *, now: dt.datetime | None = None
    ) -> Any: ...


@dataclass(frozen=True)
class EntityRefresh:
    """What one entity's refresh did."""

    entity: str
    mode: str  # "full" | "cdc" | "singleton" | "skipped"
    written: int = 0
    deleted: int = 0
    reason: str | None = None  # why a full resync ran, or why the entity was skipped
    watermark: str | None = None


@dataclass
class RefreshResult:
    """Per entity: full or CDC, rows written and deleted, the new watermark."""

    realm_id: str
    entities: dict[str, EntityRefresh] = field(default_factory=dict)
    requests: int = 0

    @property
    def written(self) -> int:
        return sum(e.written for e in self.entities.values())

    @property
    def deleted(self) -> int:
        return sum(e.deleted for e in self.entities.values())


def refresh_reference(
    client: ReferenceClient,
    ledger: Ledger,
    realm_id: str,
    entities: Iterable[str] | None = None,
    *,
    now: dt.datetime | None = None,
) -> RefreshResult:
    """Bring the ledger's copy of `entities` (default: all of REFRESHABLE) up to date with QBO.

    An entity without a watermark is read whole; after that only CDC changes are read, with deletions
    kept as tombstones. A watermark older than CDC's 30 days, or a CDC answer QBO cannot split under its
    cap, resyncs the entity whole (rows QBO no longer returns become tombstones). Watermarks are QBO's
    own response times, so a skewed local clock loses nothing; `now` overrides the 30-day judgement's
    clock (tests).
    """
    wanted = _canonical_entities(entities)
    store = ReferenceStore(ledger)
    result = RefreshResult(realm_id=realm_id)
    # Preferences is one small read, and its response time is the watermark for any full query below.
    preferences = client.request("GET", "preferences")
    result.requests += 1
    server_time = _response_time(preferences)
    clock = now or server_time or dt.datetime.now(dt.UTC)
    stored_at = dt.datetime.now(dt.UTC)
    if "Preferences" in wanted:
        body = _body(preferences, "Preferences")
        store.upsert(realm_id, "Preferences", [body], now=stored_at)
        result.entities["Preferences"] = EntityRefresh("Preferences", "singleton", written=1)
    if "CompanyInfo" in wanted:
        info = client.request("GET", f"companyinfo/{realm_id}")
        result.requests += 1
        store.upsert(realm_id, "CompanyInfo", [_body(info, "CompanyInfo")], now=stored_at)
        result.entities["CompanyInfo"] = EntityRefresh("CompanyInfo", "singleton", written=1)
    for entity in wanted:
        if entity in SINGLETONS:
            continue
        result.entities[entity] = _refresh_entity(client, ledger, store, realm_id, entity, server_time, clock, result)
    return result


def _refresh_entity(
    client: ReferenceClient,
    ledger: Ledger,
    store: ReferenceStore,
    realm_id: str,
    entity: str,
    server_time: dt.datetime | None,
    clock: dt.datetime,
    result: RefreshResult,
) -> EntityRefresh:
    cursor = cursor_name(realm_id, entity)
    watermark = parse_qbo_time(ledger.get_cursor(cursor))
    reason = "first refresh"
    if watermark is not None and entity not in _NO_CDC:
        if watermark < clock - CDC_MAX_AGE + _CDC_MARGIN:
            reason = f"watermark {watermark.isoformat()} is older than CDC's 30 days"
        else:
            try:
                return _refresh_by_cdc(client, ledger, store, realm_id, entity, watermark, clock, result)
            except (CdcWindowTooOld, CdcOverflow) as error:
                reason = str(error)
            except UnknownEntity:
                # The client's CDC knows only the entities it writes; others (Employee) are re-read whole.
                reason = "the client reads this entity by query only"
    elif entity in _NO_CDC:
        reason = "QBO has no CDC for this entity"
    return _refresh_full(client, ledger, store, realm_id, entity, server_time or clock, reason, result)


def _refresh_by_cdc(
    client: ReferenceClient,
    ledger: Ledger,
    store: ReferenceStore,
    realm_id: str,
    entity: str,
    since: dt.datetime,
    clock: dt.datetime,
    result: RefreshResult,
) -> EntityRefresh:
    try:
        changes = client.cdc([entity], since, now=clock)
    except QboValidationError as error:
        if entity not in OPTIONAL_ENTITIES or isinstance(error, CdcWindowTooOld):
            raise
        return EntityRefresh(entity, "skipped", reason=str(error))
    result.requests += getattr(changes, "requests", 1)
    stored_at = dt.datetime.now(dt.UTC)
    written = store.upsert(realm_id, entity, changes.changed.get(entity, []), now=stored_at)
    tombstones = [(t.id, t.last_updated) for t in changes.deleted.get(entity, [])]
    deleted = store.mark_deleted(realm_id, entity, tombstones, now=stored_at)
    watermark = changes.time or since.isoformat()
    ledger.set_cursor(cursor_name(realm_id, entity), watermark)
    return EntityRefresh(entity, "cdc", written=written, deleted=deleted, watermark=watermark)


def _refresh_full(
    client: ReferenceClient,
    ledger: Ledger,
    store: ReferenceStore,
    realm_id: str,
    entity: str,
    started: dt.datetime,
    reason: str,
    result: RefreshResult,
) -> EntityRefresh:
    # Name lists answer only active rows unless the query names Active; inactive ones explain a failure.
    where = " WHERE Active IN (true, false)" if entity in _NAME_LISTS else ""
    try:
        objects = list(client.query(f"SELECT * FROM {entity}{where} ORDERBY Id"))
    except UnknownEntity as error:
        return EntityRefresh(entity, "skipped", reason=str(error))
    except QboValidationError as error:
        # Employee / TaxCode are read where the company (or a QBO stand-in) has them; others must work.
        if entity not in OPTIONAL_ENTITIES:
            raise
        return EntityRefresh(entity, "skipped", reason=str(error))
    result.requests += 1 + len(objects) // 1000
    written, deleted = store.replace_all(realm_id, entity, objects, now=dt.datetime.now(dt.UTC))
    watermark = started.isoformat()
    ledger.set_cursor(cursor_name(realm_id, entity), watermark)
    return EntityRefresh(entity, "full", written=written, deleted=deleted, reason=reason, watermark=watermark)


def _canonical_entities(entities: Iterable[str] | None) -> list[str]:
    if entities is None:
        return list(REFRESHABLE)
    known = {name.lower(): name for name in REFRESHABLE}
    chosen = []
    for name in entities:
        if name.lower() not in known:
            raise ValueError(f"{name!r} is not reference data (known: {', '.join(REFRESHABLE)})")
        chosen.append(known[name.lower()])
    return chosen


def _response_time(data: Mapping[str, Any]) -> dt.datetime | None:
    value = data.get("time")
    return parse_qbo_time(value if isinstance(value, str) else None)


def _body(data: Mapping[str, Any], entity: str) -> dict[str, Any]:
    for key, value in data.items():
        if key.lower() == entity.lower() and isinstance(value, dict):
            return value
    return dict(data)
