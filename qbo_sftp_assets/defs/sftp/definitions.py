"""SFTP resource binding for the code location."""

from __future__ import annotations

import dagster as dg

from qbo_sftp_assets.defs.sftp.resources import SftpResource


def sftp_definitions() -> dg.Definitions:
    return dg.Definitions(resources={"sftp": SftpResource()})
