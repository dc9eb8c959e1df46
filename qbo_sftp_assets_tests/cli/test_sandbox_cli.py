"""`qbo-sftp sandbox serve` prints where it listens and the credentials, serves, and stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx

from qbo_sftp_assets_tests.fixtures_qbo import authorize_over_http

# The same entry point as the `qbo-sftp` console script, without depending on where it is installed.
QBO_SFTP = [sys.executable, "-c", "import sys; from qbo_sftp_assets.cli import main; sys.exit(main())"]


def _ctrl_c_as_at_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sandbox_serve_prints_endpoints_and_serves_until_interrupted():
    process = subprocess.Popen(
        [*QBO_SFTP, "sandbox", "serve", "--port", "0", "--no-rate-limits"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell that started the tests in the background ignores Ctrl-C for them, and a child inherits
        # that: the server would then stop on SIGINT but never see the interrupt the exit code reports.
        preexec_fn=_ctrl_c_as_at_a_terminal,
    )
    try:
        banner = [process.stdout.readline() for _ in range(8)]
        text = "".join(banner)
        base_url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text).group(1)
        assert "client id: sandbox-client-id" in text
        assert "realm 9130357992221046: Northwind Fabrication LLC" in text
        discovery = httpx.get(f"{base_url}/.well-known/openid_sandbox_configuration", timeout=5)
        assert discovery.json()["token_endpoint"] == f"{base_url}/oauth2/v1/tokens/bearer"
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=10)
    assert process.returncode == 130  # the CLI's exit code for Ctrl-C, after a clean shutdown
    assert "Traceback" not in errors


def test_sandbox_serve_reports_a_busy_port_as_a_message(qbo_sandbox):
    port = qbo_sandbox.base_url.rsplit(":", 1)[1]
    result = subprocess.run(
        [*QBO_SFTP, "sandbox", "serve", "--port", port],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    assert "pick another --port" in result.stderr
    assert "Traceback" not in result.stderr
    assert authorize_over_http(qbo_sandbox)["access_token"]
