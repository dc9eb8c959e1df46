"""OAuth 2.0 endpoints as Intuit serves them: discovery, consent (auto-approved), token, revoke."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from qbo_sftp_assets.sandbox.qbo_server.state import SandboxState
from qbo_sftp_assets.sandbox.qbo_server.tokens import InvalidGrant

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


def oauth_error(error: str, status: int = 400, description: str | None = None) -> JSONResponse:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def discovery_document(request: Request) -> JSONResponse:
    """What intuit-oauth's AuthClient reads at construction (its `environment` may be this URL)."""
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
            "jwks_uri": f"{base}/oauth2/v1/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone", ACCOUNTING_SCOPE],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }
    )


def redirect_allowed(sandbox: SandboxState, redirect_uri: str) -> bool:
    allowed = sandbox.settings.redirect_uris
    return bool(redirect_uri) and (allowed is None or redirect_uri in allowed)


def with_params(uri: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in uri else "?"
    return uri + separator + urlencode(params)


async def consent(request: Request) -> Response:
    """Auto-approves and redirects with `code`, `state`, `realmId` (realm from `realm`, else the first)."""
    sandbox: SandboxState = request.app.state.sandbox
    params = request.query_params
    if params.get("client_id") != sandbox.settings.client_id:
        return oauth_error("invalid_client", description="Unknown client_id")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_allowed(sandbox, redirect_uri):
        return oauth_error("invalid_request", description="redirect_uri is missing or not registered for this app")
    state = params.get("state")
    echo = {"state": state} if state is not None else {}
    if params.get("response_type") != "code":
        return RedirectResponse(with_params(redirect_uri, {"error": "unsupported_response_type", **echo}), 302)
    if ACCOUNTING_SCOPE not in params.get("scope", "").split():
        return RedirectResponse(with_params(redirect_uri, {"error": "invalid_scope", **echo}), 302)
    if params.get("decision") == "deny":
        return RedirectResponse(with_params(redirect_uri, {"error": "access_denied", **echo}), 302)
    realm_id = params.get("realm") or sandbox.settings.realms[0].realm_id
    if realm_id not in sandbox.realms:
        return oauth_error("invalid_request", description="Unknown realm")
    with sandbox.lock:
        code = sandbox.tokens.new_code(realm_id, redirect_uri)
    return RedirectResponse(with_params(redirect_uri, {"code": code, **echo, "realmId": realm_id}), 302)


async def form_fields(request: Request) -> dict[str, str]:
    """The url-encoded form body (parsed here so the server needs no multipart library)."""
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def client_authenticated(sandbox: SandboxState, request: Request) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        client_id, _, client_secret = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    settings = sandbox.settings
    return secrets.compare_digest(client_id, settings.client_id) and secrets.compare_digest(
        client_secret, settings.client_secret
    )


async def token(request: Request) -> Response:
    """Code exchange and refresh; refresh tokens rotate daily, or on every refresh if so configured."""
    sandbox: SandboxState = request.app.state.sandbox
    if not client_authenticated(sandbox, request):
        return oauth_error("invalid_client", 401)
    form = await form_fields(request)
    grant_type = form.get("grant_type")
    try:
        with sandbox.lock:
            if grant_type == "authorization_code":
                code, redirect_uri = form.get("code"), form.get("redirect_uri")
                if not code or not redirect_uri:
                    return oauth_error("invalid_request")
                _, issued = sandbox.tokens.exchange_code(str(code), str(redirect_uri))
            elif grant_type == "refresh_token":
                refresh_token = form.get("refresh_token")
                if not refresh_token:
                    return oauth_error("invalid_request")
                _, issued = sandbox.tokens.refresh(str(refresh_token))
            else:
                return oauth_error("unsupported_grant_type")
    except InvalidGrant:
        return oauth_error("invalid_grant")
    return JSONResponse(issued.response_json(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def revoke(request: Request) -> Response:
    """Revoke an access or refresh token (JSON `{"token": ...}` as Intuit documents, or a form)."""
    sandbox: SandboxState = request.app.state.sandbox
    if not client_authenticated(sandbox, request):
        return oauth_error("invalid_client", 401)
    raw = await request.body()
    token_value = None
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        token_value = (await form_fields(request)).get("token")
    else:
        try:
            document = json.loads(raw or b"{}")
        except ValueError:
            return oauth_error("invalid_request")
        token_value = document.get("token") if isinstance(document, dict) else None
    if not token_value:
        return oauth_error("invalid_request")
    with sandbox.lock:
        revoked = sandbox.tokens.revoke(str(token_value))
    return Response(status_code=200) if revoked else oauth_error("invalid_token")


async def userinfo(request: Request) -> Response:
    return oauth_error("insufficient_scope", 403, "The sandbox has no OpenID user info")
