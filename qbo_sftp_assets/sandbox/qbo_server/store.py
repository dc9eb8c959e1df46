"""One company's data: entity rows with Id/SyncToken/MetaData, tombstones, preferences, company info."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from qbo_sftp_assets.sandbox.qbo_server import faults
from qbo_sftp_assets.sandbox.qbo_server.clock import SandboxClock, qbo_timestamp
from qbo_sftp_assets.sandbox.qbo_server.entities import ENTITY_KINDS, EntityKind
from qbo_sftp_assets.sandbox.qbo_server.validation import clean_payload, prepare, writable_fields


@dataclass
class Row:
    """A stored entity: the QBO JSON object plus precise times; deleted rows stay as tombstones."""

    kind: EntityKind
    data: dict
    created_at: datetime
    updated_at: datetime
    deleted: bool = False

    def tombstone_json(self) -> dict:
        return {
            "domain": "QBO",
            "status": "Deleted",
            "Id": self.data["Id"],
            "MetaData": {"LastUpdatedTime": qbo_timestamp(self.updated_at)},
        }


@dataclass
class StoredFile:
    """An uploaded attachment's bytes; `token` makes its download link unguessable (a presigned URL's role)."""

    file_name: str
    content_type: str
    content: bytes
    token: str


@dataclass
class WriteResult:
    """What a write did: the row, and the webhook operation name (Create, Update, Delete, Void)."""

    row: Row
    operation: str


@dataclass
class RealmStore:
    """All entities of one realm; callers hold the sandbox lock around every method."""

    realm_id: str
    company_name: str
    clock: SandboxClock
    rows: dict[str, dict[str, Row]] = field(default_factory=lambda: {name: {} for name in ENTITY_KINDS})
    next_ids: Counter = field(default_factory=Counter)
    preferences: dict = field(default_factory=dict)
    company_info: dict = field(default_factory=dict)
    duplicate_docnumber_rejections: int = 0
    invoice_number: int = 1000
    # (kind, DocNumber) -> ids of rows that carried it when written; lookups re-check the row, so an id
    # whose row has since changed number or been deleted is harmless. Spares a scan of every row per write.
    doc_number_index: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # Attachable Id -> the file uploaded with it.
    files: dict[str, StoredFile] = field(default_factory=dict)
    # Scheme and host that attachment download links point at (set from the upload request).
    download_base: str = ""

    # -- reads -------------------------------------------------------------------------------------

    def row(self, kind_name: str, entity_id: str) -> Row | None:
        """The live (not deleted) row, or None."""
        found = self.rows[kind_name].get(str(entity_id))
        return None if found is None or found.deleted else found

    def live_rows(self, kind_name: str) -> list[Row]:
        return [row for row in self.rows[kind_name].values() if not row.deleted]

    def queryable_rows(self, kind_name: str) -> list[dict]:
        """The objects a query over `kind_name` sees (live rows, or the company singletons)."""
        if kind_name == "CompanyInfo":
            return [self.company_info]
        if kind_name == "Preferences":
            return [self.preferences]
        return [row.data for row in self.live_rows(kind_name)]

    def rows_with_doc_number(self, kind_name: str, doc_number: str) -> list[Row]:
        """Live rows of `kind_name` whose DocNumber is `doc_number`, oldest first (the order of `rows`)."""
        ids = self.doc_number_index.get((kind_name, doc_number), ())
        found = [self.row(kind_name, entity_id) for entity_id in ids]
        matching = [row for row in found if row is not None and row.data.get("DocNumber") == doc_number]
        # `create` issues Ids from a counter, so numeric Id order is creation order.
        return sorted(matching, key=lambda row: int(row.data["Id"]))

    def index_doc_number(self, row: Row) -> None:
        doc_number = row.data.get("DocNumber")
        if isinstance(doc_number, str):
            self.doc_number_index.setdefault((row.kind.name, doc_number), set()).add(row.data["Id"])

    def first_account_of_type(self, account_type: str) -> dict | None:
        for row in self.live_rows("Account"):
            if row.data.get("AccountType") == account_type and row.data.get("Active", True):
                return {"value": row.data["Id"], "name": row.data["Name"]}
        return None

    def other_pref(self, name: str) -> bool:
        for pair in self.preferences.get("OtherPrefs", {}).get("NameValue", []):
            if pair.get("Name") == name:
                return str(pair.get("Value")).lower() == "true"
        return False

    def set_other_pref(self, name: str, value: bool) -> None:
        pairs = self.preferences.setdefault("OtherPrefs", {}).setdefault("NameValue", [])
        for pair in pairs:
            if pair.get("Name") == name:
                pair["Value"] = "true" if value else "false"
                return
        pairs.append({"Name": name, "Value": "true" if value else "false"})

    def party_balance(self, kind_name: str, own_id: str | None) -> Decimal:
        existing = self.row(kind_name, own_id) if own_id else None
        return existing.data.get("Balance", Decimal("0")) if existing else Decimal("0")

    def home_currency(self) -> str:
        return str(self.preferences.get("CurrencyPrefs", {}).get("HomeCurrency", {}).get("value", "USD"))

    def multicurrency_enabled(self) -> bool:
        return self.preferences.get("CurrencyPrefs", {}).get("MultiCurrencyEnabled") is True

    def payments_applied(self, bill_id: str, except_payment: str | None = None) -> list[tuple[str, Decimal]]:
        """(BillPayment Id, amount) for every live payment line applied to the bill, oldest first."""
        applied = []
        for row in self.live_rows("BillPayment"):
            if row.data["Id"] == except_payment:
                continue
            for line in row.data.get("Line", []):
                for linked in line.get("LinkedTxn", []):
                    if linked.get("TxnType") == "Bill" and str(linked.get("TxnId")) == bill_id:
                        applied.append((row.data["Id"], Decimal(line.get("Amount", 0))))
        return applied

    def next_invoice_number(self) -> str:
        self.invoice_number += 1
        return str(self.invoice_number)

    # -- writes ------------------------------------------------------------------------------------

    def create(
        self,
        kind: EntityKind,
        payload: dict,
        allow_dup_docnum: bool = False,
        at: datetime | None = None,
        entity_id: str | None = None,
        file: StoredFile | None = None,
    ) -> WriteResult:
        """Create a row; `entity_id` is for seeding QBO's fixed Ids (TaxCode "TAX"), `file` for uploads."""
        if entity_id is None:
            # Prepare sees the Id the row will have (an uploaded file's download link names it).
            entity_id = str(self.next_ids[kind.name] + 1)
        if file is not None:
            self.files[entity_id] = file
        try:
            data = prepare(self, kind, writable_fields(clean_payload(payload), kind), entity_id, allow_dup_docnum)
        except faults.QboFault:
            self.files.pop(entity_id, None)
            raise
        moment = at or self.clock.now()
        if entity_id.isdigit():
            self.next_ids[kind.name] = max(self.next_ids[kind.name], int(entity_id))
        stored = {"Id": entity_id, "SyncToken": "0", **data, "domain": "QBO", "sparse": False}
        stored["MetaData"] = {"CreateTime": qbo_timestamp(moment), "LastUpdatedTime": qbo_timestamp(moment)}
        row = Row(kind, stored, moment, moment)
        self.rows[kind.name][entity_id] = row
        self.index_doc_number(row)
        self.after_write(kind, None, row.data, moment)
        return WriteResult(row, "Create")

    def current_for_write(self, kind: EntityKind, payload: dict) -> Row:
        entity_id = payload.get("Id")
        if entity_id is None or entity_id == "":
            raise faults.required_param_missing("Id")
        row = self.row(kind.name, str(entity_id))
        if row is None:
            raise faults.object_not_found("Id")
        sync_token = payload.get("SyncToken")
        if sync_token is None or sync_token == "":
            raise faults.required_param_missing("SyncToken")
        if str(sync_token) != row.data["SyncToken"]:
            raise faults.stale_object()
        return row

    def update(self, kind: EntityKind, payload: dict, sparse: bool, allow_dup_docnum: bool = False) -> WriteResult:
        row = self.current_for_write(kind, payload)
        sent = writable_fields(clean_payload(payload), kind)
        merged = {**writable_fields(copy.deepcopy(row.data), kind), **sent} if sparse else sent
        data = prepare(self, kind, merged, row.data["Id"], allow_dup_docnum)
        before = copy.deepcopy(row.data)
        self.commit_update(row, data)
        self.after_write(kind, before, row.data)
        return WriteResult(row, "Update")

    def commit_update(self, row: Row, data: dict, at: datetime | None = None) -> None:
        moment = at or self.clock.now()
        token = str(int(row.data["SyncToken"]) + 1)
        created = row.data["MetaData"]["CreateTime"]
        row.data = {"Id": row.data["Id"], "SyncToken": token, **data, "domain": "QBO", "sparse": False}
        row.data["MetaData"] = {"CreateTime": created, "LastUpdatedTime": qbo_timestamp(moment)}
        row.updated_at = moment
        self.index_doc_number(row)

    def delete(self, kind: EntityKind, payload: dict) -> WriteResult:
        if not kind.deletable:
            raise faults.unsupported_operation("delete", kind.name)
        row = self.current_for_write(kind, payload)
        if kind.name == "Bill" and self.payments_applied(row.data["Id"]):
            # The sandbox's rule (QBO's answer here is unconfirmed): never leave a payment pointing nowhere.
            payments = ", ".join(sorted({payment for payment, _ in self.payments_applied(row.data["Id"])}))
            raise faults.business_validation(
                f"Bill {row.data['Id']} has payments applied (BillPayment {payments}); "
                "delete or void those payments first.",
                "Id",
            )
        row.deleted = True
        row.updated_at = self.clock.now()
        self.after_write(kind, row.data, None)
        return WriteResult(row, "Delete")

    def void(self, kind: EntityKind, payload: dict) -> WriteResult:
        if not kind.voidable:
            raise faults.unsupported_operation("void", kind.name)
        row = self.current_for_write(kind, payload)
        before = copy.deepcopy(row.data)
        data = writable_fields(copy.deepcopy(row.data))
        for line in data.get("Line", []):
            line["Amount"] = Decimal("0")
            detail = line.get("SalesItemLineDetail")
            if detail is not None:
                detail["Qty"] = Decimal("0")
        data["TotalAmt"] = Decimal("0")
        if kind.name != "BillPayment":
            data["Balance"] = Decimal("0")
        data["PrivateNote"] = "Voided"
        self.commit_update(row, data)
        self.after_write(kind, before, row.data)
        return WriteResult(row, "Void")

    def after_write(
        self, kind: EntityKind, before: dict | None, after: dict | None, at: datetime | None = None
    ) -> None:
        """A BillPayment changes the bills it pays: their Balance and LinkedTxn follow its lines."""
        if kind.name != "BillPayment":
            return
        bill_ids = {bill_id for data in (before, after) if data for bill_id in linked_bill_ids(data)}
        for bill_id in sorted(bill_ids):
            bill = self.row("Bill", bill_id)
            if bill is None:
                continue
            data = writable_fields(copy.deepcopy(bill.data))
            data["TotalAmt"] = bill.data["TotalAmt"]
            data["Balance"], linked = self.bill_balance(bill_id, Decimal(bill.data["TotalAmt"]))
            if linked:
                data["LinkedTxn"] = linked
            else:
                data.pop("LinkedTxn", None)
            if data.get("LinkedTxn") != bill.data.get("LinkedTxn") or data["Balance"] != bill.data.get("Balance"):
                self.commit_update(bill, data, at)

    def bill_balance(self, bill_id: str, total: Decimal) -> tuple[Decimal, list[dict]]:
        """A bill's open balance and its LinkedTxn list, from the payments applied to it."""
        applied = [(payment, amount) for payment, amount in self.payments_applied(bill_id) if amount]
        linked = [{"TxnId": payment, "TxnType": "BillPayment"} for payment in dict.fromkeys(p for p, _ in applied)]
        return total - sum((amount for _, amount in applied), Decimal("0")), linked

    def duplicate_documents(self) -> int:
        """Live transactions sharing (type, DocNumber, party) with an earlier one: writes done twice."""
        seen: set[tuple] = set()
        duplicates = 0
        for kind_name, rows in self.rows.items():
            for row in rows.values():
                number = row.data.get("DocNumber")
                if row.deleted or number is None or ENTITY_KINDS[kind_name].is_name_list:
                    continue
                party = (row.data.get("VendorRef") or row.data.get("CustomerRef") or {}).get("value")
                key = (kind_name, number, party)
                duplicates += key in seen
                seen.add(key)
        return duplicates

    def changed_since(self, kind_name: str, since: datetime) -> list[Row]:
        return [row for row in self.rows[kind_name].values() if row.updated_at > since]


def linked_bill_ids(data: dict) -> list[str]:
    return [
        str(linked.get("TxnId"))
        for line in data.get("Line", [])
        for linked in line.get("LinkedTxn", [])
        if linked.get("TxnType") == "Bill"
    ]
