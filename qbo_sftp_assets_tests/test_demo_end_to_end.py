"""`make demo` on the embedded sandboxes: files delivered, received, acknowledged, filed and recorded."""

from pathlib import Path

from qbo_sftp_assets.demo import run_demo
from qbo_sftp_assets.formats.x12 import read_x12
from qbo_sftp_assets.ledger import Ledger


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def test_demo_runs_every_step_and_says_what_is_not_built(tmp_path, capsys):
    workdir = tmp_path / "demo"
    assert run_demo(workdir) == 0
    out = capsys.readouterr().out
    root = workdir / "sftp"

    # Outbound: the vendor, account and class lists as CSV, and the invoices as an X12 810.
    assert len(listing(root / "legacy_erp" / "outbound")) == 3
    [edi] = listing(root / "acme_tractor" / "outbound")
    result, _ = read_x12(root / "acme_tractor" / "outbound" / edi)
    assert result.ok and len(result.documents) == 3
    assert not [n for n in listing(root / "acme_tractor" / "outbound") if n.endswith(".part")]

    # Inbound: the good 810 archived with a positive 997, the broken one and the CSV with a bad row in error/.
    steel = root / "great_lakes_steel"
    assert listing(steel / "archive") == ["GLS-20261123-A.edi"]
    assert listing(steel / "error") == ["GLS-20261123-B.edi"]
    assert listing(steel / "archive" / "duplicates") == ["GLS-20261123-A-resend.edi"]
    assert listing(steel / "inbound") == [] and listing(steel / "processing") == []
    good_ack = (steel / "acks" / "GLS-20261123-A.edi.997").read_bytes()
    bad_ack = (steel / "acks" / "GLS-20261123-B.edi.997").read_bytes()
    assert b"AK9*A*2*2*2" in good_ack
    assert b"AK5*R" in bad_ack and b"AK9*P*2*2*1" in bad_ack
    assert listing(root / "legacy_erp" / "error") == ["AP_20261123.csv"]
    assert b"rejected" in (root / "legacy_erp" / "acks" / "AP_20261123.csv.ack.csv").read_bytes()

    # The ledger saw all of it, and the resend was not read again.
    ledger = Ledger(workdir / "ledger.duckdb")
    statuses = dict(ledger.query("SELECT remote_path, status FROM inbound_files"))
    assert statuses == {
        "great_lakes_steel/archive/GLS-20261123-A.edi": "accepted",
        "great_lakes_steel/error/GLS-20261123-B.edi": "partial",
        "legacy_erp/error/AP_20261123.csv": "partial",
        "great_lakes_steel/archive/duplicates/GLS-20261123-A-resend.edi": "duplicate",
    }
    assert ledger.query("SELECT count(*) FROM acknowledgments")[0][0] == 3
    assert ledger.query("SELECT count(*) FROM outbound_deliveries")[0][0] == 4
    assert "Not built yet, so not run" in out and "posting the accepted bills into QBO" in out


def test_demo_can_run_twice_in_the_same_folder(tmp_path, capsys):
    workdir = tmp_path / "demo"
    assert run_demo(workdir) == 0
    assert run_demo(workdir) == 0
    assert "duplicate of inbound file #1" in capsys.readouterr().out
