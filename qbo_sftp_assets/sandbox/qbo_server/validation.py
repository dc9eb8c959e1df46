"""QBO's write rules: clean the payload, check required fields and references, compute totals."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from qbo_sftp_assets.sandbox.qbo_server import faults
from qbo_sftp_assets.sandbox.qbo_server.entities import SHARED_DISPLAY_NAME_KINDS, EntityKind, kind_by_name
from qbo_sftp_assets.sandbox.qbo_server.wire import to_decimal

if TYPE_CHECKING:
    from qbo_sftp_assets.sandbox.qbo_server.store import RealmStore

# Fields the server owns: whatever a client sends for them is ignored.
SYSTEM_FIELDS = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "TotalAmt", "Balance"})

ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Equity": "Equity",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Long Term Liability": "Liability",
    "Other Current Liability": "Liability",
    "Income": "Revenue",
    "Other Income": "Revenue",
}

EXPENSE_LINE_TYPES = ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")


def clean_payload(value: Any) -> Any:
    """Drop empty strings and nulls the way QBO ignores them (python-quickbooks sends `"DocNumber": ""`)."""
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            item = clean_payload(item)
            if item is None or item == "":
                continue
            cleaned[key] = item
        return cleaned
    if isinstance(value, list):
        return [clean_payload(item) for item in value]
    return value


# A BillPayment's TotalAmt is the amount paid, which the client states (QBO: required on create).
CLIENT_SET_TOTAL_KINDS = frozenset({"BillPayment"})


def writable_fields(payload: dict, kind: EntityKind | None = None) -> dict:
    system = SYSTEM_FIELDS - {"TotalAmt"} if kind is not None and kind.name in CLIENT_SET_TOTAL_KINDS else SYSTEM_FIELDS
    return {key: value for key, value in payload.items() if key not in system}


def prepare(store: RealmStore, kind: EntityKind, data: dict, own_id: str | None, allow_dup_docnum: bool) -> dict:
    """Validate `data` (writable fields only) for `kind` and return it completed as QBO would store it."""
    preparer = PREPARERS[kind.name]
    return preparer(store, data, own_id, allow_dup_docnum)


def amount_of(value: Any, element: str) -> Decimal:
    if value is None:
        raise faults.required_param_missing(element)
    try:
        amount = to_decimal(value)
    except (InvalidOperation, ValueError) as error:
        raise faults.request_body_error(f"Invalid amount for {element}: {value!r}") from error
    if amount is None:
        raise faults.required_param_missing(element)
    if not amount.is_finite():
        raise faults.request_body_error(f"Invalid amount for {element}: {value!r}")
    if not within_amount_limit(amount):
        raise faults.request_body_error(
            f"Amount {element} {value} exceeds QBO's limit of 15 digits with at most 5 decimals"
        )
    return amount


def within_amount_limit(amount: Decimal) -> bool:
    """QBO documents amounts as "Max 15 digits in 10.5 format": 15 significant digits, 5 decimals at most.

    Trailing fraction zeros do not count (218.40 is four digits); the sandbox reads "10.5" as the
    decimal limit only, so 9999999999999.99 (15 digits) is accepted.
    """
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    decimals = max(0, -exponent)
    integer_digits = max(0, len(digits) + exponent) if amount.adjusted() >= 0 else 0
    significant = integer_digits + decimals
    return decimals <= 5 and significant <= 15


def resolve_ref(store: RealmStore, entity: str, ref: Any, element: str, required: bool = False) -> dict | None:
    """Check a `{"value": id}` reference points at an existing, active entity; return it with its name."""
    if ref is None or (isinstance(ref, dict) and not ref.get("value")):
        if required:
            raise faults.required_param_missing(element)
        return None
    if not isinstance(ref, dict):
        raise faults.request_body_error(f"{element} must be an object with a value")
    ref_id = str(ref["value"])
    kind = kind_by_name(entity)
    assert kind is not None
    row = store.row(entity, ref_id)
    if row is None:
        raise faults.invalid_reference(kind.plural, ref_id, element)
    if row.data.get("Active") is False:
        raise faults.object_not_found(element)
    name = row.data.get("DisplayName") or row.data.get("FullyQualifiedName") or row.data.get("Name")
    return {"value": ref_id, "name": name} if name else {"value": ref_id}


def check_unique_name(
    store: RealmStore, kinds: tuple[str, ...], field: str, name: str, own: tuple[str, str | None]
) -> None:
    for kind_name in kinds:
        for row in store.live_rows(kind_name):
            if (kind_name, row.data["Id"]) == own or row.data.get("Active") is False:
                continue
            if str(row.data.get(field, "")).strip().lower() == name.strip().lower():
                raise faults.duplicate_name(kind_name.lower())


def txn_date(store: RealmStore, data: dict) -> date:
    if "TxnDate" not in data:
        return store.clock.company_today()
    try:
        return date.fromisoformat(str(data["TxnDate"])[:10])
    except ValueError as error:
        raise faults.request_body_error(f"Invalid date for TxnDate: {data['TxnDate']!r}") from error


CURRENCY_NAMES = {
    "USD": "United States Dollar",
    "CAD": "Canadian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "MXN": "Mexican Peso",
    "AUD": "Australian Dollar",
}


def currency_ref(store: RealmStore, data: dict) -> dict:
    """The object's CurrencyRef: the home currency by default; another only if multicurrency is on.

    Intuit: US companies have multicurrency off by default, and then every object is in the home
    currency (Intuit blog 2015-06-18, "Multicurrency for US companies"). QBO's exact fault for a
    foreign CurrencyRef was not found, so the sandbox answers with its business-validation code 6000.
    """
    home = store.home_currency()
    ref = data.get("CurrencyRef")
    if ref is None:
        return {"value": home, "name": CURRENCY_NAMES.get(home, home)}
    code = ref.get("value") if isinstance(ref, dict) else None
    if not isinstance(code, str) or not code.strip():
        raise faults.request_body_error("CurrencyRef must be an object with a currency code as value")
    code = code.strip().upper()
    if code != home and not store.multicurrency_enabled():
        raise faults.business_validation(
            f"Multicurrency is not enabled for this company, so everything is in its home currency {home}; "
            f"CurrencyRef {code} cannot be used. Turn on multicurrency in QuickBooks or send amounts in {home}.",
            "CurrencyRef",
        )
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def term_due_days(store: RealmStore, term_ref: dict | None) -> int:
    if term_ref is None:
        return 0
    row = store.row("Term", term_ref["value"])
    return int(row.data.get("DueDays", 0)) if row is not None else 0


def check_duplicate_docnumber(store: RealmStore, kind: EntityKind, data: dict, own_id: str | None, allow: bool) -> None:
    doc_number = data.get("DocNumber")
    if allow or doc_number is None or kind.duplicate_docnumber_pref is None:
        return
    if not store.other_pref(kind.duplicate_docnumber_pref):
        return
    for row in store.rows_with_doc_number(kind.name, doc_number):
        if row.data["Id"] == own_id:
            continue
        # A bill number is a duplicate for the same vendor (QBO's "warn if duplicate bill number").
        if kind.name == "Bill" and row.data.get("VendorRef", {}).get("value") != data["VendorRef"]["value"]:
            continue
        store.duplicate_docnumber_rejections += 1
        raise faults.duplicate_document_number(str(doc_number), kind.name, row.data["Id"])


def check_doc_number_length(data: dict) -> None:
    if "DocNumber" in data:
        data["DocNumber"] = str(data["DocNumber"])
        if len(data["DocNumber"]) > 21:
            raise faults.validation_fault(
                "6000",
                "A business validation error has occurred while processing your request",
                "Business Validation Error: DocNumber cannot be longer than 21 characters.",
                "DocNumber",
            )


def numbered_lines(lines: list[dict]) -> list[dict]:
    """Give each line an Id (kept when the client sent one) and its position as LineNum."""
    used = {str(line["Id"]) for line in lines if line.get("Id")}
    next_id = 1
    numbered = []
    for position, line in enumerate(lines, start=1):
        line = dict(line)
        if line.get("Id"):
            line["Id"] = str(line["Id"])
        else:
            while str(next_id) in used:
                next_id += 1
            line["Id"] = str(next_id)
            used.add(line["Id"])
        line["LineNum"] = position
        numbered.append(line)
    return numbered


def require_lines(data: dict) -> list[dict]:
    lines = data.get("Line")
    if not lines:
        raise faults.required_param_missing("Line")
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise faults.request_body_error("Line must be a list of objects")
    return lines


def line_tax_code(store: RealmStore, ref: Any) -> dict:
    """A line's TaxCodeRef: NON when absent, else a reference to a TaxCode that exists."""
    if ref is None:
        return {"value": "NON"}
    checked = resolve_ref(store, "TaxCode", ref, "TaxCodeRef", required=True)
    assert checked is not None
    return {"value": checked["value"]}


