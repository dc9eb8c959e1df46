"""The code location loads, and declares its resources with EnvVar secrets."""

import dagster as dg

from qbo_sftp_assets.definitions import defs


def test_definitions_load_and_validate():
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    assert {"ledger", "qbo", "sftp"} <= set(definitions.resources)


def test_qbo_secrets_are_env_vars_not_values():
    qbo = defs().resources["qbo"]
    assert isinstance(qbo.client_id, dg.EnvVar) or "EnvVar" in repr(qbo)
    assert "QBO_CLIENT_SECRET" in repr(qbo)
