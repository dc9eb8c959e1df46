"""`dagster dev -w workspace.yaml` loads the code location and serves the UI on loopback."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_dagster_dev_serves_the_ui_with_our_code_location(tmp_path):
    port = free_port()
    dagster = Path(sys.executable).with_name("dagster")
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        locations: list[str] = []
        while time.monotonic() < deadline and "qbo_sftp_assets" not in locations:
            time.sleep(1)
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={"query": "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"},
                    timeout=5,
                )
            except httpx.TransportError:
                continue
            entries = response.json()["data"]["workspaceOrError"].get("locationEntries", [])
            locations = [entry["name"] for entry in entries]
        assert "qbo_sftp_assets" in locations
        assert httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=5).json()["dagster_webserver_version"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
