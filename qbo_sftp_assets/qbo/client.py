"""The QBO Accounting API client on httpx: tokens, limits, retries and every operation the pipeline uses.

One `QboClient` per company (realm); it is safe to share between threads.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import httpx

from qbo_sftp_assets.config import Company, Config
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.qbo import entities
from qbo_sftp_assets.qbo.faults import (
    QboAmountError,
    QboError,
    QboServerError,
    QboThrottled,
    QboValidationError,
    ReconnectRequired,
    StaleObjectConflict,
    error_from_fault,
    error_from_response,
    is_retryable,
    parse_fault,
)
from qbo_sftp_assets.qbo.limits import (
    SHARED_BUDGET_FILE,
    LimiterStats,
    RealmLimiter,
    backoff_delay,
    limiter_for,
    throttle_delay,
)
from qbo_sftp_assets.qbo.oauth import Endpoints, InvalidGrant, OAuthClient
from qbo_sftp_assets.qbo.tokens import (
    AnyTokenStore,
    NotConnected,
    PostgresTokenStore,
    RefreshRefused,
    TokenRecord,
    TokenStore,
    open_token_store,
)

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000
BATCH_MAX_ITEMS = 30
CDC_MAX_AGE = timedelta(days=30)
CDC_OBJECT_CAP = 1000
REQUEST_ID_MAX = 50
BATCH_REQUEST_ID_MAX = 36
BID_MAX = 10
_PAGING_CLAUSE = re.compile(r"\b(STARTPOSITION|MAXRESULTS)\b", re.IGNORECASE)
_FROM_CLAUSE = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
_RESERVED_RESPONSE_KEYS = frozenset({"startposition", "maxresults", "totalcount"})


class MissingCredentials(UserFacingError):
    """The app's client id or secret environment variable is not set."""

    exit_code = 2


class CdcWindowTooOld(QboValidationError, UserFacingError):
    """changedSince lies beyond QBO's 30-day CDC window: the caller must resync with a full query."""


class CdcOverflow(QboError):
    """More than CDC_OBJECT_CAP objects of one entity changed at the same instant: the window cannot shrink."""


@dataclass(frozen=True)
class QueryPage:
    """One page of a query: the rows, where it started and how many were asked for."""

    entity: str
    rows: list[dict[str, Any]]
    start_position: int
    max_results: int


@dataclass(frozen=True)
class Tombstone:
    """A CDC entry with `status: "Deleted"`: only the id and when it was deleted are known."""

    entity: str
    id: str
    last_updated: str | None
    raw: dict[str, Any] = field(repr=False)


@dataclass
class CdcResult:
    """What changed since a time: live objects and tombstones per entity, and QBO's response `time`."""

    changed: dict[str, list[dict[str, Any]]]
    deleted: dict[str, list[Tombstone]]
    time: str | None
    requests: int = 0


@dataclass(frozen=True)
class BatchItem:
    """One operation in a batch: create/update/delete of an entity body, or a query."""

    operation: Literal["create", "update", "delete", "query"]
    entity: str | None = None
    body: Mapping[str, Any] | None = None
    query: str | None = None
    bid: str | None = None
    options_data: str | None = None  # "void" with operation "update" voids a transaction

    def to_wire(self, bid: str) -> dict[str, Any]:
        if self.operation == "query":
            if not self.query:
                raise ValueError("a query batch item needs `query`")
            return {"bId": bid, "Query": self.query}
        if not self.entity or self.body is None:
            raise ValueError(f"a {self.operation} batch item needs `entity` and `body`")
        item: dict[str, Any] = {
            "bId": bid,
            "operation": self.operation,
            entities.entity_name(self.entity): dict(self.body),
        }
        if self.options_data:
            item["optionsData"] = self.options_data
        return item


