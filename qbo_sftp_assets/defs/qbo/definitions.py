"""QBO resource binding for the code location."""

from __future__ import annotations

import dagster as dg

from qbo_sftp_assets.defs.qbo.resources import QboResource


def qbo_definitions() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "qbo": QboResource(client_id=dg.EnvVar("QBO_CLIENT_ID"), client_secret=dg.EnvVar("QBO_CLIENT_SECRET"))
        }
    )
