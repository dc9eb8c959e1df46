"""Servers may answer a READ with fewer bytes than asked; the download must still be whole and in order."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from qbo_sftp_assets.config import Folders, SftpEndpoint
from qbo_sftp_assets.sftp.connection import open_session
from qbo_sftp_assets.sftp.transfer import PartnerFiles

READ_CAP = 1000
SERVED: list[int] = []  # sizes of the data the stingy server answered with


@pytest.fixture
def stingy_server(tmp_path: Path) -> Iterator[tuple[SftpEndpoint, Path]]:
    """An asyncssh SFTP server that never returns more than READ_CAP bytes per READ."""
    root = tmp_path / "root"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(str(tmp_path / "client_key"))

    class Stingy(asyncssh.SFTPServer):
        def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
            super().__init__(chan, chroot=str(root).encode())

        def read(self, file_obj: object, offset: int, size: int) -> bytes:
            data = super().read(file_obj, offset, min(size, READ_CAP))
            SERVED.append(len(data))
            return data

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(client_key.export_public_key().decode()),
            sftp_factory=Stingy,
        )

    server = asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
    endpoint = SftpEndpoint(
        host="127.0.0.1",
        port=server.sockets[0].getsockname()[1],
        user="anyone",
        auth={"key_file": str(tmp_path / "client_key")},
        host_keys=[host_key.get_fingerprint("sha256")],
    )
    yield endpoint, root

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.mark.parametrize("size", [0, 999, 1000, 10_240, 100_001])
def test_short_reads_still_give_the_whole_file(
    stingy_server: tuple[SftpEndpoint, Path], tmp_path: Path, size: int
) -> None:
    endpoint, root = stingy_server
    SERVED.clear()
    payload = hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1)
    payload = payload[:size]
    (root / "processing").mkdir()
    (root / "processing" / "doc.edi").write_bytes(payload)
    with open_session(endpoint) as session:
        files = PartnerFiles(session, Folders(root="/"))
        listed = files.download("doc.edi", tmp_path / "listed.edi", expected_size=size)
        stat_sized = files.download("doc.edi", tmp_path / "stat.edi")
        assert files.read_bytes("doc.edi") == payload
    assert listed.size == stat_sized.size == size
    assert (tmp_path / "listed.edi").read_bytes() == payload == (tmp_path / "stat.edi").read_bytes()
    assert listed.sha256 == hashlib.sha256(payload).hexdigest()
    assert max(SERVED, default=0) <= READ_CAP and sum(SERVED) >= 3 * size  # the cap was really in force
