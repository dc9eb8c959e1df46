"""The code location: every domain folder under `defs/` contributes its own Definitions."""

from __future__ import annotations

import dagster as dg

from qbo_sftp_assets.defs.ledger.definitions import ledger_definitions
from qbo_sftp_assets.defs.qbo.definitions import qbo_definitions
from qbo_sftp_assets.defs.sftp.definitions import sftp_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(ledger_definitions(), qbo_definitions(), sftp_definitions())
