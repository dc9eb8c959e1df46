"""A server that offers only `ssh-rsa` (SHA-1) host keys and signatures: a clear error with a hint that
works, no paramiko traceback on stderr, and `legacy_algorithms: true` really connects."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbo_sftp_assets.sftp.connection import open_session
from qbo_sftp_assets.sftp.errors import ChangedHostKeyError, SftpConnectError
from qbo_sftp_assets.sftp.transfer import PartnerFiles
from qbo_sftp_assets_tests.fixtures_sftp import SftpKeys, SftpSite, sshd_site
from qbo_sftp_assets_tests.sshd_server import SshdServer, generate_key, start_sshd


@pytest.fixture(scope="module")
def ssh_rsa_only_sshd(sftp_keys: SftpKeys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """OpenSSH with one RSA host key, presented only as `ssh-rsa`, and only `ssh-rsa` client signatures."""
    directory = tmp_path_factory.mktemp("sshd-ssh-rsa")
    host_key = generate_key(directory / "ssh_host_rsa_key", "rsa")
    options = {"HostKeyAlgorithms": "ssh-rsa", "PubkeyAcceptedAlgorithms": "ssh-rsa,ssh-ed25519"}
    try:
        server = start_sshd(
            directory,
            [Path(f"{sftp_keys.ed25519}.pub"), Path(f"{sftp_keys.rsa}.pub")],
            host_key=host_key,
            options=options,
        )
    except RuntimeError as error:  # an sshd built without SHA-1 support refuses the option
        pytest.skip(f"this sshd cannot offer ssh-rsa only: {error}")
    yield server
    server.stop()


@pytest.fixture
def site(ssh_rsa_only_sshd: SshdServer, sftp_keys: SftpKeys, tmp_path: Path) -> SftpSite:
    return sshd_site(ssh_rsa_only_sshd, sftp_keys.ed25519, tmp_path / "site")


def test_without_legacy_the_error_says_to_set_it_and_stderr_has_no_traceback(
    site: SftpSite, capfd: pytest.CaptureFixture
) -> None:
    with pytest.raises(SftpConnectError) as refused:
        open_session(site.endpoint, partner="oldco")
    message = str(refused.value)
    assert "partners.oldco.sftp.legacy_algorithms: true" in message and "ssh-rsa" in message
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "paramiko" not in captured.err.lower(), captured.err


def test_legacy_algorithms_true_connects_and_lists(site: SftpSite, capfd: pytest.CaptureFixture) -> None:
    (site.local_folder("inbound") / "old.edi").write_bytes(b"ISA*00~")
    endpoint = site.endpoint_with(legacy_algorithms=True)
    with open_session(endpoint, partner="oldco") as session:
        assert session.connection.transport.host_key_type == "ssh-rsa"
        assert [entry.name for entry in PartnerFiles(session, site.folders).list_folder("inbound")] == ["old.edi"]
    assert "Traceback" not in capfd.readouterr().err


def test_legacy_rsa_client_key_signs_with_sha1_where_that_is_all_the_server_takes(
    ssh_rsa_only_sshd: SshdServer, sftp_keys: SftpKeys, tmp_path: Path
) -> None:
    site = sshd_site(ssh_rsa_only_sshd, sftp_keys.rsa, tmp_path / "site")
    with open_session(site.endpoint_with(legacy_algorithms=True), partner="oldco") as session:
        assert session.alive
    log = ssh_rsa_only_sshd.log()
    assert "Accepted publickey" in log and "RSA" in log


def test_the_pinned_fingerprint_is_checked_on_the_legacy_path_too(site: SftpSite, sftp_keys: SftpKeys) -> None:
    other = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{sftp_keys.other_host}.pub"], capture_output=True, text=True
    ).stdout.split()[1]
    with pytest.raises(ChangedHostKeyError, match="does NOT match the pin"):
        open_session(site.endpoint_with(legacy_algorithms=True, host_keys=[other]), partner="oldco")
