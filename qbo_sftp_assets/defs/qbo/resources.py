"""QuickBooks Online as a Dagster resource: the app's credentials come in as EnvVar secrets."""

from __future__ import annotations

import dagster as dg

from qbo_sftp_assets.defs.config_resource import ConfigFileResource


class QboResource(ConfigFileResource):
    """One Intuit app (client id + secret) reaching the companies named in the config file."""

    client_id: str = dg.EnvVar("QBO_CLIENT_ID")
    client_secret: str = dg.EnvVar("QBO_CLIENT_SECRET")
