"""Entities next to the bill flow over HTTP: TaxCode, Employee, BillPayment, Attachable (upload/download), currency."""

from __future__ import annotations

import httpx

from qbo_sftp_assets_tests.sandbox.test_sandbox_entities import expense_bill, fault_of


def query_rows(api: httpx.Client, entity: str, where: str = "") -> list[dict]:
    response = api.get("/query", params={"query": f"select * from {entity} {where}".strip()})
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"].get(entity, [])


def test_tax_codes_are_read_only_and_bill_lines_must_name_one_that_exists(qbo_api):
    codes = {row["Id"]: row for row in query_rows(qbo_api, "TaxCode")}
    assert set(codes) == {"TAX", "NON"}
    assert codes["TAX"]["Taxable"] is True and codes["NON"]["Taxable"] is False
    assert qbo_api.get("/taxcode/TAX").json()["TaxCode"]["Name"] == "TAX"
    refused = qbo_api.post("/taxcode", json={"Name": "NEW"})
    assert refused.status_code == 400 and fault_of(refused)["code"] == "500"
    bill = expense_bill()
    bill["Line"][0]["AccountBasedExpenseLineDetail"]["TaxCodeRef"] = {"value": "TAX"}
    saved = qbo_api.post("/bill", json=bill).json()["Bill"]
    assert saved["Line"][0]["AccountBasedExpenseLineDetail"]["TaxCodeRef"] == {"value": "TAX"}
    bill["Line"][0]["AccountBasedExpenseLineDetail"]["TaxCodeRef"] = {"value": "GST"}
    unknown = qbo_api.post("/bill", json=bill)
    assert unknown.status_code == 400 and fault_of(unknown)["code"] == "2500"
    # Intuit's CDC page lists TaxCode among the entities CDC does not serve.
    cdc = qbo_api.get("/cdc", params={"entities": "TaxCode", "changedSince": "2020-01-01T00:00:00Z"})
    assert cdc.status_code == 400


def test_employees_share_the_display_name_namespace_and_journal_lines_can_name_one(qbo_api):
    employees = query_rows(qbo_api, "Employee")
    assert len(employees) == 3 and employees[0]["DisplayName"] == "Dana Whitaker"
    created = qbo_api.post("/employee", json={"GivenName": "Sam", "FamilyName": "Ng"}).json()["Employee"]
    assert created["DisplayName"] == "Sam Ng" and created["Active"] is True
    clash = qbo_api.post("/vendor", json={"DisplayName": "sam ng"})
    assert clash.status_code == 400 and fault_of(clash)["code"] == "6240"
    rent = query_rows(qbo_api, "Account", "where AcctNum = '6400'")[0]["Id"]
    checking = query_rows(qbo_api, "Account", "where AcctNum = '1010'")[0]["Id"]
    entry = {
        "Line": [
            {
                "Amount": "40.00",
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {
                    "PostingType": posting,
                    "AccountRef": {"value": account},
                    "Entity": {"Type": "Employee", "EntityRef": {"value": created["Id"]}},
                },
            }
            for posting, account in (("Debit", rent), ("Credit", checking))
        ]
    }
    saved = qbo_api.post("/journalentry", json=entry).json()["JournalEntry"]
    entity = saved["Line"][0]["JournalEntryLineDetail"]["Entity"]
    assert entity == {"Type": "Employee", "EntityRef": {"value": created["Id"], "name": "Sam Ng"}}
    delete = qbo_api.post("/employee", params={"operation": "delete"}, json={"Id": created["Id"], "SyncToken": "0"})
    assert delete.status_code == 400  # name lists are made inactive, not deleted


