"""The token store: one record per realm, single-flight refresh, no token in a repr; the file is 0600 and atomic.

The store's behaviour is proven for both backends (`token_store` is the JSON file and PostgreSQL).
"""

from __future__ import annotations

import os
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qbo_sftp_assets.qbo.tokens import (
    AnyTokenStore,
    NotConnected,
    RefreshRefused,
    TokenGrant,
    TokenRecord,
    TokenStore,
    TokenStoreError,
)
from qbo_sftp_assets_tests.fixtures_postgres import open_token_store_spec, token_store_spec

ACCESS = "access-SECRET-aaaa"
REFRESH = "refresh-SECRET-rrrr"


def record(
    realm: str = "111", *, expires_in: float = 3600, access: str = ACCESS, refresh: str = REFRESH
) -> TokenRecord:
    grant = TokenGrant(access_token=access, refresh_token=refresh, expires_in=expires_in, refresh_expires_in=8_640_000)
    return TokenRecord.from_grant(realm, grant)


def test_file_is_written_with_mode_0600_and_round_trips(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "sub" / "tokens.json")
    store.put(record("111"))
    store.put(record("222", access="other"))
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600
    loaded = store.records()
    assert set(loaded) == {"111", "222"}
    assert loaded["111"].access_token == ACCESS
    assert loaded["111"].access_expires_at.tzinfo is not None
    assert not list(store.path.parent.glob("*.tmp"))


def test_one_record_per_realm_round_trips_and_is_removed(token_store: AnyTokenStore) -> None:
    token_store.put(record("111"))
    token_store.put(record("222", access="other"))
    token_store.put(record("111", access="replaced"))
    loaded = open_token_store_spec(token_store_spec(token_store)).records()
    assert set(loaded) == {"111", "222"}
    assert loaded["111"].access_token == "replaced" and loaded["111"].refresh_token == REFRESH
    assert loaded["111"].access_expires_at.tzinfo is not None
    assert token_store.remove("222") and not token_store.remove("222")
    assert set(token_store.records()) == {"111"}


def test_refresh_writes_the_new_refresh_token_before_returning(token_store: AnyTokenStore) -> None:
    token_store.put(record(expires_in=-1))

    def refresher(refresh_token: str) -> TokenGrant:
        assert refresh_token == REFRESH
        return TokenGrant(access_token="access-2", refresh_token="refresh-2", expires_in=3600)

    fresh, refreshed = token_store.refresh("111", refresher)
    # Another handle (another process's view) already reads the rotated token: it was stored first.
    seen_elsewhere = open_token_store_spec(token_store_spec(token_store)).require("111").refresh_token
    assert refreshed and fresh.access_token == "access-2"
    assert seen_elsewhere == "refresh-2"
    # The refresh-token expiry is kept when the response omits x_refresh_token_expires_in.
    assert fresh.refresh_expires_at is not None


def test_refresh_uses_a_token_another_process_already_refreshed(token_store: AnyTokenStore) -> None:
    token_store.put(record(access="newer-token"))
    calls: list[str] = []
    fresh, refreshed = token_store.refresh("111", lambda r: calls.append(r) or record(), stale_access_token="old-token")
    assert not refreshed and not calls and fresh.access_token == "newer-token"


def test_refresh_after_a_401_on_the_current_token_refreshes(token_store: AnyTokenStore) -> None:
    token_store.put(record())
    grant = TokenGrant(access_token="access-3", refresh_token=REFRESH, expires_in=3600)
    fresh, refreshed = token_store.refresh("111", lambda r: grant, stale_access_token=ACCESS)
    assert refreshed and fresh.access_token == "access-3"


def test_concurrent_refreshes_of_an_expired_token_call_the_endpoint_once(token_store: AnyTokenStore) -> None:
    token_store.put(record(expires_in=-1))
    calls: list[str] = []
    inside = threading.Event()

    def slow_refresher(refresh_token: str) -> TokenGrant:
        calls.append(refresh_token)
        inside.set()
        time.sleep(0.3)  # the others arrive while this one holds the realm's lock
        return TokenGrant(access_token="access-once", refresh_token="refresh-once", expires_in=3600)

    spec = token_store_spec(token_store)
    outcomes: list[tuple[TokenRecord, bool]] = []

    def refresh_from_another_handle() -> None:
        outcomes.append(open_token_store_spec(spec).refresh("111", slow_refresher))

    threads = [threading.Thread(target=refresh_from_another_handle) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert inside.is_set() and calls == [REFRESH]
    assert sorted(refreshed for _, refreshed in outcomes) == [False, False, False, True]
    assert {fresh.access_token for fresh, _ in outcomes} == {"access-once"}


def test_a_refused_refresh_is_remembered_so_nobody_asks_again(token_store: AnyTokenStore) -> None:
    token_store.put(record(expires_in=-1))

    def refused(refresh_token: str) -> TokenGrant:
        raise RefreshRefused("invalid_grant")

    with pytest.raises(RefreshRefused):
        token_store.refresh("111", refused)
    assert token_store.require("111").reconnect_required
    calls: list[str] = []
    with pytest.raises(RefreshRefused):
        token_store.refresh("111", lambda r: calls.append(r) or record())
    assert not calls


def test_a_realm_never_connected_is_not_connected(token_store: AnyTokenStore) -> None:
    with pytest.raises(NotConnected):
        token_store.require("999")
    with pytest.raises(NotConnected):
        token_store.refresh("999", lambda r: record())


def test_missing_realm_and_corrupt_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    with pytest.raises(NotConnected):
        store.require("999")
    store.path.write_text("{not json")
    with pytest.raises(TokenStoreError) as caught:
        store.records()
    assert "not readable" in str(caught.value)


def test_usable_margin_is_capped_for_short_lived_tokens() -> None:
    now = datetime.now(UTC)
    long_lived = record(expires_in=3600)
    assert long_lived.access_usable(300, now)
    assert not long_lived.access_usable(300, now + timedelta(seconds=3400))
    short = record(expires_in=4)
    assert short.access_usable(300, now)  # margin capped at 1 s of the 4 s lifetime


def test_reprs_show_no_token(token_store: AnyTokenStore) -> None:
    rec = record()
    grant = TokenGrant(access_token=ACCESS, refresh_token=REFRESH, expires_in=1)
    token_store.put(rec)
    for text in (repr(rec), str(rec), repr(grant), repr(token_store), token_store.location):
        assert ACCESS not in text and REFRESH not in text
