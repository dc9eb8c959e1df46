"""Fixtures for the ledger tests: a fresh ledger per test, a DuckDB file unless a module asks for both backends.

A module whose tests must hold on DuckDB and on PostgreSQL alike sets `pytestmark = BOTH_LEDGER_BACKENDS`:
each of its tests then runs once per backend (the PostgreSQL one on its own database of the session's
private cluster). QBO_SFTP_TEST_LEDGER=postgres makes PostgreSQL the default for every other test too
(to run the pipeline's tests on the server backend).
"""

import os

import pytest

from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.ledger.backends import PostgresBackend

LEDGER_BACKENDS = ("duckdb", "postgres")
BOTH_LEDGER_BACKENDS = pytest.mark.parametrize("ledger", LEDGER_BACKENDS, indirect=True)


@pytest.fixture
def ledger(request: pytest.FixtureRequest, tmp_path) -> Ledger:
    if getattr(request, "param", os.environ.get("QBO_SFTP_TEST_LEDGER", "duckdb")) == "postgres":
        return Ledger(url=request.getfixturevalue("postgres_url"))
    return Ledger(tmp_path / "ledger.duckdb")


def reopened(ledger: Ledger) -> Ledger:
    """A new handle on the same ledger (as another process would open it: nothing cached, not migrated)."""
    if isinstance(ledger.backend, PostgresBackend):
        return Ledger(url=ledger.backend.url, lock_timeout=ledger.lock_timeout)
    return Ledger(ledger.path, lock_timeout=ledger.lock_timeout)


def ledger_config(ledger: Ledger, folder, monkeypatch: pytest.MonkeyPatch) -> str:
    """A qbo_sftp.yaml naming this ledger (`ledger.backend`), for the CLI; returns its path."""
    if isinstance(ledger.backend, PostgresBackend):
        monkeypatch.setenv("QBO_SFTP_TEST_LEDGER_URL", ledger.backend.url)
        text = "ledger:\n  backend: postgres\npostgres:\n  url_env: QBO_SFTP_TEST_LEDGER_URL\n"
    else:
        text = f"ledger:\n  path: {ledger.path}\n"
    path = folder / "qbo_sftp.yaml"
    path.write_text(text)
    return str(path)
