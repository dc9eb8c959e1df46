"""Batch: per-item results and faults, queries inside a batch, the 30-item limit, requestid replay."""

from __future__ import annotations

from qbo_sftp_assets_tests.sandbox.test_sandbox_entities import expense_bill


def test_batch_answers_each_item_with_its_object_or_its_own_fault(qbo_sandbox, qbo_api):
    stale = qbo_api.get("/bill/2").json()["Bill"]
    qbo_api.post("/bill", json={"Id": "2", "SyncToken": stale["SyncToken"], "sparse": True, "PrivateNote": "x"})
    request = {
        "BatchItemRequest": [
            {"bId": "b1", "operation": "create", "Bill": expense_bill(DocNumber="B-1")},
            {"bId": "b2", "operation": "create", "Bill": {"Line": expense_bill()["Line"]}},
            {"bId": "b3", "operation": "update", "Bill": {**stale, "PrivateNote": "late"}},
            {"bId": "b4", "Query": "select * from Vendor where Id = '1'"},
            {"bId": "b5", "operation": "delete", "Bill": {"Id": "3", "SyncToken": "0"}},
        ]
    }
    response = qbo_api.post("/batch", json=request)
    assert response.status_code == 200
    items = {item["bId"]: item for item in response.json()["BatchItemResponse"]}
    assert items["b1"]["Bill"]["DocNumber"] == "B-1"
    assert items["b2"]["Fault"]["Error"][0]["code"] == "2020"
    assert items["b2"]["Fault"]["type"] == "ValidationFault"
    assert items["b3"]["Fault"]["Error"][0]["code"] == "5010"
    assert items["b4"]["QueryResponse"]["Vendor"][0]["Id"] == "1"
    assert items["b5"]["Bill"]["status"] == "Deleted"
    stats = qbo_sandbox.state.stats()["realms"][qbo_sandbox.realm_id]
    assert stats["batch_requests"] == 1
    assert stats["writes"]["Bill"] == 3


def test_batch_over_30_items_is_refused_whole(qbo_sandbox, qbo_api):
    request = {
        "BatchItemRequest": [
            {"bId": f"b{index}", "operation": "create", "Bill": expense_bill(DocNumber=f"L-{index}")}
            for index in range(31)
        ]
    }
    response = qbo_api.post("/batch", json=request)
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "1040"
    assert qbo_sandbox.state.stats()["realms"][qbo_sandbox.realm_id]["writes"] == {}


def test_batch_void_via_options_data(qbo_api):
    invoice = qbo_api.get("/invoice/2").json()["Invoice"]
    request = {
        "BatchItemRequest": [
            {
                "bId": "v1",
                "operation": "update",
                "optionsData": "void",
                "Invoice": {"Id": "2", "SyncToken": invoice["SyncToken"]},
            }
        ]
    }
    item = qbo_api.post("/batch", json=request).json()["BatchItemResponse"][0]
    assert item["Invoice"]["TotalAmt"] == 0


def test_batch_with_the_same_requestid_is_replayed_not_rerun(qbo_sandbox, qbo_api):
    request = {"BatchItemRequest": [{"bId": "r1", "operation": "create", "Bill": expense_bill(DocNumber="RB-1")}]}
    first = qbo_api.post("/batch", params={"requestid": "batch-0001"}, json=request)
    second = qbo_api.post("/batch", params={"requestid": "batch-0001"}, json=request)
    assert first.content == second.content
    stats = qbo_sandbox.state.stats()["realms"][qbo_sandbox.realm_id]
    assert stats["writes"]["Bill"] == 1
    assert stats["requestid_replays"] == 1


def test_batch_with_requestid_limits_bid_to_10_characters(qbo_api):
    request = {"BatchItemRequest": [{"bId": "b" * 11, "Query": "select count(*) from Bill"}]}
    refused = qbo_api.post("/batch", params={"requestid": "batch-long-bid"}, json=request)
    assert refused.status_code == 400
    assert refused.json()["Fault"]["Error"][0]["element"] == "bId"
    assert qbo_api.post("/batch", json=request).status_code == 200
