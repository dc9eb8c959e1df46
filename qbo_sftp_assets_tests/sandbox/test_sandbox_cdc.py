"""Change data capture: changes since a time, the 30-day limit, the 1000-object cap, Deleted tombstones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qbo_sftp_assets_tests.fixtures_qbo import sandbox_api_client
from qbo_sftp_assets_tests.sandbox.test_sandbox_entities import expense_bill


def cdc(api, entities: str, since: datetime):
    return api.get("/cdc", params={"entities": entities, "changedSince": since.isoformat()})


def by_entity(response) -> dict:
    found = {}
    for element in response.json()["CDCResponse"][0]["QueryResponse"]:
        for key, value in element.items():
            if isinstance(value, list):
                found[key] = value
    return found


def test_cdc_returns_created_updated_and_deleted_objects(qbo_sandbox, qbo_api):
    since = qbo_sandbox.state.clock.now() - timedelta(seconds=1)
    created = qbo_api.post("/bill", json=expense_bill(DocNumber="C-1")).json()["Bill"]
    doomed = qbo_api.post("/bill", json=expense_bill(DocNumber="C-2")).json()["Bill"]
    qbo_api.post("/bill", params={"operation": "delete"}, json={"Id": doomed["Id"], "SyncToken": "0"})
    vendor = qbo_api.post("/vendor", json={"DisplayName": "CDC Vendor"}).json()["Vendor"]
    response = cdc(qbo_api, "Bill,Vendor", since)
    assert response.status_code == 200
    assert set(response.json()) == {"CDCResponse", "time"}
    changes = by_entity(response)
    bills = {row["Id"]: row for row in changes["Bill"]}
    assert bills[created["Id"]]["DocNumber"] == "C-1"
    assert bills[doomed["Id"]]["status"] == "Deleted"
    assert set(bills[doomed["Id"]]) == {"domain", "status", "Id", "MetaData"}
    assert [row["Id"] for row in changes["Vendor"]] == [vendor["Id"]]


def test_cdc_older_than_30_days_is_refused(qbo_sandbox, qbo_api):
    too_old = qbo_sandbox.state.clock.now() - timedelta(days=31)
    response = cdc(qbo_api, "Bill", too_old)
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["element"] == "changedSince"
    assert cdc(qbo_api, "Bill", too_old + timedelta(days=2)).status_code == 200


def test_cdc_without_changes_lists_no_objects(qbo_api):
    response = cdc(qbo_api, "Class", datetime.now(UTC) - timedelta(days=1))
    assert response.status_code == 200
    assert by_entity(response) == {}


def test_cdc_caps_an_answer_at_the_object_limit_oldest_first(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(cdc_max_objects=5)
    since = sandbox.state.clock.now() - timedelta(seconds=1)
    with sandbox_api_client(sandbox) as api:
        names = [api.post("/class", json={"Name": f"C{index}"}).json()["Class"]["Name"] for index in range(8)]
        changes = by_entity(cdc(api, "Class", since))
    assert [row["Name"] for row in changes["Class"]] == names[:5]


def test_cdc_needs_entities_and_changed_since(qbo_api):
    assert qbo_api.get("/cdc", params={"entities": "Bill"}).status_code == 400
    assert qbo_api.get("/cdc", params={"changedSince": "2026-01-01T00:00:00Z"}).status_code == 400
