"""The QBO webhook receiver: a Starlette app that checks, spools and answers; it never calls QBO.

`POST /webhooks/qbo` order of checks, cheapest and least trusting first: the declared size (413
before reading), the body read with a bound and a deadline (413 / 408), `intuit-signature` over the
raw bytes against every configured verifier token (401), the media type (415), the JSON shape (400),
every event's realm configured for the token that signed it (400). Only then are the events spooled,
in one transaction; events older than the configured age are ignored and counted (a replay cannot
revive an old change; CDC catches anything really missed), known ones are duplicates. The 200 is
sent after the spool's commit, so a 200 means the event is on disk; a spool error answers 503 and
Intuit retries. Nothing from a refused request reaches the spool, and log lines name the reason,
never the body, the signature or a token.

`GET /health` (for a load balancer) and `GET /stats` (counters since start) complete the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.qbo.webhooks import SIGNATURE_HEADER, WebhookPayloadError, parse_payload, verify_signature
from qbo_sftp_assets.webhooks.spool import SPOOL_WRITE_ERRORS, AnySpool, PostgresSpool, Spool, SpoolUnavailable

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/qbo"
ACCEPTED_MEDIA_TYPES = frozenset(
    {"application/json", "application/cloudevents+json", "application/cloudevents-batch+json"}
)
REFUSAL_REASONS = (
    "unsigned",
    "forged",
    "malformed",
    "oversized",
    "unsupported_media_type",
    "unknown_realm",
    "body_timeout",
    "spool_unavailable",
)


class ReceiverConfigError(UserFacingError):
    """The receiver cannot verify anything: no company names a webhook verifier token that is set."""

    exit_code = 2


@dataclass(frozen=True)
class ReceiverSettings:
    """What the receiver needs: the spool, each realm's verifier token, and its limits.

    The spool is the SQLite file at `spool_path`, or with `spool_url` the PostgreSQL spool there."""

    spool_path: Path
    verifiers: Mapping[str, str] = field(repr=False)  # realm id -> verifier token (a secret)
    max_body_bytes: int = 1_048_576
    max_event_age: timedelta = timedelta(hours=24)
    body_timeout_seconds: float = 10.0
    spool_write_timeout_seconds: float = 2.0
    spool_url: str | None = field(default=None, repr=False)  # holds the database password

    def open_spool(self) -> AnySpool:
        return PostgresSpool(self.spool_url) if self.spool_url else Spool(self.spool_path)

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str] | None = None) -> ReceiverSettings:
        """Realms whose company names `webhook_verifier_env`, with the token read from that variable; with
        `webhooks.spool_backend: postgres` the database URL too (read now, so a missing one stops the start)."""
        environ = os.environ if environ is None else environ
        verifiers: dict[str, str] = {}
        missing = []
        for name, company in config.companies.items():
            if not company.webhook_verifier_env:
                continue
            token = environ.get(company.webhook_verifier_env, "")
            if token:
                verifiers[company.realm_id] = token
            else:
                missing.append(f"companies.{name}.webhook_verifier_env names ${company.webhook_verifier_env}, unset")
        if missing:
            raise ReceiverConfigError("; ".join(missing) + " (set it to the Intuit app's webhook Verifier Token)")
        if not verifiers:
            raise ReceiverConfigError(
                "no company has webhook_verifier_env: add `webhook_verifier_env: SOME_VARIABLE` to each company "
                "whose webhooks this receiver takes, and set that variable to the app's Verifier Token"
            )
        settings = config.webhooks
        return cls(
            spool_path=Path(settings.spool_path),
            spool_url=config.postgres.url(environ) if config.spool_backend == "postgres" else None,
            verifiers=verifiers,
            max_body_bytes=settings.max_body_bytes,
            max_event_age=timedelta(hours=settings.max_event_age_hours),
        )


class ReceiverCounters:
    """Counts since the receiver started: requests by outcome, events by fate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started_at = datetime.now(UTC)
        self.requests: Counter[str] = Counter()
        self.events: Counter[str] = Counter()

    def count_request(self, outcome: str) -> None:
        with self._lock:
            self.requests[outcome] += 1

    def count_events(self, **fates: int) -> None:
        with self._lock:
            self.events.update({fate: count for fate, count in fates.items() if count})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "started_at": self.started_at.isoformat(),
                "requests": {"accepted": self.requests["accepted"], **{r: self.requests[r] for r in REFUSAL_REASONS}},
                "refused": sum(self.requests[r] for r in REFUSAL_REASONS),
                "events": {fate: self.events[fate] for fate in ("stored", "duplicate", "too_old")},
            }


class _BodyTooLarge(Exception):
    pass


