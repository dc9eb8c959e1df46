"""The ledger (DuckDB; PostgreSQL for many hosts): lineage from a QBO id back to a file, a line and a hash."""

from qbo_sftp_assets.ledger.copy import LedgerCopy, LedgerCopyError, copy_ledger_to_postgres
from qbo_sftp_assets.ledger.factory import ledger_for
from qbo_sftp_assets.ledger.migrations import LATEST_SCHEMA_VERSION
from qbo_sftp_assets.ledger.reference import ReferenceRow, ReferenceStore, cursor_name, parse_qbo_time
from qbo_sftp_assets.ledger.store import (
    DONE_STATUSES,
    InboundFile,
    Ledger,
    LedgerBusy,
    LedgerError,
    LedgerTooNew,
    OutboundDelivery,
    Posting,
    PostingResult,
    PostingStart,
)

__all__ = [
    "DONE_STATUSES",
    "LATEST_SCHEMA_VERSION",
    "InboundFile",
    "Ledger",
    "LedgerBusy",
    "LedgerCopy",
    "LedgerCopyError",
    "LedgerError",
    "LedgerTooNew",
    "OutboundDelivery",
    "Posting",
    "PostingResult",
    "PostingStart",
    "ReferenceRow",
    "ReferenceStore",
    "copy_ledger_to_postgres",
    "cursor_name",
    "ledger_for",
    "parse_qbo_time",
]
