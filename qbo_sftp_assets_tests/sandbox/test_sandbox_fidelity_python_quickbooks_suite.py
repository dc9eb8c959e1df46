"""python-quickbooks 0.9.12's integration suite, operation by operation, on the entities the sandbox models.

Like that suite, one company and one stored refresh token serve every test, and each test builds its own
client (which refreshes): that only works because the sandbox keeps Intuit's daily refresh-token cadence.
Entities the sandbox does not model (Purchase, Payment, Estimate, ...) are out of scope (README).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from intuitlib.client import AuthClient
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException
from quickbooks.helpers import qb_date_format
from quickbooks.objects.account import Account
from quickbooks.objects.attachable import Attachable
from quickbooks.objects.base import Address, AttachableRef, CustomerMemo, EmailAddress, PhoneNumber, Ref, WebAddress
from quickbooks.objects.bill import Bill
from quickbooks.objects.billpayment import BillPayment, BillPaymentLine, CheckPayment
from quickbooks.objects.customer import Customer
from quickbooks.objects.department import Department
from quickbooks.objects.detailline import (
    AccountBasedExpenseLine,
    AccountBasedExpenseLineDetail,
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.employee import Employee
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.preferences import Preferences
from quickbooks.objects.taxcode import TaxCode
from quickbooks.objects.term import Term
from quickbooks.objects.trackingclass import Class
from quickbooks.objects.vendor import Vendor

from qbo_sftp_assets.sandbox.qbo_server import RunningSandbox, SandboxSettings, start_sandbox
from qbo_sftp_assets_tests.fixtures_qbo import TEST_REDIRECT_URI, authorize_over_http
from qbo_sftp_assets_tests.sandbox.test_sandbox_fidelity_python_quickbooks import local_quickbooks_class

Client = Callable[[], QuickBooks]


@pytest.fixture(scope="module")
def company() -> Iterator[tuple[RunningSandbox, dict]]:
    """One sandbox company and the one refresh token the suite keeps in its environment."""
    previous = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    # requests-oauthlib refuses plain http unless told this is a local test; the sandbox is loopback http.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        with start_sandbox(SandboxSettings()) as sandbox:
            yield sandbox, authorize_over_http(sandbox)
    finally:
        if previous is None:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = previous


@pytest.fixture
def new_client(company: tuple[RunningSandbox, dict]) -> Iterator[Client]:
    """The suite's setUp: a fresh AuthClient and QuickBooks client from the stored refresh token."""
    sandbox, tokens = company
    clients: list[QuickBooks] = []

    def build() -> QuickBooks:
        settings = sandbox.settings
        auth = AuthClient(settings.client_id, settings.client_secret, TEST_REDIRECT_URI, sandbox.discovery_url)
        client = local_quickbooks_class(sandbox)(
            auth_client=auth,
            refresh_token=tokens["refresh_token"],
            company_id=tokens["realmId"],
            minorversion=75,
            use_decimal=True,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.session.close()


@pytest.fixture
def qb(new_client: Client) -> QuickBooks:
    return new_client()


def stamp() -> str:
    return datetime.now().strftime("%m%d%H%M%S%f")


def test_many_clients_from_one_stored_refresh_token_all_work(new_client: Client, company) -> None:
    sandbox, _ = company
    before = sandbox.state.token_refreshes()
    for _ in range(3):
        assert Vendor.all(max_results=1, qb=new_client())
    assert sandbox.state.token_refreshes() - before == 3
    assert sandbox.state.stats()["realms"][sandbox.realm_id]["invalid_grants"] == 0


def test_account_create_read_update_and_from_json(qb: QuickBooks) -> None:
    account = Account()
    number = f"T{stamp()[:10]}"
    account.AcctNum, account.Name = number, f"Test Account {number}"
    account.AccountType, account.AccountSubType = "Bank", "CashOnHand"
    created = account.save(qb=qb)
    read = Account.get(created.Id, qb=qb)
    assert (read.Name, read.AcctNum, read.AccountType, read.AccountSubType) == (
        account.Name,
        number,
        "Bank",
        "CashOnHand",
    )
    created.Name = f"{account.Name}_updated"
    Account.get(created.save(qb=qb).Id, qb=qb)
    assert Account.get(created.Id, qb=qb).Name == f"{account.Name}_updated"
    from_json = Account.from_json(
        {
            "AcctNum": f"J{number[1:]}",
            "Name": f"Test JSON {number}",
            "AccountType": "Bank",
            "AccountSubType": "CashOnHand",
        }
    ).save(qb=qb)
    assert Account.get(from_json.Id, qb=qb).Name == f"Test JSON {number}"


def expense_bill(qb: QuickBooks, amount: Decimal | int) -> Bill:
    line = AccountBasedExpenseLine()
    line.Amount = amount
    line.DetailType = "AccountBasedExpenseLineDetail"
    account_ref = Ref()
    account_ref.type, account_ref.value = "Account", 1
    line.AccountBasedExpenseLineDetail = AccountBasedExpenseLineDetail()
    line.AccountBasedExpenseLineDetail.AccountRef = account_ref
    bill = Bill()
    bill.Line.append(line)
    bill.VendorRef = Vendor.all(max_results=1, qb=qb)[0].to_ref()
    return bill


def test_bill_create_keeps_the_undocumented_vendor_address(qb: QuickBooks) -> None:
    bill = expense_bill(qb, 200)
    bill.VendorAddr = Address()
    bill.VendorAddr.Line1, bill.VendorAddr.City, bill.VendorAddr.PostalCode = "123 Main", "City", "94030"
    bill.save(qb=qb)
    read = Bill.get(bill.Id, qb=qb)
    assert len(read.Line) == 1 and read.Line[0].Amount == 200
    assert (read.VendorAddr.Line1, read.VendorAddr.City) == ("123 Main", "City")
    read.delete(qb=qb)
    assert Bill.filter(Id=bill.Id, qb=qb) == []


def bill_payment(qb: QuickBooks, bill: Bill, amount: int) -> BillPayment:
    payment = BillPayment()
    payment.PayType, payment.TotalAmt, payment.PrivateNote = "Check", amount, "Private Note"
    payment.VendorRef = Vendor.all(max_results=1, qb=qb)[0].to_ref()
    payment.CheckPayment = CheckPayment()
    payment.CheckPayment.BankAccountRef = Account.where("AccountSubType = 'Checking'", qb=qb)[0].to_ref()
    payment.APAccountRef = Account.where("AccountSubType = 'AccountsPayable'", qb=qb)[0].to_ref()
    line = BillPaymentLine()
    line.LinkedTxn.append(bill.to_linked_txn())
    line.Amount = amount
    payment.Line.append(line)
    return payment.save(qb=qb)


def test_bill_payment_create_read_and_void(qb: QuickBooks) -> None:
    bill = expense_bill(qb, 200).save(qb=qb)
    payment = bill_payment(qb, bill, 200)
    read = BillPayment.get(payment.Id, qb=qb)
    assert (read.PayType, read.TotalAmt, read.PrivateNote) == ("Check", 200, "Private Note")
    assert len(read.Line) == 1 and read.Line[0].Amount == 200
    paid = Bill.get(bill.Id, qb=qb)
    assert paid.Balance == 0 and paid.LinkedTxn[0].TxnId == payment.Id
    payment.void(qb=qb)
    voided = BillPayment.get(payment.Id, qb=qb)
    assert voided.TotalAmt == 0 and "Voided" in voided.PrivateNote
    assert Bill.get(bill.Id, qb=qb).Balance == 200


def test_customer_create_and_update(qb: QuickBooks) -> None:
    customer = Customer()
    name = stamp()
    customer.Title, customer.GivenName, customer.MiddleName, customer.FamilyName, customer.Suffix = (
        "Mr",
        "James",
        "B",
        "King",
        "Jr",
    )
    customer.FullyQualifiedName = customer.CompanyName = customer.DisplayName = name
    customer.BillAddr = Address()
    customer.BillAddr.Line1, customer.BillAddr.CountrySubDivisionCode = "123 Main", "CA"
    customer.PrimaryPhone = PhoneNumber()
    customer.PrimaryPhone.FreeFormNumber = "555-555-5555"
    customer.PrimaryEmailAddr = EmailAddress()
    customer.PrimaryEmailAddr.Address = "test@email.com"
    customer.save(qb=qb)
    read = Customer.get(customer.Id, qb=qb)
    assert (read.DisplayName, read.FullyQualifiedName, read.Suffix) == (name, name, "Jr")
    assert read.PrimaryEmailAddr.Address == "test@email.com" and read.BillAddr.Line1 == "123 Main"
    first = Customer.all(max_results=1, qb=qb)[0]
    first.GivenName = name
    first.save(qb=qb)
    assert Customer.get(first.Id, qb=qb).GivenName == name


@pytest.mark.parametrize("kind", [Department, Class])
def test_department_and_class_create_and_update(qb: QuickBooks, kind: type) -> None:
    created = kind()
    created.Name = f"Test {kind.__name__} {stamp()}"
    created.save(qb=qb)
    assert kind.get(created.Id, qb=qb).Name == created.Name
    first = kind.all(max_results=1, qb=qb)[0]
    first.Name = f"Updated {stamp()}"
    first.save(qb=qb)
    assert kind.get(first.Id, qb=qb).Name == first.Name


def test_employee_create_and_update(qb: QuickBooks) -> None:
    employee = Employee()
    employee.SSN = None
    employee.GivenName = "John"
    employee.HiredDate = qb_date_format(date(2020, 7, 22))
    employee.FamilyName = f"Smith {stamp()}"
    employee.PrimaryAddr = Address()
    employee.PrimaryAddr.Line1, employee.PrimaryAddr.City = "45 N. Elm Street", "Middlefield"
    employee.PrimaryPhone = PhoneNumber()
    employee.PrimaryPhone.FreeFormNumber = "4085251234"
    employee.save(qb=qb)
    read = Employee.get(employee.Id, qb=qb)
    assert (read.GivenName, read.FamilyName, read.PrimaryAddr.City) == ("John", employee.FamilyName, "Middlefield")
    assert read.PrimaryPhone.FreeFormNumber == "4085251234"
    first = Employee.all(max_results=1, qb=qb)[0]
    first.FamilyName = f"Smith Updated {stamp()}"
    first.save(qb=qb)
    assert Employee.get(first.Id, qb=qb).FamilyName == first.FamilyName


def new_invoice(qb: QuickBooks, customer: Customer, request_id: str | None = None) -> Invoice:
    line = SalesItemLine()
    line.LineNum, line.Description, line.Amount = 1, "description", 100
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Item.all(max_results=1, qb=qb)[0].to_ref()
    invoice = Invoice()
    invoice.Line.append(line)
    invoice.CustomerRef = customer.to_ref()
    invoice.CustomerMemo = CustomerMemo()
    invoice.CustomerMemo.value = "Customer Memo"
    invoice.save(qb=qb, request_id=request_id)
    return invoice


def test_invoice_query_create_requestid_replay_delete_and_void(qb: QuickBooks) -> None:
    customer = Customer.all(max_results=1, qb=qb)[0]
    by_query = Invoice.query(f"select * from Invoice where CustomerRef = '{customer.Id}'", qb=qb)
    assert by_query[0].CustomerRef.name == customer.DisplayName
    assert Invoice.where(f"CustomerRef = '{customer.Id}'", qb=qb)[0].CustomerRef.name == customer.DisplayName
    created = new_invoice(qb, customer)
    read = Invoice.get(created.Id, qb=qb)
    assert (read.CustomerMemo.value, read.Line[0].Description, read.Line[0].Amount) == (
        "Customer Memo",
        "description",
        100,
    )
    request_id = str(uuid.uuid4())
    assert new_invoice(qb, customer, request_id).Id == new_invoice(qb, customer, request_id).Id
    doomed = new_invoice(qb, customer)
    doomed.delete(qb=qb)
    assert Invoice.filter(Id=doomed.Id, qb=qb) == []
    voided = new_invoice(qb, customer)
    voided.void(qb=qb)
    read = Invoice.get(voided.Id, qb=qb)
    assert read.Balance == 0 and read.TotalAmt == 0 and "Voided" in read.PrivateNote


def test_item_create_with_inventory_accounts_and_sku_in_all(qb: QuickBooks) -> None:
    income = Account.where("AccountType = 'Income' and AccountSubType = 'SalesOfProductIncome'", max_results=1, qb=qb)[
        0
    ]
    expense = Account.where("AccountSubType = 'SuppliesMaterialsCogs'", max_results=1, qb=qb)[0]
    asset = Account.where("AccountSubType = 'Inventory'", max_results=1, qb=qb)[0]
    item = Item()
    item.Name, item.Type, item.TrackQtyOnHand, item.QtyOnHand = f"Test Item {stamp()}", "Inventory", True, 10
    item.Sku, item.InvStartDate = "SKU123123", "2015-01-01"
    item.IncomeAccountRef, item.ExpenseAccountRef, item.AssetAccountRef = (
        income.to_ref(),
        expense.to_ref(),
        asset.to_ref(),
    )
    item.save(qb=qb)
    read = Item.get(item.Id, qb=qb)
    assert (read.Name, read.Type, read.Sku, read.TrackQtyOnHand, read.QtyOnHand) == (
        item.Name,
        "Inventory",
        "SKU123123",
        True,
        10,
    )
    assert read.AssetAccountRef.value == asset.Id
    assert any(found.Id == item.Id and found.Sku == "SKU123123" for found in Item.all(max_results=100, qb=qb))


def test_preferences_read(qb: QuickBooks) -> None:
    preferences = Preferences.get(qb=qb)
    assert preferences.Id == "1"
    assert preferences.AccountingInfoPrefs.TaxYearMonth == "January"
    assert preferences.ProductAndServicesPrefs.ForPurchase is True
    assert preferences.VendorAndPurchasesPrefs.BillableExpenseTracking is True
    assert preferences.TimeTrackingPrefs.WorkWeekStartDate == "Monday"
    assert preferences.OtherPrefs.NameValue[0].Name == "SalesFormsPrefs.DefaultCustomerMessage"


def test_tax_codes_read_and_query(qb: QuickBooks) -> None:
    codes = TaxCode.all(qb=qb)
    assert {code.Name for code in codes} == {"TAX", "NON"}
    assert TaxCode.get("NON", qb=qb).Taxable is False


def test_term_create_and_update(qb: QuickBooks) -> None:
    term = Term()
    term.Name, term.DueDays = f"Term {stamp()}", 10
    term.save(qb=qb)
    assert (Term.get(term.Id, qb=qb).Name, Term.get(term.Id, qb=qb).DueDays) == (term.Name, 10)
    first = Term.all(max_results=1, qb=qb)[0]
    first.DueDays = 60
    first.save(qb=qb)
    assert Term.get(first.Id, qb=qb).DueDays == 60


def test_vendor_create_and_update(qb: QuickBooks) -> None:
    vendor = Vendor()
    name = f"Test Vendor {stamp()}"
    vendor.TaxIdentifier, vendor.AcctNum, vendor.Title, vendor.GivenName = "99-9999999", "1234", "Ms.", "First"
    vendor.FamilyName, vendor.Suffix = "Last", "Sr."
    vendor.CompanyName = vendor.DisplayName = vendor.PrintOnCheckName = name
    vendor.BillAddr = Address()
    vendor.BillAddr.Line1, vendor.BillAddr.Country = "123 Main", "U.S.A"
    vendor.WebAddr = WebAddress()
    vendor.WebAddr.URI = "http://testurl.com"
    vendor.save(qb=qb)
    read = Vendor.get(vendor.Id, qb=qb)
    assert (read.DisplayName, read.PrintOnCheckName, read.Suffix, read.AcctNum) == (name, name, "Sr.", "1234")
    assert read.WebAddr.URI == "http://testurl.com" and read.BillAddr.Country == "U.S.A"
    first = Vendor.all(max_results=1, qb=qb)[0]
    first.GivenName, first.FamilyName = "Updated Name", "Updated Lastname"
    first.save(qb=qb)
    assert (Vendor.get(first.Id, qb=qb).GivenName, Vendor.get(first.Id, qb=qb).FamilyName) == (
        "Updated Name",
        "Updated Lastname",
    )


def test_attachable_notes_and_files_from_path_and_bytes(qb: QuickBooks, tmp_path: Path) -> None:
    vendor = Vendor.all(max_results=1, qb=qb)[0]

    def linked_to_vendor() -> Attachable:
        attachable = Attachable()
        ref = AttachableRef()
        ref.EntityRef = vendor.to_ref()
        attachable.AttachableRef.append(ref)
        return attachable

    note = linked_to_vendor()
    note.Note = "Test note"
    note.save(qb=qb)
    read = Attachable.get(note.Id, qb=qb)
    assert (read.AttachableRef[0].EntityRef.value, read.Note) == (vendor.Id, "Test note")
    first = Attachable.all(max_results=1, qb=qb)[0]
    first.Note = "Note updated"
    first.save(qb=qb)
    assert Attachable.get(first.Id, qb=qb).Note == "Note updated"
    path = tmp_path / "contents.txt"
    path.write_text("File contents")
    from_path = linked_to_vendor()
    from_path.Note, from_path.FileName, from_path._FilePath, from_path.ContentType = (
        "Sample note",
        path.name,
        str(path),
        "text/plain",
    )
    from_path.save(qb=qb)
    read = Attachable.get(from_path.Id, qb=qb)
    assert (read.Note, read.FileName, read.Size) == ("Sample note", "contents.txt", len("File contents"))
    from_bytes = linked_to_vendor()
    from_bytes.Note, from_bytes.FileName, from_bytes._FileBytes, from_bytes.ContentType = (
        "Sample note with bytes",
        "test.txt",
        b"File contents in bytes",
        "text/plain",
    )
    from_bytes.save(qb=qb)
    read = Attachable.get(from_bytes.Id, qb=qb)
    assert (read.AttachableRef[0].EntityRef.value, read.Note) == (vendor.Id, "Sample note with bytes")
    # QBO's download endpoint answers with a temporary link as text; the link serves the file itself.
    link = qb.session.get(f"{qb.api_url}/company/{qb.company_id}/download/{from_bytes.Id}")
    assert link.status_code == 200
    assert qb.session.get(link.text).content == b"File contents in bytes"
    Attachable.get(note.Id, qb=qb).delete(qb=qb)
    assert Attachable.filter(Id=note.Id, qb=qb) == []


def test_queries_where_like_in_not_equal_paging_and_count(qb: QuickBooks) -> None:
    assets = Account.where(
        "Classification = 'Asset' AND FullyQualifiedName != 'Accounts Receivable (A/R)'", max_results=1, qb=qb
    )
    assert assets and assets[0].FullyQualifiedName != "Accounts Receivable (A/R)"
    assert Account.where("Name = 'operating checking'", qb=qb)[0].Name == "Operating Checking"
    assert [vendor.Id for vendor in Vendor.where("DisplayName LIKE '%steel%'", qb=qb)] == ["1"]
    assert sorted(vendor.Id for vendor in Vendor.choose(["1", "3"], field="Id", qb=qb)) == ["1", "3"]
    assert Account.filter(AccountType="Bank", max_results=2, qb=qb)
    every = [vendor.Id for vendor in Vendor.all(order_by="Id", max_results=1000, qb=qb)]
    pages = [
        vendor.Id
        for start in range(1, len(every) + 1, 2)
        for vendor in Vendor.all(order_by="Id", start_position=start, max_results=2, qb=qb)
    ]
    assert pages == every
    assert Vendor.count(qb=qb) == len(every)
    assert Bill.count("DocNumber = 'gls-44812'", qb=qb) == 1


def test_tax_codes_cannot_be_written_through_the_api(qb: QuickBooks) -> None:
    code = TaxCode.get("TAX", qb=qb)
    with pytest.raises(QuickbooksException) as raised:
        qb.create_object("TaxCode", code.to_json())
    assert raised.value.error_code == 500


def test_a_large_amount_round_trips_to_the_cent(qb: QuickBooks) -> None:
    # 15 digits, QBO's limit; python-quickbooks sends Decimals as strings and reads with parse_float=Decimal.
    amount = Decimal("9999999999999.99")
    bill = expense_bill(qb, amount).save(qb=qb)
    assert bill.TotalAmt == amount
    read = Bill.get(bill.Id, qb=qb)
    assert read.TotalAmt == amount and read.Balance == amount and read.Line[0].Amount == amount
    with pytest.raises(QuickbooksException) as raised:
        expense_bill(qb, Decimal("99999999999999.99")).save(qb=qb)
    assert raised.value.error_code == 2010
