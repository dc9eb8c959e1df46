"""CRUD over HTTP with QBO's rules: Id/SyncToken/MetaData, 5010, sparse updates, validation faults."""

from __future__ import annotations

import pytest


def expense_bill(vendor_id: str = "2", account_id: str = "14", amount=125.5, **extra) -> dict:
    return {
        "VendorRef": {"value": vendor_id},
        "Line": [
            {
                "Amount": amount,
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account_id}},
            }
        ],
        **extra,
    }


def fault_of(response) -> dict:
    return response.json()["Fault"]["Error"][0]


def account_id(api, acct_num: str) -> str:
    found = api.get("/query", params={"query": f"select * from Account where AcctNum = '{acct_num}'"})
    return found.json()["QueryResponse"]["Account"][0]["Id"]


def test_create_bill_assigns_id_synctoken_metadata_and_totals(qbo_api):
    response = qbo_api.post("/bill", json=expense_bill(amount=125.5, DocNumber="T-1"))
    assert response.status_code == 200
    bill = response.json()["Bill"]
    assert bill["Id"] and bill["SyncToken"] == "0"
    assert bill["domain"] == "QBO" and bill["sparse"] is False
    assert bill["MetaData"]["CreateTime"] == bill["MetaData"]["LastUpdatedTime"]
    assert bill["MetaData"]["CreateTime"][-6] in "+-"
    assert bill["TotalAmt"] == 125.5 and bill["Balance"] == 125.5
    assert bill["VendorRef"] == {"value": "2", "name": "Precision Machining Partners"}
    assert bill["Line"][0]["Id"] == "1"
    read = qbo_api.get(f"/bill/{bill['Id']}")
    assert read.json()["Bill"] == bill


def test_update_increments_synctoken_and_stale_token_gets_5010(qbo_api):
    bill = qbo_api.post("/bill", json=expense_bill()).json()["Bill"]
    update = {**bill, "PrivateNote": "checked"}
    updated = qbo_api.post("/bill", json=update).json()["Bill"]
    assert updated["SyncToken"] == "1"
    assert updated["PrivateNote"] == "checked"
    assert updated["MetaData"]["CreateTime"] == bill["MetaData"]["CreateTime"]
    stale = qbo_api.post("/bill", json={**bill, "PrivateNote": "late"})
    assert stale.status_code == 400
    assert fault_of(stale)["code"] == "5010"
    assert fault_of(stale)["Message"] == "Stale Object Error"
    assert stale.json()["Fault"]["type"] == "ValidationFault"


def test_sparse_update_keeps_unsent_fields_and_full_update_clears_them(qbo_api):
    bill = qbo_api.post("/bill", json=expense_bill(PrivateNote="keep me", DocNumber="SP-1")).json()["Bill"]
    sparse = qbo_api.post(
        "/bill", json={"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True, "DueDate": "2030-01-31"}
    ).json()["Bill"]
    assert sparse["PrivateNote"] == "keep me"
    assert sparse["DueDate"] == "2030-01-31"
    assert sparse["Line"] == bill["Line"]
    full = qbo_api.post("/bill", json={**expense_bill(amount=10), "Id": bill["Id"], "SyncToken": sparse["SyncToken"]})
    assert "PrivateNote" not in full.json()["Bill"]
    assert full.json()["Bill"]["TotalAmt"] == 10.0


def test_required_fields_and_references_are_validated(qbo_api):
    missing_vendor = qbo_api.post("/bill", json={"Line": expense_bill()["Line"]})
    assert missing_vendor.status_code == 400
    assert fault_of(missing_vendor)["code"] == "2020"
    assert fault_of(missing_vendor)["element"] == "VendorRef"
    no_lines = qbo_api.post("/bill", json={"VendorRef": {"value": "1"}})
    assert fault_of(no_lines)["code"] == "2020"
    unknown_account = qbo_api.post("/bill", json=expense_bill(account_id="9999"))
    assert fault_of(unknown_account)["code"] == "2500"
    assert "9999" in fault_of(unknown_account)["Detail"]
    no_account = qbo_api.post(
        "/bill",
        json={"VendorRef": {"value": "1"}, "Line": [{"Amount": 1, "DetailType": "AccountBasedExpenseLineDetail"}]},
    )
    assert fault_of(no_account)["code"] == "2020"


def test_inactive_vendor_cannot_be_used_and_name_lists_cannot_be_deleted(qbo_api):
    vendor = qbo_api.get("/vendor/3").json()["Vendor"]
    deleted = qbo_api.post("/vendor", params={"operation": "delete"}, json=vendor)
    assert deleted.status_code == 400
    assert fault_of(deleted)["code"] == "500"
    inactive = qbo_api.post(
        "/vendor", json={"Id": "3", "SyncToken": vendor["SyncToken"], "sparse": True, "Active": False}
    ).json()["Vendor"]
    assert inactive["Active"] is False
    assert inactive["DisplayName"] == vendor["DisplayName"]
    refused = qbo_api.post("/bill", json=expense_bill(vendor_id="3"))
    assert fault_of(refused)["code"] == "610"


def test_unbalanced_journal_entry_is_refused_and_balanced_one_posts(qbo_api):
    def line(amount, posting, account):
        return {
            "Amount": amount,
            "DetailType": "JournalEntryLineDetail",
            "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": {"value": account}},
        }

    rent, checking = account_id(qbo_api, "6400"), account_id(qbo_api, "1010")
    unbalanced = qbo_api.post(
        "/journalentry", json={"Line": [line(100, "Debit", rent), line(99.99, "Credit", checking)]}
    )
    assert unbalanced.status_code == 400
    assert fault_of(unbalanced)["code"] == "6000"
    assert "balance" in fault_of(unbalanced)["Detail"]
    balanced = qbo_api.post("/journalentry", json={"Line": [line(100, "Debit", rent), line(100, "Credit", checking)]})
    assert balanced.status_code == 200
    assert balanced.json()["JournalEntry"]["TotalAmt"] == 100.0


