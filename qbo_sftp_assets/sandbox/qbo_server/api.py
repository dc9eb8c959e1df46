"""The `/v3/company/{realmId}/...` API: auth, throttling, injected faults, then query/read/write/cdc/batch."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from qbo_sftp_assets.sandbox.qbo_server import attachments, faults, wire
from qbo_sftp_assets.sandbox.qbo_server.batch import batch_items, run_batch
from qbo_sftp_assets.sandbox.qbo_server.cdc import cdc_query_responses
from qbo_sftp_assets.sandbox.qbo_server.clock import qbo_response_time
from qbo_sftp_assets.sandbox.qbo_server.entities import KINDS_BY_PATH
from qbo_sftp_assets.sandbox.qbo_server.limits import FaultRule
from qbo_sftp_assets.sandbox.qbo_server.operations import entity_json, perform_write
from qbo_sftp_assets.sandbox.qbo_server.query import parse_query, query_response
from qbo_sftp_assets.sandbox.qbo_server.state import RealmState, RequestRecord, SandboxState, StoredResponse
from qbo_sftp_assets.sandbox.qbo_server.store import WriteResult
from qbo_sftp_assets.sandbox.qbo_server.webhooks import ChangeEvent

JSON = "application/json"
XML = "application/xml"
MAX_REQUESTID_LENGTH = 50
MAX_BATCH_REQUESTID_LENGTH = 36


def json_response(body: dict, status: int = 200) -> Response:
    return Response(wire.dumps(body), status_code=status, media_type=JSON)


def fault_response(sandbox: SandboxState, fault: faults.QboFault) -> Response:
    return json_response(faults.fault_envelope(fault, qbo_response_time(sandbox.clock.now())), fault.status)


def gateway_response(
    sandbox: SandboxState, status: int, code: str, name: str, detail: str | None, kind: str
) -> Response:
    epoch_ms = int(sandbox.clock.now().timestamp() * 1000)
    return json_response(faults.gateway_fault_body(code, name, status, detail, kind, epoch_ms), status)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def api_endpoint(request: Request) -> Response:
    sandbox: SandboxState = request.app.state.sandbox
    realm_id = request.path_params["realm_id"]
    rest = request.path_params["rest"].strip("/")
    token = bearer_token(request)
    with sandbox.lock:
        token_realm, reason = sandbox.tokens.access_realm(token) if token else (None, "Missing bearer token")
    if token_realm is None:
        return gateway_response(sandbox, 401, "3200", "AuthenticationFailed", reason, "AUTHENTICATION")
    if token_realm != realm_id or realm_id not in sandbox.realms:
        return gateway_response(sandbox, 403, "3100", "ApplicationAuthorizationFailed", None, "SERVICE")
    realm = sandbox.realms[realm_id]
    is_batch = rest == "batch"
    with sandbox.lock:
        realm.requests += 1
        realm.batch_requests += int(is_batch)
    wait = realm.limiter.try_acquire(is_batch, enforce=sandbox.settings.rate_limits_enabled)
    if wait is not None:
        response = fault_response(sandbox, faults.throttle_fault())
        if sandbox.settings.send_retry_after:
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        log_request(sandbox, request, realm_id, response.status_code)
        return response
    try:
        response = await answer(request, sandbox, realm, rest)
    finally:
        realm.limiter.release()
    log_request(sandbox, request, realm_id, response.status_code)
    return response


async def answer(request: Request, sandbox: SandboxState, realm: RealmState, rest: str) -> Response:
    target = request.url.path + ("?" + request.url.query if request.url.query else "")
    rule = sandbox.faults.take(realm.spec.realm_id, target)
    if rule is not None and not rule.after_write:
        await asyncio.sleep(rule.delay)
        return injected_response(sandbox, rule)
    if sandbox.settings.latency:
        await asyncio.sleep(sandbox.settings.latency)
    try:
        response = await route(request, sandbox, realm, rest)
    except faults.QboFault as fault:
        response = fault_response(sandbox, fault)
    if rule is not None:
        await asyncio.sleep(rule.delay)
        return injected_response(sandbox, rule)
    return response


def injected_response(sandbox: SandboxState, rule: FaultRule) -> Response:
    now_text = qbo_response_time(sandbox.clock.now())
    if rule.kind == "timeout":
        return Response("Gateway Timeout", status_code=504, media_type="text/plain")
    if rule.kind == "429":
        response = fault_response(sandbox, faults.throttle_fault())
        if rule.retry_after is not None:
            response.headers["Retry-After"] = f"{rule.retry_after:g}"
        return response
    if rule.kind in ("500", "503"):
        fault = faults.server_fault(int(rule.kind))
        return json_response(faults.fault_envelope(custom(fault, rule), now_text), int(rule.kind))
    fault = faults.validation_fault(
        rule.code or "6000",
        rule.message or "A business validation error has occurred while processing your request",
        rule.detail or "Business Validation Error: injected by the sandbox",
    )
    if rule.kind == "xml_fault":
        return Response(faults.fault_xml(fault, now_text), status_code=rule.status or 400, media_type=XML)
    return json_response(faults.fault_envelope(fault, now_text), rule.status or 200)


def custom(fault: faults.QboFault, rule: FaultRule) -> faults.QboFault:
    error = fault.errors[0]
    error.code = rule.code or error.code
    error.message = rule.message or error.message
    error.detail = rule.detail or error.detail
    return fault


def log_request(sandbox: SandboxState, request: Request, realm_id: str, status: int) -> None:
    sandbox.request_log.append(
        RequestRecord(
            realm_id,
            request.method,
            request.url.path,
            request.query_params.get("minorversion"),
            request.query_params.get("requestid"),
            status,
        )
    )


async def route(request: Request, sandbox: SandboxState, realm: RealmState, rest: str) -> Response:
    # minorversion below 75 or absent is answered as 75 (Intuit, 2025); the sandbox records what it saw.
    with sandbox.lock:
        realm.minorversions[request.query_params.get("minorversion", "none")] += 1
    parts = rest.split("/")
    method = request.method
    if parts == ["query"] and method in ("GET", "POST"):
        text = request.query_params.get("query")
        if text is None and method == "POST":
            text = (await request.body()).decode("utf-8", "replace")
        return run_query(sandbox, realm, text)
    if parts == ["cdc"] and method == "GET":
        return run_cdc(sandbox, realm, request)
    if parts == ["batch"] and method == "POST":
        with_requestid = "requestid" in request.query_params
        return await write_with_replay(
            request, sandbox, realm, lambda body: run_batch_write(sandbox, realm, body, with_requestid)
        )
    if parts == ["upload"] and method == "POST":
        base_url = str(request.base_url).rstrip("/")
        content_type = request.headers.get("content-type", "")
        return await write_with_replay(
            request,
            sandbox,
            realm,
            lambda body: run_upload(sandbox, realm, body, base_url),
            parse=lambda raw: attachments.parse_multipart(raw, content_type),
        )
    if len(parts) == 2 and parts[0] == "download" and method == "GET":
        with sandbox.lock:
            link = attachments.download_link(realm.store, parts[1])
        return Response(link, media_type="text/plain")
    if parts == ["preferences"] and method == "GET":
        with sandbox.lock:
            return json_response({"Preferences": realm.store.preferences, "time": now_text(sandbox)})
    if len(parts) == 2 and parts[0] == "companyinfo" and method == "GET":
        if parts[1] != realm.spec.realm_id:
            raise faults.object_not_found("Id")
        with sandbox.lock:
            return json_response({"CompanyInfo": realm.store.company_info, "time": now_text(sandbox)})
    kind = KINDS_BY_PATH.get(parts[0])
    if kind is not None and len(parts) == 2 and method == "GET":
        with sandbox.lock:
            row = realm.store.row(kind.name, parts[1])
            if row is None:
                raise faults.object_not_found("Id")
            return json_response({kind.name: row.data, "time": now_text(sandbox)})
    if kind is not None and len(parts) == 1 and method == "POST":
        operation = request.query_params.get("operation")
        include = request.query_params.get("include", "").lower()
        allow_dup = "allowduplicatedocnum" in include
        if operation == "update" and "void" in include.split(","):
            # How QBO voids a BillPayment (and Payment, SalesReceipt): a sparse update with include=void.
            operation = "void"

        def write(body: object) -> Response:
            with sandbox.lock:
                result = perform_write(realm.store, kind, operation, body, allow_dup)
                record_writes(sandbox, realm, [result])
                return json_response({kind.name: entity_json(result), "time": now_text(sandbox)})

        return await write_with_replay(request, sandbox, realm, write)
    raise faults.unsupported_operation(f"{method} /{rest}", "this resource")


def now_text(sandbox: SandboxState) -> str:
    return qbo_response_time(sandbox.clock.now())


def run_query(sandbox: SandboxState, realm: RealmState, text: str | None) -> Response:
    if not text or not text.strip():
        raise faults.required_param_missing("query")
    query = parse_query(text, sandbox.settings.query_max_results)
    with sandbox.lock:
        rows = realm.store.queryable_rows(query.kind.name)
        body = {"QueryResponse": query_response(query, rows), "time": now_text(sandbox)}
        return json_response(body)


def run_cdc(sandbox: SandboxState, realm: RealmState, request: Request) -> Response:
    settings = sandbox.settings
    with sandbox.lock:
        responses = cdc_query_responses(
            realm.store,
            request.query_params.get("entities"),
            request.query_params.get("changedSince"),
            sandbox.clock.now(),
            settings.cdc_max_age_days,
            settings.cdc_max_objects,
        )
        return json_response({"CDCResponse": [{"QueryResponse": responses}], "time": now_text(sandbox)})


def run_batch_write(sandbox: SandboxState, realm: RealmState, body: object, with_requestid: bool) -> Response:
    items = batch_items(body, sandbox.settings.batch_max_items, with_requestid)
    with sandbox.lock:
        outcome = run_batch(realm.store, items, sandbox.settings.query_max_results)
        record_writes(sandbox, realm, outcome.writes)
        return json_response({"BatchItemResponse": outcome.items, "time": now_text(sandbox)})


def run_upload(sandbox: SandboxState, realm: RealmState, parts: list[attachments.Part], base_url: str) -> Response:
    with sandbox.lock:
        items, writes = attachments.run_upload(realm.store, parts, base_url)
        record_writes(sandbox, realm, writes)
        return json_response({"AttachableResponse": items, "time": now_text(sandbox)})


def json_body(raw: bytes) -> object:
    try:
        return wire.loads(raw) if raw.strip() else None
    except ValueError as error:
        raise faults.request_body_error(f"Request body is not valid JSON: {error}") from error


async def write_with_replay(
    request: Request,
    sandbox: SandboxState,
    realm: RealmState,
    write: Callable[[Any], Response],
    parse: Callable[[bytes], Any] = json_body,
) -> Response:
    """Run a write once per `requestid`: a repeated id gets the stored answer and writes nothing."""
    request_id = request.query_params.get("requestid")
    limit = MAX_BATCH_REQUESTID_LENGTH if request.url.path.endswith("/batch") else MAX_REQUESTID_LENGTH
    if request_id is not None and len(request_id) > limit:
        raise faults.validation_fault(
            "2010", "Request has invalid or unsupported property", f"requestid is longer than {limit} characters"
        )
    raw = await request.body()
    if request_id is not None:
        with sandbox.lock:
            stored = realm.replies.get(request_id)
            if stored is not None:
                realm.requestid_replays += 1
                return Response(stored.body, status_code=stored.status, media_type=stored.media_type)
    response = write(parse(raw))
    if request_id is not None and response.status_code < 300:
        # Only successes are kept: a fault (e.g. 5010) must stay retryable with the same requestid.
        with sandbox.lock:
            realm.replies[request_id] = StoredResponse(response.status_code, bytes(response.body), JSON)
    return response


def record_writes(sandbox: SandboxState, realm: RealmState, results: list[WriteResult]) -> None:
    """Count writes and hand each one to the webhook dispatcher (never waits for delivery)."""
    for result in results:
        realm.writes[result.row.kind.name] += 1
        if sandbox.webhooks is not None:
            sandbox.webhooks.publish(
                ChangeEvent(
                    realm.spec.realm_id,
                    result.row.kind.name,
                    result.row.data["Id"],
                    result.operation,
                    result.row.updated_at,
                )
            )