@dataclass(frozen=True)
class Multipart:
    """A multipart/form-data body: its bytes and the content type naming its boundary."""

    content: bytes
    content_type: str

    @classmethod
    def of(cls, parts: Sequence[tuple[str, str | None, str, bytes]]) -> Multipart:
        """Parts of (field name, file name or None, content type, bytes), CRLF-separated as RFC 7578 says."""
        boundary = uuid.uuid4().hex
        chunks = []
        for name, file_name, content_type, content in parts:
            quoted = None if file_name is None else file_name.replace("\\", "%5C").replace('"', "%22")
            disposition = f'form-data; name="{name}"' + (f'; filename="{quoted}"' if quoted else "")
            head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
            chunks += [head.encode(), content, b"\r\n"]
        chunks.append(f"--{boundary}--\r\n".encode())
        return cls(b"".join(chunks), f"multipart/form-data; boundary={boundary}")


@dataclass(frozen=True)
class BatchItemResult:
    """One batch item's outcome: the entity (or query response) it produced, or its own fault."""

    bid: str
    entity: str | None
    object: dict[str, Any] | None
    query_response: dict[str, Any] | None
    error: QboError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def derive_request_id(base: str, suffix: str, max_length: int) -> str:
    """A requestid derived from the caller's id, deterministic so a resumed caller derives the same one."""
    candidate = f"{base}-{suffix}"
    if len(candidate) <= max_length:
        return candidate
    return str(uuid.uuid5(uuid.NAMESPACE_OID, candidate))


