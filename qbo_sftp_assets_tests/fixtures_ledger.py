"""Fixtures for the ledger tests: a fresh ledger file per test."""

import pytest

from qbo_sftp_assets.ledger import Ledger


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    return Ledger(tmp_path / "ledger.duckdb")
