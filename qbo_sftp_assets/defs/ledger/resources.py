"""The ledger as a Dagster resource: short-lived connections to the DuckDB file the config names."""

from __future__ import annotations

from qbo_sftp_assets.defs.config_resource import ConfigFileResource
from qbo_sftp_assets.ledger import Ledger


class LedgerResource(ConfigFileResource):
    """The DuckDB ledger; `path` overrides the config file's `ledger.path`."""

    path: str | None = None

    def ledger(self) -> Ledger:
        return Ledger(self.path or self.load().ledger.path)
