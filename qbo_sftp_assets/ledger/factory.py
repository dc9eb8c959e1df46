"""The ledger the configuration names: the DuckDB file (`ledger.path`) or the PostgreSQL database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qbo_sftp_assets.ledger.store import Ledger

if TYPE_CHECKING:
    from qbo_sftp_assets.config import Config


def ledger_for(config: Config) -> Ledger:
    """`ledger.backend: duckdb` (the default) is the file at `ledger.path`; `postgres` is the database
    whose URL is in the environment variable `postgres.url_env` names, shared by every host."""
    if config.ledger.backend == "postgres":
        return Ledger(url=config.postgres.url())
    return Ledger(config.ledger.path)
