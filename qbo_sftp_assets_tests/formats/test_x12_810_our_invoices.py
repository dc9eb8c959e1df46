"""Our own outbound 810s: they name us in N1*SE and the customer in N1*BT, and read back (by
`read_x12` told our ids, and by `qbo-sftp inspect`) as our Invoices to that customer."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Invoice, Line, PartyRef
from qbo_sftp_assets.formats.errors import CustomerMissingError, VendorMissingError
from qbo_sftp_assets.formats.identities import X12Identity
from qbo_sftp_assets.formats.x12 import X12WriteError, read_x12, write_810
from qbo_sftp_assets.formats.x12.invoice_810 import seller_party
from qbo_sftp_assets_tests.paths import REPOSITORY

AS_OF = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)
EXAMPLE_CONFIG = REPOSITORY / "examples" / "qbo_sftp.example.yaml"
# The example config's acme_steel partner: we are NORTHWIND to them.
IDENTITY = X12Identity(our_id="NORTHWIND", partner_id="ACMESTEEL")
CUSTOMER = PartyRef("58", "Acme Steel Buyers")
INVOICE = Invoice(
    customer=CUSTOMER,
    number="1042",
    date=dt.date(2026, 11, 21),
    lines=(Line(Decimal("300.00"), "Laser cutting", Decimal("3"), Decimal("100"), "CUT", unit="HR"),),
)


def our_810(*invoices: Invoice) -> bytes:
    return write_810(
        list(invoices or [INVOICE]),
        parties=IDENTITY,
        control_numbers=InMemoryControlNumbers(5),
        as_of=AS_OF,
        seller=seller_party(IDENTITY, "northwind"),
    )


def test_an_outbound_invoice_carries_us_in_n1_se_and_the_customer_in_n1_bt() -> None:
    data = our_810()
    assert b"~N1*SE*northwind*92*NORTHWIND~N1*BT*Acme Steel Buyers*92*58~" in data
    named = seller_party(IDENTITY.model_copy(update={"our_name": "Northwind Fabrication"}), "northwind")
    assert named == PartyRef("NORTHWIND", "Northwind Fabrication")


def test_an_outbound_invoice_without_a_seller_is_not_written() -> None:
    with pytest.raises(X12WriteError, match="needs the seller"):
        write_810([INVOICE], parties=IDENTITY, control_numbers=InMemoryControlNumbers(), as_of=AS_OF)


def test_read_with_our_ids_our_810_is_our_invoices_to_the_customer() -> None:
    result, _ = read_x12(our_810(), our_ids=IDENTITY.our_ids())
    assert result.errors == []
    [invoice] = result.documents
    assert isinstance(invoice, Invoice)
    assert (invoice.customer, invoice.number, invoice.total) == (CUSTOMER, "1042", Decimal("300.00"))


def test_read_as_a_partner_would_our_810_is_a_bill_from_us() -> None:
    [bill] = read_x12(our_810())[0].documents
    assert not isinstance(bill, Invoice) and bill.vendor == PartyRef("NORTHWIND", "northwind")


def test_an_810_sent_by_us_without_a_bill_to_party_is_withheld_with_a_named_error() -> None:
    # As a cancellation of an invoice whose customer we never saw is written.
    data = our_810(Invoice(customer=PartyRef(), number="1042", date=INVOICE.date, lines=INVOICE.lines))
    result, acknowledgment = read_x12(data, our_ids={"NORTHWIND"})
    assert result.documents == []
    [error] = result.errors
    assert isinstance(error, CustomerMissingError) and not isinstance(error, VendorMissingError)
    assert "names no customer" in error.render()
    assert acknowledgment.interchanges[0].groups[0].sets[0].codes == []  # valid X12 all the same


def test_inspect_shows_our_invoices_with_their_customer(capsys, tmp_path: Path) -> None:
    path = tmp_path / "out.x12"
    path.write_bytes(our_810())
    for args in (
        ["--config", str(EXAMPLE_CONFIG), "inspect", str(path)],
        ["inspect", str(path), "--our-id", "NORTHWIND"],
    ):
        code = main(args)
        out, err = capsys.readouterr()
        assert code == 0, err
        [document] = json.loads(out)["documents"]
        assert document["type"] == "invoice"
        assert document["customer"] == {"id": "58", "name": "Acme Steel Buyers"}
