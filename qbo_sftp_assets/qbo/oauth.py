"""OAuth 2.0 with Intuit: endpoints per environment, the consent URL and state, code exchange, refresh, revoke.

Also the loopback listener `qbo-sftp connect` uses to receive the consent redirect.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

from qbo_sftp_assets.config import Company
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.qbo.redaction import basic_credential, guard_http_logs, redact
from qbo_sftp_assets.qbo.tokens import RefreshRefused, TokenGrant

logger = logging.getLogger(__name__)
# httpcore's DEBUG trace prints headers verbatim: a consent redirect's Location carries the code.
guard_http_logs()

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
INTUIT_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
INTUIT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
INTUIT_REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
PRODUCTION_API_BASE = "https://quickbooks.api.intuit.com"
SANDBOX_API_BASE = "https://sandbox-quickbooks.api.intuit.com"


@dataclass(frozen=True)
class Endpoints:
    """Where a company's consent page, token endpoint, revoke endpoint and API live."""

    authorize_url: str
    token_url: str
    revoke_url: str
    api_base: str

    @classmethod
    def for_company(cls, company: Company) -> Endpoints:
        if company.environment == "local":
            assert company.base_url is not None  # Company's validator guarantees it for `local`
            base = company.base_url.rstrip("/")
            return cls(
                authorize_url=f"{base}/connect/oauth2",
                token_url=f"{base}/oauth2/v1/tokens/bearer",
                revoke_url=f"{base}/oauth2/v1/tokens/revoke",
                api_base=base,
            )
        api_base = PRODUCTION_API_BASE if company.environment == "production" else SANDBOX_API_BASE
        return cls(INTUIT_AUTHORIZE_URL, INTUIT_TOKEN_URL, INTUIT_REVOKE_URL, api_base)


class OAuthError(Exception):
    """The token endpoint refused a request; `error` is OAuth's error code (e.g. invalid_client)."""

    def __init__(self, error: str, description: str = "", *, status_code: int, intuit_tid: str | None) -> None:
        self.error = error
        self.description = description
        self.status_code = status_code
        self.intuit_tid = intuit_tid
        text = f"OAuth token endpoint answered HTTP {status_code}: {error}"
        if description:
            text += f" ({description})"
        if intuit_tid:
            text += f" [intuit_tid {intuit_tid}]"
        super().__init__(text)


class InvalidGrant(OAuthError, RefreshRefused):
    """`invalid_grant`: the code or refresh token is expired, revoked or rotated away. Retrying cannot help."""


class ConsentError(UserFacingError):
    """The consent redirect did not give us a usable authorization (denied, wrong state, no code)."""


