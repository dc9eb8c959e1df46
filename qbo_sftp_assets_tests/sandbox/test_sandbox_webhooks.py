"""Webhooks: signed POSTs in the legacy and CloudEvents formats, delivered without blocking the API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets_tests.fixtures_qbo import sandbox_api_client
from qbo_sftp_assets_tests.sandbox.test_sandbox_entities import expense_bill

VERIFIER = "verifier-for-tests"


class Receiver:
    """A tiny HTTP server that records each POST (headers, raw body) and can hold its answer."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict, bytes]] = queue.Queue()
        self.release = threading.Event()
        self.release.set()
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.release.wait(10)
                receiver.received.put(({key.lower(): value for key, value in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def next(self) -> tuple[dict, bytes]:
        return self.received.get(timeout=10)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def expected_signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(VERIFIER.encode(), body, hashlib.sha256).digest()).decode()


def test_legacy_notification_is_signed_and_names_the_change(qbo_sandbox_factory, receiver):
    sandbox = qbo_sandbox_factory(webhook_url=receiver.url, webhook_verifier_token=VERIFIER)
    with sandbox_api_client(sandbox) as api:
        bill = api.post("/bill", json=expense_bill()).json()["Bill"]
    headers, body = receiver.next()
    assert headers["intuit-signature"] == expected_signature(body)
    assert headers["content-type"] == "application/json"
    notification = json.loads(body)["eventNotifications"][0]
    assert notification["realmId"] == sandbox.realm_id
    entity = notification["dataChangeEvent"]["entities"][0]
    assert entity["name"] == "Bill" and entity["id"] == bill["Id"] and entity["operation"] == "Create"
    assert entity["lastUpdated"][:19] == bill["MetaData"]["LastUpdatedTime"][:19]


def test_cloudevents_notification_is_signed_and_typed(qbo_sandbox_factory, receiver):
    sandbox = qbo_sandbox_factory(
        webhook_url=receiver.url, webhook_verifier_token=VERIFIER, webhook_format="cloudevents"
    )
    with sandbox_api_client(sandbox) as api:
        vendor = api.get("/vendor/1").json()["Vendor"]
        api.post("/vendor", json={"Id": "1", "SyncToken": vendor["SyncToken"], "sparse": True, "AcctNum": "9"})
    headers, body = receiver.next()
    assert headers["intuit-signature"] == expected_signature(body)
    assert headers["content-type"] == "application/cloudevents+json"
    events = json.loads(body)
    assert isinstance(events, list) and len(events) == 1
    event = events[0]
    assert event["specversion"] == "1.0"
    assert event["type"] == "qbo.vendor.updated.v1"
    assert event["intuitentityid"] == "1"
    assert event["intuitaccountid"] == sandbox.realm_id
    assert event["data"] == {}
    assert len(event["time"].split(".")[1]) == 10  # nine fractional digits and the Z


def test_delivery_never_holds_the_api_response(qbo_sandbox_factory, receiver):
    receiver.release.clear()
    sandbox = qbo_sandbox_factory(webhook_url=receiver.url, webhook_verifier_token=VERIFIER)
    with sandbox_api_client(sandbox) as api:
        assert api.post("/class", json={"Name": "Held"}).status_code == 200
        assert receiver.received.empty()
        assert sandbox.state.stats()["webhook_deliveries"] == 0
    receiver.release.set()
    _headers, body = receiver.next()
    assert json.loads(body)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["name"] == "Class"


def test_delete_is_notified_as_delete(qbo_sandbox_factory, receiver):
    sandbox = qbo_sandbox_factory(webhook_url=receiver.url, webhook_verifier_token=VERIFIER)
    with sandbox_api_client(sandbox) as api:
        api.post("/bill", params={"operation": "delete"}, json={"Id": "1", "SyncToken": "0"})
    _, body = receiver.next()
    assert json.loads(body)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["operation"] == "Delete"


def test_failed_delivery_is_retried(qbo_sandbox_factory, receiver):
    receiver.statuses = [500]
    sandbox = qbo_sandbox_factory(webhook_url=receiver.url, webhook_verifier_token=VERIFIER, clock_speed=100.0)
    with sandbox_api_client(sandbox) as api:
        api.post("/class", json={"Name": "Retried"})
    _first_headers, first_body = receiver.next()
    second_headers, second_body = receiver.next()
    assert first_body == second_body
    assert second_headers["intuit-signature"] == expected_signature(second_body)
    stats = sandbox.state.stats()
    assert stats["webhook_failures"] == 1


def test_the_edit_bill_verb_changes_a_bill_whose_update_is_notified(qbo_sandbox_factory, receiver, capsys):
    sandbox = qbo_sandbox_factory(webhook_url=receiver.url, webhook_verifier_token=VERIFIER)
    assert main(["sandbox", "edit-bill", "--url", sandbox.base_url, "--memo", "from the verb"]) == 0
    bill_id = capsys.readouterr().out.split()[1]
    with sandbox_api_client(sandbox) as api:
        assert api.get(f"/bill/{bill_id}").json()["Bill"]["PrivateNote"] == "from the verb"
    entity = json.loads(receiver.next()[1])["eventNotifications"][0]["dataChangeEvent"]["entities"][0]
    assert (entity["name"], entity["id"], entity["operation"]) == ("Bill", bill_id, "Update")
    assert main(["sandbox", "edit-bill", "--url", sandbox.base_url, "--id", "999999"]) != 0
    assert "answered 400" in capsys.readouterr().err
