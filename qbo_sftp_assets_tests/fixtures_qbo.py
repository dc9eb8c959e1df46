"""Fixtures for the qbo tests: a running sandbox QBO server on loopback, and a token pair for it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from qbo_sftp_assets.sandbox.qbo_server import RunningSandbox, SandboxSettings, start_sandbox

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
TEST_REDIRECT_URI = "http://127.0.0.1:8765/callback"


def authorize_over_http(
    sandbox: RunningSandbox, realm_id: str | None = None, redirect_uri: str = TEST_REDIRECT_URI
) -> dict:
    """Run the consent redirect and the code exchange over HTTP; returns the token JSON + `realmId`."""
    settings = sandbox.settings
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        params = {
            "client_id": settings.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ACCOUNTING_SCOPE,
            "state": "fixture-state",
        }
        if realm_id is not None:
            params["realm"] = realm_id
        consent = client.get("/connect/oauth2", params=params)
        assert consent.status_code == 302, consent.text
        callback = httpx.URL(consent.headers["location"])
        exchange = client.post(
            "/oauth2/v1/tokens/bearer",
            data={"grant_type": "authorization_code", "code": callback.params["code"], "redirect_uri": redirect_uri},
            auth=(settings.client_id, settings.client_secret),
            headers={"Accept": "application/json"},
        )
        assert exchange.status_code == 200, exchange.text
        return {**exchange.json(), "realmId": callback.params["realmId"]}


@pytest.fixture
def qbo_sandbox() -> Iterator[RunningSandbox]:
    """A fresh sandbox QBO server (default settings, both seeded realms) for one test."""
    with start_sandbox(SandboxSettings()) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def qbo_sandbox_module() -> Iterator[RunningSandbox]:
    """One sandbox shared by a module's tests: only for tests that do not depend on a pristine state."""
    with start_sandbox(SandboxSettings()) as sandbox:
        yield sandbox


@pytest.fixture
def qbo_sandbox_factory() -> Iterator[Callable[..., RunningSandbox]]:
    """`start(**settings_overrides)` starts a sandbox with custom settings; all stop after the test."""
    with contextlib.ExitStack() as stack:

        def start(**overrides) -> RunningSandbox:
            return stack.enter_context(start_sandbox(SandboxSettings(**overrides)))

        yield start


@pytest.fixture
def qbo_sandbox_tokens(qbo_sandbox: RunningSandbox) -> dict:
    """Tokens for the first realm obtained through the real consent + code exchange."""
    return authorize_over_http(qbo_sandbox)


def sandbox_api_client(sandbox: RunningSandbox, realm_id: str | None = None) -> httpx.Client:
    """An httpx client on `/v3/company/{realm}` with a freshly minted bearer token and minorversion=75."""
    realm = realm_id or sandbox.realm_id
    tokens = sandbox.state.issue_tokens(realm)
    return httpx.Client(
        base_url=f"{sandbox.base_url}/v3/company/{realm}",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"},
        params={"minorversion": "75"},
        timeout=10,
    )


@pytest.fixture
def qbo_api(qbo_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """An authorised httpx client for the first realm of `qbo_sandbox`."""
    with sandbox_api_client(qbo_sandbox) as client:
        yield client