class QboClient:
    """A client for one company (realm): every call is limited, retried safely and authenticated.

    `clock_speed` tells the limiter that QBO's minute is shorter (a sandbox on a fast clock);
    `throttle_wait_seconds` is the wait after a 429 without Retry-After (QBO asks for 60 s).
    """

    def __init__(
        self,
        company: Company,
        token_store: AnyTokenStore | str | os.PathLike[str],
        client_id: str,
        client_secret: str,
        *,
        company_name: str | None = None,
        realm_id: str | None = None,
        clock_speed: float = 1.0,
        throttle_wait_seconds: float = 60.0,
        refresh_margin_seconds: float = 300.0,
        page_size: int = MAX_PAGE_SIZE,
        max_conflict_retries: int = 3,
        cdc_object_cap: int = CDC_OBJECT_CAP,
        transport: httpx.BaseTransport | None = None,
        shared_budget_url: str | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        self.company = company
        self.company_name = company_name or company.realm_id
        self.realm_id = realm_id or company.realm_id
        self.endpoints = Endpoints.for_company(company)
        self.store: AnyTokenStore = (
            token_store if isinstance(token_store, TokenStore | PostgresTokenStore) else TokenStore(token_store)
        )
        self.limits = company.limits
        self.clock_speed = clock_speed
        self.throttle_wait_seconds = throttle_wait_seconds
        self.refresh_margin_seconds = refresh_margin_seconds
        self.page_size = page_size
        self.max_conflict_retries = max_conflict_retries
        self.cdc_object_cap = cdc_object_cap
        timeout = httpx.Timeout(
            connect=self.limits.connect_timeout_seconds,
            read=self.limits.read_timeout_seconds,
            write=self.limits.read_timeout_seconds,
            pool=None,
        )
        self.oauth = OAuthClient(client_id, client_secret, self.endpoints, timeout=timeout, transport=transport)
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=self.limits.max_in_flight + 2),
        )
        # Every process on this host that uses the same token file shares the realm's budget; with
        # `shared_budget_url` every process on every host that uses that PostgreSQL database does.
        self.limiter: RealmLimiter = limiter_for(
            self.endpoints.api_base,
            self.realm_id,
            self.limits,
            clock_speed=clock_speed,
            shared_path=self.store.path.parent / SHARED_BUDGET_FILE if isinstance(self.store, TokenStore) else None,
            shared_url=shared_budget_url,
        )
        self._stats = LimiterStats()
        self._token_lock = threading.Lock()
        self._record: TokenRecord | None = None

    def __repr__(self) -> str:
        return (
            f"QboClient(company={self.company_name!r}, realm_id={self.realm_id!r}, "
            f"api_base={self.endpoints.api_base!r})"
        )

    def close(self) -> None:
        self._http.close()
        self.oauth.close()

    def __enter__(self) -> QboClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stats(self) -> dict[str, float]:
        """This client's counts of requests, waits, retries, throttles, server errors, timeouts, refreshes."""
        return self._stats.snapshot()

    # --- tokens -------------------------------------------------------------------------------

    def _access_token(self) -> str:
        with self._token_lock:
            record = self._record
            if record is None or not record.access_usable(self.refresh_margin_seconds):
                record = self._load_record()
                if not record.access_usable(self.refresh_margin_seconds):
                    record = self._refresh(stale_access_token=None)
                self._record = record
            return record.access_token

    def _load_record(self) -> TokenRecord:
        try:
            return self.store.require(self.realm_id)
        except NotConnected:
            raise ReconnectRequired(self.company_name, self.realm_id, "no tokens are stored for it") from None

    def _refresh(self, *, stale_access_token: str | None) -> TokenRecord:
        try:
            record, refreshed_here = self.store.refresh(
                self.realm_id,
                self.oauth.refresh,
                stale_access_token=stale_access_token,
                margin_seconds=self.refresh_margin_seconds,
            )
        except InvalidGrant as error:
            raise ReconnectRequired(self.company_name, self.realm_id, error.description or error.error) from None
        except RefreshRefused:
            raise ReconnectRequired(self.company_name, self.realm_id, "an earlier refresh was refused") from None
        except NotConnected:
            raise ReconnectRequired(self.company_name, self.realm_id, "no tokens are stored for it") from None
        if refreshed_here:
            self._stats.add(token_refreshes=1)
            logger.info("qbo realm %s: access token refreshed", self.realm_id)
        return record

    def _after_unauthorized(self, token_used: str) -> None:
        with self._token_lock:
            self._record = self._refresh(stale_access_token=token_used)

    # --- the one request path -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        multipart: Multipart | None = None,
        request_id: str | None = None,
        batch: bool = False,
    ) -> dict[str, Any]:
        """Send one API call under `/v3/company/{realm}/`, retrying what is safe to retry; the JSON body.

        The body is `json`, or a `multipart` body for the one endpoint that takes files (`upload`).
        """
        url = f"{self.endpoints.api_base}/v3/company/{self.realm_id}/{path}"
        query = {**(params or {}), "minorversion": str(self.company.minor_version)}
        if request_id is not None:
            limit = BATCH_REQUEST_ID_MAX if batch else REQUEST_ID_MAX
            if not request_id or len(request_id) > limit:
                raise ValueError(f"requestid must be 1..{limit} characters")
            query["requestid"] = request_id
        attempt = 0
        reauthorized = False
        while True:
            token = self._access_token()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            body = json if multipart is None else multipart
            response, error = self._send_once(method, url, path, query, body, headers, batch)
            if response is not None:
                if response.status_code == 401 and not reauthorized:
                    reauthorized = True
                    self._after_unauthorized(token)
                    continue
                error = self._error_of(response)
                if error is None:
                    return decode_json(response.content)
            assert error is not None
            if not is_retryable(error) or attempt >= self.limits.max_retries:
                raise error
            delay = self._retry_delay(error, attempt)
            logger.warning(
                "qbo %s %s: %s; retry %d/%d in %.2fs",
                method,
                path,
                type(error).__name__,
                attempt + 1,
                self.limits.max_retries,
                delay,
            )
            self._stats.add(retries=1)
            time.sleep(delay)
            attempt += 1

    def _send_once(
        self,
        method: str,
        url: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        headers: Mapping[str, str],
        batch: bool,
    ) -> tuple[httpx.Response | None, QboError | None]:
        with self.limiter.slot(batch=batch, stats=self._stats):
            started = time.perf_counter()
            try:
                if isinstance(body, Multipart):
                    content: bytes | None = body.content
                    headers = {**headers, "Content-Type": body.content_type}
                else:
                    content = None if body is None else encode_json(body)
                    if content is not None:
                        headers = {**headers, "Content-Type": "application/json"}
                response = self._http.request(method, url, params=query, content=content, headers=headers)
            except httpx.TimeoutException as timeout:
                elapsed = time.perf_counter() - started
                self._stats.add(timeouts=1)
                logger.warning("qbo %s %s -> timeout (%s) elapsed=%.3fs", method, path, type(timeout).__name__, elapsed)
                return None, QboServerError(f"no answer in time ({type(timeout).__name__})", fault_type="Timeout")
            except httpx.TransportError as failure:
                self._stats.add(server_errors=1)
                logger.warning("qbo %s %s -> network error %s", method, path, type(failure).__name__)
                return None, QboServerError(f"network error ({type(failure).__name__})", fault_type="Network")
        logger.info(
            "qbo %s %s -> %s intuit_tid=%s elapsed=%.3fs",
            method,
            path,
            response.status_code,
            response.headers.get("intuit_tid"),
            time.perf_counter() - started,
        )
        return response, None

    def _error_of(self, response: httpx.Response) -> QboError | None:
        error = error_from_response(
            response.status_code,
            response.content,
            intuit_tid=response.headers.get("intuit_tid"),
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
        if isinstance(error, QboThrottled):
            self._stats.add(throttled=1)
        elif isinstance(error, QboServerError):
            self._stats.add(server_errors=1)
        return error

    def _retry_delay(self, error: QboError, attempt: int) -> float:
        if isinstance(error, QboThrottled):
            retry_after = error.retry_after / self.clock_speed if error.retry_after is not None else None
            return throttle_delay(retry_after, self.throttle_wait_seconds)
        return backoff_delay(attempt, self.limits.backoff_seconds, self.limits.max_backoff_seconds)

    # --- reads ----------------------------------------------------------------------------------

    def query_page(self, select: str, *, start_position: int = 1, max_results: int | None = None) -> QueryPage:
        """One page of a query (`STARTPOSITION` is 1-based; `MAXRESULTS` at most 1000)."""
        if _PAGING_CLAUSE.search(select):
            raise ValueError("leave STARTPOSITION / MAXRESULTS out of the query: the client pages it")
        size = max_results or self.page_size
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError(f"MAXRESULTS must be 1..{MAX_PAGE_SIZE}")
        entity = _entity_of(select)
        text = f"{select.strip()} STARTPOSITION {start_position} MAXRESULTS {size}"
        data = self.request("GET", "query", params={"query": text})
        response = _get_ci(data, "QueryResponse") or {}
        rows = _rows_of(response, entity)
        return QueryPage(entity=entity, rows=rows, start_position=start_position, max_results=size)

    def query(self, select: str, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a query, page after page (order it, e.g. by Id, for stable paging)."""
        size = page_size or self.page_size
        start = 1
        while True:
            page = self.query_page(select, start_position=start, max_results=size)
            yield from page.rows
            if len(page.rows) < size:
                return
            start += len(page.rows)

    def count(self, entity: str, where: str | None = None) -> int:
        """`SELECT COUNT(*) FROM entity [WHERE ...]`: QBO's totalCount."""
        name = entities.entity_name(entity)
        text = f"SELECT COUNT(*) FROM {name}" + (f" WHERE {where}" if where else "")
        data = self.request("GET", "query", params={"query": text})
        response = _get_ci(data, "QueryResponse") or {}
        total = _get_ci(response, "totalCount")
        return int(total or 0)

    def read(self, entity: str, object_id: str) -> dict[str, Any]:
        """One object by Id."""
        name = entities.entity_name(entity)
        data = self.request("GET", f"{entities.resource(name)}/{object_id}")
        return _entity_body(data, name)

    def preferences(self) -> dict[str, Any]:
        """The company's Preferences (class tracking, duplicate-number warning, multicurrency, ...)."""
        return _entity_body(self.request("GET", "preferences"), "Preferences")

    def company_info(self) -> dict[str, Any]:
        return _entity_body(self.request("GET", f"companyinfo/{self.realm_id}"), "CompanyInfo")

    # --- writes ---------------------------------------------------------------------------------

    def upload_attachment(
        self,
        file_name: str,
        content: bytes,
        *,
        content_type: str,
        attach_to: Sequence[tuple[str, str]],
        request_id: str,
    ) -> dict[str, Any]:
        """Attach a file to QBO records through the multipart `upload` endpoint; the new Attachable.

        `attach_to` is (entity, Id) pairs: one Attachable links the file to each of them, so a person
        opening any of those records in QuickBooks finds the file it came from.
        """
        metadata = {
            "FileName": file_name,
            "ContentType": content_type,
            "AttachableRef": [{"EntityRef": {"type": entity, "value": object_id}} for entity, object_id in attach_to],
        }
        body = Multipart.of(
            [
                ("file_metadata_01", None, "application/json", encode_json(metadata)),
                ("file_content_01", file_name, content_type, content),
            ]
        )
        data = self.request("POST", "upload", multipart=body, request_id=request_id)
        items = _get_ci(data, "AttachableResponse") or []
        first = items[0] if items and isinstance(items[0], Mapping) else {}
        fault = parse_fault(first)
        if fault is not None:
            raise error_from_fault(fault)
        return _entity_body(first, "Attachable")

    def create(self, entity: str, body: Mapping[str, Any], *, request_id: str) -> dict[str, Any]:
        """Create an object; `request_id` (stored by the caller first) makes every retry safe."""
        name = entities.entity_name(entity)
        data = self.request("POST", entities.resource(name), json=dict(body), request_id=request_id)
        return _entity_body(data, name)

    def update(
        self,
        entity: str,
        object_id: str,
        changes: Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]],
        *,
        request_id: str,
        sync_token: str | None = None,
    ) -> dict[str, Any]:
        """Sparse update with the current SyncToken; on fault 5010 re-read, re-apply and retry (bounded).

        `changes` is a mapping of fields, or a function of the freshly read object that returns them.
        Each re-applied attempt gets a requestid derived from `request_id` (its body differs).
        """
        name = entities.entity_name(entity)
        last: StaleObjectConflict | None = None
        for attempt in range(self.max_conflict_retries + 1):
            current: dict[str, Any] = {}
            if sync_token is None or attempt > 0 or callable(changes):
                current = self.read(name, object_id)
            token = sync_token if attempt == 0 and sync_token is not None else str(current.get("SyncToken"))
            fields = changes(current) if callable(changes) else changes
            body = {**fields, "Id": object_id, "SyncToken": token, "sparse": True}
            this_id = request_id if attempt == 0 else derive_request_id(request_id, f"r{attempt}", REQUEST_ID_MAX)
            try:
                data = self.request("POST", entities.resource(name), json=body, request_id=this_id)
            except StaleObjectConflict as conflict:
                last = conflict
                logger.info("qbo %s %s: stale SyncToken, re-reading (attempt %d)", name, object_id, attempt + 1)
                continue
            return _entity_body(data, name)
        assert last is not None
        raise StaleObjectConflict(
            f"{name} {object_id} kept changing under us: {self.max_conflict_retries + 1} attempts "
            f"all hit a stale SyncToken; re-run once the other writer is done",
            code=last.code,
            detail=last.detail,
            element=last.element,
            fault_type=last.fault_type,
            status_code=last.status_code,
            intuit_tid=last.intuit_tid,
            errors=last.errors,
        )

    def deactivate(self, entity: str, object_id: str, *, request_id: str) -> dict[str, Any]:
        """Name-list objects are not deleted in QBO: they are made inactive."""
        name = entities.entity_name(entity)
        if name not in entities.NAME_LISTS:
            raise ValueError(f"{name} is a transaction: delete or void it instead")
        return self.update(name, object_id, {"Active": False}, request_id=request_id)

    def delete(self, entity: str, object_id: str, *, request_id: str) -> dict[str, Any]:
        """Delete a transaction (Bill, Invoice, JournalEntry, VendorCredit) at its current SyncToken."""
        return self._operation(entity, object_id, "delete", entities.DELETABLE, request_id)

    def void(self, entity: str, object_id: str, *, request_id: str) -> dict[str, Any]:
        """Void a transaction QBO lets the API void (Invoice): it stays, with zero amounts."""
        return self._operation(entity, object_id, "void", entities.VOIDABLE, request_id)

    def _operation(
        self, entity: str, object_id: str, operation: str, allowed: frozenset[str], request_id: str
    ) -> dict[str, Any]:
        name = entities.entity_name(entity)
        if name not in allowed:
            raise ValueError(f"QBO does not allow {operation} on {name} (allowed: {', '.join(sorted(allowed))})")
        current = self.read(name, object_id)
        body = {"Id": object_id, "SyncToken": str(current.get("SyncToken"))}
        data = self.request(
            "POST", entities.resource(name), params={"operation": operation}, json=body, request_id=request_id
        )
        return _entity_body(data, name)

    # --- change data capture ---------------------------------------------------------------------

    def cdc(self, entity_names: Iterable[str], changed_since: datetime, *, now: datetime | None = None) -> CdcResult:
        """Everything that changed since `changed_since` (at most 30 days ago), tombstones included.

        A response that reaches QBO's 1000-object cap is re-asked per entity, and an entity that alone
        fills the cap is re-asked from the newest change it returned onward (QBO answers oldest first),
        so each window stays under the cap.
        """
        if changed_since.tzinfo is None:
            raise ValueError("changed_since must be timezone-aware")
        now = now or datetime.now(UTC)
        if changed_since < now - CDC_MAX_AGE:
            raise CdcWindowTooOld(
                f"changedSince {changed_since.isoformat()} is more than 30 days ago; QBO's CDC only covers "
                "the last 30 days, so resync these entities with a full query instead",
                code="CDC_WINDOW",
                fault_type="ClientValidation",
            )
        names = [entities.entity_name(e) for e in entity_names]
        result = CdcResult(changed={n: [] for n in names}, deleted={n: [] for n in names}, time=None)
        self._cdc_into(result, names, changed_since)
        return result

    def _cdc_into(self, result: CdcResult, names: list[str], since: datetime) -> None:
        data = self.request(
            "GET", "cdc", params={"entities": ",".join(names), "changedSince": since.isoformat(timespec="seconds")}
        )
        result.requests += 1
        result.time = result.time or _text_or_none(_get_ci(data, "time"))
        per_entity = _cdc_objects(data, names)
        total = sum(len(objects) for objects in per_entity.values())
        if total < self.cdc_object_cap:
            for name, objects in per_entity.items():
                _merge_cdc(result, name, objects)
            return
        if len(names) > 1:
            for name in names:
                self._cdc_into(result, [name], since)
            return
        name = names[0]
        objects = per_entity[name]
        _merge_cdc(result, name, objects)
        newest = max((stamp for o in objects if (stamp := _last_updated(o)) is not None), default=None)
        if newest is None or newest <= since:
            raise CdcOverflow(
                f"{self.cdc_object_cap}+ {name} changes at {since.isoformat()}: the CDC window cannot be "
                "split further; resync this entity with a full query",
                fault_type="ClientValidation",
            )
        self._cdc_into(result, [name], newest)

    # --- batch ----------------------------------------------------------------------------------

    def batch(self, items: list[BatchItem], *, request_id: str, max_workers: int = 1) -> list[BatchItemResult]:
        """Run items in batch requests of at most 30; one result per item, in order, each with its own fault.

        A single request uses `request_id` as is; longer lists derive one id per chunk from it, so a
        caller that stored `request_id` can resume and re-send the same chunks.
        """
        if not items:
            return []
        bids = [item.bid or str(index) for index, item in enumerate(items)]
        if len(set(bids)) != len(bids) or any(len(b) > BID_MAX for b in bids):
            raise ValueError(f"batch bIds must be unique and at most {BID_MAX} characters")
        chunks = [list(range(i, min(i + BATCH_MAX_ITEMS, len(items)))) for i in range(0, len(items), BATCH_MAX_ITEMS)]
        ids = (
            [request_id]
            if len(chunks) == 1
            else [derive_request_id(request_id, str(n), BATCH_REQUEST_ID_MAX) for n in range(len(chunks))]
        )

        def send(chunk_number: int) -> list[BatchItemResult]:
            chunk = chunks[chunk_number]
            wire = {"BatchItemRequest": [items[i].to_wire(bids[i]) for i in chunk]}
            data = self.request("POST", "batch", json=wire, request_id=ids[chunk_number], batch=True)
            return _batch_results(data, [bids[i] for i in chunk], [items[i] for i in chunk])

        if max_workers <= 1 or len(chunks) == 1:
            per_chunk = [send(n) for n in range(len(chunks))]
        else:
            with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="qbo-batch") as pool:
                per_chunk = list(pool.map(send, range(len(chunks))))
        return [result for chunk in per_chunk for result in chunk]


