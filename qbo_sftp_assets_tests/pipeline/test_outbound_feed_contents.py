"""What an outbound file carries: every list entity as CSV with the feed layout's columns and names and the
BOM the partner wants; `all_open`, `changed_since_last` and change-triggered selection against what the
ledger says was delivered; deletions and voids sent with their status, or skipped with a reason for X12."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from qbo_sftp_assets.config import Config, OutboundFeed
from qbo_sftp_assets.ledger.reference import ReferenceStore
from qbo_sftp_assets.pipeline.outbound import feed_records, render_feed

REALM = "4620816365"
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def bill(qbo_id: str, sync: str, balance: str = "100.00", note: str | None = None, total: str = "100.00") -> dict:
    return {
        "Id": qbo_id,
        "SyncToken": sync,
        "DocNumber": f"B-{qbo_id}",
        "TxnDate": "2026-11-20",
        "VendorRef": {"value": "5", "name": "Acme Steel"},
        "TotalAmt": Decimal(total),
        "Balance": Decimal(balance),
        "PrivateNote": note,
        "MetaData": {"LastUpdatedTime": "2026-11-29T10:00:00-08:00"},
        "Line": [
            {
                "Amount": Decimal(total),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "7", "name": "Steel"}},
            }
        ],
    }


def config(**feed) -> Config:
    return Config.model_validate(
        {
            "companies": {"northwind": {"realm_id": REALM}},
            "layouts": {
                "customer_out": {
                    "kind": "csv",
                    "encoding": "utf-8",
                    "columns": {"id": ["Customer No"], "name": ["Customer"], "status": ["State"]},
                    "write_columns": ["id", "name", "email", "balance", "status"],
                },
            },
            "partners": {
                "erp": {
                    "company": "northwind",
                    "sftp": {"host": "sftp.example", "user": "u", "auth": {"password_env": "ERP_PASSWORD"}},
                    "x12": {"our_id": "NORTHWIND", "partner_id": "ERP"},
                    "outbound": {"feed": feed},
                }
            },
        }
    )


def rows(content: bytes, encoding: str = "utf-8") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode(encoding))))


def test_each_list_entity_is_delivered_as_csv_with_the_layouts_names_and_bom(ledger):
    store = ReferenceStore(ledger)
    store.upsert(
        REALM,
        "Customer",
        [
            {
                "Id": "3",
                "SyncToken": "0",
                "DisplayName": "Dayton Fab",
                "Balance": Decimal("12.50"),
                "PrimaryEmailAddr": {"Address": "ap@dayton.example"},
            }
        ],
        now=NOW,
    )
    store.upsert(REALM, "Vendor", [{"Id": "5", "SyncToken": "2", "DisplayName": "Acme Steel"}], now=NOW)
    store.upsert(
        REALM,
        "Account",
        [
            {
                "Id": "7",
                "SyncToken": "1",
                "Name": "Steel",
                "FullyQualifiedName": "COGS:Steel",
                "AcctNum": "5000",
                "AccountType": "Cost of Goods Sold",
            }
        ],
        now=NOW,
    )
    store.upsert(REALM, "Class", [{"Id": "9", "SyncToken": "0", "Name": "Fab", "Active": False}], now=NOW)
    cfg = config(
        entities=["customers", "vendors", "accounts", "classes"], layout={"customers": "customer_out"}, bom=True
    )
    feed = cfg.partners["erp"].outbound["feed"]
    chosen = feed_records(ledger, REALM, "erp", "feed", feed, selection="all")
    files = {f.name.split("_")[1]: f for f in render_feed(cfg, "erp", "feed", chosen, ledger, as_of=NOW)}
    assert set(files) == {"customers", "vendors", "accounts", "classes"}
    customers = files["customers"].content
    assert customers.startswith(b"\xef\xbb\xbf")  # the feed's bom: true overrides the layout's utf-8
    assert rows(customers, "utf-8-sig") == [
        {
            "Customer No": "3",
            "Customer": "Dayton Fab",
            "email": "ap@dayton.example",
            "balance": "12.50",
            "State": "active",
        }
    ]
    assert rows(files["accounts"].content, "utf-8-sig")[0]["name"] == "COGS:Steel"
    assert rows(files["classes"].content, "utf-8-sig")[0]["status"] == "inactive"
    assert files["vendors"].entity_versions == {"Vendor/5": "2"}


def test_selection_follows_what_was_delivered_and_never_drops_a_deletion(ledger):
    store = ReferenceStore(ledger)
    store.upsert(REALM, "Bill", [bill("1", "0"), bill("2", "0", balance="0"), bill("3", "1")], now=NOW)
    cfg = config(entities=["bills"], select="all_open")
    feed = cfg.partners["erp"].outbound["feed"]

    def keys(selection: str) -> dict[str, str]:
        chosen = feed_records(ledger, REALM, "erp", "feed", feed, selection=selection)["bills"]
        return {r.key: r.status for r in chosen}

    assert keys("all_open") == {"Bill/1": "active", "Bill/3": "active"}  # Bill/2 is paid
    assert keys("changed_since_last") == {"Bill/1": "active", "Bill/2": "active", "Bill/3": "active"}
    ledger.record_delivery(
        partner="erp",
        feed="feed",
        remote_path="out/a.csv",
        sha256="a" * 64,
        record_count=3,
        entity_versions={"Bill/1": "0", "Bill/2": "0", "Bill/3": "1"},
    )
    assert keys("changed_since_last") == {}

    store.upsert(REALM, "Bill", [bill("1", "1", balance="0")], now=NOW)  # paid since it was sent
    store.mark_deleted(REALM, "Bill", [("3", None)], now=NOW)
    store.mark_deleted(REALM, "Bill", [("44", None)], now=NOW)  # never sent: nothing to tell the partner
    store.upsert(REALM, "Bill", [bill("2", "4", balance="0", total="0", note="Voided")], now=NOW)
    assert keys("changed_since_last") == {"Bill/1": "active", "Bill/2": "voided", "Bill/3": "deleted"}
    assert keys("all_open") == {"Bill/1": "active", "Bill/2": "voided", "Bill/3": "deleted"}

    chosen = feed_records(ledger, REALM, "erp", "feed", feed, selection="changed_since_last")
    [file] = render_feed(cfg, "erp", "feed", chosen, ledger, as_of=NOW)
    written = rows(file.content, "utf-8-sig")
    assert {(r["qbo_id"], r["number"], r["status"]) for r in written} == {
        ("1", "B-1", "active"),
        ("2", "B-2", "voided"),
        ("3", "B-3", "deleted"),
    }
    assert file.entity_versions == {"Bill/1": "1", "Bill/2": "4", "Bill/3": "deleted"}


@pytest.mark.parametrize("policy", ["skip", "cancel"])
def test_an_810_feed_skips_or_cancels_a_deleted_bill(ledger, policy):
    store = ReferenceStore(ledger)
    store.upsert(REALM, "Bill", [bill("1", "0"), bill("2", "0")], now=NOW)
    ledger.record_delivery(
        partner="erp",
        feed="feed",
        remote_path="out/a.edi",
        sha256="a" * 64,
        record_count=2,
        entity_versions={"Bill/1": "0", "Bill/2": "0"},
    )
    store.mark_deleted(REALM, "Bill", [("2", None)], now=NOW)
    store.upsert(REALM, "Bill", [bill("1", "1")], now=NOW)
    cfg = config(entities=["bills"], format="x12_810", x12_deleted=policy)
    feed = cfg.partners["erp"].outbound["feed"]
    chosen = feed_records(ledger, REALM, "erp", "feed", feed, selection="changed_since_last")
    [file] = render_feed(cfg, "erp", "feed", chosen, ledger, as_of=NOW)
    bigs = [s for s in file.content.decode().split("~") if s.startswith("BIG*")]
    if policy == "skip":
        assert [b.split("*")[2] for b in bigs] == ["B-1"]
        assert file.entity_versions == {"Bill/1": "1", "Bill/2": "deleted:skipped"}
        assert "Bill/2 is deleted" in file.skipped[0]
    else:
        assert [(b.split("*")[2], b.split("*")[8:]) for b in bigs] == [("B-1", []), ("B-2", ["01"])]
        assert set(file.control_numbers["sets"].values()) == {"Bill/1", "Bill/2"}
    assert (
        feed_records(ledger, REALM, "erp", "feed", feed, selection="changed_since_last")["bills"] != []
    )  # not delivered yet


def test_feed_triggers_keep_the_older_keys_loading():
    assert OutboundFeed(entities=["bills"], schedule="0 6 * * 1").effective_trigger == "schedule"
    assert OutboundFeed(entities=["bills"], on_change=True).effective_trigger == "on_change"
    both = OutboundFeed(entities=["bills"], on_change=True, schedule="0 6 * * 1")
    assert both.effective_trigger == "both" and both.scheduled and both.follows_changes
    change_only = OutboundFeed(entities=["bills"], trigger="on_change", schedule="0 6 * * 1")
    assert not change_only.scheduled and change_only.follows_changes
    assert OutboundFeed(entities=["bills"]).debounce_seconds == 60 and OutboundFeed(entities=["bills"]).select == "all"


def test_an_810_feed_with_only_a_skipped_deletion_sends_nothing_but_says_why(ledger):
    ReferenceStore(ledger).upsert(REALM, "Bill", [bill("2", "0")], now=NOW)
    ledger.record_delivery(
        partner="erp",
        feed="feed",
        remote_path="out/a.edi",
        sha256="a" * 64,
        record_count=1,
        entity_versions={"Bill/2": "0"},
    )
    ReferenceStore(ledger).mark_deleted(REALM, "Bill", [("2", None)], now=NOW)
    cfg = config(entities=["bills"], format="x12_810")
    feed = cfg.partners["erp"].outbound["feed"]
    chosen = feed_records(ledger, REALM, "erp", "feed", feed, selection="changed_since_last")
    not_sent: list[str] = []
    assert render_feed(cfg, "erp", "feed", chosen, ledger, as_of=NOW, not_sent=not_sent) == []
    assert "Bill/2 is deleted" in not_sent[0]
    assert ledger.delivered_versions("erp", "feed") == {"Bill/2": "deleted:skipped"}
    assert feed_records(ledger, REALM, "erp", "feed", feed, selection="changed_since_last") == {"bills": []}
