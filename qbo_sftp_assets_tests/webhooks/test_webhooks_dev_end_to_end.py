"""Under a real `qbo-sftp dev` (embedded sandboxes, receiver, webserver, daemon): a bill changed through
the sandbox's API reaches the partner's SFTP folder as a new file of the `on_change` feed, nobody clicking.

The sandbox POSTs its signed webhook to the receiver `qbo-sftp dev` started; the webhook sensor reads
the spool, the daemon applies the change and sends the feed after its quiet period.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.dagster_dev import free_port
from qbo_sftp_assets.embedded import CHANGE_FEED, COMPANY
from qbo_sftp_assets.webhooks import Spool

MEMO = "changed through the sandbox API under qbo-sftp dev"


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~2.5 min at load 5 on 2 cores; the waits below allow a much busier machine
def test_a_bill_changed_in_the_sandbox_becomes_an_outbound_file_under_qbo_sftp_dev(tmp_path: Path, capsys) -> None:
    log_path = tmp_path / "qbo_sftp_dev.log"
    workdir = tmp_path / ".data" / "dev"  # `qbo-sftp dev` keeps the embedded run under ./.data/dev
    with log_path.open("wb") as log:
        dev = subprocess.Popen(
            [sys.executable, "-m", "qbo_sftp_assets.cli", "dev", "--port", str(free_port())],
            cwd=tmp_path,
            env={key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def wait_for(what: str, condition, timeout: float):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if dev.poll() is not None:
                    break
                if value := condition():
                    return value
                time.sleep(1)
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
            raise AssertionError(f"no {what} within {timeout:.0f} s (qbo-sftp dev exit {dev.poll()})\n{tail}")

        # The first page is filled (snapshots, each feed rendered once) before it says how to stop it.
        wait_for("running UI", lambda: "Ctrl-C stops it." in log_path.read_text(errors="replace"), timeout=240)
        config = yaml.safe_load((workdir / "qbo_sftp.yaml").read_text())
        partner, feed = CHANGE_FEED
        outbound = workdir / "sftp" / partner / "outbound"
        wait_for("first render of the feed", lambda: list(outbound.glob(f"{feed}_*")), timeout=120)

        assert main(["sandbox", "edit-bill", "--url", config["companies"][COMPANY]["base_url"], "--memo", MEMO]) == 0
        bill_id = capsys.readouterr().out.split()[1]  # "bill 1 (GLS-44812) in realm ..."

        def file_with_memo() -> list[Path]:
            return [path for path in outbound.glob(f"{feed}_*") if MEMO in path.read_text("utf-8-sig", "replace")]

        wait_for("outbound file carrying the change", file_with_memo, timeout=240)

        events = Spool(config["webhooks"]["spool_path"]).read_after(None, 10_000)
        assert ("Bill", bill_id, "Update") in {(e.entity, e.entity_id, e.operation) for e in events}
    finally:
        dev.send_signal(signal.SIGTERM)  # stops dagster dev's process group, the receiver and the sandboxes
        try:
            dev.wait(60)
        except subprocess.TimeoutExpired:
            dev.kill()
            raise
