"""`upload_many` pipelines many files over one session with every guarantee `upload` gives."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbo_sftp_assets.sftp.errors import SftpError, UnsafeRemoteNameError
from qbo_sftp_assets.sftp.transfer import UPLOAD_BATCH, PartnerFiles
from qbo_sftp_assets_tests.fixtures_sftp import SftpSite, watching_for_partial_files


def _content(n: int) -> bytes:
    return f"file {n}\n".encode() * (n + 1)


def test_upload_many_places_each_file_like_upload_across_batches(sftp_site: SftpSite) -> None:
    outbound = sftp_site.local_folder("outbound")
    (outbound / "taken.csv").write_bytes(b"the partner's own file")
    (outbound / "same.csv").write_bytes(b"already delivered")
    items = [(_content(n), f"doc {n:02} März.csv") for n in range(UPLOAD_BATCH + 8)]
    items[3] = (b"ours, not theirs", "taken.csv")
    items[4] = (b"ours too", "taken-1.csv")  # the name a clash on taken.csv would pick first
    items[5] = (b"already delivered", "same.csv")
    items[6] = (b"first", "dup.csv")
    items[7] = (b"second, different", "dup.csv")  # same name twice: never raced, never overwritten
    with sftp_site.files() as files:
        results = list(files.upload_many(items, done_suffix=".done"))

    assert (outbound / "taken.csv").read_bytes() == b"the partner's own file"
    assert [r.name for r in results[3:8]] == ["taken-2.csv", "taken-1.csv", "same.csv", "dup.csv", "dup-1.csv"]
    assert [r.already_present for r in results] == [n == 5 for n in range(len(items))]
    for (data, _name), result in zip(items, results, strict=True):
        assert (outbound / result.name).read_bytes() == data
        assert result.size == len(data) and result.sha256 == hashlib.sha256(data).hexdigest()
        assert result.done_file == result.remote_path + ".done"
        assert (outbound / f"{result.name}.done").read_bytes() == b""
    expected = {r.name for r in results} | {f"{r.name}.done" for r in results} | {"taken.csv"}
    assert sorted(os.listdir(outbound)) == sorted(expected)


def test_upload_many_refuses_an_unsafe_name_before_sending_its_batch(sftp_site: SftpSite) -> None:
    outbound = sftp_site.local / "outbound"
    with sftp_site.files() as files, pytest.raises(UnsafeRemoteNameError, match="refusing remote file name"):
        list(files.upload_many([(b"fine", "fine.csv"), (b"escape", "../escape.csv")]))
    assert not outbound.exists() or os.listdir(outbound) == []
    assert not (sftp_site.local / "escape.csv").exists()


def test_upload_many_dropped_midway_then_retried_leaves_each_file_once(sshd_sftp_site: SftpSite) -> None:
    outbound = sshd_sftp_site.local / "outbound"
    items = [(_content(n) * 200, f"batch-{n:03}.csv") for n in range(3 * UPLOAD_BATCH)]
    killed: list[int] = []

    def dropping_in_the_second_batch() -> Iterator[tuple[bytes, str]]:
        for n, item in enumerate(items):
            if n == UPLOAD_BATCH + 5:
                assert sshd_sftp_site.sshd is not None
                killed.append(sshd_sftp_site.sshd.kill_sessions())
            yield item

    delivered = []
    with sshd_sftp_site.files() as files, pytest.raises(SftpError):
        delivered.extend(files.upload_many(dropping_in_the_second_batch()))
    assert killed and killed[0] > 0
    assert [r.name for r in delivered] == [name for _data, name in items[:UPLOAD_BATCH]]
    for name in os.listdir(outbound):
        if not name.startswith("."):
            assert (outbound / name).read_bytes() == dict((n, d) for d, n in items)[name]

    with sshd_sftp_site.files() as files:
        retried = list(files.upload_many(items))
    assert all(r.already_present for r in retried[:UPLOAD_BATCH])
    assert not any(r.already_present for r in retried[2 * UPLOAD_BATCH :])
    assert sorted(os.listdir(outbound)) == [name for _data, name in items]
    for data, name in items:
        assert (outbound / name).read_bytes() == data


def test_a_concurrent_lister_never_sees_a_partial_file_from_upload_many(sftp_site: SftpSite) -> None:
    sizes = {f"many-{n:02}.csv": 150_000 + n * 1000 for n in range(15)}
    outbound = sftp_site.local_folder("outbound")
    with watching_for_partial_files(sftp_site, sizes) as watch, sftp_site.files() as files:
        for _round in range(3):
            for name in sizes:
                (outbound / name).unlink(missing_ok=True)
            uploads = [(os.urandom(size), name) for name, size in sizes.items()]
            assert [r.name for r in files.upload_many(uploads)] == list(sizes)
    assert watch.errors == [] and watch.violations == []
    assert watch.listings["remote"] > 3 and watch.listings["local"] > 3
    assert sorted(os.listdir(outbound)) == sorted(sizes)


def test_upload_many_reads_paths_and_streams(sftp_site: SftpSite, tmp_path: Path) -> None:
    source = tmp_path / "from-disk.csv"
    source.write_bytes(b"on disk\n" * 5000)
    with source.open("rb") as stream, sftp_site.files() as files:
        results = list(files.upload_many([(source, "disk.csv"), (stream, "stream.csv"), (b"", "empty.csv")]))
    outbound = sftp_site.local / "outbound"
    assert [r.size for r in results] == [40000, 40000, 0]
    assert (outbound / "disk.csv").read_bytes() == (outbound / "stream.csv").read_bytes() == source.read_bytes()
    assert (outbound / "empty.csv").read_bytes() == b""


def _count_channel_writes(files: PartnerFiles) -> list[int]:
    """Count the writes our client makes on the SFTP channel (each is one flight of requests);
    `sendall` calls `send` itself, so only outermost calls count."""
    channel = files.session.sftp.sock
    writes = [0]
    inside = [False]
    send, sendall = channel.send, channel.sendall

    def counted_send(data: bytes) -> int:
        writes[0] += not inside[0]
        return send(data)

    def counted_sendall(data: bytes) -> None:
        writes[0] += 1
        inside[0] = True
        try:
            sendall(data)
        finally:
            inside[0] = False

    channel.send, channel.sendall = counted_send, counted_sendall
    return writes


def test_a_batch_of_small_files_costs_the_flights_of_one_file(sftp_site: SftpSite) -> None:
    with sftp_site.files() as files:
        files.upload(b"first, creates the folder", "first.csv")
        writes = _count_channel_writes(files)
        files.upload(b"one file", "one.csv")
        one_file = writes[0]
        writes[0] = 0
        results = list(files.upload_many([(_content(n), f"small-{n}.csv") for n in range(10)]))
    # open; writes + fstat + close + stat of the final name; rename: three flights either way.
    assert one_file == 3
    assert writes[0] == 3
    assert [r.name for r in results] == [f"small-{n}.csv" for n in range(10)]
