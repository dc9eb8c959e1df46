"""A connection dropped mid-transfer, and a lister racing an upload, never leave partial or extra files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from qbo_sftp_assets.sftp.errors import SftpConnectionLostError, SftpError
from qbo_sftp_assets.sftp.transfer import PartnerFiles
from qbo_sftp_assets_tests.fixtures_sftp import SftpSite, watching_for_partial_files

BIG = 8 * 1024 * 1024


def _payload(size: int) -> bytes:
    block = hashlib.sha256(b"seed").digest() * 2048
    return (block * (size // len(block) + 1))[:size]


def _drop_when_halfway(site: SftpSite) -> tuple[Callable[[int, int], None], list[int]]:
    killed: list[int] = []

    def progress(done: int, _total: int) -> None:
        if not killed and done >= 256 * 1024:
            killed.append(site.sshd.kill_sessions())

    return progress, killed


# paramiko's prefetch thread reports the dropped socket on its own thread; the error we raise is the test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_download_dropped_midway_then_retried_leaves_one_complete_file(
    sshd_sftp_site: SftpSite, tmp_path: Path
) -> None:
    payload = _payload(BIG)
    (sshd_sftp_site.local_folder("processing") / "big.edi").write_bytes(payload)
    local = tmp_path / "landing"
    local.mkdir()
    progress, killed = _drop_when_halfway(sshd_sftp_site)
    with sshd_sftp_site.files() as files, pytest.raises(SftpConnectionLostError, match="dropped during downloading"):
        files.download("big.edi", local / "big.edi", progress=progress)
    assert killed and killed[0] > 0
    assert os.listdir(local) == []

    with sshd_sftp_site.files() as files:
        result = files.download("big.edi", local / "big.edi", expected_size=BIG)
    assert os.listdir(local) == ["big.edi"]
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert (local / "big.edi").read_bytes() == payload


def test_upload_dropped_midway_then_retried_leaves_one_complete_file(sshd_sftp_site: SftpSite) -> None:
    payload = _payload(BIG)
    outbound = sshd_sftp_site.local / "outbound"
    progress, killed = _drop_when_halfway(sshd_sftp_site)
    with sshd_sftp_site.files() as files, pytest.raises(SftpError):
        files.upload(payload, "invoices_810.x12", progress=progress)
    assert killed and killed[0] > 0
    # The partner never sees the final name while the bytes are incomplete.
    assert "invoices_810.x12" not in os.listdir(outbound)

    with sshd_sftp_site.files() as files:
        uploaded = files.upload(payload, "invoices_810.x12")
    assert os.listdir(outbound) == ["invoices_810.x12"]
    assert (outbound / "invoices_810.x12").read_bytes() == payload
    assert uploaded.sha256 == hashlib.sha256(payload).hexdigest()


def test_a_concurrent_lister_never_sees_a_partial_file_under_its_final_name(sftp_site: SftpSite) -> None:
    sizes = {f"batch-{n:02}.csv": 150_000 + n * 1000 for n in range(15)}
    with watching_for_partial_files(sftp_site, sizes) as watch, sftp_site.files() as files:
        for name, size in sizes.items():
            files.upload(_payload(size), name)
    assert watch.errors == [] and watch.violations == []
    assert watch.listings["remote"] > 3 and watch.listings["local"] > 3
    assert sorted(os.listdir(sftp_site.local_folder("outbound"))) == sorted(sizes)


def test_leftover_temp_from_a_crash_is_replaced_not_kept(sshd_sftp_site: SftpSite) -> None:
    outbound = sshd_sftp_site.local_folder("outbound")
    (outbound / ".acks.997.part").write_bytes(b"half of an old attempt")
    with sshd_sftp_site.files() as files:
        files.upload(b"ISA*00*full ack~", "acks.997")
        assert isinstance(files, PartnerFiles)
        assert files.remove_leftover_temp("acks.997") is False
    assert os.listdir(outbound) == ["acks.997"]
