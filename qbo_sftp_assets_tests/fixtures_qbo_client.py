"""Fixtures for the QBO client tests: a sandbox per test module, and clients with seeded token stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qbo_sftp_assets.config import Company, QboLimits
from qbo_sftp_assets.qbo.client import QboClient
from qbo_sftp_assets.qbo.tokens import AnyTokenStore, TokenGrant, TokenRecord, TokenStore

SANDBOX_CLIENT_ID = "sandbox-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
FIRST_REALM = "9130357992221046"
# Fast retries so fault-injection tests do not sleep for real back-off times.
FAST_LIMITS = QboLimits(backoff_seconds=0.02, max_backoff_seconds=0.1, read_timeout_seconds=5.0)


def local_company(base_url: str, *, limits: QboLimits = FAST_LIMITS, realm_id: str = FIRST_REALM) -> Company:
    return Company(realm_id=realm_id, environment="local", base_url=base_url, limits=limits)


def seed_tokens(sandbox: Any, store: AnyTokenStore, realm_id: str = FIRST_REALM) -> TokenRecord:
    """Put a token pair minted by the sandbox into the store, as a completed `connect` would."""
    record = TokenRecord.from_grant(realm_id, TokenGrant.from_json(sandbox.state.issue_tokens(realm_id)))
    store.put(record)
    return record


@pytest.fixture(scope="module")
def client_sandbox() -> Iterator[Any]:
    """A sandbox with QBO's defaults, shared by one test module (tests reset what they change)."""
    # Imported here so a broken sandbox fails these fixtures, not every test session's plugin loading.
    from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox

    with start_sandbox(SandboxSettings()) as sandbox:
        yield sandbox


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., QboClient]]:
    """Build clients against a sandbox with a freshly seeded token store; closes them afterwards."""
    clients: list[QboClient] = []

    def build(sandbox: Any, *, limits: QboLimits = FAST_LIMITS, seed: bool = True, **options: Any) -> QboClient:
        store = TokenStore(tmp_path / "tokens.json")
        if seed and store.get(FIRST_REALM) is None:
            seed_tokens(sandbox, store)
        options.setdefault("throttle_wait_seconds", 0.05)
        client = QboClient(
            local_company(sandbox.base_url, limits=limits),
            store,
            SANDBOX_CLIENT_ID,
            SANDBOX_CLIENT_SECRET,
            company_name="northwind",
            **options,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
