"""The DuckDB ledger: lineage from any QBO id back to a file, a line and a hash, and forward again."""

from qbo_sftp_assets.ledger.migrations import LATEST_SCHEMA_VERSION
from qbo_sftp_assets.ledger.store import (
    Ledger,
    LedgerBusy,
    LedgerError,
    LedgerTooNew,
)

__all__ = ["LATEST_SCHEMA_VERSION", "Ledger", "LedgerBusy", "LedgerError", "LedgerTooNew"]
