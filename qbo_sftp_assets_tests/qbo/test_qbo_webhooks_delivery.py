"""Signed webhooks delivered by the sandbox (legacy and CloudEvents) verify and parse with our webhook module."""

from __future__ import annotations

import queue
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from qbo_sftp_assets.qbo.webhooks import SIGNATURE_HEADER, parse_payload, verify_signature
from qbo_sftp_assets_tests.fixtures_qbo_client import FIRST_REALM

pytestmark = pytest.mark.slow
VERIFIER = "test-verifier-token"


class Receiver:
    """A loopback listener that queues each delivery's headers and raw body and answers 200."""

    def __init__(self) -> None:
        self.deliveries: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        deliveries = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                deliveries.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("body_format", "content_type"), [("legacy", "application/json"), ("cloudevents", "application/cloudevents+json")]
)
def test_sandbox_webhooks_verify_and_parse(make_client: Any, body_format: str, content_type: str) -> None:
    from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox

    receiver = Receiver()
    settings = SandboxSettings(webhook_url=receiver.url, webhook_verifier_token=VERIFIER, webhook_format=body_format)
    try:
        with start_sandbox(settings) as sandbox:
            client = make_client(sandbox)
            vendor = client.create(
                "Vendor", {"DisplayName": f"Hook {uuid.uuid4().hex[:6]}"}, request_id=str(uuid.uuid4())
            )
            headers, body = receiver.deliveries.get(timeout=10)
    finally:
        receiver.close()
    assert headers["content-type"].startswith(content_type)
    assert verify_signature(body, headers[SIGNATURE_HEADER], VERIFIER)
    assert not verify_signature(body, headers[SIGNATURE_HEADER], "wrong-verifier")
    (event,) = parse_payload(body)
    assert (event.realm_id, event.entity, event.entity_id, event.operation) == (
        FIRST_REALM,
        "Vendor",
        vendor["Id"],
        "Create",
    )
    assert event.source_format == body_format and event.occurred_at is not None and event.event_id
