"""`qbo_sftp.yaml` chooses where the tokens and the realms' request budgets live; the embedded defaults stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbo_sftp_assets.config import ConfigError, parse_config
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets.qbo.limits import PostgresRealmBudget, SharedRealmBudget
from qbo_sftp_assets.qbo.tokens import PostgresTokenStore, TokenStore, TokenStoreError, open_token_store
from qbo_sftp_assets_tests.fixtures_qbo_client import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from qbo_sftp_assets_tests.sshd_server import free_port

COMPANY = """
companies:
  northwind:
    realm_id: "4620816365178421"
    environment: local
    base_url: http://127.0.0.1:9
"""


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBO_CLIENT_ID", SANDBOX_CLIENT_ID)
    monkeypatch.setenv("QBO_CLIENT_SECRET", SANDBOX_CLIENT_SECRET)


def test_without_a_choice_the_tokens_are_a_file_and_the_budget_sqlite(tmp_path: Path, credentials: None) -> None:
    config = parse_config(COMPANY + f"tokens:\n  path: {tmp_path / 'tokens.json'}\n")
    assert config.tokens.backend == "file" and config.limiter_backend == "sqlite"
    with qbo_client_for(config, "northwind") as client:
        assert isinstance(client.store, TokenStore)
        assert isinstance(client.limiter.shared, SharedRealmBudget)


def test_tokens_on_postgres_bring_the_budget_there_too(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, credentials: None
) -> None:
    monkeypatch.setenv("NORTHWIND_PG", postgres_url)
    config = parse_config(COMPANY + "tokens:\n  backend: postgres\npostgres:\n  url_env: NORTHWIND_PG\n")
    assert config.limiter_backend == "postgres"
    with qbo_client_for(config, "northwind") as client:
        assert isinstance(client.store, PostgresTokenStore)
        assert isinstance(client.limiter.shared, PostgresRealmBudget)
        assert client.store.records() == {}


def test_the_budget_alone_can_move_to_postgres(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, credentials: None
) -> None:
    monkeypatch.setenv("QBO_SFTP_POSTGRES_URL", postgres_url)
    config = parse_config(COMPANY + f"tokens:\n  path: {tmp_path / 't.json'}\nlimiter:\n  backend: postgres\n")
    with qbo_client_for(config, "northwind") as client:
        assert isinstance(client.store, TokenStore)
        assert isinstance(client.limiter.shared, PostgresRealmBudget)


def test_a_sqlite_budget_without_the_token_file_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(COMPANY + "tokens:\n  backend: postgres\nlimiter:\n  backend: sqlite\n")
    assert "limiter.backend sqlite" in str(caught.value)


def test_an_unset_url_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QBO_SFTP_POSTGRES_URL", raising=False)
    config = parse_config(COMPANY + "tokens:\n  backend: postgres\n")
    with pytest.raises(ConfigError) as caught:
        open_token_store(config)
    assert "QBO_SFTP_POSTGRES_URL" in str(caught.value)


def test_the_database_password_never_shows_and_an_unreachable_database_is_a_store_error() -> None:
    store = PostgresTokenStore(f"postgresql://qbo:hunter2-secret@127.0.0.1:{free_port()}/nowhere")
    assert "hunter2" not in repr(store) and "hunter2" not in store.location
    with pytest.raises(TokenStoreError) as caught:
        store.records()
    assert "cannot reach the database" in str(caught.value) and "hunter2" not in str(caught.value)
