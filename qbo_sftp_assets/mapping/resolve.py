"""Partner values to QBO objects, by the rules of the partner's `mapping:` section, in their stated order.

A lookup either finds exactly one active object or says why not and what to add; it never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qbo_sftp_assets.config import PartnerMapping, PartyMapping
from qbo_sftp_assets.formats import PartyRef
from qbo_sftp_assets.mapping.reference_data import EntityIndex, ReferenceData, fold

_DAYS = re.compile(r"^\s*(?:net\s*)?(\d{1,3})\s*(?:days?)?\s*$", re.IGNORECASE)

# The QBO fields each match strategy compares with.
_PARTY_FIELDS = {"acct_num": ("AcctNum",), "display_name": ("DisplayName",)}
_ACCOUNT_FIELDS = {"acct_num": ("AcctNum",), "fully_qualified_name": ("FullyQualifiedName",), "name": ("Name",)}
_ITEM_FIELDS = {"name": ("Name", "FullyQualifiedName"), "sku": ("Sku",)}


@dataclass(frozen=True)
class Resolved:
    """A lookup's answer: the object, or the check that failed with its fix text."""

    obj: dict[str, Any] | None
    check: str = ""
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.obj is not None

    @property
    def id(self) -> str | None:
        return None if self.obj is None else str(self.obj.get("Id"))


def _missing(check: str, fix: str) -> Resolved:
    return Resolved(None, check, fix)


