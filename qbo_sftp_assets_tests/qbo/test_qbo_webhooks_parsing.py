"""Webhook signature over raw bytes and both payload formats (legacy and CloudEvents) as change events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from qbo_sftp_assets.qbo.webhooks import (
    WebhookPayloadError,
    parse_payload,
    parse_timestamp,
    signature_for,
    verify_signature,
)

LEGACY = {
    "eventNotifications": [
        {
            "realmId": "1185883450",
            "dataChangeEvent": {
                "entities": [
                    {"name": "Customer", "id": "1", "operation": "Create", "lastUpdated": "2015-10-05T14:42:19-0700"},
                    {"name": "JournalEntry", "id": "7", "operation": "Delete", "lastUpdated": "2015-10-05T21:42:19Z"},
                ]
            },
        }
    ]
}
CLOUD = [
    {
        "specversion": "1.0",
        "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
        "source": "intuit.abc",
        "type": "qbo.vendorcredit.created.v1",
        "datacontenttype": "application/json",
        "time": "2025-09-10T21:31:25.179851517Z",
        "intuitentityid": "1234",
        "intuitaccountid": "310687",
        "data": {},
    }
]


def test_signature_is_hmac_sha256_base64_of_the_raw_body() -> None:
    body = json.dumps(LEGACY).encode()
    # Known answer from `printf "{}" | openssl dgst -sha256 -hmac verifier -binary | base64`.
    assert signature_for(b"{}", "verifier") == "kZxclEfoy7dfRrKNGYXz56o9VOCQkr8TWBMeqxlXGAM="
    signature = signature_for(body, "verifier")
    assert verify_signature(body, signature, "verifier")
    assert not verify_signature(body + b" ", signature, "verifier")
    assert not verify_signature(body, signature, "other")
    assert not verify_signature(body, None, "verifier")


def test_legacy_payload_becomes_change_events_in_utc() -> None:
    events = parse_payload(json.dumps(LEGACY).encode())
    assert [(e.realm_id, e.entity, e.entity_id, e.operation) for e in events] == [
        ("1185883450", "Customer", "1", "Create"),
        ("1185883450", "JournalEntry", "7", "Delete"),
    ]
    assert events[0].occurred_at == datetime(2015, 10, 5, 21, 42, 19, tzinfo=UTC)
    assert events[0].event_id != events[1].event_id
    assert all(e.source_format == "legacy" for e in events)


def test_cloudevents_payload_becomes_change_events() -> None:
    (event,) = parse_payload(json.dumps(CLOUD))
    assert (event.realm_id, event.entity, event.entity_id, event.operation) == (
        "310687",
        "VendorCredit",
        "1234",
        "Create",
    )
    assert event.event_id == "88cd52aa-33b6-4351-9aa4-47572edbd068"
    assert event.occurred_at == datetime(2025, 9, 10, 21, 31, 25, 179851, tzinfo=UTC)


def test_timestamp_forms() -> None:
    assert parse_timestamp("2015-07-14T12:34:04-07:00") == datetime(2015, 7, 14, 19, 34, 4, tzinfo=UTC)
    assert parse_timestamp("garbage") is None
    assert parse_timestamp(None) is None


@pytest.mark.parametrize("body", [b"not json", b'{"other": 1}', b'[{"type": "x.y"}]', b"[1]"])
def test_other_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_payload(body)
