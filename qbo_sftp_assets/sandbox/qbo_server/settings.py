"""Settings of the sandbox QBO server: credentials, realms, token lifetimes, limits, webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FIRST_REALM_ID = "9130357992221046"
SECOND_REALM_ID = "9130357992221047"


@dataclass(frozen=True)
class RealmSpec:
    """One sandbox company: its realm id, its name, and which seed data set it starts with."""

    realm_id: str
    company_name: str
    seed_profile: Literal["manufacturer", "distributor", "empty"] = "manufacturer"


def default_realms() -> tuple[RealmSpec, ...]:
    return (
        RealmSpec(FIRST_REALM_ID, "Northwind Fabrication LLC", "manufacturer"),
        RealmSpec(SECOND_REALM_ID, "Harbor Supply Co.", "distributor"),
    )


@dataclass
class SandboxSettings:
    """Everything the sandbox server can be told; defaults follow QBO's documented values."""

    client_id: str = "sandbox-client-id"
    client_secret: str = field(default="sandbox-client-secret", repr=False)
    realms: tuple[RealmSpec, ...] = field(default_factory=default_realms)
    # Redirect URIs accepted by the consent and code-exchange endpoints; None accepts any URI
    # (Intuit matches a registered list exactly; tests use ephemeral loopback ports).
    redirect_uris: tuple[str, ...] | None = None
    access_token_lifetime: float = 3600.0
    # When a refresh returns a new refresh token. "daily" is Intuit's cadence: the same refresh token
    # comes back for about a day and is replaced every 24-26 h (Intuit staff in intuit/oauth-jsclient#74
    # and IntuitDeveloper/oauth2-nodejs#2). "every_refresh" rotates on every call, a
    # harsher world the rotation tests ask for explicitly.
    refresh_token_rotation: Literal["daily", "every_refresh"] = "daily"
    # Under "daily", a refresh token is replaced once it is older than `after` plus a random share of
    # `jitter` (Intuit: "does not necessarily change exactly at 24 hours").
    refresh_token_rotation_after: float = 24 * 3600.0
    refresh_token_rotation_jitter: float = 2 * 3600.0
    # Seconds the previous refresh token keeps working once a new one was returned. Intuit's current
    # help article says it dies at once (0); older docs said 24 h.
    refresh_token_grace: float = 0.0
    refresh_token_lifetime: float = 100 * 24 * 3600.0
    authorization_code_lifetime: float = 300.0
    requests_per_minute: int = 500
    max_in_flight: int = 10
    batch_requests_per_minute: int = 40
    batch_max_items: int = 30
    # 10.0 makes a rate-limit minute last 6 real seconds (webhook retry delays shrink the same way).
    clock_speed: float = 1.0
    rate_limits_enabled: bool = True
    # Whether 429s carry a Retry-After header: unconfirmed for Intuit, so off by default.
    send_retry_after: bool = False
    # Seconds each API call takes before it is answered (lets in-flight limits be exercised).
    latency: float = 0.0
    query_max_results: int = 1000
    cdc_max_objects: int = 1000
    cdc_max_age_days: int = 30
    webhook_url: str | None = None
    webhook_verifier_token: str = field(default="sandbox-verifier", repr=False)
    webhook_format: Literal["legacy", "cloudevents"] = "legacy"
    webhook_timeout: float = 3.0
    seed: bool = True
    host: str = "127.0.0.1"
    port: int = 0

    def batch_write_ceiling_per_real_minute(self) -> float:
        """Most objects a client can write per real minute through batch under these limits."""
        calls = min(self.batch_requests_per_minute, self.requests_per_minute)
        return calls * self.batch_max_items * self.clock_speed
