"""QBO entities (the JSON the client returns) turned into neutral documents for the outbound writers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from qbo_sftp_assets.formats.documents import Account, Bill, Class, Invoice, Line, PartyRef, Source, Vendor


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


def bill_from_qbo(obj: Mapping[str, Any]) -> Bill:
    """A QBO Bill; account-based lines carry the account name, item-based lines the item and quantity."""
    lines = []
    for line in obj.get("Line", []):
        detail_type = line.get("DetailType")
        detail = line.get(detail_type, {}) if detail_type else {}
        if detail_type not in ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail"):
            continue
        lines.append(
            Line(
                amount=_money(_require("Bill line", line, "Amount")),
                description=line.get("Description"),
                quantity=None if detail.get("Qty") is None else _money(detail["Qty"]),
                unit_price=None if detail.get("UnitPrice") is None else _money(detail["UnitPrice"]),
                item=_ref_name(detail.get("ItemRef")),
                account=_ref_name(detail.get("AccountRef")),
                class_=_ref_name(detail.get("ClassRef")),
                customer=_ref_name(detail.get("CustomerRef")),
            )
        )
    vendor = _require("Bill", obj, "VendorRef")
    return Bill(
        vendor=PartyRef(id=vendor.get("value"), name=vendor.get("name")),
        number=obj.get("DocNumber"),
        date=_date(_require("Bill", obj, "TxnDate")),
        due_date=_date(obj.get("DueDate")),
        terms=_ref_name(obj.get("SalesTermRef")),
        currency=(obj.get("CurrencyRef") or {}).get("value"),
        memo=obj.get("PrivateNote"),
        total=_money(obj["TotalAmt"]) if obj.get("TotalAmt") is not None else None,
        lines=tuple(lines),
        source=_source("Bill", obj),
    )


def invoice_from_qbo(obj: Mapping[str, Any]) -> Invoice:
    """A QBO Invoice; its sales-item lines become product lines (item, quantity, unit price)."""
    lines = []
    for line in obj.get("Line", []):
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        detail = line["SalesItemLineDetail"]
        lines.append(
            Line(
                amount=_money(_require("Invoice line", line, "Amount")),
                description=line.get("Description"),
                quantity=None if detail.get("Qty") is None else _money(detail["Qty"]),
                unit_price=None if detail.get("UnitPrice") is None else _money(detail["UnitPrice"]),
                item=_ref_name(detail.get("ItemRef")),
                class_=_ref_name(detail.get("ClassRef")),
            )
        )
    customer = _require("Invoice", obj, "CustomerRef")
    return Invoice(
        vendor=PartyRef(id=customer.get("value"), name=customer.get("name")),
        number=obj.get("DocNumber"),
        date=_date(_require("Invoice", obj, "TxnDate")),
        due_date=_date(obj.get("DueDate")),
        terms=_ref_name(obj.get("SalesTermRef")),
        currency=(obj.get("CurrencyRef") or {}).get("value"),
        memo=obj.get("PrivateNote"),
        total=_money(obj["TotalAmt"]) if obj.get("TotalAmt") is not None else None,
        lines=tuple(lines),
        source=_source("Invoice", obj),
    )
