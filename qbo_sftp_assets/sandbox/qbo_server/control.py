"""`/_sandbox/...` control endpoints for tests and demos: faults, stats, reset, clock, tokens, prefs, files."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qbo_sftp_assets.sandbox.qbo_server import attachments
from qbo_sftp_assets.sandbox.qbo_server.clock import qbo_response_time
from qbo_sftp_assets.sandbox.qbo_server.limits import FaultRule
from qbo_sftp_assets.sandbox.qbo_server.state import SandboxState

RULE_FIELDS = (
    "kind",
    "count",
    "realm",
    "path_contains",
    "delay",
    "after_write",
    "status",
    "retry_after",
    "code",
    "message",
    "detail",
)


async def json_body(request: Request) -> dict:
    raw = await request.body()
    try:
        document = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


async def add_fault(request: Request) -> JSONResponse:
    sandbox: SandboxState = request.app.state.sandbox
    document = await json_body(request)
    try:
        rule = FaultRule(**{key: document[key] for key in RULE_FIELDS if key in document})
    except (TypeError, ValueError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    sandbox.faults.add(rule)
    return JSONResponse({"armed": len(sandbox.faults.rules)})


async def clear_faults(request: Request) -> JSONResponse:
    sandbox: SandboxState = request.app.state.sandbox
    sandbox.faults.clear()
    return JSONResponse({"armed": 0})


async def stats(request: Request) -> JSONResponse:
    sandbox: SandboxState = request.app.state.sandbox
    return JSONResponse(sandbox.stats())


async def reset(request: Request) -> JSONResponse:
    sandbox: SandboxState = request.app.state.sandbox
    sandbox.reset()
    return JSONResponse({"reset": True})


async def advance_clock(request: Request) -> JSONResponse:
    sandbox: SandboxState = request.app.state.sandbox
    document = await json_body(request)
    seconds = document.get("advance_seconds", 0)
    if not isinstance(seconds, (int, float)):
        return JSONResponse({"error": "advance_seconds must be a number"}, status_code=400)
    sandbox.advance_clock(float(seconds))
    return JSONResponse({"now": qbo_response_time(sandbox.clock.now())})


async def expire_tokens(request: Request) -> JSONResponse:
    sandbox: SandboxState = request.app.state.sandbox
    document = await json_body(request)
    return JSONResponse({"expired": sandbox.expire_access_tokens(document.get("realm"))})


async def set_preference(request: Request) -> JSONResponse:
    sandbox: SandboxState = request.app.state.sandbox
    document = await json_body(request)
    name, value = document.get("name"), document.get("value")
    if not isinstance(name, str) or not isinstance(value, bool):
        return JSONResponse({"error": "name (string) and value (boolean) are required"}, status_code=400)
    realm = document.get("realm")
    if realm is not None and realm not in sandbox.realms:
        return JSONResponse({"error": "unknown realm"}, status_code=404)
    sandbox.set_preference(name, value, realm)
    return JSONResponse({"name": name, "value": value})


async def attachment_file(request: Request) -> Response:
    """An uploaded file, as an Attachable's TempDownloadUri serves it (no bearer token, like a presigned URL)."""
    sandbox: SandboxState = request.app.state.sandbox
    params = request.path_params
    realm = sandbox.realms.get(params["realm_id"])
    with sandbox.lock:
        found = attachments.stored_file(realm.store, params["attachable_id"], params["token"]) if realm else None
    if found is None:
        return Response("Not Found", status_code=404, media_type="text/plain")
    disposition = f'attachment; filename="{found.file_name.replace(chr(34), "")}"'
    return Response(found.content, media_type=found.content_type, headers={"Content-Disposition": disposition})