def prepare_expense_lines(store: RealmStore, data: dict) -> tuple[list[dict], Decimal]:
    lines = []
    total = Decimal("0")
    for line in require_lines(data):
        detail_type = line.get("DetailType")
        if detail_type not in EXPENSE_LINE_TYPES:
            raise faults.request_body_error(f"Line.DetailType {detail_type!r} is not supported here")
        line = dict(line)
        amount = amount_of(line.get("Amount"), "Line.Amount")
        line["Amount"] = amount
        detail = dict(line.get(detail_type) or {})
        if detail_type == "AccountBasedExpenseLineDetail":
            detail["AccountRef"] = resolve_ref(store, "Account", detail.get("AccountRef"), "AccountRef", required=True)
        else:
            detail["ItemRef"] = resolve_ref(store, "Item", detail.get("ItemRef"), "ItemRef", required=True)
        detail.setdefault("BillableStatus", "NotBillable")
        detail["TaxCodeRef"] = line_tax_code(store, detail.get("TaxCodeRef"))
        for key, entity in (("ClassRef", "Class"), ("CustomerRef", "Customer")):
            if key in detail:
                detail[key] = resolve_ref(store, entity, detail[key], key)
        line[detail_type] = detail
        lines.append(line)
        total += amount
    return numbered_lines(lines), total