def test_journal_line_on_accounts_payable_needs_a_vendor(qbo_api):
    ap, rent = account_id(qbo_api, "2000"), account_id(qbo_api, "6400")
    lines = [
        {
            "Amount": 5,
            "DetailType": "JournalEntryLineDetail",
            "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": ap}},
        },
        {
            "Amount": 5,
            "DetailType": "JournalEntryLineDetail",
            "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": rent}},
        },
    ]
    refused = qbo_api.post("/journalentry", json={"Line": lines})
    assert fault_of(refused)["code"] == "6000"
    lines[0]["JournalEntryLineDetail"]["Entity"] = {"EntityRef": {"value": "1"}, "Type": "Vendor"}
    assert qbo_api.post("/journalentry", json={"Line": lines}).status_code == 200


def test_duplicate_bill_number_follows_the_company_preference(qbo_sandbox, qbo_api):
    assert qbo_api.post("/bill", json=expense_bill(DocNumber="DUP-1")).status_code == 200
    duplicate = qbo_api.post("/bill", json=expense_bill(DocNumber="DUP-1"))
    assert duplicate.status_code == 400
    assert fault_of(duplicate)["code"] == "6140"
    assert "DocNumber=DUP-1" in fault_of(duplicate)["Detail"]
    allowed = qbo_api.post("/bill", params={"include": "allowduplicatedocnum"}, json=expense_bill(DocNumber="DUP-1"))
    assert allowed.status_code == 200
    qbo_sandbox.state.set_preference("WarnDuplicateBillNumber", False)
    assert qbo_api.post("/bill", json=expense_bill(DocNumber="DUP-1")).status_code == 200
    stats = qbo_sandbox.state.stats()["realms"][qbo_sandbox.realm_id]
    assert stats["duplicate_docnumber_rejections"] == 1
    assert stats["writes"]["Bill"] == 3
    assert stats["duplicate_documents_stored"] == 2


