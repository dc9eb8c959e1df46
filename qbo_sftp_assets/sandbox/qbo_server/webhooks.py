"""Signed webhook delivery from a background thread, in Intuit's legacy or CloudEvents format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from qbo_sftp_assets.sandbox.qbo_server.clock import COMPANY_ZONE

log = logging.getLogger(__name__)

CLOUDEVENT_VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided"}
# Intuit retries at 0, 10, 20, 30 s (then minutes to hours); the sandbox stops after the first four.
RETRY_DELAYS = (10.0, 20.0, 30.0)


@dataclass(frozen=True)
class ChangeEvent:
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    moment: datetime


def signature(body: bytes, verifier_token: str) -> str:
    """`intuit-signature`: base64 of HMAC-SHA256 over the raw body, keyed by the verifier token."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def legacy_body(event: ChangeEvent) -> bytes:
    last_updated = event.moment.astimezone(COMPANY_ZONE).strftime("%Y-%m-%dT%H:%M:%S%z")
    document = {
        "eventNotifications": [
            {
                "realmId": event.realm_id,
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": event.entity,
                            "id": event.entity_id,
                            "operation": event.operation,
                            "lastUpdated": last_updated,
                        }
                    ]
                },
            }
        ]
    }
    return json.dumps(document).encode()


def cloudevents_body(event: ChangeEvent, source: str) -> bytes:
    moment = event.moment.astimezone(UTC)
    nanos = f"{moment.microsecond:06d}000"
    document = [
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": source,
            "type": f"qbo.{event.entity.lower()}.{CLOUDEVENT_VERBS.get(event.operation, 'updated')}.v1",
            "datacontenttype": "application/json",
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + nanos + "Z",
            "intuitentityid": event.entity_id,
            "intuitaccountid": event.realm_id,
            "data": {},
        }
    ]
    return json.dumps(document).encode()


class WebhookDispatcher:
    """Queues change events and POSTs them one by one so API responses never wait for delivery."""

    def __init__(self, url: str, verifier_token: str, body_format: str, timeout: float, clock_speed: float, on_result):
        self.url = url
        self.verifier_token = verifier_token
        self.body_format = body_format
        self.timeout = timeout
        self.clock_speed = clock_speed
        self.on_result = on_result
        self.source = "intuit.sandbox-" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self.events: queue.Queue[ChangeEvent | None] = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="qbo-sandbox-webhooks", daemon=True)
        self.thread.start()

    def __repr__(self) -> str:
        return f"WebhookDispatcher(url={self.url!r}, format={self.body_format!r})"

    def publish(self, event: ChangeEvent) -> None:
        self.events.put(event)

    def stop(self) -> None:
        self.stopping.set()
        self.events.put(None)
        self.thread.join(timeout=self.timeout + 1)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self.stopping.is_set():
                event = self.events.get()
                if event is None:
                    return
                self._deliver(client, event)

    def _deliver(self, client: httpx.Client, event: ChangeEvent) -> None:
        if self.body_format == "cloudevents":
            body, content_type = cloudevents_body(event, self.source), "application/cloudevents+json"
        else:
            body, content_type = legacy_body(event), "application/json"
        headers = {"content-type": content_type, "intuit-signature": signature(body, self.verifier_token)}
        for delay in (0.0, *RETRY_DELAYS):
            if delay and self.stopping.wait(delay / self.clock_speed):
                return
            try:
                response = client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as error:
                log.info("webhook delivery to %s failed: %s", self.url, type(error).__name__)
                self.on_result(False)
                continue
            if response.status_code < 300:
                self.on_result(True)
                return
            log.info("webhook delivery to %s answered HTTP %s", self.url, response.status_code)
            self.on_result(False)