def prepare_bill_like(store: RealmStore, kind_name: str, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = dict(data)
    out["VendorRef"] = resolve_ref(store, "Vendor", data.get("VendorRef"), "VendorRef", required=True)
    out["Line"], total = prepare_expense_lines(store, data)
    check_doc_number_length(out)
    day = txn_date(store, data)
    out["TxnDate"] = day.isoformat()
    if "APAccountRef" in data:
        out["APAccountRef"] = resolve_ref(store, "Account", data["APAccountRef"], "APAccountRef")
    else:
        ap_account = store.first_account_of_type("Accounts Payable")
        if ap_account is not None:
            out["APAccountRef"] = ap_account
    if "DepartmentRef" in data:
        out["DepartmentRef"] = resolve_ref(store, "Department", data["DepartmentRef"], "DepartmentRef")
    out["CurrencyRef"] = currency_ref(store, data)
    out["TotalAmt"] = total
    out["Balance"] = total
    out.pop("LinkedTxn", None)
    if kind_name == "Bill" and own_id is not None:
        # Payments already applied stay applied: the balance is what is left, LinkedTxn names them.
        out["Balance"], linked = store.bill_balance(own_id, total)
        if out["Balance"] < 0:
            raise faults.business_validation(
                f"The bill's new total {total} is less than the {total - out['Balance']} already paid on it.", "Line"
            )
        if linked:
            out["LinkedTxn"] = linked
    if kind_name == "Bill":
        term = resolve_ref(store, "Term", data.get("SalesTermRef"), "SalesTermRef")
        if term is not None:
            out["SalesTermRef"] = term
        else:
            vendor = store.row("Vendor", out["VendorRef"]["value"])
            term = vendor.data.get("TermRef") if vendor is not None else None
        if "DueDate" not in data:
            out["DueDate"] = (day + timedelta(days=term_due_days(store, term))).isoformat()
    kind = kind_by_name(kind_name)
    assert kind is not None
    check_duplicate_docnumber(store, kind, out, own_id, allow_dup)
    return out


def prepare_bill(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    return prepare_bill_like(store, "Bill", data, own_id, allow_dup)


def prepare_vendor_credit(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    return prepare_bill_like(store, "VendorCredit", data, own_id, allow_dup)


def prepare_invoice(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = dict(data)
    out["CustomerRef"] = resolve_ref(store, "Customer", data.get("CustomerRef"), "CustomerRef", required=True)
    lines = []
    total = Decimal("0")
    for line in require_lines(data):
        detail_type = line.get("DetailType")
        if detail_type == "SubTotalLineDetail":
            continue
        line = dict(line)
        if detail_type == "SalesItemLineDetail":
            amount = amount_of(line.get("Amount"), "Line.Amount")
            line["Amount"] = amount
            detail = dict(line.get(detail_type) or {})
            if "ItemRef" in detail:
                detail["ItemRef"] = resolve_ref(store, "Item", detail["ItemRef"], "ItemRef")
            if "ClassRef" in detail:
                detail["ClassRef"] = resolve_ref(store, "Class", detail["ClassRef"], "ClassRef")
            for key in ("Qty", "UnitPrice"):
                if key in detail:
                    detail[key] = amount_of(detail[key], f"Line.SalesItemLineDetail.{key}")
            detail["TaxCodeRef"] = line_tax_code(store, detail.get("TaxCodeRef"))
            line[detail_type] = detail
            total += amount
        elif detail_type == "DescriptionOnly":
            line.setdefault("DescriptionLineDetail", {})
        else:
            raise faults.request_body_error(f"Line.DetailType {detail_type!r} is not supported here")
        lines.append(line)
    if not any(line.get("DetailType") == "SalesItemLineDetail" for line in lines):
        raise faults.required_param_missing("Line")
    out["Line"] = [
        *numbered_lines(lines),
        {"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
    ]
    check_doc_number_length(out)
    if "DocNumber" not in out:
        out["DocNumber"] = store.next_invoice_number()
    day = txn_date(store, data)
    out["TxnDate"] = day.isoformat()
    term = resolve_ref(store, "Term", data.get("SalesTermRef"), "SalesTermRef")
    if term is None:
        customer = store.row("Customer", out["CustomerRef"]["value"])
        term = customer.data.get("SalesTermRef") if customer is not None else None
    if term is not None:
        out["SalesTermRef"] = term
    if "DueDate" not in data:
        out["DueDate"] = (day + timedelta(days=term_due_days(store, term))).isoformat()
    out["CurrencyRef"] = currency_ref(store, data)
    out.setdefault("EmailStatus", "NotSet")
    out.setdefault("PrintStatus", "NotSet")
    out["TotalAmt"] = total
    out["Balance"] = total
    return out


def journal_entity(store: RealmStore, entity: Any) -> dict | None:
    if not entity:
        return None
    ref = entity.get("EntityRef") if isinstance(entity, dict) else None
    if not ref or not ref.get("value"):
        raise faults.required_param_missing("Line.JournalEntryLineDetail.Entity.EntityRef")
    wanted = entity.get("Type")
    for kind_name in (wanted,) if wanted in SHARED_DISPLAY_NAME_KINDS else SHARED_DISPLAY_NAME_KINDS:
        if store.row(kind_name, str(ref["value"])) is not None:
            return {"Type": kind_name, "EntityRef": resolve_ref(store, kind_name, ref, "EntityRef")}
    raise faults.invalid_reference("Names", str(ref["value"]), "EntityRef")


def prepare_journal_entry(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = dict(data)
    lines = []
    debits = Decimal("0")
    credits = Decimal("0")
    for line in require_lines(data):
        if line.get("DetailType") != "JournalEntryLineDetail":
            raise faults.required_param_missing("Line.JournalEntryLineDetail")
        line = dict(line)
        amount = amount_of(line.get("Amount"), "Line.Amount")
        line["Amount"] = amount
        detail = dict(line.get("JournalEntryLineDetail") or {})
        posting = detail.get("PostingType")
        if posting not in ("Debit", "Credit"):
            raise faults.required_param_missing("Line.JournalEntryLineDetail.PostingType")
        account_ref = resolve_ref(
            store, "Account", detail.get("AccountRef"), "Line.JournalEntryLineDetail.AccountRef", required=True
        )
        detail["AccountRef"] = account_ref
        assert account_ref is not None
        account = store.row("Account", account_ref["value"])
        assert account is not None  # resolve_ref(required=True) found it
        account_type = account.data.get("AccountType")
        entity = journal_entity(store, detail.get("Entity"))
        if entity is not None:
            detail["Entity"] = entity
        if account_type == "Accounts Receivable" and (entity is None or entity["Type"] != "Customer"):
            raise faults.business_validation(
                "When you use Accounts Receivable, you must choose a customer in the Name field.", "Entity"
            )
        if account_type == "Accounts Payable" and (entity is None or entity["Type"] != "Vendor"):
            raise faults.business_validation(
                "When you use Accounts Payable, you must choose a vendor in the Name field.", "Entity"
            )
        for key, entity_name in (("ClassRef", "Class"), ("DepartmentRef", "Department")):
            if key in detail:
                detail[key] = resolve_ref(store, entity_name, detail[key], key)
        line["JournalEntryLineDetail"] = detail
        if posting == "Debit":
            debits += amount
        else:
            credits += amount
        lines.append(line)
    if debits != credits:
        raise faults.business_validation(
            f"Transaction must balance. Total debits ({debits}) must equal total credits ({credits}).", "Line"
        )
    out["Line"] = numbered_lines(lines)
    check_doc_number_length(out)
    out["TxnDate"] = txn_date(store, data).isoformat()
    out.setdefault("Adjustment", False)
    out["CurrencyRef"] = currency_ref(store, data)
    out["TotalAmt"] = debits
    kind = kind_by_name("JournalEntry")
    assert kind is not None
    check_duplicate_docnumber(store, kind, out, own_id, allow_dup)
    return out


def display_name_of(data: dict) -> str:
    if data.get("DisplayName"):
        return str(data["DisplayName"])
    if data.get("CompanyName"):
        return str(data["CompanyName"])
    parts = [str(data[key]) for key in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix") if data.get(key)]
    if not parts:
        raise faults.required_param_missing("DisplayName")
    return " ".join(parts)


def prepare_party(store: RealmStore, kind_name: str, data: dict, own_id: str | None) -> dict:
    out = dict(data)
    out["DisplayName"] = display_name_of(data)
    out.setdefault("Active", True)
    if out["Active"]:
        check_unique_name(store, SHARED_DISPLAY_NAME_KINDS, "DisplayName", out["DisplayName"], (kind_name, own_id))
    out.setdefault("PrintOnCheckName", out["DisplayName"])
    out["CurrencyRef"] = currency_ref(store, data)
    if "Balance" not in out:
        out["Balance"] = store.party_balance(kind_name, own_id)
    return out


def prepare_vendor(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = prepare_party(store, "Vendor", data, own_id)
    if "TermRef" in data:
        out["TermRef"] = resolve_ref(store, "Term", data["TermRef"], "TermRef")
    out.setdefault("Vendor1099", False)
    return out


def prepare_customer(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = prepare_party(store, "Customer", data, own_id)
    if "SalesTermRef" in data:
        out["SalesTermRef"] = resolve_ref(store, "Term", data["SalesTermRef"], "SalesTermRef")
    out.setdefault("FullyQualifiedName", out["DisplayName"])
    out.setdefault("Job", False)
    out.setdefault("BillWithParent", False)
    out.setdefault("Taxable", False)
    return out


def prepare_named(store: RealmStore, kind_name: str, data: dict, own_id: str | None) -> dict:
    out = dict(data)
    if not out.get("Name"):
        raise faults.required_param_missing("Name")
    out["Name"] = str(out["Name"])
    out.setdefault("Active", True)
    if out["Active"]:
        check_unique_name(store, (kind_name,), "Name", out["Name"], (kind_name, own_id))
    return out


def prepare_account(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = prepare_named(store, "Account", data, own_id)
    if not out.get("AccountType"):
        raise faults.required_param_missing("AccountType")
    if out["AccountType"] not in ACCOUNT_CLASSIFICATION:
        raise faults.request_body_error(f"Invalid Enumeration : {out['AccountType']}")
    out["Classification"] = ACCOUNT_CLASSIFICATION[out["AccountType"]]
    out.setdefault("AccountSubType", out["AccountType"].replace(" ", ""))
    out["FullyQualifiedName"] = out["Name"]
    out.setdefault("SubAccount", False)
    out.setdefault("CurrentBalance", Decimal("0"))
    out.setdefault("CurrentBalanceWithSubAccounts", out["CurrentBalance"])
    out.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
    if "AcctNum" in out:
        out["AcctNum"] = str(out["AcctNum"])
    return out


def prepare_class(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = prepare_named(store, "Class", data, own_id)
    out["FullyQualifiedName"] = out["Name"]
    out.setdefault("SubClass", False)
    return out


def prepare_department(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = prepare_named(store, "Department", data, own_id)
    out["FullyQualifiedName"] = out["Name"]
    out.setdefault("SubDepartment", False)
    return out


def whole_days(value: Any, element: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise faults.request_body_error(f"{element} must be a whole number of days") from error


def prepare_term(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = prepare_named(store, "Term", data, own_id)
    out.setdefault("Type", "STANDARD")
    out["DueDays"] = whole_days(out.get("DueDays", 0), "DueDays")
    out["DiscountDays"] = whole_days(out.get("DiscountDays", 0), "DiscountDays")
    out["DiscountPercent"] = amount_of(out.get("DiscountPercent", 0), "DiscountPercent")
    return out


def prepare_item(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = prepare_named(store, "Item", data, own_id)
    out.setdefault("Type", "Service")
    out["FullyQualifiedName"] = out["Name"]
    for key in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
        if key in data:
            out[key] = resolve_ref(store, "Account", data[key], key)
    if out["Type"] in ("Service", "NonInventory", "Inventory") and "IncomeAccountRef" not in out:
        raise faults.required_param_missing("IncomeAccountRef")
    for key in ("UnitPrice", "PurchaseCost", "QtyOnHand"):
        if key in out:
            out[key] = amount_of(out[key], key)
    out.setdefault("Taxable", False)
    return out


def prepare_employee(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    out = dict(data)
    if not any(data.get(key) for key in ("DisplayName", "GivenName", "FamilyName")):
        raise faults.required_param_missing("GivenName")
    out["DisplayName"] = display_name_of(data)
    out.setdefault("Active", True)
    if out["Active"]:
        check_unique_name(store, SHARED_DISPLAY_NAME_KINDS, "DisplayName", out["DisplayName"], ("Employee", own_id))
    out.setdefault("PrintOnCheckName", out["DisplayName"])
    out.setdefault("BillableTime", False)
    if "HiredDate" in out:
        try:
            out["HiredDate"] = date.fromisoformat(str(out["HiredDate"])[:10]).isoformat()
        except ValueError as error:
            raise faults.request_body_error(f"Invalid date for HiredDate: {out['HiredDate']!r}") from error
    return out


def prepare_tax_code(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    """Only the seed creates TaxCodes (the API cannot; operations refuses writes to read-only kinds)."""
    out = prepare_named(store, "TaxCode", data, own_id)
    out.setdefault("Description", out["Name"])
    out.setdefault("Taxable", False)
    out.setdefault("TaxGroup", False)
    return out


def prepare_bill_payment(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    """A payment of one vendor's bills from a bank account (Check) or a credit card (CreditCard)."""
    out = dict(data)
    out["VendorRef"] = resolve_ref(store, "Vendor", data.get("VendorRef"), "VendorRef", required=True)
    assert out["VendorRef"] is not None
    pay_type = data.get("PayType")
    if pay_type is None:
        raise faults.required_param_missing("PayType")
    if pay_type == "Check":
        check = dict(data.get("CheckPayment") or {})
        check["BankAccountRef"] = resolve_ref(
            store, "Account", check.get("BankAccountRef"), "CheckPayment.BankAccountRef", required=True
        )
        check.setdefault("PrintStatus", "NotSet")
        out["CheckPayment"] = check
        out.pop("CreditCardPayment", None)
    elif pay_type == "CreditCard":
        card = dict(data.get("CreditCardPayment") or {})
        card["CCAccountRef"] = resolve_ref(
            store, "Account", card.get("CCAccountRef"), "CreditCardPayment.CCAccountRef", required=True
        )
        out["CreditCardPayment"] = card
        out.pop("CheckPayment", None)
    else:
        raise faults.request_body_error(f"Invalid Enumeration : PayType {pay_type!r} (Check or CreditCard)")
    if "APAccountRef" in data:
        out["APAccountRef"] = resolve_ref(store, "Account", data["APAccountRef"], "APAccountRef")
    else:
        ap_account = store.first_account_of_type("Accounts Payable")
        if ap_account is not None:
            out["APAccountRef"] = ap_account
    lines = []
    applied = Decimal("0")
    for line in require_lines(data):
        line = dict(line)
        amount = amount_of(line.get("Amount"), "Line.Amount")
        if amount < 0:
            raise faults.business_validation("A bill payment line cannot be negative.", "Line.Amount")
        linked = line.get("LinkedTxn")
        if not linked or not isinstance(linked, list):
            raise faults.required_param_missing("Line.LinkedTxn")
        line["Amount"] = amount
        line["LinkedTxn"] = [paid_bill(store, out["VendorRef"]["value"], txn, amount, own_id) for txn in linked]
        lines.append(line)
        applied += amount
    out["Line"] = lines
    total = amount_of(data.get("TotalAmt"), "TotalAmt")
    if total < 0:
        raise faults.business_validation("The total amount of a bill payment cannot be negative.", "TotalAmt")
    if total < applied:
        raise faults.business_validation(
            f"The payment's TotalAmt {total} is less than the {applied} applied to bills on its lines.", "TotalAmt"
        )
    out["TotalAmt"] = total
    check_doc_number_length(out)
    out["TxnDate"] = txn_date(store, data).isoformat()
    out["CurrencyRef"] = currency_ref(store, data)
    return out


def paid_bill(store: RealmStore, vendor_id: str, linked: Any, amount: Decimal, own_id: str | None) -> dict:
    """Check one LinkedTxn of a bill payment line: an open bill of the same vendor that can take `amount`."""
    if not isinstance(linked, dict) or not linked.get("TxnId"):
        raise faults.required_param_missing("Line.LinkedTxn.TxnId")
    if linked.get("TxnType") != "Bill":
        raise faults.request_body_error(
            f"LinkedTxn.TxnType {linked.get('TxnType')!r} is not supported here: the sandbox pays Bills only"
        )
    bill_id = str(linked["TxnId"])
    bill = store.row("Bill", bill_id)
    if bill is None:
        raise faults.invalid_reference("Bills", bill_id, "Line.LinkedTxn.TxnId")
    if bill.data["VendorRef"]["value"] != vendor_id:
        raise faults.business_validation(
            f"Bill {bill_id} belongs to another vendor; a bill payment pays one vendor's bills.", "VendorRef"
        )
    # What this payment already applied to the bill is available again when the payment is updated.
    open_balance = Decimal(bill.data.get("Balance", 0)) + sum(
        (paid for payment, paid in store.payments_applied(bill_id) if payment == own_id), Decimal("0")
    )
    if amount > open_balance:
        raise faults.business_validation(
            f"The amount {amount} applied to bill {bill_id} is more than its open balance {open_balance}.",
            "Line.Amount",
        )
    return {"TxnId": bill_id, "TxnType": "Bill"}


def prepare_attachable(store: RealmStore, data: dict, own_id: str | None, allow_dup: bool) -> dict:
    """A note or a file linked to other objects; file fields come only from an upload, never from JSON."""
    out = {key: value for key, value in data.items() if key not in ATTACHABLE_FILE_FIELDS}
    refs = data.get("AttachableRef") or []
    if not isinstance(refs, list):
        raise faults.request_body_error("AttachableRef must be a list")
    out["AttachableRef"] = [attachable_ref(store, ref) for ref in refs]
    if not out["AttachableRef"]:
        out.pop("AttachableRef")
    stored = store.files.get(own_id) if own_id is not None else None
    if stored is None:
        if not data.get("Note"):
            # Without a file, an attachable is a note (QBO creates files only through upload).
            raise faults.required_param_missing("Note")
        return out
    out["FileName"] = stored.file_name
    out["ContentType"] = stored.content_type
    out["Size"] = Decimal(len(stored.content))
    out["FileAccessUri"] = f"/v3/company/{store.realm_id}/download/{own_id}"
    out["TempDownloadUri"] = f"{store.download_base}/_sandbox/files/{store.realm_id}/{own_id}/{stored.token}"
    return out


ATTACHABLE_FILE_FIELDS = frozenset({"FileName", "ContentType", "Size", "FileAccessUri", "TempDownloadUri"})


def attachable_ref(store: RealmStore, ref: Any) -> dict:
    if not isinstance(ref, dict) or not isinstance(ref.get("EntityRef"), dict):
        raise faults.required_param_missing("AttachableRef.EntityRef")
    entity = ref["EntityRef"]
    entity_type, entity_id = entity.get("type"), entity.get("value")
    if not entity_type or not entity_id:
        raise faults.required_param_missing("AttachableRef.EntityRef.type")
    kind = kind_by_name(str(entity_type))
    if kind is None or kind.name == "Attachable" or store.row(kind.name, str(entity_id)) is None:
        raise faults.invalid_reference(
            kind.plural if kind else str(entity_type), str(entity_id), "AttachableRef.EntityRef"
        )
    out = dict(ref)
    out["EntityRef"] = {"type": kind.name, "value": str(entity_id)}
    out.setdefault("IncludeOnSend", False)
    return out


PREPARERS = {
    "Vendor": prepare_vendor,
    "Customer": prepare_customer,
    "Account": prepare_account,
    "Class": prepare_class,
    "Item": prepare_item,
    "Term": prepare_term,
    "Department": prepare_department,
    "Bill": prepare_bill,
    "Invoice": prepare_invoice,
    "JournalEntry": prepare_journal_entry,
    "VendorCredit": prepare_vendor_credit,
    "Employee": prepare_employee,
    "TaxCode": prepare_tax_code,
    "BillPayment": prepare_bill_payment,
    "Attachable": prepare_attachable,
}
