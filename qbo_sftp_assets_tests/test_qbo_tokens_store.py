"""The token store file: 0600, atomic writes, one record per realm, single-flight refresh, no token in a repr."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qbo_sftp_assets.qbo.tokens import NotConnected, TokenGrant, TokenRecord, TokenStore, TokenStoreError

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


def test_refresh_writes_the_new_refresh_token_before_returning(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.put(record(expires_in=-1))
    seen_on_disk_after: list[str] = []

    def refresher(refresh_token: str) -> TokenGrant:
        assert refresh_token == REFRESH
        return TokenGrant(access_token="access-2", refresh_token="refresh-2", expires_in=3600)

    fresh, refreshed = store.refresh("111", refresher)
    seen_on_disk_after.append(json.loads(store.path.read_text())["realms"]["111"]["refresh_token"])
    assert refreshed and fresh.access_token == "access-2"
    assert seen_on_disk_after == ["refresh-2"]
    # The refresh-token expiry is kept when the response omits x_refresh_token_expires_in.
    assert fresh.refresh_expires_at is not None


def test_refresh_uses_a_token_another_process_already_refreshed(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.put(record(access="newer-token"))
    calls: list[str] = []
    fresh, refreshed = store.refresh("111", lambda r: calls.append(r) or record(), stale_access_token="old-token")
    assert not refreshed and not calls and fresh.access_token == "newer-token"


def test_refresh_after_a_401_on_the_current_token_refreshes(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.put(record())
    grant = TokenGrant(access_token="access-3", refresh_token=REFRESH, expires_in=3600)
    fresh, refreshed = store.refresh("111", lambda r: grant, stale_access_token=ACCESS)
    assert refreshed and fresh.access_token == "access-3"


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


def test_reprs_show_no_token(tmp_path: Path) -> None:
    rec = record()
    grant = TokenGrant(access_token=ACCESS, refresh_token=REFRESH, expires_in=1)
    store = TokenStore(tmp_path / "tokens.json")
    for text in (repr(rec), str(rec), repr(grant), repr(store)):
        assert ACCESS not in text and REFRESH not in text
