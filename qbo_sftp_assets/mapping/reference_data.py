"""One company's reference data in memory, indexed the ways mapping looks things up."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qbo_sftp_assets.ledger import Ledger, ReferenceStore

# The entities mapping needs; bills and invoices stay in the ledger unless asked for.
MAPPING_ENTITIES: tuple[str, ...] = (
    "Vendor",
    "Customer",
    "Employee",
    "Account",
    "Class",
    "Department",
    "Item",
    "Term",
    "TaxCode",
    "Preferences",
    "CompanyInfo",
)


def fold(text: str | None) -> str:
    """How names compare: QBO treats names case-insensitively, and surrounding spaces are noise."""
    return " ".join((text or "").split()).casefold()


@dataclass
class EntityIndex:
    """The objects of one entity by Id, with lookups by a folded field value (several may share one)."""

    entity: str
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    _by_field: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def add(self, obj: dict[str, Any]) -> None:
        self.by_id[str(obj.get("Id"))] = obj
        self._by_field.clear()

    def find(self, field_name: str, value: str) -> list[dict[str, Any]]:
        """Objects whose `field_name` equals `value` (folded); empty when none."""
        index = self._by_field.get(field_name)
        if index is None:
            index = defaultdict(list)
            for obj in self.by_id.values():
                found = obj.get(field_name)
                if found is not None and str(found).strip():
                    index[fold(str(found))].append(obj)
            self._by_field[field_name] = index
        return index.get(fold(value), [])

    def get(self, qbo_id: str | None) -> dict[str, Any] | None:
        return self.by_id.get(str(qbo_id)) if qbo_id is not None else None

    def __len__(self) -> int:
        return len(self.by_id)


@dataclass
class ReferenceData:
    """A company's vendors, customers, employees, accounts, classes, departments, items, terms, tax codes,
    Preferences and CompanyInfo, as last refreshed into the ledger."""

    realm_id: str
    entities: dict[str, EntityIndex] = field(default_factory=dict)
    preferences: dict[str, Any] = field(default_factory=dict)
    company_info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, ledger: Ledger, realm_id: str, entities: Iterable[str] = MAPPING_ENTITIES) -> ReferenceData:
        """The stored rows of `realm_id` (live and deactivated; deleted rows are left out)."""
        rows = ReferenceStore(ledger).rows(realm_id, entities)
        objects: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            objects[row.entity].append(row.data)
        return cls.from_objects(realm_id, objects)

    @classmethod
    def from_objects(cls, realm_id: str, objects: Mapping[str, Iterable[dict[str, Any]]]) -> ReferenceData:
        """Built from QBO bodies per entity (`{"Vendor": [...], "Preferences": [{...}], ...}`)."""
        data = cls(realm_id=realm_id)
        for entity, items in objects.items():
            items = list(items)
            if entity == "Preferences":
                data.preferences = items[0] if items else {}
            elif entity == "CompanyInfo":
                data.company_info = items[0] if items else {}
            else:
                index = data.index(entity)
                for obj in items:
                    index.add(obj)
        return data

    def index(self, entity: str) -> EntityIndex:
        return self.entities.setdefault(entity, EntityIndex(entity))

    @property
    def is_empty(self) -> bool:
        return not self.preferences and not any(self.entities.values())

    # --- shortcuts -----------------------------------------------------------------------------------

    @property
    def vendors(self) -> EntityIndex:
        return self.index("Vendor")

    @property
    def customers(self) -> EntityIndex:
        return self.index("Customer")

    @property
    def employees(self) -> EntityIndex:
        return self.index("Employee")

    @property
    def accounts(self) -> EntityIndex:
        return self.index("Account")

    @property
    def classes(self) -> EntityIndex:
        return self.index("Class")

    @property
    def departments(self) -> EntityIndex:
        return self.index("Department")

    @property
    def items(self) -> EntityIndex:
        return self.index("Item")

    @property
    def terms(self) -> EntityIndex:
        return self.index("Term")

    @property
    def tax_codes(self) -> EntityIndex:
        return self.index("TaxCode")

    # --- preferences ---------------------------------------------------------------------------------

    def _pref(self, section: str, name: str) -> Any:
        return (self.preferences.get(section) or {}).get(name)

    @property
    def class_tracking_per_txn(self) -> bool:
        return self._pref("AccountingInfoPrefs", "ClassTrackingPerTxn") is True

    @property
    def class_tracking_per_line(self) -> bool:
        return self._pref("AccountingInfoPrefs", "ClassTrackingPerTxnLine") is True

    @property
    def tracks_departments(self) -> bool:
        return self._pref("AccountingInfoPrefs", "TrackDepartments") is True

    @property
    def multicurrency_enabled(self) -> bool:
        return self._pref("CurrencyPrefs", "MultiCurrencyEnabled") is True

    @property
    def home_currency(self) -> str | None:
        home = self._pref("CurrencyPrefs", "HomeCurrency")
        if isinstance(home, dict) and home.get("value"):
            return str(home["value"]).upper()
        return None

    @property
    def book_close_date(self) -> dt.date | None:
        """QBO's books-closing date (AccountingInfoPrefs.BookCloseDate) when the company set one."""
        value = self._pref("AccountingInfoPrefs", "BookCloseDate")
        if not value:
            return None
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return None
