"""Documents to QBO payloads against the sandbox company's reference data (refreshed over HTTP once per
module), and every named failure of mapping and validation in the one failure table."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qbo_sftp_assets.config import Partner, PartnerMapping
from qbo_sftp_assets.formats.documents import (
    Bill,
    Invoice,
    JournalEntry,
    JournalLine,
    Line,
    PartyRef,
    Source,
    VendorCredit,
)
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.mapping import PostingPlan, ReferenceData, plan_postings, refresh_reference
from qbo_sftp_assets.qbo.client import QboClient
from qbo_sftp_assets.qbo.tokens import TokenStore
from qbo_sftp_assets.validation import failure_table_markdown, failure_table_text, validate_plan
from qbo_sftp_assets_tests.fixtures_qbo_client import (
    FIRST_REALM,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    local_company,
    seed_tokens,
)

FILE = "inbound/acme_20260105.csv"
SHA = "ab" * 32
DAY = dt.date(2026, 1, 5)


@pytest.fixture(scope="module")
def reference(client_sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceData]:
    """The manufacturer company's reference data, read from the sandbox into a ledger and loaded back."""
    folder: Path = tmp_path_factory.mktemp("reference")
    store = TokenStore(folder / "tokens.json")
    seed_tokens(client_sandbox, store)
    with QboClient(
        local_company(client_sandbox.base_url), store, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, company_name="mfg"
    ) as client:
        ledger = Ledger(folder / "ledger.duckdb")
        refresh_reference(client, ledger, FIRST_REALM)
        yield ReferenceData.load(ledger, FIRST_REALM)


def partner(**mapping: Any) -> Partner:
    return Partner.model_validate(
        {
            "company": "manufacturer",
            "sftp": {"host": "127.0.0.1", "user": "u", "auth": {"password_env": "P"}},
            "mapping": mapping,
        }
    )


def bill(number: str = "INV-1001", *, vendor: PartyRef | None = None, lines: tuple[Line, ...] | None = None, **fields):
    lines = lines or (
        Line(Decimal("100.00"), description="A36 plate", account="5000", class_="Welding", source=Source(FILE, 2)),
        Line(Decimal("25.50"), description="Argon", account="6100", class_="Welding", source=Source(FILE, 3)),
    )
    return Bill(
        vendor=vendor if vendor is not None else PartyRef(id="100234", name="Great Lakes Steel Supply"),
        number=number,
        date=DAY,
        lines=lines,
        source=Source(FILE, 2),
        **fields,
    )


def plan(reference: ReferenceData, documents: list, **mapping: Any) -> PostingPlan:
    return plan_postings(
        documents,
        partner_name="acme",
        partner=partner(**mapping),
        reference=reference,
        file_name=FILE,
        file_sha256=SHA,
    )


def failures_of(reference: ReferenceData, documents: list, **mapping: Any) -> list[dict]:
    return validate_plan(plan(reference, documents, **mapping), reference).failures.to_dict("records")


def only(failures: list[dict], check: str) -> dict:
    found = [f for f in failures if f["check"] == check]
    assert len(found) == 1, failures
    return found[0]


def account_id(reference: ReferenceData, acct_num: str) -> str:
    return reference.accounts.find("AcctNum", acct_num)[0]["Id"]


# --- payloads ---------------------------------------------------------------------------------------


def test_a_bill_maps_to_the_payload_qbo_accepts(reference):
    result = plan(reference, [bill(total=Decimal("125.50"))])
    validated = validate_plan(result, reference)
    assert validated.failures.empty, failure_table_text(validated.failures)
    (draft,) = validated.valid
    payload = draft.payload
    vendor = reference.vendors.find("AcctNum", "100234")[0]
    assert payload["VendorRef"] == {"value": vendor["Id"]}
    assert payload["DocNumber"] == "INV-1001" and payload["TxnDate"] == "2026-01-05"
    # No due date in the file: the vendor's terms (Net 30) decide it.
    assert payload["DueDate"] == "2026-02-04"
    first, second = payload["Line"]
    assert first["DetailType"] == "AccountBasedExpenseLineDetail"
    assert first["Amount"] == Decimal("100.00") and isinstance(first["Amount"], Decimal)
    detail = first["AccountBasedExpenseLineDetail"]
    assert detail["AccountRef"] == {"value": account_id(reference, "5000")}
    welding = reference.classes.find("Name", "Welding")[0]["Id"]
    assert detail["ClassRef"] == {"value": welding}  # the sandbox tracks classes per line
    assert second["AccountBasedExpenseLineDetail"]["AccountRef"] == {"value": account_id(reference, "6100")}
    assert payload["PrivateNote"] == f"From {FILE} (sha256 {SHA}), line 2"
    assert "CurrencyRef" not in payload  # a company without multicurrency takes none
    assert (draft.entity_type, draft.document_type, draft.vendor_id) == ("Bill", "bill", vendor["Id"])
    assert draft.total == Decimal("125.50") and draft.currency == "USD" and draft.record_index == 0
    assert draft.document_key == "bill:100234:INV-1001"


