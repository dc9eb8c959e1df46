"""No token, client secret, authorization code or Authorization header reaches a log, an error text or a repr."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import queue
import threading
import traceback
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets.qbo.faults import QboError, ReconnectRequired
from qbo_sftp_assets_tests.cli.test_qbo_connect_cli import write_config
from qbo_sftp_assets_tests.fixtures_qbo_client import FIRST_REALM, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

pytestmark = pytest.mark.slow

# Server-side loggers belong to the sandbox, not the client under test.
SERVER_LOGGERS = ("uvicorn", "qbo_sftp_assets.sandbox")


class LineQueue(io.TextIOBase):
    """A stdout stand-in that hands each printed line to the test thread."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        for line in text.splitlines():
            self.lines.put(line)
        return len(text)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(SERVER_LOGGERS):
            self.texts.append(self.format(record))


@pytest.fixture
def all_logging() -> Any:
    handler = Collect()
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("httpx", "httpcore", "qbo_sftp_assets", "filelock"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(saved)


def connect_in_process(config: Path) -> str:
    """Run `qbo-sftp connect` in a thread of this process (so its logging is captured) and play the browser."""
    out = LineQueue()
    result: list[int] = []
    with contextlib.redirect_stdout(out):
        worker = threading.Thread(
            target=lambda: result.append(main(["--config", str(config), "connect", "northwind", "--port", "0"]))
        )
        worker.start()
        while True:
            line = out.lines.get(timeout=30)
            if line.startswith("http"):
                # The "browser" is urllib: it logs nothing, so every captured line is the CLI's own.
                with urllib.request.urlopen(line, timeout=30) as landing:
                    assert landing.status == 200
                break
        worker.join(timeout=60)
    assert result == [0]
    return out.text


def test_a_full_flow_leaks_no_secret(client_sandbox: Any, tmp_path: Path, monkeypatch: Any, all_logging: Any) -> None:
    monkeypatch.setenv("TEST_QBO_CLIENT_ID", SANDBOX_CLIENT_ID)
    monkeypatch.setenv("TEST_QBO_CLIENT_SECRET", SANDBOX_CLIENT_SECRET)
    config_path = write_config(tmp_path, client_sandbox.base_url)
    texts: list[str] = [connect_in_process(config_path)]

    client = qbo_client_for(load_config(config_path), "northwind", throttle_wait_seconds=0.01)
    objects: list[Any] = [client, client.store, client.oauth, client.endpoints, client.limiter]
    seen = [client.store.require(FIRST_REALM)]
    # A day later: a 401, then a refresh that also rotates the refresh token (Intuit's 24-26 h cadence).
    client_sandbox.state.advance_clock(26 * 3600 + 60)
    client_sandbox.state.expire_access_tokens(FIRST_REALM)
    rows = list(client.query("SELECT * FROM Account"))
    assert rows
    errors: list[BaseException] = []
    try:
        client.create("Bill", {"VendorRef": {"value": "999999"}, "Line": []}, request_id=str(uuid.uuid4()))
    except QboError as error:
        errors.append(error)
    httpx.post(f"{client_sandbox.base_url}/_sandbox/faults", json={"kind": "429", "count": 1}).raise_for_status()
    client.count("Term")
    seen.append(client.store.require(FIRST_REALM))
    objects += seen
    # Finally kill the grant: the refresh fails with invalid_grant.
    client.oauth.revoke(client.store.require(FIRST_REALM).refresh_token)
    try:
        client.count("Term")
    except ReconnectRequired as error:
        errors.append(error)
    client.close()
    assert len(errors) == 2

    for error in errors:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts += [repr(o) for o in objects] + [str(o) for o in objects]
    texts += all_logging.texts

    with client_sandbox.state.lock:
        tokens = client_sandbox.state.tokens
        secrets = {*tokens.access_tokens, *tokens.refresh_tokens, *tokens.codes}
    secrets |= {t for record in seen for t in (record.access_token, record.refresh_token)}
    secrets |= {
        SANDBOX_CLIENT_SECRET,
        base64.b64encode(f"{SANDBOX_CLIENT_ID}:{SANDBOX_CLIENT_SECRET}".encode()).decode(),
    }
    # Two access tokens, two refresh tokens, the code, the secret and the Basic credential at least.
    assert len(secrets) >= 7
    haystack = "\n".join(texts)
    assert "intuit_tid=" in haystack and "HTTP Request" in haystack  # the capture did see the traffic
    leaked = [s[:6] + "..." for s in secrets if s in haystack]
    assert not leaked
    assert "Bearer " not in haystack and "Basic " not in haystack