class Resolver:
    """Lookups for one partner's mapping against one company's reference data."""

    def __init__(self, mapping: PartnerMapping, reference: ReferenceData, *, company: str = "QuickBooks") -> None:
        self.mapping = mapping
        self.reference = reference
        self.company = company

    # --- parties ----------------------------------------------------------------------------------

    def party(self, role: str, party: PartyRef | None) -> Resolved:
        """A vendor, customer or employee (`role`) named by the file's party id and/or name."""
        rule: PartyMapping = {"vendor": self.mapping.vendors, "customer": self.mapping.customers}.get(
            role, self.mapping.employees
        )
        index = {"vendor": self.reference.vendors, "customer": self.reference.customers}.get(
            role, self.reference.employees
        )
        key = f"mapping.{role}s"
        candidates = [value for value in (party.id, party.name) if value and value.strip()] if party else []
        if not candidates:
            return _missing(
                f"{role}_present",
                f"the document names no {role} (no id and no name); the partner must send one",
            )
        for strategy in rule.match:
            for value in candidates:
                if strategy == "table":
                    target = _table_value(rule.table, value)
                    if target is None:
                        continue
                    found = _by_reference(index, target, ("DisplayName", "AcctNum"))
                    if found.obj is None:
                        return _missing(
                            f"{role}_table_target",
                            f"{key}.table maps {value!r} to {target!r}, which is no {role} in {self.company}; "
                            f"create the {role} in QuickBooks or correct the table entry",
                        )
                    return self._active(found, role, value, key)
                if strategy == "id":
                    obj = index.get(value)
                    if obj is not None:
                        return self._active(Resolved(obj), role, value, key)
                    continue
                matches = _find(index, _PARTY_FIELDS[strategy], value)
                if len(matches) > 1:
                    return self._ambiguous(role, value, matches, key, "DisplayName")
                if matches:
                    return self._active(Resolved(matches[0]), role, value, key)
        shown = candidates[0]
        how = " or ".join(_STRATEGY_WORDS[s] for s in rule.match)
        return _missing(
            f"{role}_resolved",
            f"add {shown!r} to {key}.table (partner value: QBO {role} DisplayName or Id), or create the {role} "
            f"in QuickBooks so its {how} matches",
        )

    # --- accounts ---------------------------------------------------------------------------------

    def account_code(self, code: str) -> Resolved:
        """A GL code from the file, by `mapping.accounts.match`."""
        rule = self.mapping.accounts
        for strategy in rule.match:
            if strategy == "table":
                target = _table_value(rule.table, code)
                if target is None:
                    continue
                found = self.configured_account(target, f"mapping.accounts.table[{code!r}]")
                return found
            if strategy == "id":
                obj = self.reference.accounts.get(code)
                if obj is not None:
                    return self._active(Resolved(obj), "account", code, "mapping.accounts")
                continue
            matches = _find(self.reference.accounts, _ACCOUNT_FIELDS[strategy], code)
            if len(matches) > 1:
                return self._ambiguous("account", code, matches, "mapping.accounts", "FullyQualifiedName")
            if matches:
                return self._active(Resolved(matches[0]), "account", code, "mapping.accounts")
        return _missing(
            "account_resolved",
            f"add account {code!r} to mapping.accounts.table or create it in QuickBooks (AcctNum {code!r})",
        )

    def configured_account(self, target: str, key: str) -> Resolved:
        """An account the config names (by Id, AcctNum, fully qualified name or name)."""
        found = _by_reference(self.reference.accounts, target, ("AcctNum", "FullyQualifiedName", "Name"))
        if found.check == "ambiguous":
            return _missing("account_ambiguous", f"{key} names {target!r}, which matches several accounts; use its Id")
        if found.obj is None:
            return _missing(
                "account_configured",
                f"{key} names {target!r}, which is no account in {self.company}; create it in QuickBooks or "
                f"correct {key}",
            )
        return self._active(found, "account", target, key)

    # --- items, classes, departments, terms --------------------------------------------------------

    def item(self, code: str) -> Resolved:
        rule = self.mapping.items
        for strategy in rule.match or ["table"]:
            if strategy == "table":
                target = _table_value(rule.table, code)
                if target is None:
                    continue
                found = _by_reference(self.reference.items, target, ("Name", "FullyQualifiedName", "Sku"))
                if found.obj is None:
                    return _missing(
                        "item_table_target",
                        f"mapping.items.table maps {code!r} to {target!r}, which is no item in {self.company}; "
                        "create the item in QuickBooks or correct the table entry",
                    )
                return self._active(found, "item", code, "mapping.items")
            if strategy == "id":
                obj = self.reference.items.get(code)
                if obj is not None:
                    return self._active(Resolved(obj), "item", code, "mapping.items")
                continue
            matches = _find(self.reference.items, _ITEM_FIELDS[strategy], code)
            if len(matches) > 1:
                return self._ambiguous("item", code, matches, "mapping.items", "FullyQualifiedName")
            if matches:
                return self._active(Resolved(matches[0]), "item", code, "mapping.items")
        return _missing(
            "item_resolved",
            f"add item {code!r} to mapping.items.table or create the item in QuickBooks",
        )

    def class_(self, code: str, *, configured_as: str | None = None) -> Resolved:
        """A class by `mapping.classes.table`, then by its QBO name."""
        target = _table_value(self.mapping.classes.table, code) or code
        found = _by_reference(self.reference.classes, target, ("FullyQualifiedName", "Name"))
        if found.obj is None:
            if configured_as:
                fix = f"{configured_as} names {code!r}, which is no class in {self.company}; create it or correct it"
            else:
                fix = f"add class {code!r} to mapping.classes.table or create the class in QuickBooks"
            return _missing("class_resolved", fix)
        return self._active(found, "class", code, "mapping.classes")

    def department(self, name: str) -> Resolved:
        found = _by_reference(self.reference.departments, name, ("FullyQualifiedName", "Name"))
        if found.obj is None:
            return _missing(
                "department_resolved",
                f"mapping.departments.default names {name!r}, which is no department (location) in "
                f"{self.company}; create it or correct the setting",
            )
        return self._active(found, "department", name, "mapping.departments")

    def term(self, text: str, *, configured_as: str | None = None) -> Resolved:
        """Payment terms named by the file (a name, or days like '30' / 'Net 30')."""
        rule = self.mapping.terms
        for strategy in rule.match:
            if strategy == "table":
                target = _table_value(rule.table, text)
                if target is None:
                    continue
                found = _by_reference(self.reference.terms, target, ("Name",))
                if found.obj is None:
                    return _missing(
                        "term_table_target",
                        f"mapping.terms.table maps {text!r} to {target!r}, which is no term in {self.company}",
                    )
                return self._active(found, "term", text, "mapping.terms")
            if strategy == "name":
                matches = _find(self.reference.terms, ("Name",), text)
                if len(matches) == 1:
                    return self._active(Resolved(matches[0]), "term", text, "mapping.terms")
            if strategy == "days":
                days = _DAYS.match(text)
                if days:
                    matches = [
                        t
                        for t in self.reference.terms.by_id.values()
                        if str(t.get("DueDays", "")) == str(int(days.group(1))) and t.get("Active", True) is not False
                    ]
                    if len(matches) == 1:
                        return Resolved(matches[0])
                    if len(matches) > 1:
                        return self._ambiguous("term", text, matches, "mapping.terms", "Name")
        key = configured_as or "mapping.terms.table"
        return _missing(
            "term_resolved",
            f"add terms {text!r} to {key} (partner terms: QBO term name) or create the term in QuickBooks",
        )

    # --- helpers ----------------------------------------------------------------------------------

    def _active(self, found: Resolved, role: str, value: str, key: str) -> Resolved:
        obj = found.obj or {}
        if obj.get("Active", True) is False:
            label = obj.get("DisplayName") or obj.get("FullyQualifiedName") or obj.get("Name") or obj.get("Id")
            return _missing(
                f"{role}_active",
                f"{role} {label!r} (Id {obj.get('Id')}) that {value!r} maps to is inactive in {self.company}; "
                f"make it active in QuickBooks or map {value!r} to another {role} in {key}",
            )
        return found

    def _ambiguous(self, role: str, value: str, matches: Sequence[dict[str, Any]], key: str, label: str) -> Resolved:
        names = ", ".join(f"{m.get(label) or m.get('Name')} (Id {m.get('Id')})" for m in matches[:5])
        return _missing(
            f"{role}_ambiguous",
            f"{value!r} matches several {role}s in {self.company}: {names}; add {value!r} to {key}.table with the Id",
        )


_STRATEGY_WORDS = {"table": "table", "acct_num": "AcctNum", "display_name": "DisplayName", "id": "Id"}


def _table_value(table: dict[str, str], value: str) -> str | None:
    if value in table:
        return table[value]
    folded = fold(value)
    for key, target in table.items():
        if fold(key) == folded:
            return target
    return None


def _find(index: EntityIndex, fields: Sequence[str], value: str) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for field_name in fields:
        for obj in index.find(field_name, value):
            found[str(obj.get("Id"))] = obj
    return list(found.values())


def _by_reference(index: EntityIndex, target: str, fields: Sequence[str]) -> Resolved:
    """What a config value names: the first field that matches exactly one object, else an Id.

    Names come first so an account number such as '12' is not taken for the account whose Id is 12.
    """
    for field_name in fields:
        matches = index.find(field_name, target)
        if len(matches) == 1:
            return Resolved(matches[0])
        if len(matches) > 1:
            return Resolved(None, "ambiguous")
    obj = index.get(target.strip())
    return Resolved(obj) if obj is not None else Resolved(None)
