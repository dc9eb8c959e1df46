"""OAuth 2.0 bookkeeping: authorization codes, access tokens, refresh tokens rotated daily (or on every refresh)."""

from __future__ import annotations

import math
import random
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from qbo_sftp_assets.sandbox.qbo_server.clock import SandboxClock
from qbo_sftp_assets.sandbox.qbo_server.settings import SandboxSettings


class InvalidGrant(Exception):
    """The code or refresh token cannot be used; the token endpoint answers 400 invalid_grant."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass
class AuthorizationCode:
    realm_id: str
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@dataclass
class AccessToken:
    realm_id: str
    expires_at: datetime
    revoked: bool = False


@dataclass
class RefreshToken:
    realm_id: str
    expires_at: datetime
    # Under the "daily" cadence, the first refresh at or after this moment returns a new token.
    rotate_at: datetime
    superseded_at: datetime | None = None
    successor: str | None = None
    revoked: bool = False


@dataclass(frozen=True)
class IssuedTokens:
    """The pair handed to a client, with lifetimes in seconds as the token endpoint reports them."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int

    def response_json(self) -> dict:
        return {
            "x_refresh_token_expires_in": self.refresh_expires_in,
            "refresh_token": self.refresh_token,
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }

    def __repr__(self) -> str:
        return f"IssuedTokens(expires_in={self.expires_in}, refresh_expires_in={self.refresh_expires_in})"


class TokenRegistry:
    """Issues and checks tokens; callers hold the sandbox lock."""

    def __init__(self, settings: SandboxSettings, clock: SandboxClock) -> None:
        self.settings = settings
        self.clock = clock
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.refresh_counts: Counter = Counter()
        self.code_exchanges: Counter = Counter()
        self.invalid_grants: Counter = Counter()

    def __repr__(self) -> str:
        return f"TokenRegistry(access_tokens={len(self.access_tokens)}, refresh_tokens={len(self.refresh_tokens)})"

    def new_code(self, realm_id: str, redirect_uri: str) -> str:
        code = "AB11" + secrets.token_urlsafe(36)
        lifetime = timedelta(seconds=self.settings.authorization_code_lifetime)
        self.codes[code] = AuthorizationCode(realm_id, redirect_uri, self.clock.now() + lifetime)
        return code

    def issue(self, realm_id: str) -> IssuedTokens:
        """A new access token and a new refresh token (code exchange, or a rotation)."""
        now = self.clock.now()
        refresh = "RT1-" + secrets.token_urlsafe(40)
        settings = self.settings
        rotate_after = settings.refresh_token_rotation_after + random.uniform(0, settings.refresh_token_rotation_jitter)
        self.refresh_tokens[refresh] = RefreshToken(
            realm_id,
            now + timedelta(seconds=settings.refresh_token_lifetime),
            rotate_at=now + timedelta(seconds=rotate_after),
        )
        return self.with_new_access_token(realm_id, refresh)

    def with_new_access_token(self, realm_id: str, refresh: str) -> IssuedTokens:
        """A new access token paired with `refresh`, whose remaining life the response reports."""
        now = self.clock.now()
        access = "eyJ" + secrets.token_urlsafe(96)
        self.access_tokens[access] = AccessToken(realm_id, now + timedelta(seconds=self.settings.access_token_lifetime))
        # Intuit reports the refresh token's remaining life, which shrinks while it is reused (oauth-jsclient#74).
        remaining = (self.refresh_tokens[refresh].expires_at - now).total_seconds()
        return IssuedTokens(access, refresh, int(self.settings.access_token_lifetime), math.ceil(remaining))

    def exchange_code(self, code: str, redirect_uri: str) -> tuple[str, IssuedTokens]:
        record = self.codes.get(code)
        if record is None or record.used or record.expires_at <= self.clock.now():
            self.invalid_grants["code"] += 1
            raise InvalidGrant("Invalid or expired authorization code")
        if record.redirect_uri != redirect_uri:
            raise InvalidGrant("redirect_uri does not match the one used for authorization")
        record.used = True
        self.code_exchanges[record.realm_id] += 1
        return record.realm_id, self.issue(record.realm_id)

    def refresh(self, refresh_token: str) -> tuple[str, IssuedTokens]:
        now = self.clock.now()
        record = self.refresh_tokens.get(refresh_token)
        if record is None or record.revoked or record.expires_at <= now:
            self.invalid_grants["refresh"] += 1
            raise InvalidGrant("Incorrect or invalid refresh token")
        grace = timedelta(seconds=self.settings.refresh_token_grace)
        if record.superseded_at is not None and now >= record.superseded_at + grace:
            self.invalid_grants[record.realm_id] += 1
            raise InvalidGrant("Incorrect or invalid refresh token")
        self.refresh_counts[record.realm_id] += 1
        if record.superseded_at is not None:
            # A replaced token still inside its grace period: hand out the newest token of its line.
            latest = refresh_token
            while self.refresh_tokens[latest].successor is not None:
                latest = str(self.refresh_tokens[latest].successor)
            if self.settings.refresh_token_rotation == "daily" and now < self.refresh_tokens[latest].rotate_at:
                return record.realm_id, self.with_new_access_token(record.realm_id, latest)
            return record.realm_id, self.rotate(self.refresh_tokens[latest], latest)
        if self.settings.refresh_token_rotation == "daily" and now < record.rotate_at:
            return record.realm_id, self.with_new_access_token(record.realm_id, refresh_token)
        return record.realm_id, self.rotate(record, refresh_token)

    def rotate(self, record: RefreshToken, token: str) -> IssuedTokens:
        """Replace `token` by a new refresh token; the old one lives on only for the grace period."""
        issued = self.issue(record.realm_id)
        record.superseded_at = self.clock.now()
        record.successor = issued.refresh_token
        return issued

    def revoke(self, token: str) -> bool:
        """Revoking either token ends the whole connection of that realm, as Intuit's revoke does."""
        record: RefreshToken | AccessToken | None = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        if record is None:
            return False
        others: list[RefreshToken | AccessToken] = [*self.refresh_tokens.values(), *self.access_tokens.values()]
        for other in others:
            if other.realm_id == record.realm_id:
                other.revoked = True
        return True

    def access_realm(self, token: str) -> tuple[str | None, str]:
        """The realm an access token belongs to, or None with the reason it is not usable."""
        record = self.access_tokens.get(token)
        if record is None:
            return None, "Invalid bearer token"
        if record.revoked:
            return None, "Token revoked"
        if record.expires_at <= self.clock.now():
            return None, "Token expired"
        return record.realm_id, ""

    def expire_access_tokens(self, realm_id: str | None = None) -> int:
        """Test helper: make every access token (of one realm) expired now."""
        count = 0
        now = self.clock.now()
        for record in self.access_tokens.values():
            if realm_id is None or record.realm_id == realm_id:
                record.expires_at = now
                count += 1
        return count
