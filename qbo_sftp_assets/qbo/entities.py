"""The QBO entities we read and write: their names, URL resources, and which may be deleted or voided."""

from __future__ import annotations

from typing import Literal

Entity = Literal[
    "Vendor",
    "Customer",
    "Account",
    "Class",
    "Item",
    "Term",
    "Department",
    "Employee",
    "TaxCode",
    "Bill",
    "Invoice",
    "JournalEntry",
    "VendorCredit",
    "BillPayment",
]

NAME_LISTS: frozenset[str] = frozenset(
    {"Vendor", "Customer", "Account", "Class", "Item", "Term", "Department", "Employee", "TaxCode"}
)
TRANSACTIONS: frozenset[str] = frozenset({"Bill", "Invoice", "JournalEntry", "VendorCredit", "BillPayment"})
ENTITIES: frozenset[str] = NAME_LISTS | TRANSACTIONS
# QBO deletes transactions; name-list objects are only deactivated (Active=false).
DELETABLE: frozenset[str] = TRANSACTIONS
VOIDABLE: frozenset[str] = frozenset({"Invoice"})


class UnknownEntity(ValueError):
    """A name that is not one of the QBO entities this client handles."""


def entity_name(name: str) -> str:
    """The canonical (case-sensitive) QBO entity name for `name`, matched without regard to case."""
    for entity in ENTITIES:
        if entity.lower() == name.lower():
            return entity
    raise UnknownEntity(f"{name!r} is not a QBO entity this client handles (known: {', '.join(sorted(ENTITIES))})")


def resource(entity: str) -> str:
    """The URL path segment for an entity: QBO's lower-case resource name (`JournalEntry` -> `journalentry`)."""
    return entity_name(entity).lower()
