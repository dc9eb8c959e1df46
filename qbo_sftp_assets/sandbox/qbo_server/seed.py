"""Deterministic seed data (from `seed_data.json`), preferences and company info for each realm."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from functools import cache
from importlib import resources

from qbo_sftp_assets.sandbox.qbo_server.clock import qbo_timestamp
from qbo_sftp_assets.sandbox.qbo_server.entities import ENTITY_KINDS
from qbo_sftp_assets.sandbox.qbo_server.settings import RealmSpec
from qbo_sftp_assets.sandbox.qbo_server.store import RealmStore

# Name lists are created well before the 30-day CDC window; open documents inside it.
NAME_LIST_AGE = timedelta(days=45)


@cache
def seed_profiles() -> dict:
    text = resources.files(__package__).joinpath("seed_data.json").read_text(encoding="utf-8")
    return json.loads(text)


def seed_realm(store: RealmStore, spec: RealmSpec, with_data: bool = True) -> None:
    """Set preferences and company info, then (unless disabled or profile "empty") the seed rows."""
    now = store.clock.now()
    store.preferences = default_preferences(now)
    store.company_info = company_info(spec, now)
    old = now - NAME_LIST_AGE
    # A US company without automated sales tax comes with the two codes lines refer to by Id.
    for code, taxable in (("TAX", True), ("NON", False)):
        store.create(ENTITY_KINDS["TaxCode"], {"Name": code, "Taxable": taxable}, at=old, entity_id=code)
    if not with_data or spec.seed_profile == "empty":
        return
    profile = seed_profiles()[spec.seed_profile]
    ids: dict[tuple[str, str], str] = {}

    def create(kind_name: str, payload: dict, key: str, at=old) -> str:
        row = store.create(ENTITY_KINDS[kind_name], payload, at=at).row
        ids[(kind_name, key)] = row.data["Id"]
        return row.data["Id"]

    for term in profile["terms"]:
        create("Term", term, term["Name"])
    for account in profile["accounts"]:
        create("Account", account, account["AcctNum"])
    for name in profile["classes"]:
        create("Class", {"Name": name}, name)
    for name in profile["departments"]:
        create("Department", {"Name": name}, name)
    for vendor in profile["vendors"]:
        payload = {key: vendor[key] for key in ("DisplayName", "CompanyName", "AcctNum")}
        payload["TermRef"] = {"value": ids[("Term", vendor["Term"])]}
        create("Vendor", payload, vendor["DisplayName"])
    for customer in profile["customers"]:
        payload = {key: customer[key] for key in ("DisplayName", "CompanyName")}
        payload["SalesTermRef"] = {"value": ids[("Term", customer["Term"])]}
        create("Customer", payload, customer["DisplayName"])
    for item in profile["items"]:
        payload = {key: item[key] for key in ("Name", "Type", "UnitPrice")}
        payload["IncomeAccountRef"] = {"value": ids[("Account", item["IncomeAccount"])]}
        payload["ExpenseAccountRef"] = {"value": ids[("Account", item["ExpenseAccount"])]}
        create("Item", payload, item["Name"])
    today = store.clock.company_today()
    for bill in profile["bills"]:
        day = today - timedelta(days=bill["DaysAgo"])
        lines = [
            {
                "Amount": amount,
                "Description": description,
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {
                    "AccountRef": {"value": ids[("Account", acct_num)]},
                    "ClassRef": {"value": ids[("Class", class_name)]},
                },
            }
            for acct_num, amount, class_name, description in bill["Lines"]
        ]
        payload = {
            "DocNumber": bill["DocNumber"],
            "TxnDate": day.isoformat(),
            "VendorRef": {"value": ids[("Vendor", bill["Vendor"])]},
            "Line": lines,
        }
        create("Bill", payload, bill["DocNumber"], at=now - timedelta(days=bill["DaysAgo"]))
    for number, invoice in enumerate(profile["invoices"], start=1):
        day = today - timedelta(days=invoice["DaysAgo"])
        lines = []
        for item_name, qty, price in invoice["Lines"]:
            amount = str((Decimal(qty) * Decimal(price)).quantize(Decimal("0.01")))
            lines.append(
                {
                    "Amount": amount,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": ids[("Item", item_name)]},
                        "Qty": qty,
                        "UnitPrice": price,
                    },
                }
            )
        payload = {"TxnDate": day.isoformat(), "CustomerRef": {"value": ids[("Customer", invoice["Customer"])]}}
        payload["Line"] = lines
        create("Invoice", payload, str(number), at=now - timedelta(days=invoice["DaysAgo"]))
    for employee in profile["employees"]:
        create("Employee", dict(employee), employee["EmployeeNumber"])
    for number, payment in enumerate(profile["bill_payments"], start=1):
        bill_id = ids[("Bill", payment["Bill"])]
        bill = store.row("Bill", bill_id)
        assert bill is not None
        payload = {
            "VendorRef": {"value": bill.data["VendorRef"]["value"]},
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": ids[("Account", payment["BankAccount"])]}},
            "TotalAmt": payment["Amount"],
            "TxnDate": (today - timedelta(days=payment["DaysAgo"])).isoformat(),
            "PrivateNote": payment["Note"],
            "Line": [{"Amount": payment["Amount"], "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]}],
        }
        create("BillPayment", payload, str(number), at=now - timedelta(days=payment["DaysAgo"]))
    for number, attachable in enumerate(profile["attachables"], start=1):
        ref = {"EntityRef": {"type": "Bill", "value": ids[("Bill", attachable["Bill"])]}}
        create("Attachable", {"Note": attachable["Note"], "AttachableRef": [ref]}, str(number))


def default_preferences(now) -> dict:
    """QBO's Preferences object, trimmed to the sections a sync client reads."""
    stamp = qbo_timestamp(now - NAME_LIST_AGE)
    return {
        "AccountingInfoPrefs": {
            "TaxYearMonth": "January",
            "TrackDepartments": True,
            "DepartmentTerminology": "Location",
            "ClassTrackingPerTxn": False,
            "ClassTrackingPerTxnLine": True,
            "CustomerTerminology": "Customers",
        },
        "ProductAndServicesPrefs": {"ForSales": True, "ForPurchase": True, "QuantityWithPriceAndRate": True},
        "SalesFormsPrefs": {"CustomTxnNumbers": False, "AllowDiscount": True, "DefaultTerms": {"value": "3"}},
        "VendorAndPurchasesPrefs": {
            "TrackingByCustomer": True,
            "BillableExpenseTracking": True,
            "UseCustomTxnNumbers": True,
        },
        "TaxPrefs": {"UsingSalesTax": False},
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
        "TimeTrackingPrefs": {"UseServices": True, "WorkWeekStartDate": "Monday"},
        "OtherPrefs": {
            "NameValue": [
                {"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": "Thank you for your business."},
                {"Name": "VendorAndPurchasesPrefs.POCustomField", "Value": "false"},
                {"Name": "WarnDuplicateCheckNumber", "Value": "true"},
                {"Name": "WarnDuplicateBillNumber", "Value": "true"},
                {"Name": "WarnDuplicateJournalNumber", "Value": "false"},
            ]
        },
        "Id": "1",
        "SyncToken": "0",
        "domain": "QBO",
        "sparse": False,
        "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
    }


def company_info(spec: RealmSpec, now) -> dict:
    stamp = qbo_timestamp(now - NAME_LIST_AGE)
    return {
        "CompanyName": spec.company_name,
        "LegalName": spec.company_name,
        "CompanyAddr": {
            "Id": "1",
            "Line1": "1200 Industrial Pkwy",
            "City": "Dayton",
            "CountrySubDivisionCode": "OH",
            "PostalCode": "45402",
            "Country": "US",
        },
        "Country": "US",
        "Email": {"Address": "accounting@example.com"},
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
        "NameValue": [{"Name": "OfferingSku", "Value": "QuickBooks Online Plus"}],
        "Id": "1",
        "SyncToken": "0",
        "domain": "QBO",
        "sparse": False,
        "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
    }
