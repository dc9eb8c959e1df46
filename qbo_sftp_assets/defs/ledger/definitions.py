"""Ledger resource binding for the code location."""

from __future__ import annotations

import dagster as dg

from qbo_sftp_assets.defs.ledger.resources import LedgerResource


def ledger_definitions() -> dg.Definitions:
    return dg.Definitions(resources={"ledger": LedgerResource()})
