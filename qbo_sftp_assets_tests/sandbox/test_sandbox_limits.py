"""Throttling (429 / fault 3001) per realm, the faster clock, requestid replay, and intuit_tid headers."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from qbo_sftp_assets.sandbox.qbo_server import SECOND_REALM_ID
from qbo_sftp_assets_tests.fixtures_qbo import sandbox_api_client
from qbo_sftp_assets_tests.sandbox.test_sandbox_entities import expense_bill


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429
    fault = response.json()["Fault"]
    assert fault["type"] == "SERVICE"
    assert fault["Error"][0]["code"] == "3001"
    assert fault["Error"][0]["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"


def test_requests_per_minute_limit_gives_429_and_is_per_realm(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(requests_per_minute=5)
    with sandbox_api_client(sandbox) as api, sandbox_api_client(sandbox, SECOND_REALM_ID) as other:
        statuses = [api.get("/preferences").status_code for _ in range(5)]
        assert statuses == [200] * 5
        throttled = api.get("/preferences")
        assert_throttled(throttled)
        assert "Retry-After" not in throttled.headers
        assert other.get("/preferences").status_code == 200
    assert sandbox.state.stats()["realms"][sandbox.realm_id]["throttled"] == 1


def test_faster_clock_shortens_the_window(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(requests_per_minute=2, clock_speed=60.0, send_retry_after=True)
    with sandbox_api_client(sandbox) as api:
        assert [api.get("/preferences").status_code for _ in range(2)] == [200, 200]
        throttled = api.get("/preferences")
        assert_throttled(throttled)
        assert throttled.headers["Retry-After"] == "1"
        time.sleep(1.05)
        assert api.get("/preferences").status_code == 200


def test_batch_requests_have_their_own_per_minute_limit(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(batch_requests_per_minute=2)
    batch = {"BatchItemRequest": [{"bId": "q", "Query": "select count(*) from Bill"}]}
    with sandbox_api_client(sandbox) as api:
        assert [api.post("/batch", json=batch).status_code for _ in range(2)] == [200, 200]
        assert_throttled(api.post("/batch", json=batch))
        assert api.get("/preferences").status_code == 200


def test_more_than_max_in_flight_concurrent_calls_are_throttled(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(max_in_flight=2, latency=0.8)
    with sandbox_api_client(sandbox) as api, ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(lambda _: api.get("/preferences").status_code, range(4)))
    assert statuses == [200, 200, 429, 429]


def test_rate_limits_can_be_switched_off(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(requests_per_minute=1, rate_limits_enabled=False)
    with sandbox_api_client(sandbox) as api:
        assert {api.get("/preferences").status_code for _ in range(3)} == {200}


def test_same_requestid_replays_the_response_without_a_second_write(qbo_sandbox, qbo_api):
    first = qbo_api.post("/bill", params={"requestid": "req-0001"}, json=expense_bill(DocNumber="R-1"))
    second = qbo_api.post("/bill", params={"requestid": "req-0001"}, json=expense_bill(DocNumber="R-1"))
    assert first.status_code == second.status_code == 200
    assert first.json()["Bill"] == second.json()["Bill"]
    other = qbo_api.post("/bill", params={"requestid": "req-0002"}, json=expense_bill(DocNumber="R-2"))
    assert other.json()["Bill"]["Id"] != first.json()["Bill"]["Id"]
    stats = qbo_sandbox.state.stats()["realms"][qbo_sandbox.realm_id]
    assert stats["writes"]["Bill"] == 2
    assert stats["requestid_replays"] == 1


def test_requestid_is_scoped_to_the_realm(qbo_sandbox):
    with sandbox_api_client(qbo_sandbox) as api, sandbox_api_client(qbo_sandbox, SECOND_REALM_ID) as other:
        api.post("/class", params={"requestid": "shared-id"}, json={"Name": "Realm one class"})
        created = other.post("/class", params={"requestid": "shared-id"}, json={"Name": "Realm two class"})
    assert created.json()["Class"]["Name"] == "Realm two class"


def test_a_failed_write_is_not_replayed(qbo_api):
    refused = qbo_api.post("/bill", params={"requestid": "req-bad"}, json={"Line": expense_bill()["Line"]})
    assert refused.status_code == 400
    fixed = qbo_api.post("/bill", params={"requestid": "req-bad"}, json=expense_bill())
    assert fixed.status_code == 200


def test_every_response_carries_a_unique_intuit_tid(qbo_sandbox, qbo_api):
    responses = [
        qbo_api.get("/preferences"),
        qbo_api.get("/vendor/99999"),
        httpx.get(f"{qbo_sandbox.base_url}/v3/company/{qbo_sandbox.realm_id}/preferences"),
        httpx.post(f"{qbo_sandbox.base_url}/oauth2/v1/tokens/bearer", data={"grant_type": "refresh_token"}),
    ]
    tids = [response.headers["intuit_tid"] for response in responses]
    assert all(tids) and len(set(tids)) == len(tids)
