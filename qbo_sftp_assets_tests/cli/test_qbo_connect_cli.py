"""`qbo-sftp connect` end to end against the sandbox (browser = an HTTP GET that follows the redirect), and `tokens`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.qbo.tokens import TokenStore
from qbo_sftp_assets_tests.fixtures_qbo_client import FIRST_REALM, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

pytestmark = pytest.mark.slow


def write_config(tmp_path: Path, base_url: str, realm_id: str = FIRST_REALM) -> Path:
    config = tmp_path / "qbo_sftp.yaml"
    config.write_text(
        f"""
tokens:
  path: {tmp_path / "state" / "tokens.json"}
companies:
  northwind:
    realm_id: "{realm_id}"
    environment: local
    base_url: {base_url}
    client_id_env: TEST_QBO_CLIENT_ID
    client_secret_env: TEST_QBO_CLIENT_SECRET
"""
    )
    return config


def run_connect(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process and play the browser: GET the printed URL, follow redirects."""
    env = {
        **os.environ,
        "TEST_QBO_CLIENT_ID": SANDBOX_CLIENT_ID,
        "TEST_QBO_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
    }
    launcher = "import sys; from qbo_sftp_assets.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", launcher, "--config", str(config), "connect", "northwind"]
    process = subprocess.Popen(
        [*command, "--port", "0", "--timeout", "60", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("http"):
            landing = httpx.get(line.strip(), follow_redirects=True, timeout=30)
            assert landing.status_code == 200 and "received" in landing.text
            break
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, "".join(lines) + stdout, stderr)


def test_connect_runs_the_consent_flow_and_stores_tokens(client_sandbox: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, client_sandbox.base_url)
    before = client_sandbox.state.stats()["realms"][FIRST_REALM]["code_exchanges"]
    result = run_connect(config)
    assert result.returncode == 0, result.stderr
    assert "scope=com.intuit.quickbooks.accounting" in result.stdout
    assert f"realm {FIRST_REALM}" in result.stdout and "Northwind Fabrication LLC" in result.stdout
    assert "warning" not in result.stderr
    assert client_sandbox.state.stats()["realms"][FIRST_REALM]["code_exchanges"] - before == 1
    store = TokenStore(tmp_path / "state" / "tokens.json")
    record = store.require(FIRST_REALM)
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    for secret in (record.access_token, record.refresh_token, SANDBOX_CLIENT_SECRET):
        assert secret not in result.stdout and secret not in result.stderr


def test_connect_warns_when_another_realm_was_approved(client_sandbox: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, client_sandbox.base_url, realm_id="123")
    result = run_connect(config)
    assert result.returncode == 0, result.stderr
    assert (
        f"you approved realm {FIRST_REALM}" in result.stderr and "realm_id in the configuration is 123" in result.stderr
    )


def test_tokens_command_shows_expiry_but_no_token(
    client_sandbox: Any, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    from qbo_sftp_assets_tests.fixtures_qbo_client import seed_tokens

    config = write_config(tmp_path, client_sandbox.base_url)
    # A configured company that was never connected needs attention: the exit status says so.
    assert main(["--config", str(config), "tokens"]) == 3
    assert "northwind: never connected: run `qbo-sftp connect northwind`" in capsys.readouterr().out
    record = seed_tokens(client_sandbox, TokenStore(tmp_path / "state" / "tokens.json"))
    assert main(["--config", str(config), "tokens"]) == 0
    out = capsys.readouterr().out
    assert "northwind" in out and FIRST_REALM in out and "(in 60 min)" in out and "(in 100 d)" in out
    assert record.access_token not in out and record.refresh_token not in out


def test_tokens_command_exits_non_zero_when_a_company_must_be_reconnected(
    client_sandbox: Any, tmp_path: Path, capsys: Any
) -> None:
    import dataclasses

    from qbo_sftp_assets_tests.fixtures_qbo_client import seed_tokens

    config = write_config(tmp_path, client_sandbox.base_url)
    store = TokenStore(tmp_path / "state" / "tokens.json")
    record = seed_tokens(client_sandbox, store)
    store.put(dataclasses.replace(record, reconnect_required=True))
    assert main(["--config", str(config), "tokens"]) == 3
    assert "reconnect required: run `qbo-sftp connect northwind`" in capsys.readouterr().out


def test_connect_without_credentials_is_a_readable_error(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("TEST_QBO_CLIENT_ID", raising=False)
    config = write_config(tmp_path, "http://127.0.0.1:9")
    assert main(["--config", str(config), "connect", "northwind"]) == 2
    assert "TEST_QBO_CLIENT_ID" in capsys.readouterr().err
