"""Names a hostile or broken server lists: not UTF-8, or with control characters. They are skipped and
reported (escaped), the rest of the folder is listed and landed, and `sftp ls` prints one line each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.config import Readiness
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.pipeline.inbound import land_ready_files
from qbo_sftp_assets.sftp.names import display_name
from qbo_sftp_assets_tests.cli.test_sftp_cli_commands import write_config
from qbo_sftp_assets_tests.fixtures_sftp import SftpSite

NOT_UTF8 = b"caf\xe9-latin1.csv"  # Latin-1 "café": not valid UTF-8
FORGED = "real.csv\n           7  2020-01-01 00:00:00Z  forged.csv"


def _make_bytes_name(folder: Path, name: bytes, content: bytes) -> None:
    with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
        handle.write(content)


def test_a_name_that_is_not_utf8_is_skipped_and_reported_and_the_rest_listed(sftp_site: SftpSite) -> None:
    inbound = sftp_site.local_folder("inbound")
    (inbound / "good-1.csv").write_bytes(b"a,b\n")
    (inbound / "good-2.csv").write_bytes(b"c,d\n")
    _make_bytes_name(inbound, NOT_UTF8, b"x" * 9)
    (inbound / "line\nbreak.csv").write_bytes(b"y")
    with sftp_site.files() as files:
        listing = files.list_folder("inbound")
    assert [entry.name for entry in listing] == ["good-1.csv", "good-2.csv"]
    skipped = {entry.display: entry for entry in listing.skipped}
    assert set(skipped) == {"caf\\xe9-latin1.csv", "line\\x0abreak.csv"}
    assert skipped["caf\\xe9-latin1.csv"].reason == "the name is not valid UTF-8"
    assert skipped["caf\\xe9-latin1.csv"].raw == NOT_UTF8 and skipped["caf\\xe9-latin1.csv"].size == 9
    assert "control character U+000A" in skipped["line\\x0abreak.csv"].reason


def test_the_lander_lands_the_other_files_of_the_folder(sftp_site: SftpSite, tmp_path: Path) -> None:
    inbound = sftp_site.local_folder("inbound")
    (inbound / "good-1.csv").write_bytes(b"a,b\n")
    _make_bytes_name(inbound, NOT_UTF8, b"x" * 9)
    (inbound / "good-2.csv").write_bytes(b"c,d\n")
    with sftp_site.files(Readiness(policy="rename")) as files:
        assert [entry.display for entry in files.ready().skipped] == ["caf\\xe9-latin1.csv"]
        landed = land_ready_files(files, "acme", Ledger(tmp_path / "ledger.duckdb"), tmp_path / "landing")
    assert sorted(file.name for file in landed) == ["good-1.csv", "good-2.csv"]
    assert os.listdir(os.fsencode(inbound)) == [NOT_UTF8]  # left where it is, untouched


def test_sftp_ls_escapes_names_so_none_can_forge_a_line(
    sshd_sftp_site: SftpSite, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    inbound = sshd_sftp_site.local / "in box"
    inbound.mkdir(parents=True)
    (inbound / "real.csv").write_bytes(b"12345")
    (inbound / FORGED).write_bytes(b"1")
    (inbound / "bell\x07\x1b[31mred.csv").write_bytes(b"22")
    _make_bytes_name(inbound, NOT_UTF8, b"x" * 9)
    config = write_config(sshd_sftp_site, tmp_path / "qbo_sftp.yaml", pins=[sshd_sftp_site.sshd.host_key_line])
    assert main(["--config", str(config), "sftp", "ls", "acme"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "(1 entries, 3 skipped)" in lines[0]
    assert len(lines) == 5  # the header, one real entry, three skipped: one line each
    assert not any(line.endswith("forged.csv") for line in lines)
    assert "\x1b" not in captured.out and "\x07" not in captured.out
    assert any("caf\\xe9-latin1.csv  [skipped: the name is not valid UTF-8]" in line for line in lines)
    assert any(display_name(FORGED) in line for line in lines)
    assert "Traceback" not in captured.err


def test_display_name_escapes_every_control_and_keeps_letters() -> None:
    assert display_name("Überweisung 1.csv") == "Überweisung 1.csv"
    assert display_name("a\tb\rc\u2028d\u202ee\\f") == "a\\x09b\\x0dc\\u2028d\\u202ee\\\\f"
    assert display_name(b"\xff\xfe") == "\\xff\\xfe"