def pay(api: httpx.Client, bill: dict, amount: str, total: str | None = None, vendor: str | None = None):
    checking = query_rows(api, "Account", "where AcctNum = '1010'")[0]["Id"]
    return api.post(
        "/billpayment",
        json={
            "VendorRef": {"value": vendor or bill["VendorRef"]["value"]},
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": checking}},
            "TotalAmt": total or amount,
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )


def test_a_bill_payment_lowers_the_balance_and_links_the_bill_and_voiding_undoes_it(qbo_api):
    bill = qbo_api.post("/bill", json=expense_bill(amount="300.00")).json()["Bill"]
    payment = pay(qbo_api, bill, "120.00").json()["BillPayment"]
    paid = qbo_api.get(f"/bill/{bill['Id']}").json()["Bill"]
    assert paid["Balance"] == 180.0 and paid["TotalAmt"] == 300.0
    assert paid["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "BillPayment"}]
    assert paid["SyncToken"] == "1"
    rest = pay(qbo_api, paid, "180.00").json()["BillPayment"]
    assert qbo_api.get(f"/bill/{bill['Id']}").json()["Bill"]["Balance"] == 0.0
    too_much = pay(qbo_api, paid, "0.01")
    assert too_much.status_code == 400 and fault_of(too_much)["code"] == "6000"
    voided = qbo_api.post(
        "/billpayment",
        params={"operation": "update", "include": "void"},
        json={"Id": rest["Id"], "SyncToken": rest["SyncToken"], "sparse": True},
    ).json()["BillPayment"]
    assert voided["TotalAmt"] == 0.0 and "Voided" in voided["PrivateNote"]
    after_void = qbo_api.get(f"/bill/{bill['Id']}").json()["Bill"]
    assert after_void["Balance"] == 180.0
    assert after_void["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "BillPayment"}]
    refused = qbo_api.post("/bill", params={"operation": "delete"}, json={"Id": bill["Id"], "SyncToken": "3"})
    assert refused.status_code == 400 and "payments applied" in fault_of(refused)["Detail"]
    qbo_api.post("/billpayment", params={"operation": "delete"}, json={"Id": payment["Id"], "SyncToken": "0"})
    unpaid = qbo_api.get(f"/bill/{bill['Id']}").json()["Bill"]
    assert unpaid["Balance"] == 300.0 and "LinkedTxn" not in unpaid


def test_bill_payment_rules(qbo_api):
    bill = qbo_api.post("/bill", json=expense_bill(amount="50.00")).json()["Bill"]
    other_vendor = pay(qbo_api, bill, "10.00", vendor="3")
    assert other_vendor.status_code == 400 and "another vendor" in fault_of(other_vendor)["Detail"]
    short_total = pay(qbo_api, bill, "10.00", total="5.00")
    assert short_total.status_code == 400 and fault_of(short_total)["element"] == "TotalAmt"
    missing = qbo_api.post("/billpayment", json={"VendorRef": {"value": "2"}, "PayType": "Check", "TotalAmt": 1})
    assert missing.status_code == 400
    seeded = query_rows(qbo_api, "BillPayment")
    assert len(seeded) == 1 and seeded[0]["TotalAmt"] == 1000.0


def upload(api: httpx.Client, content: bytes, name: str, bill_id: str) -> httpx.Response:
    metadata = {"AttachableRef": [{"EntityRef": {"type": "Bill", "value": bill_id}}], "FileName": name}
    return api.post(
        "/upload",
        files={
            "file_metadata_0": (None, httpx.Request("POST", "/", json=metadata).content, "application/json"),
            "file_content_0": (name, content, "text/plain"),
        },
        params={"requestid": f"up-{name}"},
    )


def test_upload_links_the_partner_file_to_a_bill_and_the_download_link_returns_its_bytes(qbo_api):
    original = b"ISA*00*          *00*          *ZZ*PARTNER...~\r\nGS*IN*PARTNER*US*20261124*1200*7*X*004010~\n"
    response = upload(qbo_api, original, "inv-7.edi.txt", "3")
    assert response.status_code == 200, response.text
    attachable = response.json()["AttachableResponse"][0]["Attachable"]
    assert attachable["FileName"] == "inv-7.edi.txt" and attachable["Size"] == len(original)
    assert attachable["AttachableRef"][0]["EntityRef"] == {"type": "Bill", "value": "3"}
    assert attachable["FileAccessUri"].endswith(f"/download/{attachable['Id']}")
    # The same requestid replays the answer instead of storing the file twice.
    assert upload(qbo_api, original, "inv-7.edi.txt", "3").json()["AttachableResponse"] == [{"Attachable": attachable}]
    linked = query_rows(qbo_api, "Attachable", "where AttachableRef.EntityRef.value = '3'")
    assert [row["Id"] for row in linked] == [attachable["Id"]]
    link = qbo_api.get(f"/download/{attachable['Id']}")
    assert link.headers["content-type"].startswith("text/plain")
    file = httpx.get(link.text)  # a presigned link: no bearer token
    assert file.content == original
    assert httpx.get(link.text[:-3] + "xyz").status_code == 404


def test_upload_faults_are_per_file_and_notes_need_a_note(qbo_api):
    missing_bill = upload(qbo_api, b"x", "a.txt", "9999")
    assert missing_bill.status_code == 200
    assert missing_bill.json()["AttachableResponse"][0]["Fault"]["Error"][0]["code"] == "2500"
    not_multipart = qbo_api.post("/upload", content=b"{}", headers={"Content-Type": "application/json"})
    assert not_multipart.status_code == 400
    no_note = qbo_api.post("/attachable", json={"AttachableRef": [{"EntityRef": {"type": "Bill", "value": "1"}}]})
    assert no_note.status_code == 400 and fault_of(no_note)["code"] == "2020"


def test_a_usd_company_refuses_a_eur_bill_until_multicurrency_is_on(qbo_sandbox, qbo_api):
    eur = qbo_api.post("/bill", json=expense_bill(CurrencyRef={"value": "EUR"}))
    assert eur.status_code == 400
    error = fault_of(eur)
    assert error["code"] == "6000" and error["element"] == "CurrencyRef"
    assert "Multicurrency is not enabled" in error["Detail"] and "EUR" in error["Detail"]
    invoice_line = {
        "Amount": 10,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    for path, body in (
        ("/vendor", {"DisplayName": "Euro Parts GmbH", "CurrencyRef": {"value": "EUR"}}),
        ("/invoice", {"CustomerRef": {"value": "1"}, "CurrencyRef": {"value": "EUR"}, "Line": [invoice_line]}),
    ):
        assert fault_of(qbo_api.post(path, json=body))["code"] == "6000"
    usd = qbo_api.post("/bill", json=expense_bill(CurrencyRef={"value": "usd"}))
    assert usd.json()["Bill"]["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    qbo_sandbox.state.set_preference("MultiCurrencyEnabled", True)
    accepted = qbo_api.post("/bill", json=expense_bill(CurrencyRef={"value": "EUR"}))
    assert accepted.status_code == 200 and accepted.json()["Bill"]["CurrencyRef"]["value"] == "EUR"
