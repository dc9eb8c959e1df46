"""`qbo-sftp inspect`: JSON of the documents on stdout, errors on stderr, exit 0 valid / 2 invalid / 1 unusable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "flat"
QBO_SFTP = Path(sys.executable).parent / "qbo-sftp"
DOCUMENT_KEYS = {"type", "vendor", "number", "date", "due_date", "currency", "lines", "total", "source"}
LINE_KEYS = {"amount", "description", "quantity", "unit_price", "item", "account", "class"}

X12_810 = (
    "ISA*00*          *00*          *ZZ*ACMESUPPLY     *ZZ*OURCOMPANY     *261120*0930*U*00401*000000101*0*P*>~\n"
    "GS*IN*ACMESUPPLY*OURCOMPANY*20261120*0930*101*X*004010~\n"
    "ST*810*0001~\n"
    "BIG*20261118*INV-1001~\n"
    "N1*SE*Acme Supply Co*92*ACME01~\n"
    "IT1*1*10*EA*12.50**VN*WID-1~\n"
    "TDS*12500~\n"
    "SE*6*0001~\n"
    "GE*1*101~\n"
    "IEA*1*000000101~\n"
)
EDIFACT_INVOIC = (
    "UNA:+.? 'UNB+UNOC:3+SUPPLIER:14+BUYER:14+260105:1000+REF1'UNH+1+INVOIC:D:96A:UN'BGM+380+INV-9+9'"
    "DTM+137:20260105:102'NAD+SU+S1::92++Supplier Ltd'CUX+2:EUR:4'LIN+1'MOA+203:100.00'UNS+S'"
    "MOA+79:100.00'UNT+10+1'UNZ+1+REF1'"
)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(QBO_SFTP), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def inspect(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["inspect", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else None), err


def test_installed_command_prints_bills_as_json_and_exits_0(tmp_path):
    shutil.copy(DATA / "bills.csv", tmp_path / "bills.csv")
    done = run_cli("inspect", "bills.csv", "--layout", "bills_csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    report = json.loads(done.stdout)
    assert report["format"] == "csv" and report["envelopes"] == [] and report["errors"] == []
    bill, credit = report["documents"]
    assert set(bill) >= DOCUMENT_KEYS and set(bill["lines"][0]) >= LINE_KEYS
    assert bill["type"] == "bill" and credit["type"] == "vendor_credit"
    assert bill["vendor"] == {"id": "V100", "name": "Acme Paper Co"}
    assert bill["date"] == "2026-01-05" and bill["due_date"] == "2026-02-04" and bill["currency"] == "USD"
    assert bill["total"] == "1277.06" and bill["lines"][1]["amount"] == "1234.56"
    first_line = bill["lines"][0]
    assert (first_line["quantity"], first_line["unit_price"], first_line["class"]) == ("10", "4.25", "Admin")
    assert (first_line["account"], first_line["description"], first_line["item"]) == ("6000", "Copy paper", None)
    assert bill["source"] == {"file": "bills.csv", "line": 2}


def test_installed_command_reports_an_unbalanced_entry_on_stderr_and_exits_2(tmp_path):
    shutil.copy(DATA / "gl_unbalanced.csv", tmp_path / "gl.csv")
    done = run_cli("inspect", "gl.csv", "--layout", "gl_csv", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "gl.csv:4: debit/credit: journal entry JE-2 does not balance: debits 100.00, credits 99.99 "
        "(difference 0.01) on lines 4, 5 (expected total debits equal to total credits)"
    ]
    report = json.loads(done.stdout)
    assert [d["number"] for d in report["documents"]] == ["JE-1"]
    assert report["documents"][0]["type"] == "journal_entry"
    assert report["errors"][0]["location"] == "gl.csv:4"


def test_fixed_width_file(capsys, monkeypatch):
    monkeypatch.chdir(DATA)
    code, report, err = inspect(capsys, "legacy_bills.txt", "--layout", "legacy_bills_fixed")
    assert code == 0, err
    assert report["format"] == "fixed"
    assert [d["number"] for d in report["documents"]] == ["INV-1001", "CM-77"]


def test_unreadable_file_is_one_error_and_exit_2(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes("Vendor,Invoice Number,Date,Amount\r\nMüller,1,2026-01-05,1.00\r\n".encode("cp1252"))
    code, report, err = inspect(capsys, str(path), "--layout", "bills_csv")
    assert code == 2
    assert report["documents"] == [] and len(report["errors"]) == 1
    assert err.startswith(f"{path}:2: byte 0xfc at byte 2 of the line")


def test_csv_without_layout_is_a_usage_error(capsys):
    code, report, err = inspect(capsys, str(DATA / "bills.csv"))
    assert code == 1 and report is None
    assert "not X12 (no ISA) or EDIFACT (no UNA/UNB)" in err and "--layout" in err


def test_unknown_layout_suggests_the_closest_name(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = inspect(capsys, str(DATA / "bills.csv"), "--layout", "bill_csv")
    assert code == 1 and "unknown layout 'bill_csv'; did you mean 'bills_csv'?" in err


def test_missing_file(capsys):
    code, _, err = inspect(capsys, "/nonexistent/x.csv", "--layout", "bills_csv")
    assert code == 1 and err.strip() == "qbo-sftp inspect: /nonexistent/x.csv: no such file"


def test_layout_from_a_yaml_file(capsys, tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "kind: csv\ndelimiter: '|'\ncolumns:\n  vendor_name: [Supplier]\n  number: [Ref]\n  amount: [Net]\n",
        encoding="utf-8",
    )
    (tmp_path / "in.txt").write_text("Supplier|Ref|date|Net\nA|1|2026-01-05|2.00\n", encoding="utf-8")
    code, report, err = inspect(capsys, str(tmp_path / "in.txt"), "--layout", str(tmp_path / "mine.yaml"))
    assert code == 0, err
    assert report["documents"][0]["total"] == "2.00"


def test_bad_yaml_layout_names_the_key(capsys, tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: csv\ndelimitr: ';'\n", encoding="utf-8")
    code, _, err = inspect(capsys, str(DATA / "bills.csv"), "--layout", str(tmp_path / "bad.yaml"))
    assert code == 1 and "delimitr" in err


def test_layout_from_the_config_file_overrides_a_builtin_name(capsys, tmp_path):
    config = tmp_path / "qbo_sftp.yaml"
    config.write_text(
        "layouts:\n  bills_csv:\n    kind: csv\n    delimiter: ';'\n    columns: {vendor_name: [Lieferant]}\n",
        encoding="utf-8",
    )
    (tmp_path / "in.csv").write_text("Lieferant;number;date;amount\nA;1;2026-01-05;2.00\n", encoding="utf-8")
    code = main(["--config", str(config), "inspect", str(tmp_path / "in.csv"), "--layout", "bills_csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["documents"][0]["vendor"]["name"] == "A"


def test_format_option_must_match_the_layout(capsys):
    code, _, err = inspect(capsys, str(DATA / "bills.csv"), "--format", "fixed", "--layout", "bills_csv")
    assert code == 1 and "does not match the layout" in err


def test_x12_810_detected_from_isa_even_after_a_bom(capsys, tmp_path):
    path = tmp_path / "in.edi"
    path.write_bytes(b"\xef\xbb\xbf" + X12_810.encode("ascii"))
    code, report, err = inspect(capsys, str(path))
    assert code == 0, err
    assert report["format"] == "x12" and report["envelopes"][0]["control_number"] == "000000101"
    (bill,) = report["documents"]
    assert bill["type"] == "bill" and bill["number"] == "INV-1001" and bill["total"] == "125.00"
    assert bill["vendor"]["id"] == "ACME01"


def test_x12_envelope_error_exits_2_with_segment_position(capsys, tmp_path):
    path = tmp_path / "in.edi"
    path.write_text(X12_810.replace("SE*6*0001", "SE*7*0001"), encoding="ascii")
    code, report, err = inspect(capsys, str(path))
    assert code == 2 and report["documents"] == []
    assert err.startswith(f"{path}:segment ")


def test_edifact_invoic(capsys, tmp_path):
    path = tmp_path / "in.edi"
    path.write_text(EDIFACT_INVOIC, encoding="latin-1")
    code, report, err = inspect(capsys, str(path), "--format", "edifact")
    assert code == 0, err
    assert report["format"] == "edifact"
    (bill,) = report["documents"]
    assert bill["number"] == "INV-9" and bill["currency"] == "EUR" and bill["total"] == "100.00"


@pytest.mark.parametrize("bad", ["UNT+10+1", "UNZ+1+REF1"])
def test_edifact_envelope_errors_exit_2(capsys, tmp_path, bad):
    path = tmp_path / "in.edi"
    path.write_text(EDIFACT_INVOIC.replace(bad, bad.replace("1", "2", 1) if "UNT" in bad else "UNZ+1+REF9"))
    code, _, err = inspect(capsys, str(path))
    assert code == 2 and f"{path}:segment " in err
