"""QuickBooks Online as a Dagster resource: the app's credentials come in as EnvVar secrets."""

from __future__ import annotations

import dagster as dg

from qbo_sftp_assets.config import ConfigError
from qbo_sftp_assets.defs.config_resource import ConfigFileResource
from qbo_sftp_assets.qbo.client import QboClient


class QboResource(ConfigFileResource):
    """One Intuit app (client id + secret) reaching the companies named in the config file."""

    client_id: str = dg.EnvVar("QBO_CLIENT_ID")
    client_secret: str = dg.EnvVar("QBO_CLIENT_SECRET")

    def client(self, company_name: str | None = None) -> QboClient:
        """A client for `company_name`, or for the only company when the config names just one."""
        config = self.load()
        if company_name is None:
            if len(config.companies) != 1:
                names = ", ".join(config.companies) or "none"
                raise ConfigError(f"say which company to use: the config names {len(config.companies)} ({names})")
            company_name = next(iter(config.companies))
        company = config.company(company_name)
        return QboClient(company, config.tokens.path, self.client_id, self.client_secret, company_name=company_name)
