"""Every client operation over HTTP against the sandbox QBO server: query, read, write, CDC, batch, preferences."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from qbo_sftp_assets.qbo.client import BatchItem, CdcWindowTooOld, QboClient
from qbo_sftp_assets.qbo.faults import QboNotFound, QboValidationError, StaleObjectConflict

pytestmark = pytest.mark.slow


def rid() -> str:
    return str(uuid.uuid4())


def expense_account_id(client: QboClient) -> str:
    return next(client.query("SELECT * FROM Account WHERE Name = 'Shop Supplies'"))["Id"]


def bill_body(client: QboClient, amount: str = "125.50", doc_number: str | None = None) -> dict[str, Any]:
    vendor = next(client.query("SELECT * FROM Vendor"))
    body: dict[str, Any] = {
        "VendorRef": {"value": vendor["Id"]},
        "Line": [
            {
                "Amount": Decimal(amount),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense_account_id(client)}},
            }
        ],
    }
    if doc_number:
        body["DocNumber"] = doc_number
    return body


def test_query_pages_through_every_row_and_counts(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox, page_size=3)
    total = client.count("Account")
    rows = list(client.query("SELECT * FROM Account ORDERBY Id"))
    assert total == len(rows) > 6
    assert len({row["Id"] for row in rows}) == total
    # Three rows a page means ceil(total / 3) (+1 when it divides evenly) query calls, all paged.
    assert client.stats["requests"] >= -(-total // 3)
    assert client.count("Account", "Name = 'Shop Supplies'") == 1


def test_every_call_has_realm_path_minorversion_and_json_accept(
    client_sandbox: Any, make_client: Any, caplog: Any
) -> None:
    client = make_client(client_sandbox)
    before = len(client_sandbox.state.request_log)
    with caplog.at_level(logging.INFO, logger="qbo_sftp_assets.qbo.client"):
        client.preferences()
    records = list(client_sandbox.state.request_log)[before:]
    assert [(r.path, r.minorversion) for r in records] == [(f"/v3/company/{client.realm_id}/preferences", "75")]
    line = next(r.getMessage() for r in caplog.records if "preferences" in r.getMessage())
    assert line.startswith("qbo GET preferences -> 200 intuit_tid=") and "elapsed=" in line


def test_read_create_and_sparse_update(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    created = client.create("Bill", bill_body(client), request_id=rid())
    assert created["TotalAmt"] == Decimal("125.5")
    fetched = client.read("bill", created["Id"])
    assert fetched["SyncToken"] == created["SyncToken"]
    updated = client.update("Bill", created["Id"], {"PrivateNote": "checked"}, request_id=rid())
    assert updated["PrivateNote"] == "checked"
    assert int(updated["SyncToken"]) == int(created["SyncToken"]) + 1
    # Sparse: the lines we did not send are still there.
    assert updated["Line"][0]["Amount"] == Decimal("125.5")
    with pytest.raises(QboNotFound):
        client.read("Bill", "999999")


def test_stale_sync_token_is_resolved_by_re_reading(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    vendor = client.create("Vendor", {"DisplayName": f"Conflict Co {uuid.uuid4().hex[:6]}"}, request_id=rid())
    stale = vendor["SyncToken"]
    client.update("Vendor", vendor["Id"], {"CompanyName": "Someone else"}, request_id=rid())
    updated = client.update(
        "Vendor",
        vendor["Id"],
        lambda current: {"Notes": f"seen {current['CompanyName']}"},
        request_id=rid(),
        sync_token=stale,
    )
    assert updated["Notes"] == "seen Someone else"


def test_persistent_conflict_gives_a_clear_error(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox, max_conflict_retries=0)
    vendor = client.create("Vendor", {"DisplayName": f"Busy Co {uuid.uuid4().hex[:6]}"}, request_id=rid())
    client.update("Vendor", vendor["Id"], {"CompanyName": "moved on"}, request_id=rid())
    with pytest.raises(StaleObjectConflict) as caught:
        client.update("Vendor", vendor["Id"], {"Notes": "x"}, request_id=rid(), sync_token=vendor["SyncToken"])
    assert caught.value.code == "5010"
    assert "kept changing" in str(caught.value)


def test_delete_void_and_deactivate(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    bill = client.create("Bill", bill_body(client), request_id=rid())
    client.delete("Bill", bill["Id"], request_id=rid())
    assert client.count("Bill", f"Id = '{bill['Id']}'") == 0
    invoice = next(client.query("SELECT * FROM Invoice"))
    voided = client.void("Invoice", invoice["Id"], request_id=rid())
    assert voided["TotalAmt"] == 0
    klass = client.create("Class", {"Name": f"Temp {uuid.uuid4().hex[:6]}"}, request_id=rid())
    assert client.deactivate("Class", klass["Id"], request_id=rid())["Active"] is False
    with pytest.raises(ValueError, match="does not allow void on Bill"):
        client.void("Bill", "1", request_id=rid())
    with pytest.raises(ValueError, match="transaction"):
        client.deactivate("Bill", "1", request_id=rid())


def test_cdc_returns_changes_and_tombstones(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    since = datetime.now(UTC) - timedelta(seconds=5)
    client_sandbox.state.advance_clock(0)
    kept = client.create("Bill", bill_body(client, "10.00"), request_id=rid())
    gone = client.create("Bill", bill_body(client, "20.00"), request_id=rid())
    client.delete("Bill", gone["Id"], request_id=rid())
    result = client.cdc(["Bill", "Vendor"], since)
    assert kept["Id"] in {b["Id"] for b in result.changed["Bill"]}
    assert gone["Id"] in {t.id for t in result.deleted["Bill"]}
    assert gone["Id"] not in {b["Id"] for b in result.changed["Bill"]}
    assert result.time


def test_cdc_older_than_30_days_is_refused_clearly(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    with pytest.raises(CdcWindowTooOld, match="30 days"):
        client.cdc(["Bill"], datetime.now(UTC) - timedelta(days=31))


def test_cdc_splits_a_window_that_hits_the_object_cap(make_client: Any) -> None:
    from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox

    with start_sandbox(SandboxSettings(cdc_max_objects=4)) as sandbox:
        client = make_client(sandbox, cdc_object_cap=4)
        since = sandbox.state.clock.now() - timedelta(seconds=1)
        ids = []
        for n in range(7):
            # QBO's timestamps have whole seconds: spread the changes so a window can be narrowed.
            sandbox.state.advance_clock(2)
            ids.append(client.create("Vendor", {"DisplayName": f"Cap Vendor {n}"}, request_id=rid())["Id"])
            sandbox.state.advance_clock(2)
            client.create("Class", {"Name": f"Cap Class {n}"}, request_id=rid())
        result = client.cdc(["Vendor", "Class"], since)
        assert sorted(v["Id"] for v in result.changed["Vendor"]) == sorted(ids)
        assert len(result.changed["Class"]) == 7
        assert result.requests > 3


def test_batch_chunks_by_30_and_reports_each_items_fault(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    before = client_sandbox.state.stats()["realms"][client.realm_id]["batch_requests"]
    good = bill_body(client, "5.00")
    bad = {**good, "VendorRef": {"value": "999999"}}
    items = [BatchItem("create", "Bill", good) for _ in range(33)]
    items[31] = BatchItem("create", "Bill", bad, bid="bad")
    items.append(BatchItem("query", query="SELECT * FROM Term"))
    results = client.batch(items, request_id=rid())
    after = client_sandbox.state.stats()["realms"][client.realm_id]["batch_requests"]
    assert after - before == 2
    assert len(results) == 34
    assert [r.bid for r in results][:3] == ["0", "1", "2"]
    failed = [r for r in results if not r.ok]
    assert [r.bid for r in failed] == ["bad"]
    assert isinstance(failed[0].error, QboValidationError) and failed[0].error.code == "2500"
    assert all(r.object and r.object["Id"] for r in results[:31])
    assert results[-1].query_response and results[-1].query_response["Term"]


def test_preferences_and_company_info(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    preferences = client.preferences()
    assert "AccountingInfoPrefs" in preferences or "OtherPrefs" in preferences
    assert client.company_info()["CompanyName"]
