"""The demo behind `make demo`: what exists today, end to end on the embedded sandboxes, said plainly.

It connects the sandbox company over OAuth, exports QBO data to partners' outbound folders (CSV and
X12 810), receives partners' files over SFTP (a good 810, a broken one, a CSV with a bad row, and a
resend), acknowledges each (997 or CSV ack), files it in archive/ or error/, and shows the ledger.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.embedded import COMPANY, connect_company, embedded_environment, environment_variables
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef
from qbo_sftp_assets.formats.x12 import Parties, write_810
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.pipeline.inbound import acknowledge_and_file, land_ready_files
from qbo_sftp_assets.pipeline.outbound import deliver, render_feed
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets.sftp import partner_files

# A fixed clock for what the partners send, so the demo's partner files are the same every run.
PARTNER_CLOCK = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)

NOT_BUILT_YET = """\
Not built yet, so not run:
  - posting the accepted bills into QBO (mapping to accounts/classes/vendors, pandera validation,
    bills and vendor credits with requestids written to the ledger first);
  - the Dagster assets, sensors and schedules that run these steps (today `make dev` shows the code
    location with its resources, on the same embedded sandboxes)."""


def great_lakes_invoices() -> bytes:
    """An X12 810 as Great Lakes Steel would send it: two invoices for steel and freight."""
    vendor = PartyRef(id="100234", name="Great Lakes Steel Supply")
    bills = [
        Bill(
            vendor=vendor,
            number="GLS-2026-1101",
            date=dt.date(2026, 11, 20),
            due_date=dt.date(2026, 12, 20),
            po_number="PO-7781",
            lines=(
                Line(Decimal("3150.00"), "A36 plate 1/4in", Decimal(30), Decimal("105.00"), item="A36-025"),
                Line(Decimal("420.00"), "Freight", kind="charge"),
            ),
        ),
        Bill(
            vendor=vendor,
            number="GLS-2026-1102",
            date=dt.date(2026, 11, 21),
            due_date=dt.date(2026, 12, 21),
            lines=(Line(Decimal("1880.00"), "Square tube 2x2", Decimal(40), Decimal("47.00"), item="SQT-2X2"),),
        ),
    ]
    parties = Parties(
        sender_qualifier="ZZ", sender_id="GREATLAKES", receiver_qualifier="ZZ", receiver_id="NORTHWINDFAB"
    )
    return write_810(bills, parties=parties, control_numbers=InMemoryControlNumbers(4410), as_of=PARTNER_CLOCK)


def with_wrong_total(x12: bytes) -> bytes:
    """The same interchange with the first TDS total off by $10.00, as a partner's bug would make it."""
    return re.sub(rb"TDS\*(\d+)", lambda m: b"TDS*" + str(int(m.group(1)) + 1000).encode(), x12, count=1)


LEGACY_AP_CSV = (
    b"Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount,Class\r\n"
    b"100871,Midwest Industrial Gases,MIG-55120,2026-11-18,2026-12-18,5100,Argon cylinders,612.40,Welding\r\n"
    b"100871,Midwest Industrial Gases,MIG-55120,2026-11-18,2026-12-18,5200,Delivery,45.00,Welding\r\n"
    b"100455,Buckeye Fasteners,BF-9931,2026-11-31,2026-12-30,5000,Hex bolts M12,318.75,Fabrication\r\n"
)


