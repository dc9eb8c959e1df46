"""The entity types the sandbox serves and what QBO allows for each (delete, void, duplicate checks)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntityKind:
    """One QBO entity type: its name, path segment, and the operations QBO allows on it."""

    name: str
    plural: str
    is_name_list: bool
    deletable: bool = False
    voidable: bool = False
    # The Preferences.OtherPrefs switch that makes a duplicate DocNumber a fault (None: never checked).
    duplicate_docnumber_pref: str | None = None
    # Name-like field that must be unique within the company (name lists only).
    unique_name_field: str | None = None
    # Read and query only: QBO creates these itself (TaxCode comes from the tax service, not the API).
    read_only: bool = False
    # Whether change data capture serves it (Intuit's change-data-capture page excludes TaxCode).
    in_cdc: bool = True

    @property
    def path(self) -> str:
        return self.name.lower()


ENTITY_KINDS: dict[str, EntityKind] = {
    kind.name: kind
    for kind in (
        EntityKind("Vendor", "Vendors", True, unique_name_field="DisplayName"),
        EntityKind("Customer", "Customers", True, unique_name_field="DisplayName"),
        EntityKind("Account", "Accounts", True, unique_name_field="Name"),
        EntityKind("Class", "Classes", True, unique_name_field="Name"),
        EntityKind("Item", "Items", True, unique_name_field="Name"),
        EntityKind("Term", "Terms", True, unique_name_field="Name"),
        EntityKind("Department", "Departments", True, unique_name_field="Name"),
        EntityKind("Employee", "Employees", True, unique_name_field="DisplayName"),
        EntityKind("TaxCode", "TaxCodes", True, unique_name_field="Name", read_only=True, in_cdc=False),
        EntityKind("Bill", "Bills", False, deletable=True, duplicate_docnumber_pref="WarnDuplicateBillNumber"),
        # Invoice numbers have no duplicate-warning preference (Intuit's Preferences page has none).
        EntityKind("Invoice", "Invoices", False, deletable=True, voidable=True),
        EntityKind(
            "JournalEntry",
            "JournalEntries",
            False,
            deletable=True,
            duplicate_docnumber_pref="WarnDuplicateJournalNumber",
        ),
        EntityKind("VendorCredit", "VendorCredits", False, deletable=True),
        # python-quickbooks voids a BillPayment with `operation=update&include=void` (VoidMixin).
        EntityKind("BillPayment", "BillPayments", False, deletable=True, voidable=True),
        # Notes via the JSON endpoint, files via the multipart `upload` endpoint (api.upload).
        EntityKind("Attachable", "Attachables", False, deletable=True),
    )
}

# Read-only singletons that QBO also lets you query (`SELECT * FROM CompanyInfo`).
SINGLETON_KINDS: dict[str, EntityKind] = {
    name: EntityKind(name, name, False) for name in ("CompanyInfo", "Preferences")
}

KINDS_BY_PATH: dict[str, EntityKind] = {kind.path: kind for kind in ENTITY_KINDS.values()}

# Vendor, Customer and Employee share one namespace of display names in QBO.
SHARED_DISPLAY_NAME_KINDS = ("Vendor", "Customer", "Employee")


def kind_by_name(name: str) -> EntityKind | None:
    """Entity names are case sensitive in QBO queries; this is the exact lookup."""
    return ENTITY_KINDS.get(name)


def queryable_kind(name: str) -> EntityKind | None:
    return ENTITY_KINDS.get(name) or SINGLETON_KINDS.get(name)


def kind_by_name_insensitive(name: str) -> EntityKind | None:
    for kind in ENTITY_KINDS.values():
        if kind.name.lower() == name.lower():
            return kind
    return None
