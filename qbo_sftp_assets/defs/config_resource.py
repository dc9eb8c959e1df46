"""The configuration file as seen from Dagster: every resource names the file it reads, lazily."""

from __future__ import annotations

import dagster as dg

from qbo_sftp_assets.config import Config, load_config


class ConfigFileResource(dg.ConfigurableResource):
    """Points at `qbo_sftp.yaml`; empty means $QBO_SFTP_CONFIG, else ./qbo_sftp.yaml."""

    config_path: str | None = None

    def load(self) -> Config:
        return load_config(self.config_path)
