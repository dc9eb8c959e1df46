"""Outside clients judge the wire format: intuit-oauth refreshes and python-quickbooks works unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import AuthorizationException, QuickbooksException, ValidationException
from quickbooks.objects.account import Account
from quickbooks.objects.base import Ref
from quickbooks.objects.bill import Bill
from quickbooks.objects.detailline import (
    AccountBasedExpenseLine,
    AccountBasedExpenseLineDetail,
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.journalentry import JournalEntry, JournalEntryLine, JournalEntryLineDetail
from quickbooks.objects.vendor import Vendor

from qbo_sftp_assets.sandbox.qbo_server import RunningSandbox
from qbo_sftp_assets_tests.fixtures_qbo import TEST_REDIRECT_URI, authorize_over_http


def local_quickbooks_class(sandbox: RunningSandbox) -> type[QuickBooks]:
    """python-quickbooks takes its API base from class attributes; point them at the sandbox."""
    return type(
        "LocalQuickBooks", (QuickBooks,), {"api_url_v3": sandbox.api_url, "sandbox_api_url_v3": sandbox.api_url}
    )


@pytest.fixture
def auth_client(qbo_sandbox: RunningSandbox) -> AuthClient:
    settings = qbo_sandbox.settings
    return AuthClient(settings.client_id, settings.client_secret, TEST_REDIRECT_URI, qbo_sandbox.discovery_url)


@pytest.fixture
def qb(qbo_sandbox: RunningSandbox, auth_client: AuthClient, monkeypatch) -> Iterator[QuickBooks]:
    # requests-oauthlib refuses plain http unless told this is a local test; the sandbox is loopback http.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    tokens = authorize_over_http(qbo_sandbox)
    auth_client.refresh(refresh_token=tokens["refresh_token"])
    client = local_quickbooks_class(qbo_sandbox)(
        auth_client=auth_client,
        refresh_token=auth_client.refresh_token,
        company_id=tokens["realmId"],
        minorversion=75,
        use_decimal=True,
    )
    yield client
    client.session.close()


def new_bill(vendor_id: str, account_id: str, amount: str, doc_number: str) -> Bill:
    detail = AccountBasedExpenseLineDetail()
    detail.AccountRef = Ref()
    detail.AccountRef.value = account_id
    line = AccountBasedExpenseLine()
    line.Amount = Decimal(amount)
    line.DetailType = "AccountBasedExpenseLineDetail"
    line.AccountBasedExpenseLineDetail = detail
    bill = Bill()
    bill.VendorRef = Ref()
    bill.VendorRef.value = vendor_id
    bill.DocNumber = doc_number
    bill.Line.append(line)
    return bill


def shop_supplies(qb: QuickBooks) -> str:
    return Account.filter(AcctNum="6100", qb=qb)[0].Id


def test_intuit_oauth_keeps_the_refresh_token_for_a_day_then_rotates(qbo_sandbox, auth_client):
    tokens = authorize_over_http(qbo_sandbox)
    auth_client.refresh(refresh_token=tokens["refresh_token"])
    # Intuit returns the same refresh token for about a day, not a new one per refresh (Intuit staff in
    # intuit/oauth-jsclient#74).
    assert auth_client.access_token and auth_client.refresh_token == tokens["refresh_token"]
    assert 100 * 24 * 3600 - 5 <= auth_client.x_refresh_token_expires_in <= 100 * 24 * 3600
    assert auth_client.expires_in == 3600
    qbo_sandbox.state.advance_clock(26 * 3600 + 1)
    auth_client.refresh(refresh_token=tokens["refresh_token"])
    assert auth_client.refresh_token != tokens["refresh_token"]
    with pytest.raises(AuthClientError) as raised:
        auth_client.refresh(refresh_token=tokens["refresh_token"])
    assert raised.value.status_code == 400
    assert raised.value.intuit_tid
    assert qbo_sandbox.state.token_refreshes() == 2


def test_query_count_and_read(qb):
    vendors = Vendor.all(qb=qb)
    assert len(vendors) == 6
    assert {vendor.DisplayName for vendor in vendors} >= {"Great Lakes Steel Supply", "Fastenal Dayton"}
    assert Bill.count(qb=qb) == 4
    assert len(Item.all(qb=qb)) == 4
    steel = Vendor.where("DisplayName LIKE '%Steel%'", qb=qb)
    assert [vendor.Id for vendor in steel] == ["1"]
    bill = Bill.get(1, qb=qb)
    assert bill.TotalAmt == Decimal("4590.0")
    assert bill.VendorRef.value == "1"
    assert bill.Line[0].AccountBasedExpenseLineDetail.AccountRef.name == "Steel & Raw Materials"


def test_create_then_update_with_synctoken_and_stale_update_fails(qb):
    created = new_bill("2", shop_supplies(qb), "218.40", "PQ-1").save(qb=qb, request_id="pq-create-1")
    assert created.Id and created.SyncToken == "0"
    assert created.TotalAmt == Decimal("218.4")
    fresh = Bill.get(created.Id, qb=qb)
    fresh.PrivateNote = "approved"
    updated = fresh.save(qb=qb)
    assert updated.SyncToken == "1"
    assert Bill.get(created.Id, qb=qb).PrivateNote == "approved"
    with pytest.raises(QuickbooksException) as raised:
        fresh.save(qb=qb)
    assert raised.value.error_code == 5010


def test_validation_fault_surfaces_as_python_quickbooks_exception(qb):
    with pytest.raises(ValidationException) as raised:
        new_bill("2", "99999", "5.00", "PQ-BAD").save(qb=qb)
    assert raised.value.error_code == 2500


def test_change_data_capture(qbo_sandbox, qb):
    since = qbo_sandbox.state.clock.now() - timedelta(minutes=1)
    bill = new_bill("3", shop_supplies(qb), "12.00", "PQ-CDC").save(qb=qb)
    bill_to_delete = new_bill("3", shop_supplies(qb), "13.00", "PQ-CDC2").save(qb=qb)
    bill_to_delete.delete(qb=qb)
    response = change_data_capture([Bill, Vendor], since.isoformat(), qb=qb)
    ids = {entry.Id: entry for entry in response.Bill}
    assert ids[bill.Id].DocNumber == "PQ-CDC"
    assert ids[bill_to_delete.Id].status == "Deleted"


def test_batch_create(qb):
    account = shop_supplies(qb)
    bills = [new_bill("4", account, f"{index}0.00", f"PQ-B{index}") for index in range(1, 4)]
    bills.append(new_bill("4", "99999", "1.00", "PQ-BX"))
    result = batch_create(bills, qb=qb)
    assert sorted(bill.DocNumber for bill in result.successes) == ["PQ-B1", "PQ-B2", "PQ-B3"]
    assert all(bill.Id for bill in result.successes)
    assert len(result.faults) == 1
    assert result.faults[0].Error[0].code == "2500"


def test_void_invoice(qb):
    invoice = Invoice.get(1, qb=qb)
    invoice.void(qb=qb)
    assert Invoice.get(1, qb=qb).TotalAmt == 0


def test_expired_access_token_is_an_authorization_exception(qbo_sandbox, qb):
    qbo_sandbox.state.expire_access_tokens()
    with pytest.raises(AuthorizationException) as raised:
        Vendor.all(qb=qb)
    assert raised.value.error_code == 401


def journal_line(amount: str, posting: str, account_id: str) -> JournalEntryLine:
    line = JournalEntryLine()
    line.Amount = Decimal(amount)
    line.JournalEntryLineDetail = JournalEntryLineDetail()
    line.JournalEntryLineDetail.PostingType = posting
    line.JournalEntryLineDetail.AccountRef = Ref()
    line.JournalEntryLineDetail.AccountRef.value = account_id
    return line


def test_name_list_journal_entry_and_invoice_objects_round_trip(qb):
    vendor = Vendor()
    vendor.DisplayName = "Round Trip Vendor"
    vendor.AcctNum = "880011"
    saved_vendor = vendor.save(qb=qb)
    assert saved_vendor.Id and saved_vendor.Active is True
    rent = Account.filter(AcctNum="6400", qb=qb)[0].Id
    checking = Account.filter(AcctNum="1010", qb=qb)[0].Id
    entry = JournalEntry()
    entry.Line = [journal_line("75.25", "Debit", rent), journal_line("75.25", "Credit", checking)]
    saved_entry = entry.save(qb=qb)
    assert saved_entry.TotalAmt == Decimal("75.25")
    unbalanced = JournalEntry()
    unbalanced.Line = [journal_line("75.25", "Debit", rent), journal_line("75.00", "Credit", checking)]
    with pytest.raises(QuickbooksException) as raised:
        unbalanced.save(qb=qb)
    assert raised.value.error_code == 6000
    line = SalesItemLine()
    line.Amount = Decimal("550.00")
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Ref()
    line.SalesItemLineDetail.ItemRef.value = "1"
    invoice = Invoice()
    invoice.CustomerRef = Ref()
    invoice.CustomerRef.value = "2"
    invoice.Line.append(line)
    saved_invoice = invoice.save(qb=qb)
    assert saved_invoice.TotalAmt == Decimal("550.0")
    assert saved_invoice.DocNumber
