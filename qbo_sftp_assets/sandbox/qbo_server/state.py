"""The whole sandbox's mutable state: realms, tokens, limits, fault rules, replay cache and counters."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from qbo_sftp_assets.sandbox.qbo_server.clock import SandboxClock
from qbo_sftp_assets.sandbox.qbo_server.limits import FaultInjector, FaultRule, RealmLimiter
from qbo_sftp_assets.sandbox.qbo_server.seed import seed_realm
from qbo_sftp_assets.sandbox.qbo_server.settings import RealmSpec, SandboxSettings
from qbo_sftp_assets.sandbox.qbo_server.store import RealmStore
from qbo_sftp_assets.sandbox.qbo_server.tokens import TokenRegistry
from qbo_sftp_assets.sandbox.qbo_server.webhooks import WebhookDispatcher


@dataclass
class StoredResponse:
    """A write's answer kept for `requestid` replay."""

    status: int
    body: bytes
    media_type: str


@dataclass
class RealmState:
    """One company: its data, its limiter, its replay cache and its counters."""

    spec: RealmSpec
    store: RealmStore
    limiter: RealmLimiter
    replies: dict[str, StoredResponse] = field(default_factory=dict)
    writes: Counter = field(default_factory=Counter)
    requestid_replays: int = 0
    requests: int = 0
    batch_requests: int = 0
    minorversions: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class RequestRecord:
    """One API call as the sandbox saw it (for tests: which minorversion, requestid, path)."""

    realm_id: str
    method: str
    path: str
    minorversion: str | None
    requestid: str | None
    status: int


class SandboxState:
    """Shared by the app (event loop thread) and tests (their thread): take `lock` around changes."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.clock = SandboxClock()
        self.lock = threading.RLock()
        self.faults = FaultInjector()
        self.request_log: deque[RequestRecord] = deque(maxlen=5000)
        self.webhook_deliveries = 0
        self.webhook_failures = 0
        # Set by the app when `webhook_url` is configured (see app.create_app).
        self.webhooks: WebhookDispatcher | None = None
        self.reset()

    def reset(self) -> None:
        """Fresh data, tokens, limits and counters (the clock offset is kept)."""
        with self.lock:
            self.tokens = TokenRegistry(self.settings, self.clock)
            self.realms: dict[str, RealmState] = {}
            for spec in self.settings.realms:
                store = RealmStore(spec.realm_id, spec.company_name, self.clock)
                seed_realm(store, spec, with_data=self.settings.seed)
                limiter = RealmLimiter(
                    self.settings.requests_per_minute,
                    self.settings.batch_requests_per_minute,
                    self.settings.max_in_flight,
                    self.settings.clock_speed,
                )
                self.realms[spec.realm_id] = RealmState(spec, store, limiter)
            self.faults.clear()
            self.request_log.clear()
            self.webhook_deliveries = 0
            self.webhook_failures = 0

    def __repr__(self) -> str:
        return f"SandboxState(realms={list(self.realms)})"

    # -- helpers for tests (same effects as the /_sandbox control endpoints) ------------------------

    def realm(self, realm_id: str | None = None) -> RealmState:
        return self.realms[realm_id or self.settings.realms[0].realm_id]

    def store(self, realm_id: str | None = None) -> RealmStore:
        return self.realm(realm_id).store

    def inject_fault(self, kind: str, count: int = 1, realm: str | None = None, **options) -> FaultRule:
        rule = FaultRule(kind, count, realm, **options)
        self.faults.add(rule)
        return rule

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def expire_access_tokens(self, realm_id: str | None = None) -> int:
        with self.lock:
            return self.tokens.expire_access_tokens(realm_id)

    def issue_tokens(self, realm_id: str | None = None) -> dict:
        """Mint a token pair directly (skips the consent flow in tests); returns the token JSON."""
        with self.lock:
            return self.tokens.issue(self.realm(realm_id).spec.realm_id).response_json()

    def token_refreshes(self, realm_id: str | None = None) -> int:
        with self.lock:
            return self.tokens.refresh_counts[self.realm(realm_id).spec.realm_id]

    def set_preference(self, name: str, value: bool, realm_id: str | None = None) -> None:
        """Set an `OtherPrefs` switch such as WarnDuplicateBillNumber, or `MultiCurrencyEnabled`."""
        with self.lock:
            store = self.store(realm_id)
            if name == "MultiCurrencyEnabled":
                store.preferences.setdefault("CurrencyPrefs", {})["MultiCurrencyEnabled"] = value
            else:
                store.set_other_pref(name, value)

    def record_webhook_result(self, delivered: bool) -> None:
        with self.lock:
            if delivered:
                self.webhook_deliveries += 1
            else:
                self.webhook_failures += 1

    def stats(self) -> dict:
        with self.lock:
            realms = {}
            for realm_id, realm in self.realms.items():
                realms[realm_id] = {
                    "requests": realm.requests,
                    "batch_requests": realm.batch_requests,
                    "writes": dict(realm.writes),
                    "writes_total": sum(realm.writes.values()),
                    "duplicate_docnumber_rejections": realm.store.duplicate_docnumber_rejections,
                    "duplicate_documents_stored": realm.store.duplicate_documents(),
                    "requestid_replays": realm.requestid_replays,
                    "throttled": realm.limiter.throttled,
                    "in_flight": realm.limiter.in_flight,
                    "token_refreshes": self.tokens.refresh_counts[realm_id],
                    "code_exchanges": self.tokens.code_exchanges[realm_id],
                    "invalid_grants": self.tokens.invalid_grants[realm_id],
                    "minorversions": dict(realm.minorversions),
                }
            return {
                "realms": realms,
                "webhook_deliveries": self.webhook_deliveries,
                "webhook_failures": self.webhook_failures,
                "faults_fired": list(self.faults.fired),
                "faults_armed": len(self.faults.rules),
            }
