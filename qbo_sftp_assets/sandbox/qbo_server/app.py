"""The Starlette application: OAuth, the v3 API, and the `/_sandbox` control paths, with `intuit_tid`."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qbo_sftp_assets.sandbox.qbo_server import api, control, oauth
from qbo_sftp_assets.sandbox.qbo_server.settings import SandboxSettings
from qbo_sftp_assets.sandbox.qbo_server.state import SandboxState
from qbo_sftp_assets.sandbox.qbo_server.webhooks import WebhookDispatcher


class IntuitTidMiddleware:
    """Every response carries a unique `intuit_tid` header, as Intuit's do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_tid(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"intuit_tid", f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_tid)


def create_app(settings: SandboxSettings, state: SandboxState | None = None) -> Starlette:
    """Build the sandbox app; pass `state` to share it with the caller (the runner does)."""
    sandbox = state or SandboxState(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.webhook_url and sandbox.webhooks is None:
            sandbox.webhooks = WebhookDispatcher(
                settings.webhook_url,
                settings.webhook_verifier_token,
                settings.webhook_format,
                settings.webhook_timeout,
                settings.clock_speed,
                sandbox.record_webhook_result,
            )
        try:
            yield
        finally:
            if sandbox.webhooks is not None:
                sandbox.webhooks.stop()
                sandbox.webhooks = None

    routes = [
        Route("/.well-known/openid_configuration", oauth.discovery_document),
        Route("/.well-known/openid_sandbox_configuration", oauth.discovery_document),
        Route("/connect/oauth2", oauth.consent),
        Route("/oauth2/v1/tokens/bearer", oauth.token, methods=["POST"]),
        Route("/oauth2/v1/tokens/revoke", oauth.revoke, methods=["POST"]),
        Route("/v2/oauth2/tokens/revoke", oauth.revoke, methods=["POST"]),
        Route("/v1/openid_connect/userinfo", oauth.userinfo),
        Route("/v3/company/{realm_id}/{rest:path}", api.api_endpoint, methods=["GET", "POST"]),
        Route("/_sandbox/faults", control.add_fault, methods=["POST"]),
        Route("/_sandbox/faults", control.clear_faults, methods=["DELETE"]),
        Route("/_sandbox/stats", control.stats, methods=["GET"]),
        Route("/_sandbox/reset", control.reset, methods=["POST"]),
        Route("/_sandbox/clock", control.advance_clock, methods=["POST"]),
        Route("/_sandbox/tokens/expire", control.expire_tokens, methods=["POST"]),
        Route("/_sandbox/preferences", control.set_preference, methods=["POST"]),
        Route("/_sandbox/files/{realm_id}/{attachable_id}/{token}", control.attachment_file, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    app.add_middleware(IntuitTidMiddleware)
    return app
