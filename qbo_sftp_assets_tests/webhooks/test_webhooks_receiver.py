"""The webhook receiver over real HTTP: signed events of both formats land in the spool once; unsigned,
forged, malformed, oversized, unknown-realm and old events are refused or ignored, counted, logged
without secrets, and never spooled. Each test using the `receiver` fixture runs once on the SQLite spool
file and once on the PostgreSQL spool."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg2
import pytest

from qbo_sftp_assets.qbo.webhooks import signature_for
from qbo_sftp_assets.webhooks import PostgresSpool, ReceiverSettings, RunningReceiver, start_receiver
from qbo_sftp_assets_tests.webhooks.test_webhooks_payload_shapes import ODD_SHAPES

REALM = "9130357992221046"
OTHER_APP_REALM = "9130357992221047"
TOKEN = "verifier-token-for-tests"
OTHER_APP_TOKEN = "verifier-token-of-another-app"
MARKER = "body-marker-never-logged"


def legacy_body(entity_id: str = "145", *, realm: str = REALM, moment: datetime | None = None) -> bytes:
    moment = moment or datetime.now(UTC)
    change = {"name": "Bill", "id": entity_id, "operation": "Update", "lastUpdated": moment.isoformat()}
    body = {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [change]}}], "note": MARKER}
    return json.dumps(body).encode()


def cloud_body(entity_id: str = "146", *, event_id: str | None = None, moment: datetime | None = None) -> bytes:
    moment = moment or datetime.now(UTC)
    event = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": f"intuit.{MARKER}",
        "type": "qbo.bill.updated.v1",
        "datacontenttype": "application/json",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "517Z",
        "intuitentityid": entity_id,
        "intuitaccountid": REALM,
        "data": {},
    }
    return json.dumps([event]).encode()


def signed(body: bytes, token: str = TOKEN, content_type: str = "application/json") -> dict[str, str]:
    return {"content-type": content_type, "intuit-signature": signature_for(body, token)}


def receiver_settings(spool_path: Path, **overrides) -> ReceiverSettings:
    return ReceiverSettings(
        spool_path=spool_path, verifiers={REALM: TOKEN, OTHER_APP_REALM: OTHER_APP_TOKEN}, **overrides
    )


@pytest.fixture
def receiver(tmp_path: Path, spool_url: str | None) -> Iterator[RunningReceiver]:
    settings = receiver_settings(tmp_path / "webhooks.sqlite", spool_url=spool_url, max_body_bytes=1_048_576)
    with start_receiver(settings) as running:
        yield running


@pytest.fixture
def http(receiver: RunningReceiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=receiver.base_url, timeout=10) as client:
        yield client


def post(http: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return http.post("/webhooks/qbo", content=body, headers=headers)


def stats(http: httpx.Client) -> dict:
    return http.get("/stats").json()


@pytest.mark.parametrize(
    "content_type",
    ["application/cloudevents+json", "application/cloudevents-batch+json; charset=utf-8", "application/json"],
)
def test_signed_events_of_both_formats_land_in_the_spool(
    receiver: RunningReceiver, http: httpx.Client, content_type: str
) -> None:
    legacy, cloud = legacy_body("145"), cloud_body("146")
    assert post(http, legacy, signed(legacy)).json() == {"stored": 1, "duplicates": 0, "too_old": 0}
    assert post(http, cloud, signed(cloud, content_type=content_type)).status_code == 200
    events = receiver.receiver.spool.read_after(None, 10)
    assert [(e.realm_id, e.entity, e.entity_id, e.operation, e.source_format) for e in events] == [
        (REALM, "Bill", "145", "Update", "legacy"),
        (REALM, "Bill", "146", "Update", "cloudevents"),
    ]
    assert http.get("/health").json() == {"status": "ok"}


def test_signed_replays_are_deduplicated(receiver: RunningReceiver, http: httpx.Client) -> None:
    moment = datetime.now(UTC) - timedelta(hours=2)
    legacy, cloud = legacy_body("145", moment=moment), cloud_body("146", event_id="fixed-id-1", moment=moment)
    for body in (legacy, cloud):
        assert post(http, body, signed(body)).json()["stored"] == 1
    # The same bytes again (Intuit's retries, or an attacker's replay), and the same CloudEvents id re-signed
    # in another body: all answered 200 (nothing to retry) and none stored twice.
    same_id_other_body = cloud_body("999", event_id="fixed-id-1", moment=moment)
    # The legacy key is realm + entity + id + operation + lastUpdated, however the time is printed.
    reprinted = legacy_body("145", moment=moment.astimezone(datetime.now().astimezone().tzinfo))
    for body in (legacy, cloud, same_id_other_body, reprinted):
        response = post(http, body, signed(body))
        assert response.status_code == 200 and response.json()["duplicates"] == 1
    assert receiver.receiver.spool.count() == 2
    assert stats(http)["events"] == {"stored": 2, "duplicate": 4, "too_old": 0}


def test_events_older_than_the_age_limit_are_ignored_and_counted(receiver: RunningReceiver, http: httpx.Client) -> None:
    old = datetime.now(UTC) - timedelta(hours=25)
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": REALM,
                    "dataChangeEvent": {
                        "entities": [
                            {"name": "Bill", "id": "1", "operation": "Update", "lastUpdated": old.isoformat()},
                            {
                                "name": "Bill",
                                "id": "2",
                                "operation": "Update",
                                "lastUpdated": datetime.now(UTC).isoformat(),
                            },
                        ]
                    },
                }
            ]
        }
    ).encode()
    assert post(http, body, signed(body)).json() == {"stored": 1, "duplicates": 0, "too_old": 1}
    old_cloud = cloud_body("3", moment=old)
    assert post(http, old_cloud, signed(old_cloud)).json() == {"stored": 0, "duplicates": 0, "too_old": 1}
    assert [e.entity_id for e in receiver.receiver.spool.read_after(None)] == ["2"]
    assert stats(http)["events"]["too_old"] == 2


def refused_requests() -> dict[str, tuple[bytes, dict[str, str], int, str]]:
    good, unknown, other_app = legacy_body(), legacy_body(realm="123456"), legacy_body(realm=OTHER_APP_REALM)
    return {
        "unsigned": (good, {"content-type": "application/json"}, 401, "unsigned"),
        "empty signature": (good, {"content-type": "application/json", "intuit-signature": ""}, 401, "unsigned"),
        "wrong token": (good, signed(good, token="guessed-token"), 401, "forged"),
        "signature of other bytes": (good + b" ", signed(good), 401, "forged"),
        "not base64": (good, {"intuit-signature": "!!not-base64!!"}, 401, "forged"),
        "latin-1 signature": (good, {"intuit-signature": "\u00e9\u00e9\u00e9".encode("latin-1")}, 401, "forged"),
        "unsupported media type": (good, signed(good, content_type="text/plain"), 415, "unsupported_media_type"),
        "unknown realm": (unknown, signed(unknown), 400, "unknown_realm"),
        "realm of another app's token": (other_app, signed(other_app, token=TOKEN), 400, "unknown_realm"),
        "binary-mode cloudevent": (
            b"{}",
            {**signed(b"{}"), "ce-specversion": "1.0", "ce-id": "x", "ce-intuitaccountid": REALM},
            400,
            "malformed",
        ),
        "oversized, declared": (b"x" * (1_048_576 + 1), signed(b"x" * (1_048_576 + 1)), 413, "oversized"),
    }


REFUSED = refused_requests()


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_refused_requests_are_counted_logged_without_secrets_and_not_spooled(
    receiver: RunningReceiver, http: httpx.Client, caplog: pytest.LogCaptureFixture, case
) -> None:
    body, headers, status, reason = case
    with caplog.at_level(logging.INFO, logger="qbo_sftp_assets.webhooks"):
        response = post(http, body, headers)
    assert (response.status_code, response.json()) == (status, {"error": reason})
    counters = stats(http)
    assert counters["requests"][reason] == 1 and counters["refused"] == 1 and counters["spool_events"] == 0
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and reason in refusals[0]
    logged = caplog.text
    signature = headers.get("intuit-signature")
    for secret in (TOKEN, OTHER_APP_TOKEN, MARKER, signature if isinstance(signature, str) and signature else TOKEN):
        assert secret not in logged


def test_a_chunked_body_past_the_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    sent = []

    def endless() -> Iterator[bytes]:
        for _ in range(1000):  # 64 MB if the receiver kept reading
            sent.append(1)
            yield b"[" * 65536

    with (
        start_receiver(receiver_settings(tmp_path / "spool.sqlite", max_body_bytes=65536)) as running,
        httpx.Client(base_url=running.base_url, timeout=10) as http,
    ):
        try:
            response = http.post("/webhooks/qbo", content=endless(), headers=signed(b"", TOKEN))
            assert response.status_code == 413
        except httpx.HTTPError:
            pass  # the receiver may close the connection before the client finishes writing; also fine
        assert stats(http)["requests"]["oversized"] == 1
    assert len(sent) < 1000


def test_every_odd_json_shape_is_a_clean_400_over_http(receiver: RunningReceiver, http: httpx.Client) -> None:
    statuses = {}
    for name, body in ODD_SHAPES.items():
        statuses[name] = post(http, body, signed(body)).status_code
    assert statuses == dict.fromkeys(ODD_SHAPES, 400)
    counters = stats(http)
    assert counters["requests"]["malformed"] == len(ODD_SHAPES) and counters["spool_events"] == 0


def test_health_fails_when_the_spool_is_gone_and_nothing_is_acknowledged(
    receiver: RunningReceiver, http: httpx.Client
) -> None:
    spool = receiver.receiver.spool
    if isinstance(spool, PostgresSpool):
        connection = psycopg2.connect(spool.url)
        with connection, connection.cursor() as cursor:
            cursor.execute("DROP TABLE webhook_events, webhook_spool_meta")
        connection.close()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{spool.path}{suffix}").unlink(missing_ok=True)
    assert http.get("/health").status_code == 503
    body = legacy_body()
    assert post(http, body, signed(body)).status_code == 503  # Intuit retries; no 200 for an unstored event


def test_settings_from_config_read_each_companys_verifier_variable() -> None:
    from qbo_sftp_assets.config import parse_config
    from qbo_sftp_assets.webhooks import ReceiverConfigError

    config = parse_config(
        "companies:\n"
        "  northwind: {realm_id: '1', webhook_verifier_env: NORTHWIND_VERIFIER}\n"
        "  contoso: {realm_id: '2'}\n"
        "webhooks: {spool_path: /tmp/x.sqlite, max_body_bytes: 4096, max_event_age_hours: 2}\n"
    )
    settings = ReceiverSettings.from_config(config, {"NORTHWIND_VERIFIER": "s3cret"})
    assert settings.verifiers == {"1": "s3cret"} and settings.max_body_bytes == 4096
    assert settings.max_event_age == timedelta(hours=2) and "s3cret" not in repr(settings)
    with pytest.raises(ReceiverConfigError, match="NORTHWIND_VERIFIER"):
        ReceiverSettings.from_config(config, {})