def test_content_hash_ignores_the_private_note_and_trailing_zeros(reference):
    first = plan(reference, [bill()]).drafts[0]
    other_lines = tuple(dataclasses.replace(line, amount=line.amount.normalize()) for line in bill().lines)
    again = plan_postings(
        [bill(lines=other_lines)],
        partner_name="acme",
        partner=partner(),
        reference=reference,
        file_name="inbound/re-export.csv",
        file_sha256="cd" * 32,
    ).drafts[0]
    assert again.payload["PrivateNote"] != first.payload["PrivateNote"]
    assert again.content_sha256 == first.content_sha256
    changed = plan(reference, [bill(lines=(Line(Decimal("99.99"), account="5000"),))]).drafts[0]
    assert changed.content_sha256 != first.content_sha256


def test_vendor_found_by_table_display_name_and_the_stated_order(reference):
    by_name = plan(reference, [bill(vendor=PartyRef(name="fastenal dayton"))]).drafts[0]
    assert by_name.vendor_id == reference.vendors.find("DisplayName", "Fastenal Dayton")[0]["Id"]
    by_table = plan(reference, [bill(vendor=PartyRef(id="GLS"))], vendors={"GLS": "Great Lakes Steel Supply"})
    assert by_table.drafts[0].vendor_id == reference.vendors.find("AcctNum", "100234")[0]["Id"]
    # The table is tried first: it overrides an AcctNum match.
    table_first = plan(
        reference, [bill()], vendors={"table": {"100234": "Fastenal Dayton"}, "match": ["table", "acct_num"]}
    )
    assert table_first.drafts[0].vendor_id == by_name.vendor_id
    acct_first = plan(
        reference, [bill()], vendors={"table": {"100234": "Fastenal Dayton"}, "match": ["acct_num", "table"]}
    )
    assert acct_first.drafts[0].vendor_id == by_table.drafts[0].vendor_id


