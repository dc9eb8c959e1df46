"""Partners' SFTP servers as a Dagster resource; passwords and passphrases stay in the env vars the config names."""

from __future__ import annotations

from qbo_sftp_assets.defs.config_resource import ConfigFileResource


class SftpResource(ConfigFileResource):
    """Connections to the partners' SFTP servers, each verified against the host keys pinned in config."""
