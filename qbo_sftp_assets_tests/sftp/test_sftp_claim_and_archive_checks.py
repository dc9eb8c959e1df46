"""After the claim only a regular file is read (a symlink swapped in is put in error/ unread), and only
the bytes that were downloaded and acknowledged are archived (a file changed since goes to error/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qbo_sftp_assets.sftp.errors import FileChangedSinceDownloadError, NotRegularFileError
from qbo_sftp_assets.sftp.transfer import RemoteStat
from qbo_sftp_assets_tests.fixtures_sftp import SftpSite

SECRET = b"outside the partner's folders!!"  # 31 bytes
LISTED = b"partner invoice 0001 of 31 byte"  # same size, so the size check alone cannot see the swap


def test_a_symlink_swapped_in_after_the_listing_is_refused_and_never_read(sftp_site: SftpSite, tmp_path: Path) -> None:
    inbound = sftp_site.local_folder("inbound")
    outside = sftp_site.local / "outside.txt"
    outside.write_bytes(SECRET)
    (inbound / "inv.edi").write_bytes(LISTED)
    with sftp_site.files() as files:
        (entry,) = files.list_folder("inbound")
        (inbound / "inv.edi").unlink()
        (inbound / "inv.edi").symlink_to(outside)  # the swap, between listing and claim
        claim = files.claim(entry.name)
        assert not claim.claimed and claim.refused and "symbolic link" in claim.reason
        assert claim.moved_to is not None and claim.moved_to.endswith("error/inv.edi")
    assert (sftp_site.local_folder("error") / "inv.edi").is_symlink()
    assert os.listdir(sftp_site.local_folder("processing")) == []
    assert outside.read_bytes() == SECRET  # untouched, and nothing landed


def test_a_symlink_left_in_processing_is_not_downloaded(sftp_site: SftpSite, tmp_path: Path) -> None:
    processing = sftp_site.local_folder("processing")
    outside = sftp_site.local / "outside.txt"
    outside.write_bytes(SECRET)
    (processing / "link.edi").symlink_to(outside)
    (processing / "plain.edi").write_bytes(LISTED)
    landing = tmp_path / "landing"
    landing.mkdir()
    with sftp_site.files() as files:
        with pytest.raises(NotRegularFileError, match="symbolic link"):
            files.download("link.edi", landing / "link.edi")
        link, plain = files.download_many(["link.edi", "plain.edi"], landing)
    assert isinstance(link.error, NotRegularFileError) and plain.ok
    assert os.listdir(landing) == ["plain.edi"]


def _landed(site: SftpSite, tmp_path: Path, content: bytes) -> tuple[Path, RemoteStat]:
    processing = site.local_folder("processing")
    (processing / "inv.edi").write_bytes(content)
    os.utime(processing / "inv.edi", (1_700_000_000, 1_700_000_000))
    with site.files() as files:
        downloaded = files.download("inv.edi", tmp_path / "inv.edi")
    assert downloaded.mtime == 1_700_000_000 and downloaded.expect.sha256 == downloaded.sha256
    return processing / "inv.edi", downloaded.expect


def test_an_unchanged_file_is_archived(sftp_site: SftpSite, tmp_path: Path) -> None:
    _remote, expect = _landed(sftp_site, tmp_path, b"x" * 248_978)
    with sftp_site.files() as files:
        archived = files.archive("inv.edi", "2026/11/25", expect=expect)
    assert archived.endswith("archive/2026/11/25/inv.edi")
    assert (sftp_site.local_folder("archive") / "2026/11/25/inv.edi").stat().st_size == 248_978


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("append", "holds 342978 bytes where 248978 were downloaded"),
        ("truncate", "holds 1000 bytes where 248978 were downloaded"),
        ("touch", "was modified at"),
        ("same size and time", "SHA-256"),
    ],
)
def test_a_file_changed_after_download_goes_to_error_not_archive(
    sftp_site: SftpSite, tmp_path: Path, change: str, reason: str
) -> None:
    remote, expect = _landed(sftp_site, tmp_path, b"x" * 248_978)
    if change == "append":
        with remote.open("ab") as grow:
            grow.write(b"y" * 94_000)
    elif change == "truncate":
        remote.write_bytes(b"x" * 1000)
    elif change == "touch":
        os.utime(remote, (1_700_000_100, 1_700_000_100))
    else:
        remote.write_bytes(b"z" * 248_978)
        os.utime(remote, (1_700_000_000, 1_700_000_000))
    with sftp_site.files() as files, pytest.raises(FileChangedSinceDownloadError, match=reason) as refused:
        files.archive("inv.edi", expect=expect)
    assert refused.value.moved_to is not None and refused.value.moved_to.endswith("error/inv.edi")
    assert reason.split()[0] in refused.value.reason
    assert (sftp_site.local_folder("error") / "inv.edi").exists()
    assert os.listdir(sftp_site.local_folder("archive")) == []
    assert os.listdir(sftp_site.local_folder("processing")) == []


def test_a_file_changed_during_the_move_is_taken_back_out_of_archive(sftp_site: SftpSite, tmp_path: Path) -> None:
    _remote, expect = _landed(sftp_site, tmp_path, b"x" * 5000)
    with sftp_site.files() as files:
        move = files._move

        def move_then_a_late_write(name: str, source_kind: str, target_kind: str) -> str:
            target = move(name, source_kind, target_kind)
            if target_kind == "archive":  # the partner's writer still holds the file open
                with (sftp_site.local_folder("archive") / name).open("ab") as late:
                    late.write(b"late")
            return target

        files._move = move_then_a_late_write  # type: ignore[method-assign]
        with pytest.raises(FileChangedSinceDownloadError, match="5004 bytes where 5000") as refused:
            files.archive("inv.edi", expect=expect)
    assert refused.value.moved_to is not None and "error/inv.edi" in refused.value.moved_to
    assert os.listdir(sftp_site.local_folder("archive")) == []


def test_a_move_into_error_never_refuses(sftp_site: SftpSite, tmp_path: Path) -> None:
    remote, expect = _landed(sftp_site, tmp_path, b"x" * 100)
    remote.write_bytes(b"changed")
    with sftp_site.files() as files:
        assert files.move("inv.edi", "processing", "error", expect=expect).endswith("error/inv.edi")
