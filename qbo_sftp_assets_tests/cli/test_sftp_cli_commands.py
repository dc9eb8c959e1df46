"""`qbo-sftp sftp ls|check|trust` through the real CLI entry point, against the test sshd."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.sftp.transfer import partner_files
from qbo_sftp_assets.sftp.trust import PinWriteError, add_host_key_pin
from qbo_sftp_assets_tests.fixtures_sftp import SftpSite


def write_config(site: SftpSite, path: Path, *, pins: list[str] | None) -> Path:
    endpoint = site.endpoint
    pin_lines = ""
    if pins is not None:
        pin_lines = "      host_keys:\n" + "".join(f'        - "{pin}"\n' for pin in pins)
    path.write_text(
        "# the team's config: comments must survive `sftp trust`\n"
        "companies:\n"
        "  main:\n"
        "    realm_id: '4620816365'\n"
        "partners:\n"
        "  acme:  # our biggest supplier\n"
        "    company: main\n"
        "    sftp:\n"
        f"      host: {endpoint.host}   # loopback in tests\n"
        f"      port: {endpoint.port}\n"
        f"      user: {endpoint.user}\n"
        f"{pin_lines}"
        "      auth:\n"
        f"        key_file: {endpoint.auth.key_file}\n"
        "    folders:\n"
        f"      root: {site.folders.root}\n"
        "      inbound: in box\n"
    )
    return path


def test_ls_lists_the_inbound_folder(sshd_sftp_site: SftpSite, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    inbound = sshd_sftp_site.local / "in box"
    inbound.mkdir(parents=True)
    (inbound / "Überweisung 1.csv").write_bytes(b"12345")
    config = write_config(sshd_sftp_site, tmp_path / "qbo_sftp.yaml", pins=[sshd_sftp_site.sshd.host_key_line])
    assert main(["--config", str(config), "sftp", "ls", "acme"]) == 0
    out = capsys.readouterr().out
    assert "acme inbound" in out and "(1 entries)" in out
    assert "Überweisung 1.csv" in out and "           5  " in out


def test_check_reports_missing_folders_and_passes_once_created(
    sshd_sftp_site: SftpSite, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = write_config(sshd_sftp_site, tmp_path / "qbo_sftp.yaml", pins=[sshd_sftp_site.sshd.host_key_line])
    (sshd_sftp_site.local / "in box").mkdir()
    assert main(["--config", str(config), "sftp", "check", "acme"]) == 1
    out = capsys.readouterr().out
    assert sshd_sftp_site.sshd.host_fingerprint in out
    assert "5 folder(s) not usable" in out and "processing (missing)" in out
    for name in ("processing", "archive", "error", "acks", "outbound"):
        (sshd_sftp_site.local / name).mkdir()
    assert main(["--config", str(config), "sftp", "check", "acme"]) == 0
    assert "all folders exist and are writable" in capsys.readouterr().out


def test_check_refuses_an_unpinned_host_with_a_readable_message(
    sshd_sftp_site: SftpSite, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = write_config(sshd_sftp_site, tmp_path / "qbo_sftp.yaml", pins=None)
    assert main(["--config", str(config), "sftp", "check", "acme"]) == 1
    err = capsys.readouterr().err
    assert "host key for 127.0.0.1" in err and sshd_sftp_site.sshd.host_fingerprint in err
    assert "Traceback" not in err


def test_trust_declined_writes_nothing(
    sshd_sftp_site: SftpSite, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(sshd_sftp_site, tmp_path / "qbo_sftp.yaml", pins=None)
    before = config.read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["--config", str(config), "sftp", "trust", "acme"]) == 1
    assert "Not pinned" in capsys.readouterr().out
    assert config.read_text() == before


def test_trust_confirmed_pins_the_key_and_keeps_the_rest_of_the_file(
    sshd_sftp_site: SftpSite, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(sshd_sftp_site, tmp_path / "qbo_sftp.yaml", pins=None)
    before = config.read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["--config", str(config), "sftp", "trust", "acme"]) == 0
    out = capsys.readouterr().out
    assert sshd_sftp_site.sshd.host_fingerprint in out and "Pinned" in out
    after = config.read_text()
    assert f'- "{sshd_sftp_site.sshd.host_key_line}"' in after
    assert "# our biggest supplier" in after and "# loopback in tests" in after
    assert [line for line in after.splitlines() if line not in before.splitlines()] == [
        "      host_keys:",
        f'        - "{sshd_sftp_site.sshd.host_key_line}"',
    ]
    assert load_config(config).partner("acme").sftp.host_keys == [sshd_sftp_site.sshd.host_key_line]
    # Now the strict connection works, and trusting again changes nothing.
    (sshd_sftp_site.local / "outbound").mkdir()
    assert main(["--config", str(config), "sftp", "ls", "acme", "--folder", "outbound"]) == 0
    assert "(0 entries)" in capsys.readouterr().out
    assert main(["--config", str(config), "sftp", "trust", "acme"]) == 0
    assert "already pinned" in capsys.readouterr().out
    assert config.read_text() == after


def test_trust_warns_when_the_key_differs_from_the_pin(
    sshd_sftp_site: SftpSite, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(sshd_sftp_site, tmp_path / "qbo_sftp.yaml", pins=["SHA256:c29tZSBvdGhlciBrZXk"])
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["--config", str(config), "sftp", "trust", "acme"]) == 1
    assert "WARNING: this is NOT the pinned key" in capsys.readouterr().out


def test_pin_insertion_into_block_flow_and_empty_lists() -> None:
    block = "partners:\n  p:\n    sftp:\n      host_keys:\n        - 'SHA256:a'  # old\n      host: h\n"
    assert add_host_key_pin(block, "p", "SHA256:b") == (
        "partners:\n  p:\n    sftp:\n      host_keys:\n        - 'SHA256:a'  # old\n"
        '        - "SHA256:b"\n      host: h\n'
    )
    flow = "partners:\n  p:\n    sftp: {host: h, host_keys: []}\n"
    assert yaml.safe_load(add_host_key_pin(flow, "p", "SHA256:b"))["partners"]["p"]["sftp"]["host_keys"] == ["SHA256:b"]
    empty = "partners:\n  p:\n    sftp:\n      host_keys:\n      host: h\n"
    assert yaml.safe_load(add_host_key_pin(empty, "p", "SHA256:b"))["partners"]["p"]["sftp"] == {
        "host_keys": ["SHA256:b"],
        "host": "h",
    }
    assert add_host_key_pin(block, "p", "SHA256:a") == block
    with pytest.raises(PinWriteError, match="add it by hand"):
        add_host_key_pin("partners:\n  p:\n    sftp: nope\n", "p", "SHA256:b")


def test_partner_files_opens_from_the_loaded_config(sshd_sftp_site: SftpSite, tmp_path: Path) -> None:
    config = write_config(sshd_sftp_site, tmp_path / "qbo_sftp.yaml", pins=[sshd_sftp_site.sshd.host_fingerprint])
    with partner_files("acme", load_config(config).partner("acme")) as files:
        files.upload(b"hello", "hello.txt", kind="inbound")
    assert (sshd_sftp_site.local / "in box" / "hello.txt").read_bytes() == b"hello"
