"""Every odd JSON shape in a webhook body is one WebhookPayloadError (a clean 400), never another exception."""

from __future__ import annotations

import json

import pytest

from qbo_sftp_assets.qbo.webhooks import WebhookPayloadError, parse_payload


def legacy(entity: object = None, *, notification: object = None, realm: object = "1185883450") -> bytes:
    change = {"name": "Bill", "id": "7", "operation": "Update", "lastUpdated": "2025-10-05T14:42:19-0700"}
    if isinstance(entity, dict):
        change = {**change, **entity}
    if notification is None:
        notification = {
            "realmId": realm,
            "dataChangeEvent": {"entities": [change if entity is None or isinstance(entity, dict) else entity]},
        }
    return json.dumps({"eventNotifications": [notification]}).encode()


def cloud(**overrides: object) -> bytes:
    event = {
        "specversion": "1.0",
        "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
        "source": "intuit.abc",
        "type": "qbo.bill.updated.v1",
        "time": "2025-09-10T21:31:25.179851517Z",
        "intuitentityid": "1234",
        "intuitaccountid": "310687",
        "data": {},
    }
    event.update(overrides)
    return json.dumps([event]).encode()


ODD_SHAPES = {
    # lists / scalars where objects belong
    "notifications not a list": b'{"eventNotifications": {"realmId": "1"}}',
    "notification is a number": b'{"eventNotifications": [1]}',
    "dataChangeEvent is a list": legacy(notification={"realmId": "1", "dataChangeEvent": []}),
    "dataChangeEvent is null": legacy(notification={"realmId": "1", "dataChangeEvent": None}),
    "entities is an object": legacy(notification={"realmId": "1", "dataChangeEvent": {"entities": {"a": 1}}}),
    "entities is null": legacy(notification={"realmId": "1", "dataChangeEvent": {"entities": None}}),
    "entity is a string": legacy("Bill"),
    "entity is a list": legacy([["Bill"]]),
    "cloudevent is a list": b"[[1]]",
    "cloudevent is a string": b'["qbo.bill.updated.v1"]',
    # numbers, lists, objects where text belongs
    "realmId is a number": legacy(realm=1185883450),
    "realmId is an object": legacy(realm={"$ne": None}),
    "id is a number": legacy({"id": 7}),
    "id is a list": legacy({"id": ["7"]}),
    "name is null": legacy({"name": None}),
    "operation is a bool": legacy({"operation": True}),
    "lastUpdated is a number": legacy({"lastUpdated": 1444081339}),
    "lastUpdated is an object": legacy({"lastUpdated": {}}),
    "lastUpdated missing": legacy({"lastUpdated": None}),
    "type is a number": cloud(type=5),
    "type is a list": cloud(type=["qbo", "bill"]),
    "time is a list": cloud(time=[]),
    "intuitaccountid is a number": cloud(intuitaccountid=310687),
    "intuitentityid is an object": cloud(intuitentityid={"id": "1"}),
    "id is null": cloud(id=None),
    "specversion is a number": cloud(specversion=1.0),
    # text of the wrong shape
    "realmId with letters": legacy(realm="12ab"),
    "id with a newline": legacy({"id": "7\nforged log line"}),
    "id with a lone surrogate": b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": '
    b'[{"name": "Bill", "id": "\\ud800", "operation": "Update", "lastUpdated": "2025-10-05T14:42:19Z"}]}}]}',
    "entity name with spaces": legacy({"name": "Bill; DROP"}),
    "type not qbo": cloud(type="com.example.bill.updated.v1"),
    "timestamp that overflows": legacy({"lastUpdated": "9999-12-31T23:59:59-23:59"}),
    "timestamp that underflows": legacy({"lastUpdated": "0001-01-01T00:00:00+23:59"}),
    "timestamp garbage": cloud(time="yesterday"),
    # not JSON, or JSON Python should not take
    "deep nesting": b"[" * 200_000 + b"]" * 200_000,
    "deep nesting in an object": b'{"eventNotifications": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "5000-digit number": b'{"eventNotifications": [], "n": ' + b"9" * 5000 + b"}",
    "NaN": b'{"eventNotifications": [], "n": NaN}',
    "Infinity": b"[Infinity]",
    "invalid UTF-8": b'{"eventNotifications": [], "n": "\xff\xfe"}',
    "empty body": b"",
    "truncated": b'{"eventNotifications": [',
    "top-level number": b"42",
    "top-level string": b'"eventNotifications"',
    "top-level null": b"null",
}


@pytest.mark.parametrize("body", ODD_SHAPES.values(), ids=ODD_SHAPES.keys())
def test_odd_shape_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError) as raised:
        parse_payload(body)
    message = str(raised.value)
    # The message names where and what, never echoes the (possibly hostile) value.
    assert "\n" not in message and "forged" not in message and "DROP" not in message


def test_good_shapes_still_parse() -> None:
    (event,) = parse_payload(legacy())
    assert (event.realm_id, event.entity, event.entity_id, event.operation) == ("1185883450", "Bill", "7", "Update")
    (event,) = parse_payload(cloud())
    assert (event.realm_id, event.entity, event.entity_id, event.operation) == ("310687", "Bill", "1234", "Update")
    assert parse_payload(b"[]") == [] and parse_payload(b'{"eventNotifications": []}') == []


def test_legacy_dedup_key_ignores_how_the_time_is_printed() -> None:
    (pacific,) = parse_payload(legacy({"lastUpdated": "2025-10-05T14:42:19-07:00"}))
    (utc,) = parse_payload(legacy({"lastUpdated": "2025-10-05T21:42:19.000Z"}))
    (later,) = parse_payload(legacy({"lastUpdated": "2025-10-05T21:42:20Z"}))
    assert pacific.dedup_key == utc.dedup_key != later.dedup_key
    (other_operation,) = parse_payload(legacy({"lastUpdated": "2025-10-05T21:42:19Z", "operation": "Delete"}))
    assert other_operation.dedup_key != utc.dedup_key
