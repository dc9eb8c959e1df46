"""The embedded SFTP server, judged by OpenSSH's own `sftp` client and by our transport."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from qbo_sftp_assets.config import Folders, Readiness, SftpEndpoint
from qbo_sftp_assets.sandbox.sftp_server import EmbeddedSftp, serve_embedded_sftp, start_embedded_sftp
from qbo_sftp_assets.sftp.connection import open_session
from qbo_sftp_assets.sftp.errors import SftpAuthError
from qbo_sftp_assets.sftp.transfer import PartnerFiles


def run_openssh_sftp(server: EmbeddedSftp, batch: str, workdir: Path) -> subprocess.CompletedProcess:
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(server.host_key_line + "\n")
    batch_file = workdir / "batch"
    batch_file.write_text(batch)
    command = [
        shutil.which("sftp") or "sftp",
        "-b",
        str(batch_file),
        "-i",
        str(server.client_key_path),
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-F",
        "/dev/null",
        "-P",
        str(server.port),
        f"{server.user}@{server.host}",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=workdir)


def test_openssh_sftp_client_works_against_the_embedded_server(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "upload me.csv").write_text("a,b\n1,2\n")
    with start_embedded_sftp(tmp_path / "root", tmp_path / "state") as server:
        result = run_openssh_sftp(
            server,
            "mkdir inbound\n"
            'put "upload me.csv" "inbound/upload me.csv"\n'
            "ls -l inbound\n"
            'rename "inbound/upload me.csv" inbound/renamed.csv\n'
            "get inbound/renamed.csv fetched.csv\n"
            "ls /\n",
            local,
        )
    assert result.returncode == 0, result.stderr
    assert "upload me.csv" in result.stdout and "inbound" in result.stdout
    assert (local / "fetched.csv").read_text() == "a,b\n1,2\n"
    assert (tmp_path / "root" / "inbound" / "renamed.csv").read_text() == "a,b\n1,2\n"


def test_openssh_sftp_cannot_leave_the_jail_and_refuses_a_wrong_host_key(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside the jail")
    local = tmp_path / "local"
    local.mkdir()
    with start_embedded_sftp(tmp_path / "root", tmp_path / "state") as server:
        escaped = run_openssh_sftp(server, "get ../secret.txt stolen.txt\n", local)
        assert escaped.returncode != 0 and not (local / "stolen.txt").exists()
        server.host_key_line = server.host_key_line.rsplit(" ", 1)[0] + " " + "AAAAC3NzaC1lZDI1NTE5AAAAI" + "A" * 43
        spoofed = run_openssh_sftp(server, "ls\n", local)
    assert spoofed.returncode != 0


def test_host_and_client_keys_persist_across_restarts(tmp_path: Path) -> None:
    with start_embedded_sftp(tmp_path / "root", tmp_path / "state") as first:
        pin, client_key = first.fingerprint, first.client_key_path.read_bytes()
    with start_embedded_sftp(tmp_path / "root", tmp_path / "state") as second:
        assert second.fingerprint == pin
        assert second.client_key_path.read_bytes() == client_key
        with open_session(SftpEndpoint(**second.endpoint_settings())) as session:
            assert session.host_key_fingerprint == pin


def test_only_the_configured_user_and_key_get_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with start_embedded_sftp(tmp_path / "root", tmp_path / "state", password="s3cret-pw") as server:
        settings = server.endpoint_settings()
        with pytest.raises(SftpAuthError):
            open_session(SftpEndpoint(**{**settings, "user": "intruder"}))
        monkeypatch.setenv("EMBEDDED_PW", "s3cret-pw")
        password_settings = {**settings, "auth": {"password_env": "EMBEDDED_PW"}}
        with open_session(SftpEndpoint(**password_settings)) as session:
            assert session.alive
        monkeypatch.setenv("EMBEDDED_PW", "nope")
        with pytest.raises(SftpAuthError):
            open_session(SftpEndpoint(**password_settings))


def test_serve_blocks_until_stopped_and_reports_where_it_listens(tmp_path: Path) -> None:
    ready: list[EmbeddedSftp] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_embedded_sftp,
        args=(tmp_path / "root", tmp_path / "state"),
        kwargs={"on_ready": ready.append, "stop": stop},
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not ready and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready, "the server never reported ready"
        with open_session(SftpEndpoint(**ready[0].endpoint_settings())) as session:
            assert session.alive
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", ready[0].port)) != 0


def test_transport_falls_back_to_plain_rename_without_the_posix_rename_extension(tmp_path: Path) -> None:
    with start_embedded_sftp(tmp_path / "root", tmp_path / "state", posix_rename=False) as server:
        endpoint = SftpEndpoint(**server.endpoint_settings())
        (tmp_path / "root" / "outbound").mkdir(parents=True)
        (tmp_path / "root" / "outbound" / "taken.csv").write_bytes(b"partner's")
        with open_session(endpoint) as session:
            files = PartnerFiles(session, Folders(root="/"), Readiness(policy="rename"))
            fresh = files.upload(b"ours", "fresh.csv")
            clash = files.upload(b"ours too", "taken.csv")
            files.upload(b"in", "in.csv", kind="inbound")
            assert files.claim("in.csv").claimed
            assert not files.claim("in.csv").claimed
    outbound = tmp_path / "root" / "outbound"
    assert fresh.name == "fresh.csv" and (outbound / "fresh.csv").read_bytes() == b"ours"
    assert clash.name == "taken-1.csv" and (outbound / "taken.csv").read_bytes() == b"partner's"
    assert sorted(p.name for p in outbound.iterdir()) == ["fresh.csv", "taken-1.csv", "taken.csv"]
    assert (tmp_path / "root" / "processing" / "in.csv").read_bytes() == b"in"
