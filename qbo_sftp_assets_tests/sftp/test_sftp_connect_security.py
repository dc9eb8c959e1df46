"""Connecting: pinned host keys only, key and password auth, no ambient keys, timeouts and deadlines."""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import paramiko
import pytest

from qbo_sftp_assets.sftp.connection import open_session
from qbo_sftp_assets.sftp.errors import (
    ChangedHostKeyError,
    SftpAuthError,
    SftpConnectError,
    SftpTimeoutError,
    UnknownHostKeyError,
)
from qbo_sftp_assets.sftp.transfer import PartnerFiles
from qbo_sftp_assets_tests.fixtures_sftp import (
    EMBEDDED_PASSWORD,
    KEY_PASSPHRASE,
    SftpKeys,
    SftpSite,
    embedded_site,
    sshd_site,
)
from qbo_sftp_assets_tests.sshd_server import free_port, generate_key, start_sshd


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa", "rsa"])
def test_key_auth_for_each_key_type(sshd_sftp_site: SftpSite, sftp_keys: SftpKeys, key_type: str) -> None:
    # OpenSSH 8.8+ refuses SHA-1 `ssh-rsa` signatures, so the RSA case passing proves rsa-sha2.
    endpoint = sshd_sftp_site.endpoint_with(auth={"key_file": str(getattr(sftp_keys, key_type))})
    with open_session(endpoint, partner="acme") as session:
        assert session.host_key_fingerprint == sshd_sftp_site.sshd.host_fingerprint
        with session.operation("listing") as sftp:
            assert sftp.listdir(str(sshd_sftp_site.local)) == []