class OAuthClient:
    """Talks to the token endpoint with HTTP Basic client authentication. Safe to share between threads."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        endpoints: Endpoints,
        *,
        timeout: httpx.Timeout | float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.endpoints = endpoints
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, token_url={self.endpoints.token_url!r})"

    def close(self) -> None:
        self._http.close()

    def consent_url(self, redirect_uri: str, state: str, *, scope: str = ACCOUNTING_SCOPE) -> str:
        """The page where a person approves access; Intuit redirects back with code, state and realmId."""
        query = urlencode(
            {
                "client_id": self.client_id,
                "response_type": "code",
                "scope": scope,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{self.endpoints.authorize_url}?{query}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        """Trade an authorization code for tokens (sent once: Intuit may invalidate on a second try)."""
        return self._token_request(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}, secret=code
        )

    def refresh(self, refresh_token: str) -> TokenGrant:
        """Trade the latest refresh token for a new access token (and perhaps a rotated refresh token)."""
        return self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, secret=refresh_token
        )

    def revoke(self, token: str) -> None:
        """Revoke an access or refresh token (Intuit revokes the whole grant)."""
        response = self._http.post(
            self.endpoints.revoke_url,
            json={"token": token},
            headers={"Authorization": self._basic_auth(), "Accept": "application/json"},
        )
        _log_oauth_call("revoke", response)
        if response.status_code != 200:
            raise self._error(response, secret=token)

    def _basic_auth(self) -> str:
        return "Basic " + basic_credential(self.client_id, self._client_secret)

    def _token_request(self, form: dict[str, str], *, secret: str) -> TokenGrant:
        response = self._http.post(
            self.endpoints.token_url,
            data=form,
            headers={"Authorization": self._basic_auth(), "Accept": "application/json"},
        )
        _log_oauth_call(form["grant_type"], response)
        if response.status_code != 200:
            raise self._error(response, secret=secret)
        try:
            data = response.json()
            return TokenGrant.from_json(data)
        except (ValueError, KeyError) as error:
            raise OAuthError(
                "invalid_response",
                f"the token endpoint's 200 answer lacks tokens ({type(error).__name__})",
                status_code=response.status_code,
                intuit_tid=response.headers.get("intuit_tid"),
            ) from None

    def _error(self, response: httpx.Response, *, secret: str) -> OAuthError:
        try:
            data: Any = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        # An endpoint that echoes the request must not smuggle a credential into our error text, in
        # any encoding: raw, URL-encoded, or as the Basic header's base64 of id:secret.
        echoed = (secret, self._client_secret, basic_credential(self.client_id, self._client_secret))
        error = redact(str(data.get("error") or f"http_{response.status_code}"), echoed)
        description = redact(str(data.get("error_description") or ""), echoed)
        kind = InvalidGrant if error == "invalid_grant" else OAuthError
        return kind(error, description, status_code=response.status_code, intuit_tid=response.headers.get("intuit_tid"))


def _log_oauth_call(grant: str, response: httpx.Response) -> None:
    logger.info(
        "qbo oauth %s -> %s intuit_tid=%s elapsed=%.3fs",
        grant,
        response.status_code,
        response.headers.get("intuit_tid"),
        response.elapsed.total_seconds(),
    )


def new_state() -> str:
    """A fresh unguessable `state` value for one consent attempt."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ConsentResult:
    """What the consent redirect delivered: the code (to exchange once) and the company's realm id."""

    code: str = field(repr=False)
    realm_id: str


def check_callback(params: dict[str, str], expected_state: str) -> ConsentResult:
    """Validate the redirect's query parameters against the state we sent; raise ConsentError otherwise."""
    if "error" in params:
        raise ConsentError(f"QuickBooks did not grant access: {params['error']}")
    state = params.get("state", "")
    if not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise ConsentError("the consent redirect carried a different `state` than we sent; start `connect` again")
    code, realm_id = params.get("code"), params.get("realmId")
    if not code or not realm_id:
        raise ConsentError("the consent redirect lacks `code` or `realmId`; start `connect` again")
    return ConsentResult(code=code, realm_id=realm_id)


class LoopbackReceiver:
    """A one-shot HTTP listener on the loopback redirect URI that captures the consent redirect's query."""

    def __init__(self, redirect_uri: str, *, port: int | None = None) -> None:
        parts = urlsplit(redirect_uri)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConsentError(f"redirect_uri {redirect_uri!r} is not a loopback address this command can listen on")
        self._path = parts.path or "/"
        self._received: dict[str, str] | None = None
        self._done = threading.Event()
        listen_port = parts.port if port is None else port
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != receiver._path:
                    self.send_error(404)
                    return
                receiver._received = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = b"<html><body>QuickBooks connection received. You can close this window.</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                receiver._done.set()

            def log_message(self, format: str, *args: Any) -> None:
                # The default handler writes the request line (with the authorization code) to stderr.
                return

        self._server = HTTPServer((parts.hostname or "127.0.0.1", listen_port or 0), Handler)
        bound_port = self._server.server_address[1]
        self.redirect_uri = urlunsplit((parts.scheme, f"{parts.hostname}:{bound_port}", self._path, "", ""))
        self._thread = threading.Thread(target=self._server.serve_forever, name="qbo-consent-listener", daemon=True)

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> dict[str, str]:
        """The redirect's query parameters, once the browser arrives; ConsentError after `timeout` seconds."""
        if not self._done.wait(timeout):
            raise ConsentError(f"no consent redirect arrived at {self.redirect_uri} within {timeout:.0f} s")
        assert self._received is not None
        return self._received
