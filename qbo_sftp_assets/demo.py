"""The demo behind `make demo`: runs what exists today on embedded stand-ins and says what it did."""

from __future__ import annotations

from pathlib import Path

from qbo_sftp_assets.ledger import Ledger


def run_demo(workdir: Path) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(workdir / "ledger.duckdb")
    version = ledger.migrate()
    print(f"1. ledger {ledger.path}: migrated to schema version {version}")
    print(
        "\nNot yet built, so not run: the QBO sandbox exchange, the SFTP transfer, file parsing and "
        "acknowledgments, and the Dagster pipeline that joins them."
    )
    return 0
