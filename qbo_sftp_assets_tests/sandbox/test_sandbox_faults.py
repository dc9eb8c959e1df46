"""Fault injection: the next N calls answer 500/503/429/timeout/XML fault/Fault-in-200, then recover."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import httpx
import pytest

from qbo_sftp_assets.sandbox.qbo_server import SECOND_REALM_ID
from qbo_sftp_assets_tests.fixtures_qbo import sandbox_api_client
from qbo_sftp_assets_tests.sandbox.test_sandbox_entities import expense_bill

NS = {"i": "http://schema.intuit.com/finance/v3"}


def arm(sandbox, **rule) -> None:
    response = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=rule)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("503", 503), ("429", 429)])
def test_next_n_calls_fail_then_recover(qbo_sandbox, qbo_api, kind, status):
    arm(qbo_sandbox, kind=kind, count=2)
    assert [qbo_api.get("/preferences").status_code for _ in range(3)] == [status, status, 200]
    assert qbo_sandbox.state.stats()["faults_fired"] == [kind, kind]


def test_injected_500_before_the_write_writes_nothing(qbo_sandbox, qbo_api):
    arm(qbo_sandbox, kind="500", path_contains="/bill")
    failed = qbo_api.post("/bill", params={"requestid": "f-1"}, json=expense_bill())
    assert failed.status_code == 500
    assert failed.json()["Fault"]["Error"][0]["code"]
    assert qbo_sandbox.state.stats()["realms"][qbo_sandbox.realm_id]["writes"] == {}
    assert qbo_api.post("/bill", params={"requestid": "f-1"}, json=expense_bill()).status_code == 200


def test_timeout_after_the_write_is_recovered_by_requestid_without_duplicate(qbo_sandbox, qbo_api):
    arm(qbo_sandbox, kind="timeout", delay=1.0, path_contains="/bill")
    with pytest.raises(httpx.ReadTimeout):
        qbo_api.post("/bill", params={"requestid": "t-1"}, json=expense_bill(), timeout=0.3)
    retried = qbo_api.post("/bill", params={"requestid": "t-1"}, json=expense_bill())
    assert retried.status_code == 200
    stats = qbo_sandbox.state.stats()["realms"][qbo_sandbox.realm_id]
    assert stats["writes"]["Bill"] == 1
    assert stats["requestid_replays"] == 1


def test_timeout_that_is_waited_out_answers_504(qbo_sandbox, qbo_api):
    qbo_sandbox.state.inject_fault("timeout", delay=0.2, after_write=False)
    response = qbo_api.get("/preferences")
    assert response.status_code == 504


def test_xml_fault_body(qbo_sandbox, qbo_api):
    arm(qbo_sandbox, kind="xml_fault", status=429, code="3001", message="message=ThrottleExceeded; errorCode=003001")
    response = qbo_api.get("/query", params={"query": "select * from Bill"})
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    error = root.find("i:Fault/i:Error", NS)
    assert root.tag == "{http://schema.intuit.com/finance/v3}IntuitResponse"
    assert error.get("code") == "3001"
    assert error.find("i:Message", NS).text.startswith("message=ThrottleExceeded")


def test_fault_inside_http_200(qbo_sandbox, qbo_api):
    qbo_sandbox.state.inject_fault("json_fault_200", code="6000")
    response = qbo_api.get("/preferences")
    assert response.status_code == 200
    assert response.json()["Fault"]["Error"][0]["code"] == "6000"


def test_rules_match_realm_and_path(qbo_sandbox):
    arm(qbo_sandbox, kind="503", realm=SECOND_REALM_ID, path_contains="/cdc")
    with sandbox_api_client(qbo_sandbox) as first, sandbox_api_client(qbo_sandbox, SECOND_REALM_ID) as second:
        params = {"entities": "Bill", "changedSince": "2026-11-01T00:00:00Z"}
        assert first.get("/cdc", params=params).status_code != 503
        assert second.get("/preferences").status_code == 200
        assert second.get("/cdc", params=params).status_code == 503


def test_an_injected_429_names_its_window_only_when_asked(qbo_sandbox, qbo_api):
    arm(qbo_sandbox, kind="429", count=1)
    arm(qbo_sandbox, kind="429", count=1, retry_after=1.5)
    plain, announced = qbo_api.get("/preferences"), qbo_api.get("/preferences")
    assert (plain.status_code, announced.status_code) == (429, 429)
    assert "Retry-After" not in plain.headers  # QBO is not known to send one: the default sends none
    assert announced.headers["Retry-After"] == "1.5"
    bad = httpx.post(f"{qbo_sandbox.base_url}/_sandbox/faults", json={"kind": "500", "retry_after": 1})
    assert bad.status_code == 400 and "retry_after" in bad.text


def test_unknown_fault_kind_is_refused(qbo_sandbox):
    response = httpx.post(f"{qbo_sandbox.base_url}/_sandbox/faults", json={"kind": "teapot"})
    assert response.status_code == 400


def test_control_endpoints_reset_and_expire(qbo_sandbox, qbo_api):
    qbo_api.post("/class", json={"Name": "Temporary"})
    stats = httpx.get(f"{qbo_sandbox.base_url}/_sandbox/stats").json()
    assert stats["realms"][qbo_sandbox.realm_id]["writes"] == {"Class": 1}
    assert httpx.post(f"{qbo_sandbox.base_url}/_sandbox/tokens/expire", json={}).json()["expired"] >= 1
    assert qbo_api.get("/preferences").status_code == 401
    assert httpx.post(f"{qbo_sandbox.base_url}/_sandbox/reset").status_code == 200
    assert httpx.get(f"{qbo_sandbox.base_url}/_sandbox/stats").json()["realms"][qbo_sandbox.realm_id]["writes"] == {}


def test_control_endpoints_move_the_clock_and_set_preferences(qbo_sandbox, qbo_api):
    before = qbo_sandbox.state.clock.now()
    moved = httpx.post(f"{qbo_sandbox.base_url}/_sandbox/clock", json={"advance_seconds": 3600})
    assert moved.status_code == 200
    assert (qbo_sandbox.state.clock.now() - before).total_seconds() >= 3600
    assert qbo_api.get("/preferences").status_code == 401  # the minted token lived one hour
    switched = httpx.post(
        f"{qbo_sandbox.base_url}/_sandbox/preferences", json={"name": "WarnDuplicateJournalNumber", "value": True}
    )
    assert switched.status_code == 200
    assert qbo_sandbox.state.store().other_pref("WarnDuplicateJournalNumber") is True
