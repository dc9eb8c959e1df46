"""QBO entities as the sandbox returns them become neutral documents with the same money and references."""

from decimal import Decimal

import pytest

from qbo_sftp_assets.mapping.from_qbo import (
    UnexpectedQboEntity,
    account_from_qbo,
    bill_from_qbo,
    class_from_qbo,
    invoice_from_qbo,
    vendor_from_qbo,
)


def query(api, entity: str) -> list[dict]:
    response = api.get("query", params={"query": f"SELECT * FROM {entity}", "minorversion": "75"})
    response.raise_for_status()
    return response.json()["QueryResponse"][entity]


def test_bills_keep_vendor_lines_and_total(qbo_api):
    for raw in query(qbo_api, "Bill"):
        bill = bill_from_qbo(raw)
        assert bill.vendor.id == raw["VendorRef"]["value"]
        assert bill.lines_total == Decimal(str(raw["TotalAmt"])) == bill.total
        assert all(line.account for line in bill.lines)
        assert bill.source.file == f"qbo:Bill/{raw['Id']}@{raw['SyncToken']}"


def test_invoices_keep_customer_items_and_quantities(qbo_api):
    for raw in query(qbo_api, "Invoice"):
        invoice = invoice_from_qbo(raw)
        assert invoice.customer.name == raw["CustomerRef"]["name"]
        assert invoice.lines_total == Decimal(str(raw["TotalAmt"]))
        assert all(line.item and line.quantity for line in invoice.lines)


def test_reference_lists_convert(qbo_api):
    vendors = [vendor_from_qbo(raw) for raw in query(qbo_api, "Vendor")]
    accounts = [account_from_qbo(raw) for raw in query(qbo_api, "Account")]
    classes = [class_from_qbo(raw) for raw in query(qbo_api, "Class")]
    assert "Great Lakes Steel Supply" in {v.name for v in vendors}
    assert any(a.number == "5000" for a in accounts)
    assert {c.name for c in classes} >= {"Welding"}


def test_a_bill_without_a_vendor_names_the_field():
    with pytest.raises(UnexpectedQboEntity, match="Bill 7: QBO returned no VendorRef"):
        bill_from_qbo({"Id": "7", "TxnDate": "2026-11-01", "Line": []})
