"""Several companies at once, each with its own data; deterministic seed data for a small manufacturer."""

from __future__ import annotations

from qbo_sftp_assets.sandbox.qbo_server import SECOND_REALM_ID, SandboxSettings, start_sandbox
from qbo_sftp_assets_tests.fixtures_qbo import sandbox_api_client


def rows(api, entity: str) -> list[dict]:
    response = api.get("/query", params={"query": f"select * from {entity} orderby Id maxresults 1000"})
    return response.json()["QueryResponse"].get(entity, [])


def test_realms_hold_separate_data(qbo_sandbox):
    with sandbox_api_client(qbo_sandbox) as first, sandbox_api_client(qbo_sandbox, SECOND_REALM_ID) as second:
        first.post("/class", json={"Name": "Only in the first realm"})
        assert "Only in the first realm" in {row["Name"] for row in rows(first, "Class")}
        assert "Only in the first realm" not in {row["Name"] for row in rows(second, "Class")}
        assert second.get(f"/companyinfo/{SECOND_REALM_ID}").json()["CompanyInfo"]["CompanyName"] == "Harbor Supply Co."
        assert len(rows(first, "Vendor")) != len(rows(second, "Vendor"))
        assert first.get(f"/companyinfo/{SECOND_REALM_ID}").status_code == 400


def test_seed_is_a_small_manufacturer_with_numbered_accounts_and_open_documents(qbo_sandbox):
    with sandbox_api_client(qbo_sandbox) as api:
        accounts = rows(api, "Account")
        types = {row["AccountType"] for row in accounts}
        assert {"Bank", "Accounts Payable", "Accounts Receivable", "Income", "Cost of Goods Sold", "Expense"} <= types
        assert all(row["AcctNum"].isdigit() for row in accounts)
        vendors = rows(api, "Vendor")
        assert all(row["AcctNum"].isdigit() for row in vendors)
        assert {row["Name"] for row in rows(api, "Term")} >= {"Net 15", "Net 30"}
        assert rows(api, "Class") and rows(api, "Item") and rows(api, "Department") and rows(api, "Customer")
        assert all(row["Balance"] > 0 for row in rows(api, "Bill"))
        assert all(row["Balance"] > 0 for row in rows(api, "Invoice"))


def test_seed_is_deterministic():
    def snapshot() -> dict:
        with start_sandbox(SandboxSettings()) as sandbox, sandbox_api_client(sandbox) as api:
            return {
                entity: [
                    {key: value for key, value in row.items() if key not in ("MetaData", "TxnDate", "DueDate")}
                    for row in rows(api, entity)
                ]
                for entity in ("Account", "Vendor", "Customer", "Item", "Bill", "Invoice")
            }

    assert snapshot() == snapshot()


def test_seed_can_be_switched_off(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(seed=False)
    with sandbox_api_client(sandbox) as api:
        assert rows(api, "Vendor") == []
        assert api.get("/preferences").status_code == 200
