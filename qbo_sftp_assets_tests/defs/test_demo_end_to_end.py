"""`make demo` runs the code location's own sensors, schedules and assets in process, end to end."""

from pathlib import Path

import dagster as dg

from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.demo import run_demo
from qbo_sftp_assets.formats.documents import Invoice
from qbo_sftp_assets.formats.x12 import read_x12
from qbo_sftp_assets.ledger import Ledger


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def test_demo_posts_rejects_replays_and_recognises_a_resend_through_the_dagster_definitions(tmp_path, capsys):
    workdir = tmp_path / "demo"
    assert run_demo(workdir) == 0
    out = capsys.readouterr().out
    root = workdir / "sftp"

    # Outbound, rendered by the feeds' schedules: three CSV lists and an X12 810 of the invoices.
    assert len(listing(root / "legacy_erp" / "outbound")) == 3
    [edi] = listing(root / "acme_tractor" / "outbound")
    assert (root / "acme_tractor" / "outbound" / edi).read_bytes().count(b"ST*810*") == 3
    # Read back as we sent it: our invoices (N1*SE us) to the customers named in N1*BT.
    identity = load_config(workdir / "qbo_sftp.yaml").partner("acme_tractor").x12
    sent, _ = read_x12(root / "acme_tractor" / "outbound" / edi, our_ids=identity.our_ids())
    assert sent.errors == [] and len(sent.documents) == 3
    assert all(isinstance(d, Invoice) and (d.customer.id or d.customer.name) for d in sent.documents)

    # Inbound, taken in by the SFTP sensors: each file acknowledged and out of inbound/ and processing/.
    steel = root / "great_lakes_steel"
    assert listing(steel / "acks") == [
        "GLS-20261123-A-resend.edi.997",
        "GLS-20261123-A.edi.997",
        "GLS-20261123-B.edi.997",
    ]
    assert b"AK5*R" in (steel / "acks" / "GLS-20261123-B.edi.997").read_bytes()
    assert listing(steel / "archive" / "duplicates") == ["GLS-20261123-A-resend.edi"]
    for partner in ("great_lakes_steel", "legacy_erp"):
        assert listing(root / partner / "inbound") == [] and listing(root / partner / "processing") == []
    legacy_acks = listing(root / "legacy_erp" / "acks")
    # The first ack, and a second revision after the replay.
    assert len(legacy_acks) == 2 and legacy_acks[0] == "AP_20261123.csv.ack.csv" and "r2" in legacy_acks[1]
    first_ack = (root / "legacy_erp" / "acks" / legacy_acks[0]).read_text()
    assert "rejected" in first_ack and "5250" in first_ack

    # Every good bill posted exactly once, the unmapped one only after the mapping fix and replay.
    ledger = Ledger(workdir / "ledger.duckdb")
    posted = ledger.query("SELECT doc_number, count(*) FROM postings WHERE qbo_id IS NOT NULL GROUP BY doc_number")
    assert dict(posted) == {
        "GLS-2026-1101": 1,
        "GLS-2026-1102": 1,
        "GLS-2026-1104": 1,
        "BIG-55120": 1,
        "FD-9931": 1,
        "MFL-7710": 1,
    }
    assert "account_resolved: account '5250'" in out
    assert "1 more document(s) posted" in out
    assert "nothing posted twice" in out and "a re-send:" in out
    assert "Not built yet" not in out

    # The runs are in a real instance folder, so the UI opens on them afterwards.
    with dg.DagsterInstance.from_config(str(workdir / "dagster_home")) as instance:
        assert len(instance.get_runs()) >= 6
        assert instance.get_dynamic_partitions("inbound_files") == [
            "great_lakes_steel/GLS-20261123-A.edi",
            "great_lakes_steel/GLS-20261123-B.edi",
            "legacy_erp/AP_20261123.csv",
            "great_lakes_steel/GLS-20261123-A-resend.edi",
        ]
    assert f"DAGSTER_HOME={workdir / 'dagster_home'}" in out