def run_demo(workdir: Path) -> int:
    if workdir.exists():
        shutil.rmtree(workdir)  # every run starts from the same empty state
    with embedded_environment(workdir) as env, environment_variables(env.environ):
        config = env.config()
        ledger = Ledger(config.ledger.path)
        print(f"QBO sandbox   {env.qbo.base_url}  (companies {', '.join(env.qbo.realm_ids)})")
        print(f"SFTP server   127.0.0.1:{env.sftp.port}  host key {env.sftp.fingerprint}  root {env.sftp.root}")
        print(f"config        {env.config_path}\nledger        {ledger.path} (schema version {ledger.migrate()})\n")

        record = connect_company(env)
        print(f"1. Connected QBO company {COMPANY!r} (realm {record.realm_id}) over OAuth; tokens stored 0600.")
        with qbo_client_for(config, COMPANY) as qbo:
            rows = {
                "vendors": list(qbo.query("SELECT * FROM Vendor")),
                "accounts": list(qbo.query("SELECT * FROM Account")),
                "classes": list(qbo.query("SELECT * FROM Class")),
                "invoices": list(qbo.query("SELECT * FROM Invoice")),
            }
            open_bills = qbo.count("Bill", "Balance > '0'")
        print(
            f"2. Read QBO: {len(rows['vendors'])} vendors, {len(rows['accounts'])} accounts, "
            f"{len(rows['classes'])} classes, {len(rows['invoices'])} invoices, {open_bills} open bills."
        )

        now = dt.datetime.now(dt.UTC)
        print("3. Outbound, each file uploaded under a temporary name and renamed into place:")
        for partner_name, feed_name in (("legacy_erp", "vendor_list"), ("acme_tractor", "weekly_invoices")):
            feed = config.partner(partner_name).outbound[feed_name]
            with partner_files(partner_name, config.partner(partner_name)) as files:
                for rendered in render_feed(config, partner_name, feed_name, rows, ledger, as_of=now):
                    sent = deliver(files, partner_name, feed_name, rendered, ledger, done_file=feed.done_file)
                    numbers = f", control numbers {sent.control_numbers}" if sent.control_numbers else ""
                    print(f"   {partner_name}: {sent.remote_path} ({sent.record_count} records{numbers})")

        print("4. Partners drop files into their inbound folders:")
        good = great_lakes_invoices()
        drops = {
            "great_lakes_steel": [("GLS-20261123-A.edi", good), ("GLS-20261123-B.edi", with_wrong_total(good))],
            "legacy_erp": [("AP_20261123.csv", LEGACY_AP_CSV)],
        }
        for partner_name, dropped in drops.items():
            with partner_files(partner_name, config.partner(partner_name)) as files:
                for name, content in dropped:
                    files.upload(content, name, kind="inbound")
                    print(f"   {partner_name} sent {name} ({len(content)} bytes)")

        print("5. We land, read, acknowledge and file each one:")
        _receive_all(config, ledger, workdir, drops)

        print("6. Great Lakes Steel resends the first file under a new name:")
        with partner_files("great_lakes_steel", config.partner("great_lakes_steel")) as files:
            files.upload(good, "GLS-20261123-A-resend.edi", kind="inbound")
        _receive_all(config, ledger, workdir, ["great_lakes_steel"])

        activity = ledger.recent_activity(100)
        print(
            f"\nLedger: {len(activity['inbound_files'])} inbound files, "
            f"{len(activity['outbound_deliveries'])} outbound deliveries, "
            f"{len(activity['acknowledgments'])} acknowledgments sent. "
            f"See them with: qbo-sftp --config {env.config_path} ledger\n"
        )
        print(NOT_BUILT_YET)
    return 0


def _receive_all(config: Config, ledger: Ledger, workdir: Path, partners: Iterable[str]) -> None:
    """Land, acknowledge and file whatever is ready in each partner's inbound folder, narrating it."""
    for partner_name in partners:
        with partner_files(partner_name, config.partner(partner_name)) as files:
            for landed in land_ready_files(files, partner_name, ledger, workdir / "landed"):
                filed = acknowledge_and_file(files, landed, config, ledger)
                print(
                    f"   {partner_name}/{landed.name}: sha256 {landed.sha256[:12]}…, "
                    f"{filed.status} -> {filed.final_path}"
                )
                if filed.acknowledged is not None:
                    result = filed.acknowledged.result
                    print(f"      {len(result.documents)} document(s) accepted, {len(result.errors)} error(s)")
                    for error in result.errors[:3]:
                        print(f"      ! {error.render()}")
                    print(f"      ack -> {filed.ack_path}")
                if landed.duplicate:
                    print(f"      duplicate of inbound file #{landed.record.duplicate_of}: archived, not read again")
