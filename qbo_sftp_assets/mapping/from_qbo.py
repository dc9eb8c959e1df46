"""QBO entities (the JSON the client returns) turned into neutral documents for the outbound writers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from qbo_sftp_assets.formats import Account, Bill, Class, Invoice, Line, PartyRef, Source, Vendor


class UnexpectedQboEntity(ValueError):
    """A QBO object lacks a field the outbound file needs; names the entity, its Id and the field."""


def _require(entity: str, obj: Mapping[str, Any], key: str) -> Any:
    value = obj.get(key)
    if value in (None, ""):
        raise UnexpectedQboEntity(f"{entity} {obj.get('Id', '?')}: QBO returned no {key}")
    return value


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _date(value: str | None) -> dt.date | None:
    return None if not value else dt.date.fromisoformat(value[:10])


def _ref_name(ref: Mapping[str, Any] | None) -> str | None:
    return None if not ref else ref.get("name") or ref.get("value")


def _source(entity: str, obj: Mapping[str, Any]) -> Source:
    return Source(file=f"qbo:{entity}/{obj.get('Id')}@{obj.get('SyncToken', '')}")


def vendor_from_qbo(obj: Mapping[str, Any]) -> Vendor:
    return Vendor(
        id=str(_require("Vendor", obj, "Id")),
        name=_require("Vendor", obj, "DisplayName"),
        email=(obj.get("PrimaryEmailAddr") or {}).get("Address"),
        phone=(obj.get("PrimaryPhone") or {}).get("FreeFormNumber"),
        tax_id=obj.get("TaxIdentifier"),
        active=bool(obj.get("Active", True)),
        source=_source("Vendor", obj),
    )


def account_from_qbo(obj: Mapping[str, Any]) -> Account:
    return Account(
        id=str(_require("Account", obj, "Id")),
        name=obj.get("FullyQualifiedName") or _require("Account", obj, "Name"),
        number=obj.get("AcctNum"),
        account_type=obj.get("AccountType"),
        active=bool(obj.get("Active", True)),
        source=_source("Account", obj),
    )


def class_from_qbo(obj: Mapping[str, Any]) -> Class:
    return Class(
        id=str(_require("Class", obj, "Id")),
        name=obj.get("FullyQualifiedName") or _require("Class", obj, "Name"),
        active=bool(obj.get("Active", True)),
        source=_source("Class", obj),
    )


def _line(line: Mapping[str, Any], detail: Mapping[str, Any], entity: str) -> Line:
    return Line(
        amount=_money(_require(f"{entity} line", line, "Amount")),
        description=line.get("Description"),
        quantity=None if detail.get("Qty") is None else _money(detail["Qty"]),
        unit_price=None if detail.get("UnitPrice") is None else _money(detail["UnitPrice"]),
        item=_ref_name(detail.get("ItemRef")),
        account=_ref_name(detail.get("AccountRef")),
        class_=_ref_name(detail.get("ClassRef")),
        customer=_ref_name(detail.get("CustomerRef")),
    )


def _transaction_fields(entity: str, obj: Mapping[str, Any], detail_types: set[str]) -> dict[str, Any]:
    """The fields bills and invoices share, with the lines whose DetailType the file can carry."""
    lines = tuple(
        _line(line, line[line["DetailType"]], entity)
        for line in obj.get("Line", [])
        if line.get("DetailType") in detail_types
    )
    return {
        "number": obj.get("DocNumber"),
        "date": dt.date.fromisoformat(str(_require(entity, obj, "TxnDate"))[:10]),
        "due_date": _date(obj.get("DueDate")),
        "terms": _ref_name(obj.get("SalesTermRef")),
        "currency": (obj.get("CurrencyRef") or {}).get("value"),
        "memo": obj.get("PrivateNote"),
        "total": _money(obj["TotalAmt"]) if obj.get("TotalAmt") is not None else None,
        "lines": lines,
        "source": _source(entity, obj),
    }


def _party(entity: str, obj: Mapping[str, Any], party_key: str) -> PartyRef:
    party = _require(entity, obj, party_key)
    return PartyRef(id=party.get("value"), name=party.get("name"))


def bill_from_qbo(obj: Mapping[str, Any]) -> Bill:
    """A QBO Bill; account-based lines carry the account name, item-based lines the item and quantity."""
    details = {"AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail"}
    return Bill(vendor=_party("Bill", obj, "VendorRef"), **_transaction_fields("Bill", obj, details))


def invoice_from_qbo(obj: Mapping[str, Any]) -> Invoice:
    """A QBO Invoice to its customer; its sales-item lines become product lines."""
    fields = _transaction_fields("Invoice", obj, {"SalesItemLineDetail"})
    return Invoice(customer=_party("Invoice", obj, "CustomerRef"), **fields)