# --- construction from configuration ---------------------------------------------------------------


def qbo_client_for(config: Config, company_name: str, **options: Any) -> QboClient:
    """A client for a configured company, with the app's credentials read from its environment variables."""
    company = config.company(company_name)
    client_id, client_secret = app_credentials(company)
    if config.limiter_backend == "postgres":
        options.setdefault("shared_budget_url", config.postgres.url())
    store = open_token_store(config)
    return QboClient(company, store, client_id, client_secret, company_name=company_name, **options)


def app_credentials(company: Company) -> tuple[str, str]:
    """The app's client id and secret from the environment variables the company names."""
    client_id = os.environ.get(company.client_id_env, "")
    client_secret = os.environ.get(company.client_secret_env, "")
    missing = [
        name
        for name, value in ((company.client_id_env, client_id), (company.client_secret_env, client_secret))
        if not value
    ]
    if missing:
        raise MissingCredentials(
            f"set the environment variable{'s' if len(missing) > 1 else ''} {' and '.join(missing)} "
            "to the QuickBooks app's credentials (Intuit developer portal → Keys & credentials)"
        )
    return client_id, client_secret


# --- JSON with Decimal money ------------------------------------------------------------------------

# QBO documents amounts as "Max 15 digits in 10.5 format" (Intuit's Bill entity reference).
AMOUNT_MAX_DIGITS = 15


