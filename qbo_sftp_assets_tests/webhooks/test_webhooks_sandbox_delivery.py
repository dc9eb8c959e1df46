"""End to end over real HTTP: the sandbox QBO server's signed webhooks (both formats) land in the spool,
and a receiver stopped or killed mid-stream loses nothing that was, or will be, delivered."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from qbo_sftp_assets.qbo.webhooks import signature_for
from qbo_sftp_assets.webhooks import ReceiverSettings, Spool, SpoolUnavailable, start_receiver
from qbo_sftp_assets_tests.fixtures_qbo import sandbox_api_client

pytestmark = pytest.mark.slow
REALM = "9130357992221046"
VERIFIER = "sandbox-verifier-for-receiver-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def spooled_ids(spool: Spool) -> list[str]:
    try:
        return [e.entity_id for e in spool.read_after(None, 10_000)]
    except SpoolUnavailable:
        return []


@pytest.mark.parametrize("body_format", ["legacy", "cloudevents"])
def test_sandbox_webhooks_land_in_the_spool(qbo_sandbox_factory, tmp_path: Path, body_format: str) -> None:
    settings = ReceiverSettings(spool_path=tmp_path / "spool.sqlite", verifiers={REALM: VERIFIER})
    with start_receiver(settings) as receiver:
        sandbox = qbo_sandbox_factory(
            webhook_url=receiver.webhook_url, webhook_verifier_token=VERIFIER, webhook_format=body_format
        )
        with sandbox_api_client(sandbox) as api:
            vendor = api.post("/vendor", json={"DisplayName": f"Hook {uuid.uuid4().hex[:6]}"}).json()["Vendor"]
            api.post(
                "/vendor",
                json={"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True, "CompanyName": "Changed"},
            )
        spool = receiver.receiver.spool
        wait_for(lambda: len(spooled_ids(spool)) == 2, 10, "two spooled events")
        events = spool.read_after(None)
    assert [(e.realm_id, e.entity, e.entity_id, e.operation, e.source_format) for e in events] == [
        (REALM, "Vendor", vendor["Id"], "Create", body_format),
        (REALM, "Vendor", vendor["Id"], "Update", body_format),
    ]
    assert sandbox.state.webhook_failures == 0


def test_a_receiver_restarted_mid_stream_loses_nothing(qbo_sandbox_factory, tmp_path: Path) -> None:
    port = free_port()
    settings = ReceiverSettings(spool_path=tmp_path / "spool.sqlite", verifiers={REALM: VERIFIER})
    # clock_speed 10: the sandbox retries after 1, 2 and 3 s (Intuit: 10, 20, 30 s).
    sandbox = qbo_sandbox_factory(
        webhook_url=f"http://127.0.0.1:{port}/webhooks/qbo",
        webhook_verifier_token=VERIFIER,
        webhook_format="cloudevents",
        clock_speed=10.0,
    )
    created: list[str] = []
    halfway = threading.Event()

    def make_changes() -> None:
        with sandbox_api_client(sandbox) as api:
            for n in range(30):
                response = api.post("/vendor", json={"DisplayName": f"Restart {uuid.uuid4().hex[:6]} {n}"})
                created.append(response.json()["Vendor"]["Id"])
                if n == 10:
                    halfway.set()
                time.sleep(0.03)

    writer = threading.Thread(target=make_changes)
    with start_receiver(settings, port=port):
        writer.start()
        assert halfway.wait(20)
    time.sleep(0.3)  # down while changes keep coming: deliveries fail and are retried
    with start_receiver(settings, port=port) as receiver:
        writer.join(30)
        wait_for(lambda: sorted(spooled_ids(receiver.receiver.spool)) == sorted(created), 20, "every change spooled")
    assert len(created) == 30 and len(set(spooled_ids(Spool(settings.spool_path)))) == 30
    assert sandbox.state.webhook_failures >= 1  # the restart really happened mid-stream


def test_a_killed_cli_receiver_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    """kill -9 of `qbo-sftp webhooks serve` mid-stream: every 200 was on disk, and Intuit-style re-sends of
    the rest after the restart are stored exactly once."""
    port = free_port()
    spool_path = tmp_path / "spool.sqlite"
    config = tmp_path / "qbo_sftp.yaml"
    config.write_text(
        f"companies:\n  northwind: {{realm_id: '{REALM}', webhook_verifier_env: TEST_WEBHOOK_VERIFIER}}\n"
        f"webhooks: {{spool_path: '{spool_path}'}}\n"
    )
    environment = {**os.environ, "TEST_WEBHOOK_VERIFIER": VERIFIER}
    command = [sys.executable, "-m", "qbo_sftp_assets.cli", "--config", str(config), "webhooks", "serve"]
    command += ["--port", str(port)]

    def start() -> subprocess.Popen:
        process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        wait_for(lambda: healthy(port) or process.poll() is not None, 60, "the receiver to start")
        assert process.poll() is None, "the receiver exited"
        return process

    def body(n: int) -> bytes:
        moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        return (
            f'[{{"specversion":"1.0","id":"kill-test-{n}","source":"intuit.x","type":"qbo.bill.updated.v1",'
            f'"time":"{moment}123Z","intuitentityid":"{n}","intuitaccountid":"{REALM}","data":{{}}}}]'
        ).encode()

    acknowledged: set[str] = set()
    pending = list(range(200))
    process = start()
    try:
        with httpx.Client(timeout=5) as client:
            for round_number in range(2):
                unacknowledged = []
                for n in pending:
                    if round_number == 0 and n == 100:
                        process.send_signal(signal.SIGKILL)  # mid-stream, no graceful shutdown
                        process.wait(10)
                    payload = body(n)
                    try:
                        response = client.post(
                            f"http://127.0.0.1:{port}/webhooks/qbo",
                            content=payload,
                            headers={
                                "intuit-signature": signature_for(payload, VERIFIER),
                                "content-type": "application/cloudevents+json",
                            },
                        )
                    except httpx.HTTPError:
                        unacknowledged.append(n)
                        continue
                    if response.status_code == 200:
                        acknowledged.add(str(n))
                    else:
                        unacknowledged.append(n)
                if round_number == 0:
                    assert unacknowledged, "the kill should have refused some deliveries"
                    assert set(spooled_ids(Spool(spool_path))) >= acknowledged  # every 200 survived the kill
                    process = start()
                pending = unacknowledged
        assert not pending
    finally:
        process.terminate()
        process.wait(10)
    ids = spooled_ids(Spool(spool_path))
    assert sorted(ids, key=int) == [str(n) for n in range(200)]


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
