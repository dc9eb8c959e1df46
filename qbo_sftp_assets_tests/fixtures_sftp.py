"""Fixtures for the sftp tests: a real OpenSSH sshd and the embedded server, each with fresh folders."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from qbo_sftp_assets.config import Folders, Readiness, SftpEndpoint
from qbo_sftp_assets.sandbox.sftp_server import EmbeddedSftp, start_embedded_sftp
from qbo_sftp_assets.sftp.connection import SftpSession, open_session
from qbo_sftp_assets.sftp.errors import SftpError
from qbo_sftp_assets.sftp.transfer import PartnerFiles
from qbo_sftp_assets_tests.sshd_server import (
    SshdServer,
    ThrowawayAccount,
    create_throwaway_account,
    find_sshd,
    generate_key,
    start_sshd,
)

KEY_PASSPHRASE = "correct horse battery staple"


@dataclass(frozen=True)
class SftpKeys:
    """Client keys of every supported type, one encrypted, and two host keys."""

    ed25519: Path
    ecdsa: Path
    rsa: Path
    encrypted: Path
    host: Path
    other_host: Path

    def client_keys(self) -> list[Path]:
        return [self.ed25519, self.ecdsa, self.rsa, self.encrypted]


@pytest.fixture(scope="session")
def sftp_keys(tmp_path_factory: pytest.TempPathFactory) -> SftpKeys:
    folder = tmp_path_factory.mktemp("sftp-keys")
    return SftpKeys(
        ed25519=generate_key(folder / "id_ed25519"),
        ecdsa=generate_key(folder / "id_ecdsa", "ecdsa"),
        rsa=generate_key(folder / "id_rsa", "rsa"),
        encrypted=generate_key(folder / "id_ed25519_encrypted", passphrase=KEY_PASSPHRASE),
        host=generate_key(folder / "ssh_host_ed25519_key"),
        other_host=generate_key(folder / "other_host_ed25519_key"),
    )


@pytest.fixture(scope="session")
def sshd_server(sftp_keys: SftpKeys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """One sshd for the session, accepting every client key (and passwords, for the throwaway account)."""
    if find_sshd() is None:
        pytest.fail("sshd is not installed: run `make os-packages` (openssh-server); the SFTP suite needs it")
    server = start_sshd(
        tmp_path_factory.mktemp("sshd"),
        [Path(f"{key}.pub") for key in sftp_keys.client_keys()],
        host_key=sftp_keys.host,
        password_auth=True,
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def throwaway_account() -> Iterator[ThrowawayAccount | None]:
    """A password account on this machine when running as root (as CI does); None otherwise."""
    if os.geteuid() != 0:
        yield None
        return
    home = Path(tempfile.mkdtemp(prefix="qbo-sftp-pw-"))
    home.chmod(0o755)
    account = create_throwaway_account(home / "home")
    yield account
    account.remove()
    shutil.rmtree(home, ignore_errors=True)


EMBEDDED_PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope="session")
def embedded_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSftp]:
    base = tmp_path_factory.mktemp("embedded-sftp")
    with start_embedded_sftp(base / "root", base / "state", password=EMBEDDED_PASSWORD) as server:
        yield server


@dataclass
class SftpSite:
    """Fresh folders on one server: `local` is the directory that `folders.root` names remotely."""

    kind: str
    endpoint: SftpEndpoint
    folders: Folders
    local: Path
    sshd: SshdServer | None = None

    def endpoint_with(self, **changes: object) -> SftpEndpoint:
        return SftpEndpoint.model_validate({**self.endpoint.model_dump(), **changes})

    def session(self, partner: str = "test-partner") -> SftpSession:
        return open_session(self.endpoint, partner=partner)

    @contextmanager
    def files(self, readiness: Readiness | None = None) -> Iterator[PartnerFiles]:
        with self.session() as session:
            yield PartnerFiles(session, self.folders, readiness)

    def local_folder(self, kind: str) -> Path:
        folder = self.local / getattr(self.folders, kind)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def sshd_site(server: SshdServer, key: Path, local: Path) -> SftpSite:
    local.mkdir(parents=True, exist_ok=True)
    endpoint = SftpEndpoint(
        host=server.host,
        port=server.port,
        user=server.user,
        auth={"key_file": str(key)},
        host_keys=[server.host_key_line],
        timeouts={"connect": 5, "banner": 5, "auth": 5, "channel": 5, "operation": 30, "keepalive": 5},
    )
    return SftpSite("sshd", endpoint, Folders(root=str(local)), local, server)


def embedded_site(server: EmbeddedSftp) -> SftpSite:
    name = f"site-{uuid.uuid4().hex[:10]}"
    local = server.root / name
    local.mkdir()
    endpoint = SftpEndpoint(
        **server.endpoint_settings(),
        timeouts={"connect": 5, "banner": 5, "auth": 5, "channel": 5, "operation": 30, "keepalive": 5},
    )
    return SftpSite("embedded", endpoint, Folders(root=f"/{name}"), local)


@pytest.fixture
def sshd_sftp_site(sshd_server: SshdServer, sftp_keys: SftpKeys, tmp_path: Path) -> SftpSite:
    return sshd_site(sshd_server, sftp_keys.ed25519, tmp_path / "site")


@pytest.fixture(params=["sshd", "embedded"])
def sftp_site(request: pytest.FixtureRequest, sftp_keys: SftpKeys, tmp_path: Path) -> SftpSite:
    """The same folders contract on a real OpenSSH sshd and on our embedded asyncssh server."""
    if request.param == "sshd":
        return sshd_site(request.getfixturevalue("sshd_server"), sftp_keys.ed25519, tmp_path / "site")
    return embedded_site(request.getfixturevalue("embedded_sftp"))


@dataclass
class PartialFileWatch:
    """What two listers (one over SFTP, one on the server's disk) saw while uploads ran."""

    violations: list[str]
    errors: list[BaseException]
    listings: dict[str, int]


@contextmanager
def watching_for_partial_files(site: SftpSite, sizes: dict[str, int]) -> Iterator[PartialFileWatch]:
    """List the outbound folder over and over while the block uploads; any final name seen with a
    size other than its finished size is a violation (a partner would have read a partial file)."""
    outbound = site.local_folder("outbound")
    stop = threading.Event()
    watch = PartialFileWatch(violations=[], errors=[], listings={"remote": 0, "local": 0})

    def remote_lister() -> None:
        try:
            with site.files() as files:
                while not stop.is_set():
                    for entry in files.list_folder("outbound"):
                        if entry.name in sizes and entry.size != sizes[entry.name]:
                            watch.violations.append(f"remote {entry.name}: {entry.size}")
                    watch.listings["remote"] += 1
        except SftpError as error:
            watch.errors.append(error)

    def local_lister() -> None:
        while not stop.is_set():
            for name in os.listdir(outbound):
                if name in sizes:
                    try:
                        size = (outbound / name).stat().st_size
                    except FileNotFoundError:
                        continue
                    if size != sizes[name]:
                        watch.violations.append(f"local {name}: {size}")
            watch.listings["local"] += 1

    threads = [threading.Thread(target=remote_lister), threading.Thread(target=local_lister)]
    for thread in threads:
        thread.start()
    try:
        yield watch
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