def encode_json(value: Any) -> bytes:
    """JSON for a request body; Decimal amounts become JSON numbers with exactly their digits.

    `json.dumps` can only print a Decimal through float, which loses cents past ~15 digits and
    prints `Infinity` (not JSON); so the body is written by a small encoder of our own.
    """
    parts: list[str] = []
    _encode(value, parts.append)
    return "".join(parts).encode()


def check_amount(value: Decimal) -> Decimal:
    """`value` if QBO can take it (finite, at most 15 digits); else QboAmountError.

    Digits are counted as QBO's "10.5 format" counts them: integer digits plus decimals, trailing
    zeros of the fraction not counted (218.40 has four).
    """
    if not value.is_finite():
        raise QboAmountError(value, "it is not a finite number")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    integer_digits = len(digits) + exponent if value.adjusted() >= 0 else 0
    if integer_digits + max(0, -exponent) > AMOUNT_MAX_DIGITS:
        raise QboAmountError(value, f"QBO takes at most {AMOUNT_MAX_DIGITS} digits")
    return value


def _decimal_text(value: Decimal) -> str:
    return format(check_amount(value), "f")


def _encode(value: Any, emit: Callable[[str], None]) -> None:
    if isinstance(value, Decimal):
        emit(_decimal_text(value))
    elif isinstance(value, Mapping):
        emit("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            emit(("," if index else "") + json.dumps(key) + ":")
            _encode(item, emit)
        emit("}")
    elif isinstance(value, (list, tuple)):
        emit("[")
        for index, item in enumerate(value):
            if index:
                emit(",")
            _encode(item, emit)
        emit("]")
    elif isinstance(value, datetime | date):
        emit(json.dumps(value.isoformat()))
    elif value is None or isinstance(value, str | int | float):
        # float NaN/Infinity are not JSON: refuse them instead of sending `NaN`.
        try:
            emit(json.dumps(value, allow_nan=False))
        except ValueError as error:
            raise QboAmountError(value, "it is not a finite number") from error
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")


def decode_json(content: bytes) -> dict[str, Any]:
    """A response body; numbers with a fraction come back as Decimal (money is never a float here)."""
    data = json.loads(content, parse_float=Decimal)
    if not isinstance(data, dict):
        raise QboError("the response is not a JSON object", fault_type="UnexpectedResponse")
    return data


# --- response helpers --------------------------------------------------------------------------------


def _get_ci(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, Mapping):
        return None
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    return next((v for k, v in mapping.items() if isinstance(k, str) and k.lower() == lowered), None)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _entity_of(select: str) -> str:
    match = _FROM_CLAUSE.search(select)
    if not match:
        raise ValueError("a query needs `FROM Entity`")
    return match.group(1)


def _rows_of(response: Mapping[str, Any], entity: str) -> list[dict[str, Any]]:
    rows = _get_ci(response, entity)
    if rows is None:
        rows = next(
            (v for k, v in response.items() if k.lower() not in _RESERVED_RESPONSE_KEYS and isinstance(v, list)), []
        )
    return list(rows)


def _entity_body(data: Mapping[str, Any], entity: str) -> dict[str, Any]:
    body = _get_ci(data, entity)
    if not isinstance(body, Mapping):
        raise QboError(f"the response has no {entity} object", fault_type="UnexpectedResponse")
    return dict(body)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _cdc_objects(data: Mapping[str, Any], names: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for block in _get_ci(data, "CDCResponse") or []:
        for response in _get_ci(block, "QueryResponse") or []:
            for name in names:
                found[name].extend(_get_ci(response, name) or [])
    return found


def _merge_cdc(result: CdcResult, name: str, objects: list[dict[str, Any]]) -> None:
    live = {str(o.get("Id")): o for o in result.changed[name]}
    gone = {t.id: t for t in result.deleted[name]}
    for obj in objects:
        object_id = str(obj.get("Id"))
        if str(_get_ci(obj, "status") or "").lower() == "deleted":
            live.pop(object_id, None)
            gone[object_id] = Tombstone(name, object_id, _meta_last_updated(obj), obj)
        else:
            gone.pop(object_id, None)
            live[object_id] = obj
    result.changed[name] = list(live.values())
    result.deleted[name] = list(gone.values())


def _meta_last_updated(obj: Mapping[str, Any]) -> str | None:
    return _text_or_none(_get_ci(_get_ci(obj, "MetaData") or {}, "LastUpdatedTime"))


def _last_updated(obj: Mapping[str, Any]) -> datetime | None:
    text = _meta_last_updated(obj)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _batch_results(data: Mapping[str, Any], bids: list[str], items: list[BatchItem]) -> list[BatchItemResult]:
    by_bid: dict[str, Mapping[str, Any]] = {}
    for entry in _get_ci(data, "BatchItemResponse") or []:
        by_bid[str(_get_ci(entry, "bId"))] = entry
    results = []
    for bid, item in zip(bids, items, strict=True):
        entry = by_bid.get(bid)
        if entry is None:
            error: QboError | None = QboError(f"batch item {bid} is missing from the response", fault_type="Batch")
            results.append(BatchItemResult(bid, item.entity, None, None, error))
            continue
        fault = parse_fault(entry)
        if fault is not None:
            results.append(BatchItemResult(bid, item.entity, None, None, error_from_fault(fault)))
            continue
        name = entities.entity_name(item.entity) if item.entity else None
        obj = _get_ci(entry, name) if name else None
        query_response = _get_ci(entry, "QueryResponse")
        results.append(
            BatchItemResult(bid, name, dict(obj) if isinstance(obj, Mapping) else None, query_response, None)
        )
    return results