def test_old_flat_mapping_keys_still_load_and_resolve(reference):
    mapping = PartnerMapping.model_validate(
        {"accounts": {"GL-STEEL": "Steel & Raw Materials"}, "default_expense_account": "Shop Supplies"}
    )
    assert mapping.accounts.table == {"GL-STEEL": "Steel & Raw Materials"}
    assert mapping.accounts.default_expense == "Shop Supplies"
    lines = (Line(Decimal("10.00"), account="GL-STEEL"), Line(Decimal("5.00"), description="no code"))
    draft = plan(
        reference,
        [bill(lines=lines)],
        accounts={"GL-STEEL": "Steel & Raw Materials"},
        default_expense_account="Shop Supplies",
    ).drafts[0]
    accounts = [line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"] for line in draft.payload["Line"]]
    assert accounts == [account_id(reference, "5000"), account_id(reference, "6100")]


def test_charges_allowances_items_and_ap_account_follow_the_mapping(reference):
    lines = (
        Line(Decimal("200.00"), item="PLATE-14", quantity=Decimal(2), unit_price=Decimal("100.00")),
        Line(Decimal("40.00"), kind="charge", description="Freight"),
        Line(Decimal("-10.00"), kind="allowance", description="Early pay"),
    )
    mapping = {
        "accounts": {
            "items": {"PLATE-14": "5000"},
            "charges": "Freight In",
            "allowances": "5000",
            "ap_account": "Accounts Payable (A/P)",
        }
    }
    validated = validate_plan(plan(reference, [bill(lines=lines, total=Decimal("230.00"))], **mapping), reference)
    assert validated.failures.empty, failure_table_text(validated.failures)
    payload = validated.valid[0].payload
    refs = [line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"] for line in payload["Line"]]
    assert refs == [account_id(reference, "5000"), account_id(reference, "5200"), account_id(reference, "5000")]
    assert payload["APAccountRef"] == {"value": account_id(reference, "2000")}
    # With items mapped, the same product line posts as an item line.
    item_plan = plan(reference, [bill(lines=lines[:1])], items={"PLATE-14": "Steel Plate 1/4in"})
    detail = item_plan.drafts[0].payload["Line"][0]
    assert detail["DetailType"] == "ItemBasedExpenseLineDetail"
    item = reference.items.find("Name", "Steel Plate 1/4in")[0]
    assert detail["ItemBasedExpenseLineDetail"]["ItemRef"] == {"value": item["Id"]}
    assert detail["ItemBasedExpenseLineDetail"]["Qty"] == Decimal(2)


def test_file_terms_set_sales_term_and_due_date(reference):
    draft = plan(reference, [bill(terms="Net 15")]).drafts[0]
    assert draft.payload["SalesTermRef"] == {"value": reference.terms.find("Name", "Net 15")[0]["Id"]}
    assert draft.payload["DueDate"] == "2026-01-20"
    by_days = plan(reference, [bill(terms="60", due_date=dt.date(2026, 3, 1))]).drafts[0]
    assert by_days.payload["SalesTermRef"] == {"value": reference.terms.find("Name", "Net 60")[0]["Id"]}
    assert by_days.payload["DueDate"] == "2026-03-01"  # the file's own due date wins


def test_a_credit_memo_becomes_a_vendor_credit(reference):
    credit = VendorCredit(
        vendor=PartyRef(id="100234"), number="CM-7", date=DAY, lines=(Line(Decimal("30.00"), account="5000"),)
    )
    (draft,) = validate_plan(plan(reference, [credit]), reference).valid
    assert (draft.entity_type, draft.document_type) == ("VendorCredit", "vendor_credit")
    assert "DueDate" not in draft.payload


def test_journal_entry_balances_with_entities_on_ap_and_ar_lines(reference):
    entry = JournalEntry(
        number="JE-44",
        date=DAY,
        lines=(
            JournalLine("5000", debit=Decimal("500.00"), class_="Machining"),
            JournalLine("2000", credit=Decimal("300.00"), entity=PartyRef(id="100871"), entity_type="vendor"),
            JournalLine("1200", credit=Decimal("200.00"), entity=PartyRef(name="Acme Tractor Works")),
        ),
        source=Source(FILE, segment=4),
    )
    validated = validate_plan(plan(reference, [entry]), reference)
    assert validated.failures.empty, failure_table_text(validated.failures)
    lines = validated.valid[0].payload["Line"]
    assert [line["JournalEntryLineDetail"]["PostingType"] for line in lines] == ["Debit", "Credit", "Credit"]
    assert [line["Amount"] for line in lines] == [Decimal("500.00"), Decimal("300.00"), Decimal("200.00")]
    vendor = reference.vendors.find("AcctNum", "100871")[0]["Id"]
    customer = reference.customers.find("DisplayName", "Acme Tractor Works")[0]["Id"]
    assert lines[1]["JournalEntryLineDetail"]["Entity"] == {"Type": "Vendor", "EntityRef": {"value": vendor}}
    assert lines[2]["JournalEntryLineDetail"]["Entity"] == {"Type": "Customer", "EntityRef": {"value": customer}}
    assert validated.valid[0].payload["PrivateNote"].endswith("segment 4")


# --- named failures -------------------------------------------------------------------------------


def test_unmapped_account_names_value_document_line_and_key(reference):
    lines = (Line(Decimal("10.00"), account="5000"), Line(Decimal("5.00"), account="6999", source=Source(FILE, 7)))
    validated = validate_plan(plan(reference, [bill(lines=lines)]), reference)
    assert validated.valid == []
    failure = only(validated.failures.to_dict("records"), "account_resolved")
    assert failure["document_number"] == "INV-1001" and failure["line"] == 2
    assert failure["source_location"] == f"{FILE}:7" and failure["value"] == "6999"
    assert failure["fix"] == "add account '6999' to mapping.accounts.table or create it in QuickBooks (AcctNum '6999')"
    assert "reference_resolved" not in set(validated.failures["check"])  # reported once, with the key to add


def test_a_document_without_a_vendor_party_is_a_named_failure(reference):
    failure = only(failures_of(reference, [bill(vendor=PartyRef())]), "vendor_present")
    assert failure["column"] == "vendor" and "names no vendor" in failure["fix"]


def test_unknown_vendor_inactive_and_no_account_are_named(reference):
    failures = failures_of(reference, [bill(vendor=PartyRef(id="999999", name="Nobody Inc"))])
    assert "add '999999' to mapping.vendors.table" in only(failures, "vendor_resolved")["fix"]
    no_code = failures_of(reference, [bill(lines=(Line(Decimal("1.00"), kind="charge"),))])
    assert "mapping.accounts.charges" in only(no_code, "account_present")["fix"]


def test_long_doc_number_is_refused_never_cut(reference):
    number = "INV-2026-0000000000012345"
    validated = validate_plan(plan(reference, [bill(number)]), reference)
    failure = only(validated.failures.to_dict("records"), "doc_number_length")
    assert failure["value"] == number and "never cut" in failure["fix"]
    assert validated.valid == []


def test_an_amount_beyond_quickbooks_fifteen_digits_is_a_named_failure_not_a_failed_file(reference):
    lines = (Line(Decimal("99999999999999.99"), description="Too much", account="5000", source=Source(FILE, 2)),)
    validated = validate_plan(plan(reference, [bill(lines=lines)]), reference)
    failure = only(validated.failures.to_dict("records"), "amount_within_limit")
    assert failure["value"] == "99999999999999.99" and "at most 15 digits" in failure["fix"]
    assert validated.valid == []


def test_foreign_currency_in_a_home_currency_company_is_a_named_failure(reference):
    failure = only(failures_of(reference, [bill(currency="EUR")]), "currency_allowed")
    assert failure["value"] == "EUR" and "USD" in failure["fix"] and "multicurrency" in failure["fix"]


def test_totals_balance_duplicates_and_negative_bills_are_all_reported_at_once(reference):
    documents = [
        bill("A-1", total=Decimal("999.00")),
        bill("A-1"),
        bill("NEG", lines=(Line(Decimal("-5.00"), account="5000"),)),
        JournalEntry(
            number="JE-1",
            date=DAY,
            lines=(JournalLine("5000", debit=Decimal("10")), JournalLine("6100", credit=Decimal("9"))),
        ),
        Invoice(customer=PartyRef(name="Acme Tractor Works"), number="S-1", date=DAY, lines=()),
    ]
    validated = validate_plan(plan(reference, documents), reference)
    checks = {(row["record_index"], row["check"]) for row in validated.failures.to_dict("records")}
    assert {
        (0, "lines_sum_to_total"),
        (0, "unique_vendor_number"),
        (1, "unique_vendor_number"),
        (2, "total_positive"),
        (2, "amount_valid"),
        (3, "journal_balances"),
        (4, "document_postable"),
    } <= checks
    assert validated.valid == []
    total = only(validated.failures_for(0).to_dict("records"), "lines_sum_to_total")
    assert "125.50" in total["fix"] and total["value"] == "999.00"


def test_journal_ap_line_without_a_vendor_and_closed_books(reference):
    closed = copy.deepcopy(reference.preferences)
    closed["AccountingInfoPrefs"]["BookCloseDate"] = "2026-01-31"
    closed_reference = dataclasses.replace(reference, preferences=closed)
    entry = JournalEntry(
        number="JE-2",
        date=DAY,
        lines=(JournalLine("5000", debit=Decimal("10")), JournalLine("2000", credit=Decimal("10"))),
    )
    failures = failures_of(closed_reference, [entry])
    assert "needs a vendor" in only(failures, "vendor_present")["fix"]
    assert "closed through 2026-01-31" in only(failures, "after_book_close")["fix"]


def test_classes_follow_the_company_preference(reference):
    per_txn = copy.deepcopy(reference.preferences)
    per_txn["AccountingInfoPrefs"].update(ClassTrackingPerTxn=True, ClassTrackingPerTxnLine=False)
    txn_reference = dataclasses.replace(reference, preferences=per_txn)
    mixed = (
        Line(Decimal("1.00"), account="5000", class_="Welding"),
        Line(Decimal("1.00"), account="5000", class_="Assembly"),
    )
    assert only(failures_of(txn_reference, [bill(lines=mixed)]), "one_class_per_transaction")
    untracked = copy.deepcopy(per_txn)
    untracked["AccountingInfoPrefs"]["ClassTrackingPerTxn"] = False
    off_reference = dataclasses.replace(reference, preferences=untracked)
    assert "tracking: off" in only(failures_of(off_reference, [bill()]), "classes_tracked")["fix"]
    dropped = plan(off_reference, [bill()], classes={"tracking": "off"}).drafts[0]
    assert "ClassRef" not in dropped.payload["Line"][0]["AccountBasedExpenseLineDetail"]


def test_failure_table_renders_as_markdown_and_text(reference):
    validated = validate_plan(plan(reference, [bill(lines=(Line(Decimal("5"), account="69|99"),))]), reference)
    markdown = failure_table_markdown(validated.failures)
    header = markdown.splitlines()[0]
    for column in ("document_number", "line", "source_location", "column", "value", "check", "fix"):
        assert column in header
    assert "69\\|99" in markdown
    assert "account_resolved" in failure_table_text(validated.failures)
    assert failure_table_markdown(validate_plan(plan(reference, [bill()]), reference).failures).startswith(
        "No failures"
    )


def test_empty_reference_data_is_a_named_failure_not_a_crash():
    empty = ReferenceData(realm_id="1")
    failure = only(validate_plan(plan(empty, [bill()]), empty).failures.to_dict("records"), "reference_loaded")
    assert "refresh" in failure["fix"]
