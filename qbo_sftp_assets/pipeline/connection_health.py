"""Each company's QuickBooks connection as the token store sees it: usable, or the command that reconnects it.

Read from the token file alone (no call to QuickBooks), so a monitor can ask as often as it likes. A
refresh token QuickBooks refused (invalid_grant, e.g. after a crash between its rotation and the
store's write), one past its expiry, or no tokens at all each mean nobody can post for that company
until someone runs `qbo-sftp connect COMPANY`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.qbo import TokenRecord, TokenStoreError, open_token_store

State = Literal["connected", "expiring", "reconnect_required", "refresh_expired", "never_connected", "unreadable"]
# QBO refresh tokens last 100 days and roll on use; one this close to its end means nothing refreshed lately.
EXPIRY_WARNING = dt.timedelta(days=7)


@dataclass(frozen=True)
class ConnectionHealth:
    company: str
    realm_id: str
    state: State
    detail: str
    refresh_expires_at: dt.datetime | None = None
    access_expires_at: dt.datetime | None = None

    @property
    def usable(self) -> bool:
        """Whether runs can reach the company now (an `expiring` connection still works)."""
        return self.state in ("connected", "expiring")


def connection_health(config: Config, *, now: dt.datetime | None = None) -> list[ConnectionHealth]:
    """The health of every configured company's connection, in the config's order of names."""
    now = now or dt.datetime.now(dt.UTC)
    store = open_token_store(config)
    try:
        records = store.records()
    except TokenStoreError as error:
        return [
            ConnectionHealth(name, company.realm_id, "unreadable", f"{error}; run `qbo-sftp connect {name}`")
            for name, company in sorted(config.companies.items())
        ]
    return [
        _health(name, company.realm_id, records.get(company.realm_id), now)
        for name, company in sorted(config.companies.items())
    ]


def _health(company: str, realm_id: str, record: TokenRecord | None, now: dt.datetime) -> ConnectionHealth:
    fix = f"run `qbo-sftp connect {company}`"
    if record is None:
        return ConnectionHealth(company, realm_id, "never_connected", f"never connected: {fix}")
    ends = [moment for moment in (record.refresh_expires_at, record.refresh_hard_expires_at) if moment is not None]
    refresh_end = min(ends) if ends else None
    times = {"refresh_expires_at": refresh_end, "access_expires_at": record.access_expires_at}
    if record.reconnect_required:
        detail = f"QuickBooks refused the refresh token (invalid_grant): reconnect required: {fix}"
        return ConnectionHealth(company, realm_id, "reconnect_required", detail, **times)
    if refresh_end is not None and refresh_end <= now:
        detail = f"the refresh token expired at {refresh_end.isoformat()}: {fix}"
        return ConnectionHealth(company, realm_id, "refresh_expired", detail, **times)
    if refresh_end is not None and refresh_end - now <= EXPIRY_WARNING:
        detail = f"the refresh token expires at {refresh_end.isoformat()}; {fix} before then"
        return ConnectionHealth(company, realm_id, "expiring", detail, **times)
    return ConnectionHealth(company, realm_id, "connected", f"connected (realm {realm_id})", **times)
