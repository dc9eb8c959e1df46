"""The code location's resources, built by Dagster from EnvVar secrets, reach the embedded QBO and SFTP servers."""

import dagster as dg
import pytest

from qbo_sftp_assets.definitions import defs
from qbo_sftp_assets.embedded import connect_company, embedded_environment, environment_variables


def test_resources_reach_qbo_sftp_and_the_ledger(tmp_path):
    with embedded_environment(tmp_path / "env") as env, environment_variables(env.environ):
        connect_company(env)
        with dg.build_resources(defs().resources) as resources:
            assert resources.ledger.ledger().migrate() >= 1
            with resources.qbo.client() as qbo:
                assert qbo.count("Vendor") == 6
            with resources.sftp.partner("great_lakes_steel") as files:
                uploaded = files.upload(b"hello", "probe.txt", kind="outbound")
                assert uploaded.remote_path == "great_lakes_steel/outbound/probe.txt"
    assert (tmp_path / "env" / "sftp" / "great_lakes_steel" / "outbound" / "probe.txt").read_bytes() == b"hello"


def test_missing_app_credentials_fail_when_the_resource_is_built(monkeypatch):
    monkeypatch.delenv("QBO_CLIENT_ID", raising=False)
    monkeypatch.delenv("QBO_CLIENT_SECRET", raising=False)
    resources = dg.build_resources({"qbo": defs().resources["qbo"]})
    with pytest.raises(dg.DagsterInvalidConfigError, match="QBO_CLIENT_ID"):
        resources.__enter__()
