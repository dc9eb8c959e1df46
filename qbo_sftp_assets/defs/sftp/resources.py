"""Partners' SFTP servers as a Dagster resource; passwords and passphrases stay in the env vars the config names."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from qbo_sftp_assets.defs.config_resource import ConfigFileResource
from qbo_sftp_assets.sftp import PartnerFiles, partner_files


class SftpResource(ConfigFileResource):
    """Connections to the partners' SFTP servers, each verified against the host keys pinned in config."""

    @contextlib.contextmanager
    def partner(self, name: str) -> Iterator[PartnerFiles]:
        """One verified session to partner `name`'s server, closed when the block ends."""
        with partner_files(name, self.load().partner(name)) as files:
            yield files
