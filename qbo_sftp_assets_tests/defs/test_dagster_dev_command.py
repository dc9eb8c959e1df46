"""`qbo-sftp dev --config PATH` checks the configuration before it starts anything, and serves the
webhook receiver beside the UI when a company names its verifier token."""

import re

import httpx
import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.cli.demo_commands import dev_webhook_receiver
from qbo_sftp_assets.config import parse_config
from qbo_sftp_assets.errors import UserFacingError


def test_dev_with_a_missing_config_says_so_and_starts_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["dev", "--config", str(tmp_path / "missing.yaml")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("qbo-sftp dev: ") and "missing.yaml" in err
    assert not (tmp_path / "home").exists()


def test_dev_with_a_broken_config_names_the_key_to_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    broken = tmp_path / "qbo_sftp.yaml"
    broken.write_text("partners:\n  acme:\n    company: nowhere\n")
    assert main(["dev", "--config", str(broken)]) != 0
    assert "partners.acme" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()


REAL_CONFIG = """
webhooks:
  spool_path: {spool}
companies:
  acme:
    realm_id: "123145"
    webhook_verifier_env: DEV_TEST_VERIFIER
"""


def test_dev_on_a_real_config_with_webhooks_serves_the_receiver_and_says_what_to_register(tmp_path, capsys):
    config = parse_config(REAL_CONFIG.format(spool=tmp_path / "spool.sqlite"))
    with dev_webhook_receiver(config, {"DEV_TEST_VERIFIER": "token"}, "127.0.0.1", 0, embedded=False):
        out = capsys.readouterr().out
        url = re.search(r"receiver on (http://\S+)/webhooks/qbo", out).group(1)
        assert httpx.get(f"{url}/health", timeout=5).json() == {"status": "ok"}
    assert "https://YOUR-PUBLIC-HOST/webhooks/qbo" in out and "$DEV_TEST_VERIFIER" in out
    assert (tmp_path / "spool.sqlite").exists()
    with pytest.raises(httpx.ConnectError):  # stopped with the block
        httpx.get(f"{url}/health", timeout=2)


def test_dev_on_a_real_config_without_its_verifier_token_names_the_variable(tmp_path):
    config = parse_config(REAL_CONFIG.format(spool=tmp_path / "spool.sqlite"))
    with (
        pytest.raises(UserFacingError, match="DEV_TEST_VERIFIER"),
        dev_webhook_receiver(config, {}, "127.0.0.1", 0, embedded=False),
    ):
        pass


def test_dev_on_a_real_config_without_webhooks_starts_no_receiver(capsys):
    with dev_webhook_receiver(parse_config("companies: {}\n"), {}, "127.0.0.1", 0, embedded=False):
        pass
    assert "No webhook receiver" in capsys.readouterr().out