def test_encrypted_key_uses_the_passphrase_from_the_environment(
    sshd_sftp_site: SftpSite, sftp_keys: SftpKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = sshd_sftp_site.endpoint_with(
        auth={"key_file": str(sftp_keys.encrypted), "passphrase_env": "TEST_SFTP_PASSPHRASE"}
    )
    monkeypatch.delenv("TEST_SFTP_PASSPHRASE", raising=False)
    with pytest.raises(SftpAuthError, match=r"\$TEST_SFTP_PASSPHRASE, which is not set"):
        open_session(endpoint)
    monkeypatch.setenv("TEST_SFTP_PASSPHRASE", "wrong passphrase 123")
    with pytest.raises(SftpAuthError, match="passphrase is wrong") as refused:
        open_session(endpoint)
    assert "wrong passphrase 123" not in str(refused.value)
    monkeypatch.setenv("TEST_SFTP_PASSPHRASE", KEY_PASSPHRASE)
    with open_session(endpoint) as session:
        assert session.alive


@pytest.fixture
def password_site(request: pytest.FixtureRequest, sftp_keys: SftpKeys) -> tuple[SftpSite, str]:
    """sshd with a throwaway account when root (CI), else the embedded server's password login."""
    account = request.getfixturevalue("throwaway_account")
    if account is None:
        site = embedded_site(request.getfixturevalue("embedded_sftp"))
        return site, EMBEDDED_PASSWORD
    site = sshd_site(request.getfixturevalue("sshd_server"), sftp_keys.ed25519, account.home / "site")
    site.endpoint = site.endpoint_with(user=account.name)
    shutil.chown(site.local, user=account.name, group=account.name)
    return site, account.password


def test_password_auth_from_env_and_a_wrong_password_is_never_echoed(
    password_site: tuple[SftpSite, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sftp_keys: SftpKeys
) -> None:
    site, password = password_site
    endpoint = site.endpoint_with(auth={"password_env": "TEST_SFTP_PASSWORD"})
    monkeypatch.setenv("TEST_SFTP_PASSWORD", password)
    with open_session(endpoint) as session:
        files = PartnerFiles(session, site.folders)
        files.upload(b"by password", "pw.txt")
        assert password not in repr(session) and password not in repr(files)
    assert (site.local / "outbound" / "pw.txt").read_bytes() == b"by password"

    # An authorized key in ~/.ssh must not rescue a wrong password: no ambient keys, no agent.
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_bytes(sftp_keys.ed25519.read_bytes())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("TEST_SFTP_PASSWORD", "Wrong-Password-9")
    with pytest.raises(SftpAuthError, match="authentication failed with the password") as refused:
        open_session(endpoint)
    assert "Wrong-Password-9" not in str(refused.value) and password not in str(refused.value)


def test_unknown_host_is_refused_naming_the_fingerprint(sshd_sftp_site: SftpSite) -> None:
    endpoint = sshd_sftp_site.endpoint_with(host_keys=[])
    with pytest.raises(UnknownHostKeyError) as refused:
        open_session(endpoint, partner="acme")
    message = str(refused.value)
    assert sshd_sftp_site.sshd.host_fingerprint in message
    assert f"127.0.0.1:{sshd_sftp_site.endpoint.port}" in message and "acme" in message
    assert "sftp trust" in message


def test_pin_for_another_port_does_not_match(sshd_sftp_site: SftpSite) -> None:
    line = sshd_sftp_site.sshd.host_key_line.split(" ", 1)[1]
    endpoint = sshd_sftp_site.endpoint_with(host_keys=[f"127.0.0.1 {line}"])
    with pytest.raises(UnknownHostKeyError, match=r"pins present are for 127\.0\.0\.1"):
        open_session(endpoint)


def test_fingerprint_and_hashed_known_hosts_pins_are_accepted(sshd_sftp_site: SftpSite) -> None:
    server = sshd_sftp_site.sshd
    with open_session(sshd_sftp_site.endpoint_with(host_keys=[server.host_fingerprint])) as session:
        assert session.alive
    name, kind, blob = server.host_key_line.split()
    hashed = f"{paramiko.HostKeys.hash_host(name)} {kind} {blob}"
    with open_session(sshd_sftp_site.endpoint_with(host_keys=[hashed])) as session:
        assert session.alive


def test_a_server_whose_key_differs_from_the_pin_is_refused_before_auth(
    sshd_sftp_site: SftpSite, sftp_keys: SftpKeys, tmp_path: Path
) -> None:
    impostor = start_sshd(tmp_path / "impostor", [Path(f"{sftp_keys.ed25519}.pub")], host_key=sftp_keys.other_host)
    try:
        pinned = sshd_sftp_site.sshd.host_key_line.split(" ", 1)[1]
        endpoint = sshd_sftp_site.endpoint_with(port=impostor.port, host_keys=[f"[127.0.0.1]:{impostor.port} {pinned}"])
        with pytest.raises(ChangedHostKeyError) as refused:
            open_session(endpoint, partner="acme")
        assert refused.value.presented == impostor.host_fingerprint
        assert refused.value.expected == (sshd_sftp_site.sshd.host_fingerprint,)
        message = str(refused.value)
        assert impostor.host_fingerprint in message and sshd_sftp_site.sshd.host_fingerprint in message
        time.sleep(0.2)
        assert "Accepted" not in impostor.log() and "Failed" not in impostor.log()
        # A fingerprint pin that does not match is a change too, never an unknown-host fallback.
        with pytest.raises(ChangedHostKeyError):
            open_session(
                sshd_sftp_site.endpoint_with(port=impostor.port, host_keys=[sshd_sftp_site.sshd.host_fingerprint])
            )
    finally:
        impostor.stop()


def test_legacy_algorithms_are_opt_in_and_logged(sshd_sftp_site: SftpSite, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="qbo_sftp_assets.sftp"), open_session(sshd_sftp_site.endpoint):
        pass
    assert "legacy" not in caplog.text
    with (
        caplog.at_level(logging.WARNING, logger="qbo_sftp_assets.sftp"),
        open_session(sshd_sftp_site.endpoint_with(legacy_algorithms=True), partner="oldco") as session,
    ):
        assert session.alive
    assert "legacy SSH algorithms enabled" in caplog.text and "oldco" in caplog.text


def test_hardened_defaults_refuse_sha1_only_servers(
    sshd_sftp_site: SftpSite, sftp_keys: SftpKeys, tmp_path: Path
) -> None:
    old = start_sshd(
        tmp_path / "old",
        [Path(f"{sftp_keys.ed25519}.pub")],
        host_key=sftp_keys.host,
        options={"KexAlgorithms": "diffie-hellman-group14-sha1"},
    )
    try:
        endpoint = sshd_sftp_site.endpoint_with(port=old.port, host_keys=[old.host_key_line])
        with pytest.raises(SftpConnectError, match="legacy_algorithms: true"):
            open_session(endpoint)
    finally:
        old.stop()


def test_connection_refused_names_host_and_port(sshd_sftp_site: SftpSite) -> None:
    port = free_port()
    with pytest.raises(SftpConnectError, match=rf"127\.0\.0\.1:{port}.*sftp\.port"):
        open_session(sshd_sftp_site.endpoint_with(port=port))


def test_silent_server_hits_the_banner_timeout(sshd_sftp_site: SftpSite) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    endpoint = sshd_sftp_site.endpoint_with(
        port=listener.getsockname()[1], timeouts={"connect": 2, "banner": 0.5, "auth": 2, "channel": 2}
    )
    started = time.monotonic()
    try:
        with pytest.raises(SftpTimeoutError, match="no SSH banner"):
            open_session(endpoint)
        assert time.monotonic() - started < 5
    finally:
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_stalled_server_hits_the_operation_deadline(sshd_sftp_site: SftpSite) -> None:
    endpoint = sshd_sftp_site.endpoint_with(
        timeouts={"connect": 5, "banner": 5, "auth": 5, "channel": 5, "operation": 1.0, "keepalive": 0}
    )
    server = sshd_sftp_site.sshd
    session = open_session(endpoint, partner="acme")
    files = PartnerFiles(session, sshd_sftp_site.folders)
    assert files.list_folder("") is not None
    assert server.kill_sessions(signal.SIGSTOP) > 0
    started = time.monotonic()
    try:
        with pytest.raises(SftpTimeoutError, match=r"did not finish within 1 s"):
            files.list_folder("")
        assert time.monotonic() - started < 5
        assert not session.alive
        with pytest.raises(SftpTimeoutError):
            files.list_folder("")
    finally:
        server.kill_sessions(signal.SIGCONT)
        session.close()


def test_a_pinned_key_type_is_negotiated_when_the_server_has_several(
    sshd_sftp_site: SftpSite, sftp_keys: SftpKeys, tmp_path: Path
) -> None:
    ecdsa_host = generate_key(tmp_path / "ssh_host_ecdsa_key", "ecdsa")
    server = start_sshd(
        tmp_path / "two-keys",
        [Path(f"{sftp_keys.ed25519}.pub")],
        host_key=sftp_keys.host,
        extra_host_keys=(ecdsa_host,),
    )
    try:
        kind, blob = Path(f"{ecdsa_host}.pub").read_text().split()[:2]
        endpoint = sshd_sftp_site.endpoint_with(
            port=server.port, host_keys=[f"[127.0.0.1]:{server.port} {kind} {blob}"]
        )
        with open_session(endpoint) as session:
            assert session.connection.transport.get_remote_server_key().get_name() == "ecdsa-sha2-nistp256"
        with open_session(sshd_sftp_site.endpoint_with(port=server.port, host_keys=[server.host_key_line])) as session:
            assert session.host_key_fingerprint == sshd_sftp_site.sshd.host_fingerprint
    finally:
        server.stop()