def test_duplicate_bill_number_follows_renumbering_deletes_and_vendors(qbo_api):
    first = qbo_api.post("/bill", json=expense_bill(DocNumber="RN-1")).json()["Bill"]
    renumbered = qbo_api.post(
        "/bill", json={"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True, "DocNumber": "RN-2"}
    )
    assert renumbered.status_code == 200
    # The old number is free once its bill carries another; the new one is taken.
    assert qbo_api.post("/bill", json=expense_bill(DocNumber="RN-1")).status_code == 200
    taken = qbo_api.post("/bill", json=expense_bill(DocNumber="RN-2"))
    assert taken.status_code == 400 and f"TxnId={first['Id']}" in fault_of(taken)["Detail"]
    # The same number for another vendor is not a duplicate bill number.
    assert qbo_api.post("/bill", json=expense_bill(vendor_id="3", DocNumber="RN-2")).status_code == 200
    current = renumbered.json()["Bill"]
    gone = qbo_api.post("/bill", params={"operation": "delete"}, json={"Id": current["Id"], "SyncToken": "1"})
    assert gone.status_code == 200
    assert qbo_api.post("/bill", json=expense_bill(DocNumber="RN-2")).status_code == 200


def test_delete_bill_leaves_it_unreadable(qbo_api):
    bill = qbo_api.post("/bill", json=expense_bill()).json()["Bill"]
    deleted = qbo_api.post("/bill", params={"operation": "delete"}, json={"Id": bill["Id"], "SyncToken": "0"})
    assert deleted.json()["Bill"] == {"domain": "QBO", "status": "Deleted", "Id": bill["Id"]}
    gone = qbo_api.get(f"/bill/{bill['Id']}")
    assert gone.status_code == 400
    assert fault_of(gone)["code"] == "610"


def test_void_invoice_zeroes_it_and_bill_cannot_be_voided(qbo_api):
    invoice = qbo_api.get("/invoice/1").json()["Invoice"]
    assert invoice["TotalAmt"] > 0
    assert invoice["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    voided = qbo_api.post(
        "/invoice", params={"operation": "void"}, json={"Id": "1", "SyncToken": invoice["SyncToken"]}
    ).json()["Invoice"]
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert voided["SyncToken"] == str(int(invoice["SyncToken"]) + 1)
    bill = qbo_api.get("/bill/1").json()["Bill"]
    refused = qbo_api.post("/bill", params={"operation": "void"}, json={"Id": "1", "SyncToken": bill["SyncToken"]})
    assert fault_of(refused)["code"] == "500"


def test_invoice_gets_a_number_and_due_date_from_the_customer_terms(qbo_api):
    customer = qbo_api.get("/customer/1").json()["Customer"]
    created = qbo_api.post(
        "/invoice",
        json={
            "CustomerRef": {"value": "1"},
            "TxnDate": "2026-11-02",
            "Line": [
                {"Amount": 900, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}
            ],
        },
    ).json()["Invoice"]
    assert created["DocNumber"]
    assert created["SalesTermRef"]["value"] == customer["SalesTermRef"]["value"]
    assert created["DueDate"] == "2026-12-02"


@pytest.mark.parametrize(
    ("entity", "payload"),
    [
        ("vendor", {"DisplayName": "New Vendor", "AcctNum": "42"}),
        ("customer", {"DisplayName": "New Customer"}),
        ("account", {"Name": "New Expense", "AccountType": "Expense", "AcctNum": "6900"}),
        ("class", {"Name": "New Class"}),
        ("term", {"Name": "Net 45", "DueDays": 45}),
        ("department", {"Name": "Plant 3"}),
        ("item", {"Name": "New Item", "Type": "Service", "IncomeAccountRef": {"value": "9"}}),
    ],
)
def test_name_list_entities_create_and_reject_duplicate_names(qbo_api, entity, payload):
    created = qbo_api.post(f"/{entity}", json=payload)
    assert created.status_code == 200, created.text
    assert created.json()[next(iter(created.json()))]["Active"] is True
    duplicate = qbo_api.post(f"/{entity}", json=payload)
    assert duplicate.status_code == 400
    assert fault_of(duplicate)["code"] == "6240"


def test_vendor_and_customer_share_display_names(qbo_api):
    refused = qbo_api.post("/customer", json={"DisplayName": "Great Lakes Steel Supply"})
    assert fault_of(refused)["code"] == "6240"


def test_vendor_credit_posts_like_a_bill(qbo_api):
    credit = qbo_api.post("/vendorcredit", json=expense_bill(amount=40)).json()["VendorCredit"]
    assert credit["TotalAmt"] == 40.0
    deleted = qbo_api.post("/vendorcredit", params={"operation": "delete"}, json=credit)
    assert deleted.json()["VendorCredit"]["status"] == "Deleted"


def test_unknown_id_is_object_not_found(qbo_api):
    response = qbo_api.get("/vendor/99999")
    assert response.status_code == 400
    assert fault_of(response)["code"] == "610"


def test_preferences_and_company_info(qbo_sandbox, qbo_api):
    preferences = qbo_api.get("/preferences").json()["Preferences"]
    names = {pair["Name"]: pair["Value"] for pair in preferences["OtherPrefs"]["NameValue"]}
    assert names["WarnDuplicateBillNumber"] == "true"
    assert preferences["AccountingInfoPrefs"]["ClassTrackingPerTxnLine"] is True
    info = qbo_api.get(f"/companyinfo/{qbo_sandbox.realm_id}").json()["CompanyInfo"]
    assert info["CompanyName"] == "Northwind Fabrication LLC"


def test_malformed_json_body_is_a_validation_fault(qbo_api):
    response = qbo_api.post("/bill", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["Fault"]["type"] == "ValidationFault"
