"""`download_many` lands many files over one session, each bounded by its listed size, each with its own outcome."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from qbo_sftp_assets.config import Folders, SftpEndpoint
from qbo_sftp_assets.sftp.connection import open_session
from qbo_sftp_assets.sftp.errors import (
    RemoteFileError,
    SftpError,
    TransferIncompleteError,
    UnsafeRemoteNameError,
)
from qbo_sftp_assets.sftp.transfer import DOWNLOAD_BATCH, PartnerFiles, RemoteFile
from qbo_sftp_assets_tests.fixtures_sftp import SftpSite


def _content(n: int) -> bytes:
    # Sizes from empty to several read requests, so batches mix one-request and multi-request files.
    return hashlib.sha256(str(n).encode()).digest() * (n * n * 7 % 3000)


def test_download_many_lands_every_file_across_batches(sftp_site: SftpSite, tmp_path: Path) -> None:
    processing = sftp_site.local_folder("processing")
    contents = {f"doc {n:02} März.csv": _content(n) for n in range(DOWNLOAD_BATCH + 9)}
    for name, data in contents.items():
        (processing / name).write_bytes(data)
    landing = tmp_path / "landing"
    landing.mkdir()
    with sftp_site.files() as files:
        results = list(files.download_many(files.list_folder("processing"), landing))
    assert [r.name for r in results] == sorted(contents)
    for result in results:
        data = contents[result.name]
        assert result.ok, result.error
        assert result.size == len(data) and result.sha256 == hashlib.sha256(data).hexdigest()
        assert result.local_path == landing / result.name and result.local_path.read_bytes() == data
    sizes = [len(data) for data in contents.values()]
    assert min(sizes) == 0 and max(sizes) > 2 * 32768  # empty and multi-request files were in it
    assert sorted(os.listdir(landing)) == sorted(contents)


def test_each_bad_file_fails_alone_and_leaves_nothing_behind(sftp_site: SftpSite, tmp_path: Path) -> None:
    processing = sftp_site.local_folder("processing")
    for name in ("a.csv", "grew.csv", "shrank.csv", "z.csv"):
        (processing / name).write_bytes(b"0123456789" * 5000)
    landing = tmp_path / "landing"
    landing.mkdir()
    with sftp_site.files() as files:
        listing = {entry.name: entry for entry in files.list_folder("processing")}
        with (processing / "grew.csv").open("ab") as grow:
            grow.write(b"written after the listing")
        (processing / "shrank.csv").write_bytes(b"cut")
        wanted: list[RemoteFile | str] = [
            listing["a.csv"],
            "missing.csv",
            listing["grew.csv"],
            "../outside.csv",
            listing["shrank.csv"],
            "z.csv",  # no listing: its stat, sent with its open, bounds it
        ]
        results = list(files.download_many(wanted, landing))
        # The session is still in step with the server after the refused files.
        assert files.read_bytes("z.csv") == b"0123456789" * 5000
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["a.csv", "missing.csv", "grew.csv", "../outside.csv", "shrank.csv", "z.csv"]
    assert by_name["a.csv"].ok and by_name["z.csv"].ok and by_name["z.csv"].size == 50_000
    assert isinstance(by_name["missing.csv"].error, RemoteFileError)
    assert "missing.csv" in str(by_name["missing.csv"].error)
    grew = by_name["grew.csv"].error
    assert isinstance(grew, TransferIncompleteError)
    assert "sent more than the 50000 bytes the listing said; stopped there" in str(grew)
    shrank = by_name["shrank.csv"].error
    assert isinstance(shrank, TransferIncompleteError) and "received 3 bytes, the listing said 50000" in str(shrank)
    assert isinstance(by_name["../outside.csv"].error, UnsafeRemoteNameError)
    assert sorted(os.listdir(landing)) == ["a.csv", "z.csv"]  # no partial file, nothing outside
    assert not (tmp_path / "outside.csv").exists()


def _count_channel_writes(files: PartnerFiles) -> list[int]:
    """Count the outermost writes on the SFTP channel: each is one flight of requests."""
    channel = files.session.sftp.sock
    writes = [0]
    sendall = channel.sendall

    def counted_sendall(data: bytes) -> None:
        writes[0] += 1
        sendall(data)

    channel.sendall = counted_sendall
    return writes


def test_a_batch_of_small_files_costs_two_round_trips(sftp_site: SftpSite, tmp_path: Path) -> None:
    processing = sftp_site.local_folder("processing")
    for n in range(20):
        (processing / f"small-{n:02}.csv").write_bytes(b"row\n" * (n + 1))
    with sftp_site.files() as files:
        listing = files.list_folder("processing")
        writes = _count_channel_writes(files)
        results = list(files.download_many(listing, tmp_path))
    assert all(r.ok for r in results) and len(results) == 20
    # The opens; every read; then the closes, sent without waiting for their answers.
    assert writes[0] == 3


def test_a_connection_dropped_midway_keeps_the_batches_already_landed(sshd_sftp_site: SftpSite, tmp_path: Path) -> None:
    processing = sshd_sftp_site.local_folder("processing")
    for n in range(3 * DOWNLOAD_BATCH):
        (processing / f"f-{n:03}.csv").write_bytes(b"x" * 5000)
    landing = tmp_path / "landing"
    landing.mkdir()
    delivered = []
    with sshd_sftp_site.files() as files, pytest.raises(SftpError, match="dropped"):
        for result in files.download_many(files.list_folder("processing"), landing):
            delivered.append(result)
            if len(delivered) == DOWNLOAD_BATCH:
                assert sshd_sftp_site.sshd is not None and sshd_sftp_site.sshd.kill_sessions() > 0
    assert len(delivered) == DOWNLOAD_BATCH and all(r.ok for r in delivered)
    assert sorted(os.listdir(landing)) == [r.name for r in delivered]  # and no partial file


READ_CAP = 1000
ENDLESS_CLAIMS = 4000  # the size an endless file's attributes claim
SERVED: dict[str, int] = {}


@pytest.fixture
def odd_server(tmp_path: Path) -> Iterator[tuple[SftpEndpoint, Path]]:
    """An asyncssh SFTP server that answers every READ with at most READ_CAP bytes, and serves
    files named `endless*` without end: any offset returns as many bytes as asked."""
    root = tmp_path / "root"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(str(tmp_path / "client_key"))

    class OddServer(asyncssh.SFTPServer):
        def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
            super().__init__(chan, chroot=str(root).encode())
            self.names: dict[int, str] = {}

        def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
            handle = super().open(path, pflags, attrs)
            self.names[id(handle)] = os.path.basename(path.decode())
            return handle

        def read(self, file_obj: object, offset: int, size: int) -> bytes:
            name = self.names.get(id(file_obj), "")
            data = b"z" * size if name.startswith("endless") else super().read(file_obj, offset, min(size, READ_CAP))
            SERVED[name] = SERVED.get(name, 0) + len(data)
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
            sftp_factory=OddServer,
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


def test_a_server_that_streams_without_end_is_stopped_at_the_listed_size(
    odd_server: tuple[SftpEndpoint, Path], tmp_path: Path
) -> None:
    endpoint, root = odd_server
    (root / "processing").mkdir()
    (root / "processing" / "endless.edi").write_bytes(b"z" * ENDLESS_CLAIMS)
    stingy = hashlib.sha256(b"stingy").digest() * 2000  # 64,000 bytes in reads of at most 1,000
    (root / "processing" / "stingy.edi").write_bytes(stingy)
    SERVED.clear()
    landing = tmp_path / "landing"
    landing.mkdir()
    with open_session(endpoint) as session:
        files = PartnerFiles(session, Folders(root="/"))
        listing = files.list_folder("processing")
        results = list(files.download_many(listing, landing))
        by_stat = list(files.download_many(["endless.edi"], landing))
        with pytest.raises(TransferIncompleteError, match="sent more than the 4000 bytes"):
            files.download("endless.edi", landing / "single.edi", expected_size=ENDLESS_CLAIMS)
        with pytest.raises(TransferIncompleteError, match="sent more than the 4000 bytes the server reported"):
            files.read_bytes("endless.edi")
    endless, short_reads = results
    assert isinstance(endless.error, TransferIncompleteError) and "stopped there" in str(endless.error)
    assert isinstance(by_stat[0].error, TransferIncompleteError)
    assert short_reads.ok and (landing / "stingy.edi").read_bytes() == stingy
    # Four attempts on the endless file, each asked for no more than the claimed size plus one byte.
    assert SERVED["endless.edi"] <= 4 * (ENDLESS_CLAIMS + 1)
    assert sorted(os.listdir(landing)) == ["stingy.edi"]
