"""`qbo-sftp ack`: the acknowledgment a file would get, byte-for-byte deterministic given its options."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.formats.flat_ack import ACK_COLUMNS, FILE_REJECTED
from qbo_sftp_assets_tests.cli.test_inspect_command import EDIFACT_INVOIC, X12_810
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "flat"
QBO_SFTP = Path(sys.executable).parent / "qbo-sftp"
AS_OF = "2026-01-05T10:30:00Z"


def ack(capsysbinary, *args: str) -> tuple[int, bytes, str]:
    code = main(["ack", *args])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


def rows(data: bytes) -> list[dict[str, str]]:
    assert data.endswith(b"\r\n") and not data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_installed_command_acks_a_partly_bad_gl_file_deterministically(tmp_path):
    shutil.copy(DATA / "gl_unbalanced.csv", tmp_path / "gl.csv")
    command = [str(QBO_SFTP), "ack", "gl.csv", "--layout", "gl_csv", "--control-number", "42", "--as-of", AS_OF]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120)
    second = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120)
    assert first.returncode == 2 and first.stdout == second.stdout
    sha = hashlib.sha256((tmp_path / "gl.csv").read_bytes()).hexdigest()
    table = rows(first.stdout)
    assert list(table[0]) == list(ACK_COLUMNS)
    assert [(r["record"], r["status"], r["document_number"]) for r in table] == [
        ("FILE", "", ""),
        ("DOCUMENT", "accepted", "JE-1"),
        ("DOCUMENT", "rejected", "JE-2"),
        ("END", "partial", ""),
    ]
    assert {(r["control_number"], r["created_at"], r["file"], r["sha256"]) for r in table} == {
        ("42", "2026-01-05T10:30:00Z", "gl.csv", sha)
    }
    assert table[1]["total"] == "250.00" and table[1]["line"] == "2"
    assert table[2]["error_line"] == "4" and table[2]["error_field"] == "debit/credit"
    assert table[2]["error_message"].startswith("journal entry JE-2 does not balance")
    assert (table[3]["accepted"], table[3]["rejected"], table[3]["rows"]) == ("1", "1", "4")


def test_accepted_file_exits_0_and_as_of_changes_only_the_time(capsysbinary):
    path = str(DATA / "bills.csv")
    code, first, _ = ack(capsysbinary, path, "--layout", "bills_csv", "--as-of", AS_OF)
    _, later, _ = ack(capsysbinary, path, "--layout", "bills_csv", "--as-of", "2026-01-05T11:30:00+01:00")
    _, other_day, _ = ack(capsysbinary, path, "--layout", "bills_csv", "--as-of", "2026-01-06T10:30:00")
    assert code == 0
    assert first == later  # the same instant in another offset
    assert other_day == first.replace(b"2026-01-05T10:30:00Z", b"2026-01-06T10:30:00Z")
    table = rows(first)
    assert table[-1]["status"] == "accepted" and table[1]["control_number"] == "1"
    assert [r["vendor_name"] for r in table[1:3]] == ["Acme Paper Co", "Böhm & Söhne"]


def test_default_as_of_is_now_in_utc(capsysbinary):
    code, out, _ = ack(capsysbinary, str(DATA / "gl.csv"), "--layout", "gl_csv")
    stamp = dt.datetime.fromisoformat(rows(out)[0]["created_at"])
    assert code == 0 and stamp.tzinfo is not None
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 120


def test_trailer_mismatch_rejects_every_document_of_a_fixed_width_file(capsysbinary, tmp_path):
    lines = (DATA / "legacy_bills.txt").read_bytes().split(b"\r\n")
    lines[-2] = b"T0000009" + lines[-2][8:]
    path = tmp_path / "ap.txt"
    path.write_bytes(b"\r\n".join(lines))
    code, out, _ = ack(capsysbinary, str(path), "--layout", "legacy_bills_fixed", "--as-of", AS_OF)
    table = rows(out)
    assert code == 2
    assert [(r["record"], r["status"], r["error_message"]) for r in table[1:3]] == [
        ("DOCUMENT", "rejected", FILE_REJECTED),
        ("DOCUMENT", "rejected", FILE_REJECTED),
    ]
    assert table[3]["record"] == "ERROR" and table[3]["error_line"] == "6"
    assert table[3]["error_field"] == "record_count (columns 2-8)"
    assert table[-1]["status"] == "rejected" and table[-1]["rejected"] == "2"


def test_unreadable_file_gets_a_rejecting_ack(capsysbinary, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"Vendor,Invoice Number,Date\r\nA,1,2026-01-05\r\n")
    code, out, _ = ack(capsysbinary, str(path), "--layout", "bills_csv", "--as-of", AS_OF)
    table = rows(out)
    assert code == 2
    assert [r["record"] for r in table] == ["FILE", "ERROR", "END"]
    assert table[1]["error_field"] == "amount" and "no column for amount" in table[1]["error_message"]
    assert table[2]["status"] == "rejected"


def test_formulas_in_partner_text_are_neutralised_in_the_ack(capsysbinary, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('Vendor,Invoice Number,Date,Amount\r\n"=HYPERLINK(""http://x"")",@1,2026-01-05,1\r\n')
    _, out, _ = ack(capsysbinary, str(path), "--layout", "bills_csv", "--as-of", AS_OF)
    document = rows(out)[1]
    assert document["vendor_name"] == '\'=HYPERLINK("http://x")' and document["document_number"] == "'@1"


def test_x12_ack_is_a_997_from_the_file_own_envelope(capsysbinary, tmp_path):
    path = tmp_path / "in.edi"
    path.write_text(X12_810, encoding="ascii")
    code, out, _ = ack(capsysbinary, str(path), "--control-number", "7", "--as-of", AS_OF)
    _, again, _ = ack(capsysbinary, str(path), "--control-number", "7", "--as-of", AS_OF)
    assert code == 0 and out == again
    segments = out.decode("ascii").split("~")
    assert segments[0].split("*")[6].strip() == "OURCOMPANY" and segments[0].split("*")[8].strip() == "ACMESUPPLY"
    assert segments[0].split("*")[9:11] == ["260105", "1030"] and segments[0].split("*")[13] == "000000007"
    assert "AK1*IN*101" in segments and "AK5*A" in segments and "AK9*A*1*1*1" in segments


def test_x12_ack_rejects_a_set_with_a_wrong_count(capsysbinary, tmp_path):
    path = tmp_path / "in.edi"
    path.write_text(X12_810.replace("SE*6*0001", "SE*7*0001"), encoding="ascii")
    code, out, _ = ack(capsysbinary, str(path), "--as-of", AS_OF)
    segments = out.decode("ascii").split("~")
    assert code == 2
    assert "AK5*R*4" in segments and "AK9*R*1*1*0" in segments


def test_edifact_ack_is_a_contrl(capsysbinary, tmp_path):
    path = tmp_path / "in.edi"
    path.write_text(EDIFACT_INVOIC, encoding="latin-1")
    code, out, _ = ack(capsysbinary, str(path), "--control-number", "3", "--as-of", AS_OF)
    text = out.decode("latin-1")
    assert code == 0
    assert "UNB+UNOC:3+BUYER:14+SUPPLIER:14+260105:1030+3'" in text
    assert "UCI+REF1+SUPPLIER:14+BUYER:14+7'" in text and "UCM+1+INVOIC:D:96A:UN+7'" in text

    path.write_text(EDIFACT_INVOIC.replace("UNT+10+1", "UNT+11+1"), encoding="latin-1")
    code, out, _ = ack(capsysbinary, str(path), "--control-number", "3", "--as-of", AS_OF)
    assert code == 2 and "UCM+1+INVOIC:D:96A:UN+4+29" in out.decode("latin-1")


@pytest.mark.parametrize(
    ("option", "value"), [("--as-of", "yesterday"), ("--control-number", "0"), ("--control-number", "x")]
)
def test_bad_options_are_usage_errors(capsysbinary, option, value):
    with pytest.raises(SystemExit) as caught:
        main(["ack", str(DATA / "gl.csv"), "--layout", "gl_csv", option, value])
    assert caught.value.code == 2
    assert value in capsysbinary.readouterr().err.decode()


def test_x12_interchange_asking_for_ta1_gets_ta1_and_997(capsysbinary, tmp_path):
    path = tmp_path / "in.edi"
    path.write_text(X12_810.replace("*000000101*0*P*", "*000000101*1*P*"), encoding="ascii")
    code, out, _ = ack(capsysbinary, str(path), "--control-number", "9", "--as-of", AS_OF)
    segments = out.decode("ascii").split("~")
    assert code == 0
    assert "TA1*000000101*261120*0930*A*000" in segments
    assert segments.index("TA1*000000101*261120*0930*A*000") < [s[:2] for s in segments].index("GS")


def test_an_acknowledgment_is_never_acknowledged(capsysbinary, tmp_path):
    source = tmp_path / "in.edi"
    source.write_text(X12_810, encoding="ascii")
    _, our_997, _ = ack(capsysbinary, str(source), "--as-of", AS_OF)
    reply = tmp_path / "997.edi"
    reply.write_bytes(our_997)
    code, out, err = ack(capsysbinary, str(reply), "--as-of", AS_OF)
    assert code == 0 and out == b"" and "no acknowledgment is owed" in err


def test_non_adjacent_rows_reject_both_parts_in_the_ack(capsysbinary, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Vendor,Invoice Number,Date,Amount\r\nA,1,2026-01-05,1\r\nB,2,2026-01-05,1\r\nA,1,2026-01-05,1\r\n")
    code, out, _ = ack(capsysbinary, str(path), "--layout", "bills_csv", "--as-of", AS_OF)
    table = rows(out)
    assert code == 2
    assert [(r["document_number"], r["status"], r["error_line"]) for r in table[1:4]] == [
        ("1", "rejected", "2"),
        ("2", "accepted", ""),
        ("1", "rejected", "4"),
    ]
    assert table[-1]["status"] == "partial"


def _ack_on_a_terminal(path: Path) -> bytes:
    """`qbo-sftp ack FILE` with its stdout on a pseudo-terminal, as a person at a shell sees it."""
    import os
    import pty

    leader, follower = pty.openpty()
    command = [sys.executable, "-W", "ignore", "-m", "qbo_sftp_assets.cli", "ack", str(path), "--as-of", AS_OF]
    done = subprocess.run(command, stdout=follower, stderr=subprocess.DEVNULL, timeout=120)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO once the terminal has nothing more
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert done.returncode == 0
    return output


@pytest.mark.parametrize("name, content", [("in.x12", X12_810), ("in.edi", EDIFACT_INVOIC)])
def test_an_edi_ack_ends_with_a_newline_on_a_terminal_and_stays_exact_when_piped(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    assert _ack_on_a_terminal(path).endswith(b"\n")  # the pty shows "\n" as "\r\n"
    piped = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "qbo_sftp_assets.cli", "ack", str(path), "--as-of", AS_OF],
        capture_output=True,
        timeout=120,
    )
    assert piped.stdout.endswith((b"~", b"'"))