class WebhookReceiver:
    """The request handlers around one spool and one set of verifier tokens."""

    def __init__(self, settings: ReceiverSettings, *, now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.spool = settings.open_spool()
        self.writer = self.spool.writer()
        self.counters = ReceiverCounters()
        self.now = now or (lambda: datetime.now(UTC))
        self._tokens = tuple(dict.fromkeys(settings.verifiers.values()))

    def __repr__(self) -> str:
        return f"WebhookReceiver(spool={self.spool!r}, realms={sorted(self.settings.verifiers)})"

    def _refuse(self, request: Request, reason: str, status: int, detail: str) -> Response:
        self.counters.count_request(reason)
        client = request.client.host if request.client else "?"
        log.warning("webhook refused: %s (HTTP %d) from %s: %s", reason, status, client, detail)
        # An unread body (413) must not be drained: close the connection instead of keeping it alive.
        headers = {"connection": "close"} if status in (408, 413) else None
        return JSONResponse({"error": reason}, status_code=status, headers=headers)

    async def _read_body(self, request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _signing_token(self, body: bytes, signature: str) -> str | None:
        # Every token is tried (one HMAC each), so the time taken says nothing about which was close.
        matched = None
        for token in self._tokens:
            if verify_signature(body, signature, token):
                matched = token
        return matched

    async def receive(self, request: Request) -> Response:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and not declared.strip().isdigit():
            return self._refuse(request, "malformed", 400, "Content-Length is not a number")
        if declared is not None and int(declared) > limit:
            return self._refuse(request, "oversized", 413, f"declared {int(declared)} bytes, the limit is {limit}")
        try:
            with anyio.fail_after(self.settings.body_timeout_seconds):
                body = await self._read_body(request)
        except _BodyTooLarge:
            return self._refuse(request, "oversized", 413, f"body passed the limit of {limit} bytes")
        except TimeoutError:
            return self._refuse(
                request, "body_timeout", 408, f"body not received within {self.settings.body_timeout_seconds:g} s"
            )
        except ClientDisconnect:
            return self._refuse(request, "malformed", 400, "client disconnected before the body ended")

        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return self._refuse(request, "unsigned", 401, f"no {SIGNATURE_HEADER} header")
        token = self._signing_token(body, signature)
        if token is None:
            return self._refuse(
                request, "forged", 401, f"{SIGNATURE_HEADER} matches no configured verifier token ({len(body)} bytes)"
            )

        media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if media_type not in ACCEPTED_MEDIA_TYPES:
            return self._refuse(request, "unsupported_media_type", 415, f"content type {media_type[:60]!r}")
        if "ce-specversion" in request.headers:
            # Binary-mode CloudEvents carry realm and entity in headers, which the signature does not cover.
            return self._refuse(request, "malformed", 400, "binary-mode CloudEvents (ce-* headers) are not accepted")
        try:
            events = parse_payload(body)
        except WebhookPayloadError as error:
            return self._refuse(request, "malformed", 400, str(error))

        unknown = sorted({e.realm_id for e in events} - set(self.settings.verifiers))
        if unknown:
            return self._refuse(request, "unknown_realm", 400, f"realm(s) {', '.join(unknown)} are not configured")
        other_app = sorted({e.realm_id for e in events if self.settings.verifiers[e.realm_id] != token})
        if other_app:
            return self._refuse(
                request, "unknown_realm", 400, f"realm(s) {', '.join(other_app)} belong to another verifier token"
            )

        now = self.now()
        oldest = now - self.settings.max_event_age
        fresh = [e for e in events if e.occurred_at is not None and e.occurred_at >= oldest]
        too_old = len(events) - len(fresh)
        try:
            result = await asyncio.wait_for(
                asyncio.wrap_future(self.writer.submit(fresh, now)), self.settings.spool_write_timeout_seconds
            )
        except SPOOL_WRITE_ERRORS as error:
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return self._refuse(request, "spool_unavailable", 503, f"the spool refused the write: {detail}")
        except TimeoutError:
            # Intuit waits 3 s; a late 503 it retries beats a 200 it never sees.
            deadline = self.settings.spool_write_timeout_seconds
            return self._refuse(request, "spool_unavailable", 503, f"the spool write took longer than {deadline:g} s")
        self.counters.count_request("accepted")
        self.counters.count_events(stored=result.stored, duplicate=result.duplicates, too_old=too_old)
        if too_old:
            log.warning("webhook: %d event(s) older than %s ignored", too_old, self.settings.max_event_age)
        log.info("webhook accepted: %d stored, %d duplicate, %d too old", result.stored, result.duplicates, too_old)
        return JSONResponse({"stored": result.stored, "duplicates": result.duplicates, "too_old": too_old})

    async def health(self, request: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(self.spool.spool_id)
        except SpoolUnavailable as error:
            log.warning("health check failed: %s", error)
            return JSONResponse({"status": "unavailable", "reason": "spool"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def stats(self, request: Request) -> Response:
        snapshot = self.counters.snapshot()
        try:
            snapshot["spool_events"] = await anyio.to_thread.run_sync(self.spool.count)
        except SpoolUnavailable:
            snapshot["spool_events"] = None
        return JSONResponse(snapshot)


def create_receiver_app(
    settings: ReceiverSettings, *, now: Callable[[], datetime] | None = None
) -> tuple[Starlette, WebhookReceiver]:
    """The Starlette app and its receiver (for counters); the spool's schema is created at startup."""
    receiver = WebhookReceiver(settings, now=now)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        spool_id = receiver.spool.create()
        receiver.writer.start()
        log.info(
            "webhook receiver ready: POST %s for realm(s) %s; spool %s (id %s)",
            WEBHOOK_PATH,
            ", ".join(sorted(settings.verifiers)),
            receiver.spool,
            spool_id,
        )
        started = time.monotonic()
        try:
            yield
        finally:
            receiver.writer.stop()
        log.info("webhook receiver stopped after %.0f s: %s", time.monotonic() - started, receiver.counters.snapshot())

    routes = [
        Route(WEBHOOK_PATH, receiver.receive, methods=["POST"]),
        Route("/health", receiver.health, methods=["GET"]),
        Route("/stats", receiver.stats, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan), receiver
