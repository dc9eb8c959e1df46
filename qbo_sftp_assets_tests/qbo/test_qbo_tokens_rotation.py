"""Token refresh against the sandbox: proactive, once on a 401, mid-paging, single-flight across 4 processes."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qbo_sftp_assets.qbo.client import QboClient
from qbo_sftp_assets.qbo.faults import ReconnectRequired
from qbo_sftp_assets.qbo.oauth import Endpoints, InvalidGrant, OAuthClient
from qbo_sftp_assets.qbo.tokens import AnyTokenStore
from qbo_sftp_assets_tests.fixtures_postgres import open_token_store_spec, token_store_spec
from qbo_sftp_assets_tests.fixtures_qbo_client import (
    FIRST_REALM,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    local_company,
    seed_tokens,
)

pytestmark = pytest.mark.slow


def realm_stats(sandbox: Any) -> dict[str, Any]:
    return sandbox.state.stats()["realms"][FIRST_REALM]


def expire_in_store(store: AnyTokenStore) -> None:
    record = store.require(FIRST_REALM)
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.put(replace(record, access_expires_at=past, obtained_at=past - timedelta(hours=1)))


def test_an_expiring_token_is_refreshed_before_it_is_used(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    expire_in_store(client.store)
    before = realm_stats(client_sandbox)
    old_refresh = client.store.require(FIRST_REALM).refresh_token
    log_start = len(client_sandbox.state.request_log)
    assert client.count("Term") > 0
    assert realm_stats(client_sandbox)["token_refreshes"] - before["token_refreshes"] == 1
    assert all(r.status != 401 for r in list(client_sandbox.state.request_log)[log_start:])
    # Within a day Intuit hands back the same refresh token; the store holds what the server returned.
    assert client.store.require(FIRST_REALM).refresh_token == old_refresh
    assert client.stats["token_refreshes"] == 1


def test_a_refresh_a_day_later_rotates_and_the_store_keeps_the_new_token(make_client: Any) -> None:
    from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox

    with start_sandbox(SandboxSettings()) as sandbox:
        client = make_client(sandbox)
        old_refresh = client.store.require(FIRST_REALM).refresh_token
        sandbox.state.advance_clock(26 * 3600 + 60)  # past Intuit's 24-26 h rotation window
        expire_in_store(client.store)
        assert client.count("Term") > 0
        new_refresh = client.store.require(FIRST_REALM).refresh_token
        assert new_refresh != old_refresh
        # The replaced token is dead (no grace by default): only the stored one can refresh again.
        oauth = OAuthClient(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, client.endpoints)
        try:
            with pytest.raises(InvalidGrant):
                oauth.refresh(old_refresh)
        finally:
            oauth.close()
        assert sandbox.state.stats()["realms"][FIRST_REALM]["token_refreshes"] == 1


def test_a_401_refreshes_once_and_the_call_succeeds(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    client.count("Term")
    client_sandbox.state.expire_access_tokens(FIRST_REALM)
    before = realm_stats(client_sandbox)["token_refreshes"]
    assert client.count("Term") > 0
    assert realm_stats(client_sandbox)["token_refreshes"] - before == 1


def test_token_expiry_in_the_middle_of_a_paging_query(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox, page_size=2)
    expected = [row["Id"] for row in client.query("SELECT * FROM Account ORDERBY Id")]
    before = realm_stats(client_sandbox)["token_refreshes"]
    rows = client.query("SELECT * FROM Account ORDERBY Id")
    seen = [next(rows)["Id"] for _ in range(3)]
    client_sandbox.state.expire_access_tokens(FIRST_REALM)
    seen += [row["Id"] for row in rows]
    assert seen == expected
    assert realm_stats(client_sandbox)["token_refreshes"] - before == 1


def test_short_lived_tokens_are_renewed_while_paging(make_client: Any) -> None:
    from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox

    with start_sandbox(SandboxSettings(access_token_lifetime=1.0, latency=0.15)) as sandbox:
        client = make_client(sandbox, page_size=2)
        rows = [row["Id"] for row in client.query("SELECT * FROM Account ORDERBY Id")]
        assert len(rows) == len(set(rows)) == client.count("Account")
        stats = sandbox.state.stats()["realms"][FIRST_REALM]
        assert stats["token_refreshes"] >= 1 and stats["invalid_grants"] == 0


def test_invalid_grant_is_terminal_and_names_the_connect_command(make_client: Any) -> None:
    from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox

    # Harsher than Intuit on purpose: every refresh rotates, so one refresh elsewhere kills ours.
    with start_sandbox(SandboxSettings(refresh_token_rotation="every_refresh")) as sandbox:
        client = make_client(sandbox)
        record = client.store.require(FIRST_REALM)
        # Someone else rotates the grant behind the store's back: the stored refresh token is now dead.
        oauth = OAuthClient(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, client.endpoints)
        oauth.refresh(record.refresh_token)
        oauth.close()
        past = datetime.now(UTC) - timedelta(seconds=1)
        client.store.put(replace(record, access_expires_at=past))
        before = realm_stats(sandbox)["invalid_grants"]
        with pytest.raises(ReconnectRequired) as caught:
            client.count("Term")
        assert "qbo-sftp connect northwind" in str(caught.value)
        assert record.refresh_token not in str(caught.value)
        assert client.store.require(FIRST_REALM).reconnect_required
        # One refused refresh and no retry loop: later calls (any process) fail without asking again.
        with pytest.raises(ReconnectRequired):
            client.count("Term")
        with pytest.raises(ReconnectRequired):
            make_client(sandbox, seed=False).count("Term")
        assert realm_stats(sandbox)["invalid_grants"] - before == 1


def test_a_revoked_grant_surfaces_reconnect_required(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    record = client.store.require(FIRST_REALM)
    oauth = OAuthClient(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, client.endpoints)
    oauth.revoke(record.refresh_token)
    oauth.close()
    with pytest.raises(ReconnectRequired):
        client.count("Term")


def _refresh_in_child(base_url: str, store_spec: tuple[str, str], barrier: Any) -> str:
    """Runs in a spawned process: wait for the others, then make one API call that needs a refresh."""
    store = open_token_store_spec(store_spec)
    with QboClient(local_company(base_url), store, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET) as client:
        barrier.wait(timeout=60)
        try:
            return f"ok {client.count('Term')}"
        except ReconnectRequired as error:
            return f"reconnect {error}"


def test_four_processes_make_exactly_one_refresh(client_sandbox: Any, token_store: AnyTokenStore) -> None:
    """With the token file (one host) and with PostgreSQL (run workers on several hosts)."""
    store = token_store
    seed_tokens(client_sandbox, store)
    expire_in_store(store)
    before = realm_stats(client_sandbox)
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(4)
    with context.Pool(4) as pool:
        outcomes = pool.starmap(
            _refresh_in_child, [(client_sandbox.base_url, token_store_spec(store), barrier) for _ in range(4)]
        )
    after = realm_stats(client_sandbox)
    assert all(outcome.startswith("ok ") for outcome in outcomes), outcomes
    assert after["token_refreshes"] - before["token_refreshes"] == 1
    assert after["invalid_grants"] == before["invalid_grants"]
    assert store.require(FIRST_REALM).access_usable(0)


def test_endpoints_of_a_local_company_are_the_sandboxes(client_sandbox: Any) -> None:
    endpoints = Endpoints.for_company(local_company(client_sandbox.base_url))
    assert endpoints.token_url.startswith(client_sandbox.base_url)
