"""Reference data read from the sandbox into the ledger: a full query first, CDC after, tombstones for
deletes, a full resync when the watermark is past CDC's 30 days, and one entity at a time."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from qbo_sftp_assets.ledger.reference import ReferenceStore, cursor_name
from qbo_sftp_assets.mapping import ReferenceData, refresh_reference
from qbo_sftp_assets_tests.fixtures_ledger import BOTH_LEDGER_BACKENDS
from qbo_sftp_assets_tests.fixtures_qbo_client import FIRST_REALM

pytestmark = BOTH_LEDGER_BACKENDS  # the reference store on the DuckDB file and on PostgreSQL


def bill_body(client) -> dict:
    vendor = next(client.query("SELECT * FROM Vendor"))
    account = next(client.query("SELECT * FROM Account WHERE Name = 'Shop Supplies'"))
    return {
        "VendorRef": {"value": vendor["Id"]},
        "DocNumber": f"R-{uuid.uuid4().hex[:8]}",
        "Line": [
            {
                "Amount": Decimal("12.34"),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account["Id"]}},
            }
        ],
    }


def test_first_refresh_is_full_then_cdc_with_tombstones(qbo_sandbox, make_client, ledger):
    client = make_client(qbo_sandbox)
    first = refresh_reference(client, ledger, FIRST_REALM)
    assert {first.entities[e].mode for e in ("Vendor", "Account", "Bill", "Term")} == {"full"}
    reference = ReferenceData.load(ledger, FIRST_REALM)
    assert len(reference.vendors) == 6 and reference.home_currency == "USD"
    assert reference.class_tracking_per_line and not reference.multicurrency_enabled
    assert reference.company_info.get("CompanyName")
    row = next(r for r in ReferenceStore(ledger).rows(FIRST_REALM, ["Vendor"]))
    assert row.sync_token == "0" and row.last_updated is not None and row.last_updated.tzinfo is not None

    created = client.create("Vendor", {"DisplayName": "Refresh Test Vendor", "AcctNum": "R-1"}, request_id="v1")
    bill = client.create("Bill", bill_body(client), request_id="b1")
    client.delete("Bill", bill["Id"], request_id="b1-delete")
    second = refresh_reference(client, ledger, FIRST_REALM, ["Vendor", "Bill"])
    assert set(second.entities) == {"Vendor", "Bill"}  # only what was asked for
    assert second.entities["Vendor"].mode == "cdc" and second.entities["Vendor"].written == 1
    assert second.entities["Bill"].mode == "cdc" and second.entities["Bill"].deleted == 1
    assert second.requests <= 3  # Preferences (the clock) and one CDC read per entity
    refreshed = ReferenceData.load(ledger, FIRST_REALM)
    assert refreshed.vendors.get(created["Id"])["AcctNum"] == "R-1"
    tombstone = [r for r in ReferenceStore(ledger).rows(FIRST_REALM, ["Bill"], include_deleted=True) if r.deleted]
    assert [r.qbo_id for r in tombstone] == [bill["Id"]]
    assert ledger.get_cursor(cursor_name(FIRST_REALM, "Vendor")) == second.entities["Vendor"].watermark


def test_a_watermark_older_than_30_days_resyncs_in_full(qbo_sandbox, make_client, ledger):
    client = make_client(qbo_sandbox)
    refresh_reference(client, ledger, FIRST_REALM, ["Class"])
    # A class QBO deleted while we were away: only a full read can notice it is gone.
    ReferenceStore(ledger).upsert(
        FIRST_REALM, "Class", [{"Id": "9999", "Name": "Ghost", "SyncToken": "0"}], now=dt.datetime.now(dt.UTC)
    )
    old = qbo_sandbox.state.clock.now() - dt.timedelta(days=31)
    ledger.set_cursor(cursor_name(FIRST_REALM, "Class"), old.isoformat())
    result = refresh_reference(client, ledger, FIRST_REALM, ["Class"])
    assert result.entities["Class"].mode == "full" and "30 days" in (result.entities["Class"].reason or "")
    assert result.entities["Class"].deleted == 1
    assert ReferenceData.load(ledger, FIRST_REALM).classes.get("9999") is None


def test_inactive_vendor_is_kept_and_explained(qbo_sandbox, make_client, ledger):
    client = make_client(qbo_sandbox)
    vendor = client.create("Vendor", {"DisplayName": "Soon Inactive", "AcctNum": "INACT-1"}, request_id="v2")
    client.deactivate("Vendor", vendor["Id"], request_id="v2-off")
    refresh_reference(client, ledger, FIRST_REALM, ["Vendor"])
    reference = ReferenceData.load(ledger, FIRST_REALM)
    assert reference.vendors.get(vendor["Id"])["Active"] is False
    from qbo_sftp_assets.config import PartnerMapping
    from qbo_sftp_assets.formats.documents import PartyRef
    from qbo_sftp_assets.mapping import Resolver

    found = Resolver(PartnerMapping(), reference).party("vendor", PartyRef(id="INACT-1"))
    assert found.check == "vendor_active" and "inactive" in found.fix
