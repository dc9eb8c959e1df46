"""Documents read from a partner's file to the Bill / VendorCredit / JournalEntry bodies QBO accepts.

Every reference is resolved through the partner's mapping against the company's reference data; what
cannot be resolved becomes a failure row naming the value, the document, the line and the key to add.
The shape checks (totals, balance, dates, DocNumber length, currency) are validation's, on the facts
gathered here for every document.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from qbo_sftp_assets.config import Partner
from qbo_sftp_assets.formats import Bill, JournalEntry, JournalLine, Line, PartyRef, Source, VendorCredit
from qbo_sftp_assets.mapping.plan import (
    DocumentKind,
    EntityType,
    FailureRow,
    HeaderFacts,
    LineFacts,
    PostingDraft,
    PostingPlan,
    content_sha256,
)
from qbo_sftp_assets.mapping.reference_data import ReferenceData
from qbo_sftp_assets.mapping.resolve import Resolved, Resolver

PRIVATE_NOTE_LIMIT = 4000
_CENT = Decimal("0.01")
_ENTITY_ACCOUNT_TYPES = {"Accounts Receivable": "customer", "Accounts Payable": "vendor"}


def plan_postings(
    documents: Iterable[Any],
    *,
    partner_name: str,
    partner: Partner,
    reference: ReferenceData,
    file_name: str,
    file_sha256: str,
) -> PostingPlan:
    """Map every document of one file; documents that map completely become drafts."""
    plan = PostingPlan(file_name=file_name, file_sha256=file_sha256, partner=partner_name, realm_id=reference.realm_id)
    resolver = Resolver(partner.mapping, reference, company=f"company {partner.company!r}")
    for record_index, document in enumerate(documents):
        plan.documents_seen += 1
        mapper = _DocumentMapper(plan, resolver, record_index, document)
        mapper.run()
    return plan


def cents(amount: Decimal) -> int | None:
    """Whole cents, or None when the amount has a fraction of a cent."""
    scaled = amount * 100
    return int(scaled) if scaled == scaled.to_integral_value() else None


class _DocumentMapper:
    """Maps one document, collecting every failure rather than stopping at the first."""

    def __init__(self, plan: PostingPlan, resolver: Resolver, record_index: int, document: Any) -> None:
        self.plan = plan
        self.resolver = resolver
        self.reference = resolver.reference
        self.mapping = resolver.mapping
        self.record_index = record_index
        self.document = document
        self.number: str | None = getattr(document, "number", None)
        self.source: Source = _with_file(getattr(document, "source", Source()), plan.file_name)
        self.failures: list[FailureRow] = []

    # --- failures ---------------------------------------------------------------------------------

    def fail(
        self, column: str, value: Any, check: str, fix: str, *, line: int | None = None, source: Source | None = None
    ) -> None:
        where = (source or self.source).position()
        self.failures.append(
            FailureRow(
                record_index=self.record_index,
                document_number=self.number,
                line=line,
                source_location=where,
                column=column,
                value=None if value is None else str(value),
                check=check,
                fix=fix,
            )
        )

    def need(
        self, found: Resolved, column: str, value: Any, *, line: int | None = None, source: Source | None = None
    ) -> str | None:
        if not found.ok:
            self.fail(column, value, found.check, found.fix, line=line, source=source)
        return found.id

    # --- documents --------------------------------------------------------------------------------

    def run(self) -> None:
        document = self.document
        if self.reference.is_empty:
            self.fail(
                "reference",
                self.reference.realm_id,
                "reference_loaded",
                "no QuickBooks reference data is stored for this company; refresh it (the qbo snapshot assets, "
                "or refresh_reference) before posting",
            )
            self.plan.failures.extend(self.failures)
            return
        if isinstance(document, JournalEntry):
            self._journal_entry(document)
        elif isinstance(document, Bill):
            self._bill(document)
        else:
            kind = getattr(getattr(document, "type", None), "value", type(document).__name__)
            self.fail(
                "document_type",
                kind,
                "document_postable",
                f"a {kind} document is not posted from a partner file (bills, vendor credits and journal entries "
                "are); route the file to another inbound rule or remove the document",
            )
            self.plan.failures.extend(self.failures)

    def _finish(
        self,
        entity_type: EntityType,
        document_type: DocumentKind,
        payload: dict[str, Any],
        vendor_id: str | None,
        currency: str,
        total: Decimal,
        party: PartyRef | None,
        key: str,
    ) -> None:
        self.plan.failures.extend(self.failures)
        if self.failures:
            return
        self.plan.drafts.append(
            PostingDraft(
                record_index=self.record_index,
                document_key=key,
                document_type=document_type,
                entity_type=entity_type,
                payload=payload,
                doc_number=self.number,
                vendor_id=vendor_id,
                currency=currency,
                txn_date=self.document.date,
                total=total,
                source=self.source,
                content_sha256=content_sha256(payload),
                party=party,
            )
        )

    def _currency(self, stated: str | None) -> str:
        home = self.reference.home_currency
        return (stated or home or "").upper()

    def _header_facts(
        self,
        entity_type: str,
        vendor_value: str | None,
        vendor_id: str | None,
        currency: str,
        stated_total: Decimal | None,
        line_amounts: list[int],
        debit: int = 0,
        credit: int = 0,
    ) -> None:
        stated_cents = None
        if stated_total is not None:
            stated_cents = cents(stated_total)
            if stated_cents is None:
                self.fail("total", stated_total, "amount_whole_cents", "the document total has a fraction of a cent")
        self.plan.headers.append(
            HeaderFacts(
                record_index=self.record_index,
                document_key=self.document.key(),
                document_number=self.number,
                entity_type=entity_type,
                source_location=self.source.position(),
                vendor_value=vendor_value,
                vendor_id=vendor_id,
                txn_date=self.document.date,
                due_date=getattr(self.document, "due_date", None),
                currency=currency or None,
                home_currency=self.reference.home_currency,
                multicurrency_enabled=self.reference.multicurrency_enabled,
                book_close_date=self.reference.book_close_date,
                stated_total_cents=stated_cents,
                lines_total_cents=sum(line_amounts),
                debit_cents=debit,
                credit_cents=credit,
                line_count=len(line_amounts),
            )
        )

    # --- bills and vendor credits -----------------------------------------------------------------

    def _bill(self, bill: Bill) -> None:
        is_credit = isinstance(bill, VendorCredit)
        entity_type: EntityType = "VendorCredit" if is_credit else "Bill"
        vendor = self.need(self.resolver.party("vendor", bill.vendor), "vendor", _party_text(bill.vendor))
        vendor_obj = self.reference.vendors.get(vendor)
        currency = self._currency(bill.currency)
        if vendor_obj and self.reference.multicurrency_enabled:
            vendor_currency = str((vendor_obj.get("CurrencyRef") or {}).get("value") or "").upper()
            if vendor_currency and currency and vendor_currency != currency:
                self.fail(
                    "currency",
                    currency,
                    "vendor_currency",
                    f"vendor {vendor_obj.get('DisplayName')!r} trades in {vendor_currency} in QuickBooks but the "
                    f"document is in {currency}; QuickBooks posts a vendor's bills in the vendor's currency",
                )
        payload: dict[str, Any] = {"VendorRef": {"value": vendor}, "TxnDate": bill.date.isoformat()}
        if bill.number:
            payload["DocNumber"] = bill.number
        term_id, due_days = self._terms(bill, vendor_obj)
        if term_id:
            payload["SalesTermRef"] = {"value": term_id}
        due = bill.due_date or (bill.date + dt.timedelta(days=due_days) if due_days is not None else None)
        if due is not None and not is_credit:
            payload["DueDate"] = due.isoformat()
        if self.mapping.accounts.ap_account:
            ap = self.need(
                self.resolver.configured_account(self.mapping.accounts.ap_account, "mapping.accounts.ap_account"),
                "ap_account",
                self.mapping.accounts.ap_account,
            )
            payload["APAccountRef"] = {"value": ap}
        department = self._department()
        if department:
            payload["DepartmentRef"] = {"value": department}
        if self.reference.multicurrency_enabled and currency:
            payload["CurrencyRef"] = {"value": currency}
        classes = self._class_plan([line.class_ for line in bill.lines])
        lines = []
        amounts = []
        for number, line in enumerate(bill.lines, start=1):
            lines.append(self._bill_line(number, line, classes))
            amount_cents = cents(line.amount)
            if amount_cents is None:
                self.fail(
                    "amount",
                    line.amount,
                    "amount_whole_cents",
                    "the line amount has a fraction of a cent; QuickBooks amounts are in cents",
                    line=number,
                    source=_with_file(line.source, self.plan.file_name),
                )
            amounts.append(amount_cents or 0)
        payload["Line"] = lines
        payload["PrivateNote"] = self._private_note(bill.memo)
        self._header_facts(entity_type, _party_text(bill.vendor), vendor, currency, bill.total, amounts)
        self._finish(
            entity_type,
            "vendor_credit" if is_credit else "bill",
            payload,
            vendor,
            currency,
            bill.lines_total,
            bill.vendor,
            bill.key(),
        )

    def _bill_line(self, number: int, line: Line, classes: dict[int, str | None]) -> dict[str, Any]:
        source = _with_file(line.source, self.plan.file_name)
        item_id = None
        account_id = None
        account_value = line.account
        as_item = bool(line.item and self.mapping.items.enabled and not line.account and line.kind == "item")
        if line.account:
            account_id = self.need(
                self.resolver.account_code(line.account), "account", line.account, line=number, source=source
            )
        elif as_item and line.item:
            item_id = self.need(self.resolver.item(line.item), "item", line.item, line=number, source=source)
        else:
            account_value, found, column = self._implicit_account(line)
            if found is None:
                self.fail(
                    column,
                    account_value,
                    "account_present",
                    _no_account_fix(line),
                    line=number,
                    source=source,
                )
            else:
                account_id = self.need(found, column, account_value, line=number, source=source)
        detail: dict[str, Any] = {}
        class_id = classes.get(number)
        if class_id:
            detail["ClassRef"] = {"value": class_id}
        if line.customer:
            customer = self.need(
                self.resolver.party("customer", PartyRef(id=line.customer)),
                "customer",
                line.customer,
                line=number,
                source=source,
            )
            detail["CustomerRef"] = {"value": customer}
        body: dict[str, Any] = {"Amount": line.amount}
        if line.description:
            body["Description"] = line.description
        if as_item:
            detail = {"ItemRef": {"value": item_id}, **detail}
            if line.quantity is not None:
                detail["Qty"] = line.quantity
            if line.unit_price is not None:
                detail["UnitPrice"] = line.unit_price
            body["DetailType"] = "ItemBasedExpenseLineDetail"
            body["ItemBasedExpenseLineDetail"] = detail
        else:
            body["DetailType"] = "AccountBasedExpenseLineDetail"
            body["AccountBasedExpenseLineDetail"] = {"AccountRef": {"value": account_id}, **detail}
        self.plan.lines.append(
            LineFacts(
                record_index=self.record_index,
                document_number=self.number,
                line=number,
                source_location=source.position(),
                entity_type="VendorCredit" if isinstance(self.document, VendorCredit) else "Bill",
                kind=line.kind,
                amount_cents=cents(line.amount) or 0,
                posting_type=None,
                account_value=account_value,
                account_id=account_id,
                item_value=line.item,
                item_id=item_id,
                class_value=line.class_,
                class_id=class_id,
                description_length=len(line.description or ""),
            )
        )
        return body

    def _implicit_account(self, line: Line) -> tuple[str | None, Resolved | None, str]:
        """The account a line without a GL code posts to, by the partner's configured rules."""
        accounts = self.mapping.accounts
        special = {
            "charge": ("charges", accounts.charges),
            "allowance": ("allowances", accounts.allowances),
            "tax": ("tax", accounts.tax),
        }
        if line.kind in special:
            key, target = special[line.kind]
            if target:
                return target, self.resolver.configured_account(target, f"mapping.accounts.{key}"), "account"
            return None, None, "account"
        if line.item and line.item in accounts.items:
            target = accounts.items[line.item]
            return target, self.resolver.configured_account(target, f"mapping.accounts.items[{line.item!r}]"), "account"
        if accounts.default_expense:
            target = accounts.default_expense
            return target, self.resolver.configured_account(target, "mapping.accounts.default_expense"), "account"
        return line.item, None, "account"

    def _terms(self, bill: Bill, vendor: dict[str, Any] | None) -> tuple[str | None, int | None]:
        """SalesTermRef to send (file or mapping default) and the days the due date follows."""
        term: dict[str, Any] | None = None
        sent: str | None = None
        if bill.terms:
            found = self.resolver.term(bill.terms)
            sent = self.need(found, "terms", bill.terms)
            term = found.obj
        elif self.mapping.terms.default:
            found = self.resolver.term(self.mapping.terms.default, configured_as="mapping.terms.default")
            sent = self.need(found, "terms", self.mapping.terms.default)
            term = found.obj
        elif vendor is not None:
            term = self.reference.terms.get((vendor.get("TermRef") or {}).get("value"))
        due_days = term.get("DueDays") if term else None
        return sent, None if due_days is None else int(due_days)

    def _department(self) -> str | None:
        name = self.mapping.departments.default
        if not name:
            return None
        if not self.reference.tracks_departments:
            self.fail(
                "department",
                name,
                "departments_tracked",
                "mapping.departments.default is set but the company does not track locations (Preferences "
                "TrackDepartments is off); turn location tracking on in QuickBooks or remove the setting",
            )
            return None
        return self.need(self.resolver.department(name), "department", name)

    def _class_plan(self, codes: list[str | None]) -> dict[int, str | None]:
        """Class Id per 1-based line, following the tracking mode; failures for what cannot be honoured."""
        setting = self.mapping.classes
        default = setting.default
        # "none": QBO's preferences have class tracking off, as opposed to our setting "off".
        mode: str = setting.tracking
        if mode == "auto":
            if self.reference.class_tracking_per_line:
                mode = "per_line"
            elif self.reference.class_tracking_per_txn:
                mode = "per_txn"
            else:
                mode = "none"
        if mode == "off":
            return {}
        named = [code for code in codes if code]
        if mode == "none":
            if named or default:
                self.fail(
                    "class",
                    named[0] if named else default or "",
                    "classes_tracked",
                    "the company does not track classes (Preferences ClassTrackingPerTxn and "
                    "ClassTrackingPerTxnLine are off); turn class tracking on in QuickBooks or set "
                    "mapping.classes.tracking: off to leave the file's classes out",
                )
            return {}
        if mode == "per_txn":
            distinct = sorted(set(named))
            if len(distinct) > 1:
                self.fail(
                    "class",
                    ", ".join(distinct),
                    "one_class_per_transaction",
                    "the company tracks one class per transaction (ClassTrackingPerTxn) but the lines name "
                    "several; have the partner send one class per document or set mapping.classes.tracking: off",
                )
                return {}
            chosen = distinct[0] if distinct else default
            if not chosen:
                return {}
            class_id = self.need(
                self.resolver.class_(chosen, configured_as=None if distinct else "mapping.classes.default"),
                "class",
                chosen,
            )
            return dict.fromkeys(range(1, len(codes) + 1), class_id)
        plan: dict[int, str | None] = {}
        resolved: dict[str, str | None] = {}
        for number, code in enumerate(codes, start=1):
            chosen = code or default
            if not chosen:
                continue
            if chosen not in resolved:
                found = self.resolver.class_(chosen, configured_as=None if code else "mapping.classes.default")
                line_source = self._line_source(number)
                resolved[chosen] = self.need(found, "class", chosen, line=number, source=line_source)
            plan[number] = resolved[chosen]
        return plan

    def _line_source(self, number: int) -> Source:
        lines = getattr(self.document, "lines", ())
        if 0 < number <= len(lines):
            return _with_file(lines[number - 1].source, self.plan.file_name)
        return self.source

    # --- journal entries --------------------------------------------------------------------------

    def _journal_entry(self, entry: JournalEntry) -> None:
        currency = self._currency(entry.currency)
        payload: dict[str, Any] = {"TxnDate": entry.date.isoformat()}
        if entry.number:
            payload["DocNumber"] = entry.number
        if self.reference.multicurrency_enabled and currency:
            payload["CurrencyRef"] = {"value": currency}
        classes = self._class_plan([line.class_ for line in entry.lines])
        department = self._department()
        lines = []
        amounts = []
        debit_total = credit_total = 0
        for number, line in enumerate(entry.lines, start=1):
            body, signed = self._journal_line(number, line, classes.get(number), department)
            lines.append(body)
            amounts.append(signed)
            if signed >= 0:
                debit_total += signed
            else:
                credit_total -= signed
        payload["Line"] = lines
        payload["PrivateNote"] = self._private_note(entry.memo)
        self._header_facts("JournalEntry", None, None, currency, None, amounts, debit_total, credit_total)
        self._finish("JournalEntry", "journal_entry", payload, None, currency, entry.total_debits, None, entry.key())

    def _journal_line(
        self, number: int, line: JournalLine, class_id: str | None, department: str | None
    ) -> tuple[dict[str, Any], int]:
        source = _with_file(line.source, self.plan.file_name)
        if (line.debit is None) == (line.credit is None):
            self.fail(
                "debit/credit",
                f"debit={line.debit} credit={line.credit}",
                "one_side",
                "a journal line carries exactly one of a debit and a credit; fix the partner's file",
                line=number,
                source=source,
            )
        posting_type = "Debit" if line.debit is not None else "Credit"
        amount = line.debit if line.debit is not None else (line.credit or Decimal(0))
        amount_cents = cents(amount)
        if amount_cents is None:
            self.fail(
                "amount",
                amount,
                "amount_whole_cents",
                "the amount has a fraction of a cent",
                line=number,
                source=source,
            )
            amount_cents = 0
        found = self.resolver.account_code(line.account) if line.account else None
        account_id = None
        if found is None:
            self.fail(
                "account", None, "account_present", "a journal line must name its account", line=number, source=source
            )
        else:
            account_id = self.need(found, "account", line.account, line=number, source=source)
        detail: dict[str, Any] = {"PostingType": posting_type, "AccountRef": {"value": account_id}}
        if class_id:
            detail["ClassRef"] = {"value": class_id}
        if department:
            detail["DepartmentRef"] = {"value": department}
        entity = self._journal_entity(number, line, found.obj if found else None, source)
        if entity is not None:
            detail["Entity"] = entity
        body: dict[str, Any] = {"DetailType": "JournalEntryLineDetail", "Amount": amount}
        if line.description:
            body["Description"] = line.description
        body["JournalEntryLineDetail"] = detail
        self.plan.lines.append(
            LineFacts(
                record_index=self.record_index,
                document_number=self.number,
                line=number,
                source_location=source.position(),
                entity_type="JournalEntry",
                kind="journal",
                amount_cents=amount_cents,
                posting_type=posting_type,
                account_value=line.account,
                account_id=account_id,
                item_value=None,
                item_id=None,
                class_value=line.class_,
                class_id=class_id,
                description_length=len(line.description or ""),
            )
        )
        return body, amount_cents if posting_type == "Debit" else -amount_cents

    def _journal_entity(
        self, number: int, line: JournalLine, account: dict[str, Any] | None, source: Source
    ) -> dict[str, Any] | None:
        account_facts = account or {}
        needed = _ENTITY_ACCOUNT_TYPES.get(str(account_facts.get("AccountType", "")))
        has_party = line.entity is not None and bool(line.entity.id or line.entity.name)
        role = (line.entity_type or needed or "").lower()
        if not has_party:
            if needed:
                self.fail(
                    "entity",
                    None,
                    f"{needed}_present",
                    f"account {account_facts.get('Name')!r} is {account_facts.get('AccountType')}: QuickBooks needs "
                    f"a {needed} "
                    f"on this line; the partner's file must name one",
                    line=number,
                    source=source,
                )
            return None
        if role not in ("vendor", "customer", "employee"):
            self.fail(
                "entity_type",
                line.entity_type,
                "entity_type_known",
                "a journal line's name must be a vendor, customer or employee; fix the partner's file",
                line=number,
                source=source,
            )
            return None
        if needed and role != needed:
            self.fail(
                "entity_type",
                role,
                "entity_type_matches_account",
                f"account {account_facts.get('Name')!r} is {account_facts.get('AccountType')} and needs a {needed}, "
                f"not a {role}",
                line=number,
                source=source,
            )
        entity_id = self.need(
            self.resolver.party(role, line.entity), role, _party_text(line.entity), line=number, source=source
        )
        return {"Type": role.capitalize(), "EntityRef": {"value": entity_id}}

    # --- the note that leads back to the file -----------------------------------------------------

    def _private_note(self, memo: str | None) -> str:
        where = []
        if self.source.line is not None:
            where.append(f"line {self.source.line}")
        if self.source.segment is not None:
            where.append(f"segment {self.source.segment}")
        if self.source.interchange:
            where.append(f"interchange {self.source.interchange}")
        if self.source.transaction_set:
            where.append(f"transaction set {self.source.transaction_set}")
        origin = f"From {self.plan.file_name} (sha256 {self.plan.file_sha256})"
        if where:
            origin += ", " + ", ".join(where)
        if not memo:
            return origin
        # The origin is what must survive; a long memo gives way to it.
        room = PRIVATE_NOTE_LIMIT - len(origin) - 1
        text = memo if len(memo) <= room else memo[: max(room - 1, 0)] + "…"
        return f"{text}\n{origin}"


def _with_file(source: Source, file_name: str) -> Source:
    return source if source.file else dataclasses.replace(source, file=file_name)


def _party_text(party: PartyRef | None) -> str | None:
    if party is None:
        return None
    if party.id and party.name:
        return f"{party.id} ({party.name})"
    return party.id or party.name


def _no_account_fix(line: Line) -> str:
    if line.kind == "charge":
        return "a charge line (freight, handling) carries no GL code: set mapping.accounts.charges"
    if line.kind == "allowance":
        return "an allowance line carries no GL code: set mapping.accounts.allowances"
    if line.kind == "tax":
        return "a tax line carries no GL code: set mapping.accounts.tax"
    if line.item:
        return (
            f"the line carries item {line.item!r} but no GL code: add it to mapping.accounts.items, "
            "or set mapping.accounts.default_expense"
        )
    return "the line carries no GL code: set mapping.accounts.default_expense or have the partner send one"
