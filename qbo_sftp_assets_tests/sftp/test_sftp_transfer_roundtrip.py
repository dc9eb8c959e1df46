"""Upload, claim, download and move against real servers (OpenSSH sshd and the embedded server)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from qbo_sftp_assets.config import Readiness
from qbo_sftp_assets.sftp.errors import RemoteFileError, TransferIncompleteError, UnsafeRemoteNameError
from qbo_sftp_assets.sftp.transfer import PartnerFiles
from qbo_sftp_assets_tests.fixtures_sftp import SftpSite


def test_upload_then_download_keeps_bytes_and_hash(sftp_site: SftpSite, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 1000 + b"tail"
    with sftp_site.files() as files:
        uploaded = files.upload(payload, "Rechnung März 2026.csv", kind="inbound")
        claim = files.claim("Rechnung März 2026.csv")
        downloaded = files.download("Rechnung März 2026.csv", tmp_path / "got.csv", expected_size=len(payload))
    assert claim.claimed
    assert uploaded.sha256 == downloaded.sha256 == hashlib.sha256(payload).hexdigest()
    assert (tmp_path / "got.csv").read_bytes() == payload
    assert (sftp_site.local_folder("processing") / "Rechnung März 2026.csv").read_bytes() == payload
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_upload_creates_missing_folders_and_writes_done_file(sftp_site: SftpSite) -> None:
    with sftp_site.files() as files:
        uploaded = files.upload(b"a,b\n1,2\n", "vendors_20261125.csv", done_suffix=".done")
    outbound = sftp_site.local / "outbound"
    assert sorted(p.name for p in outbound.iterdir()) == ["vendors_20261125.csv", "vendors_20261125.csv.done"]
    assert uploaded.done_file and uploaded.done_file.endswith("vendors_20261125.csv.done")
    # A retry after a crash between the rename and the done-file completes the pair, once.
    (outbound / "vendors_20261125.csv.done").unlink()
    with sftp_site.files() as files:
        retried = files.upload(b"a,b\n1,2\n", "vendors_20261125.csv", done_suffix=".done")
    assert retried.already_present
    assert sorted(p.name for p in outbound.iterdir()) == ["vendors_20261125.csv", "vendors_20261125.csv.done"]


def test_upload_never_overwrites_a_different_partner_file(sftp_site: SftpSite) -> None:
    outbound = sftp_site.local_folder("outbound")
    (outbound / "bills.csv").write_bytes(b"the partner's own file")
    with sftp_site.files() as files:
        first = files.upload(b"ours", "bills.csv")
        again = files.upload(b"ours", "bills-1.csv")
    assert (outbound / "bills.csv").read_bytes() == b"the partner's own file"
    assert first.name == "bills-1.csv"
    assert (outbound / "bills-1.csv").read_bytes() == b"ours"
    # Re-sending identical bytes under the same name is a retry that already landed: no second copy.
    assert again.already_present
    assert sorted(p.name for p in outbound.iterdir()) == ["bills-1.csv", "bills.csv"]


def test_claim_race_has_exactly_one_winner(sftp_site: SftpSite) -> None:
    inbound = sftp_site.local_folder("inbound")
    names = [f"invoice-{n}.x12" for n in range(6)]
    for name in names:
        (inbound / name).write_bytes(name.encode())
    results: dict[str, list] = {"a": [], "b": []}
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def claimer(label: str) -> None:
        try:
            with sftp_site.files() as files:
                barrier.wait(10)
                results[label] = [files.claim(name) for name in names]
        except BaseException as error:  # surfaced by the assertion below, not hidden
            failures.append(error)
            raise

    threads = [threading.Thread(target=claimer, args=(label,)) for label in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    for index, name in enumerate(names):
        outcomes = [results["a"][index], results["b"][index]]
        assert sorted(o.claimed for o in outcomes) == [False, True], name
        loser = next(o for o in outcomes if not o.claimed)
        assert "already claimed" in loser.reason
    processing = sftp_site.local / "processing"
    assert sorted(p.name for p in processing.iterdir()) == sorted(names)
    assert list(inbound.iterdir()) == []


def test_claim_into_processing_with_a_stale_same_name_takes_a_new_name(sftp_site: SftpSite) -> None:
    (sftp_site.local_folder("processing") / "gl.csv").write_bytes(b"older file, still being processed")
    (sftp_site.local_folder("inbound") / "gl.csv").write_bytes(b"new file")
    with sftp_site.files() as files:
        claim = files.claim("gl.csv")
    assert claim.claimed and claim.path and claim.path.endswith("processing/gl-1.csv")
    assert (sftp_site.local / "processing" / "gl.csv").read_bytes() == b"older file, still being processed"


def test_archive_and_error_moves_never_overwrite(sftp_site: SftpSite) -> None:
    archive = sftp_site.local_folder("archive")
    error = sftp_site.local_folder("error")
    processing = sftp_site.local_folder("processing")
    (archive / "a.csv").write_bytes(b"archived before")
    (archive / "a-1.csv").write_bytes(b"archived before, too")
    (error / "b.csv").write_bytes(b"failed before")
    (processing / "a.csv").write_bytes(b"new a")
    (processing / "b.csv").write_bytes(b"new b")
    (processing / "c.csv").write_bytes(b"new c")
    with sftp_site.files() as files:
        archived = files.archive("a.csv")
        rejected = files.reject("b.csv")
        dated = files.archive("c.csv", "2026/11/25")
    assert dated.endswith("archive/2026/11/25/c.csv")
    assert archived.endswith("archive/a-2.csv") and (archive / "a-2.csv").read_bytes() == b"new a"
    assert (archive / "a.csv").read_bytes() == b"archived before"
    assert rejected.endswith("error/b-1.csv") and (error / "b-1.csv").read_bytes() == b"new b"
    assert (error / "b.csv").read_bytes() == b"failed before"
    assert (archive / "2026" / "11" / "25" / "c.csv").read_bytes() == b"new c"
    assert list(processing.iterdir()) == []


def test_unsafe_remote_names_are_refused_before_anything_is_sent(sftp_site: SftpSite) -> None:
    (sftp_site.local_folder("inbound") / "ok.csv").write_bytes(b"x")
    with sftp_site.files() as files:
        for bad in ["../escape.csv", "/etc/passwd", "a/b.csv", "nul\x00.csv", "bell\x07.csv", "..", ""]:
            with pytest.raises(UnsafeRemoteNameError, match="refusing remote file name"):
                files.upload(b"x", bad)
            with pytest.raises(UnsafeRemoteNameError):
                files.claim(bad)
    assert not (sftp_site.local.parent / "escape.csv").exists()
    assert [p.name for p in sftp_site.local_folder("outbound").iterdir()] == []


def test_download_of_missing_file_names_the_path(sftp_site: SftpSite, tmp_path: Path) -> None:
    with sftp_site.files() as files, pytest.raises(RemoteFileError, match=r"processing/nope\.csv"):
        files.download("nope.csv", tmp_path / "nope.csv")
    assert list(tmp_path.glob("*nope*")) == []


def test_one_session_serves_many_files(sftp_site: SftpSite, tmp_path: Path) -> None:
    with sftp_site.files(Readiness(policy="rename")) as files:
        for n in range(40):
            files.upload(f"row {n}\n".encode(), f"f{n:03}.csv", kind="inbound")
        ready = files.ready()
        for entry in ready:
            assert files.claim(entry.name).claimed
            files.download(entry.name, tmp_path / entry.name, expected_size=entry.size)
            files.archive(entry.name)
    assert len(ready) == 40
    assert (tmp_path / "f039.csv").read_bytes() == b"row 39\n"
    assert len(list((sftp_site.local / "archive").iterdir())) == 40


def test_check_folders_reports_missing_and_writable(sftp_site: SftpSite) -> None:
    sftp_site.local_folder("inbound")
    sftp_site.local_folder("outbound")
    with sftp_site.files() as files:
        statuses = {s.kind: s for s in files.check_folders()}
    assert statuses["inbound"].exists and statuses["inbound"].writable
    assert statuses["outbound"].writable
    assert not statuses["archive"].exists and statuses["archive"].problem == "missing"
    assert list((sftp_site.local / "inbound").iterdir()) == []


def test_partner_files_accepts_a_path_and_reports_progress(sftp_site: SftpSite, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"z" * 700_000)
    seen: list[int] = []
    with sftp_site.files() as files:
        uploaded = files.upload(source, "big.bin", progress=lambda done, _total: seen.append(done))
    assert uploaded.size == 700_000 and seen[-1] == 700_000
    assert isinstance(files, PartnerFiles)


def test_a_size_different_from_the_listing_is_refused_and_nothing_is_kept(sftp_site: SftpSite, tmp_path: Path) -> None:
    (sftp_site.local_folder("processing") / "short.csv").write_bytes(b"only 17 bytes...\n")
    landing = tmp_path / "landing"
    landing.mkdir()
    with (
        sftp_site.files() as files,
        pytest.raises(TransferIncompleteError, match="received 17 bytes, the listing said 20"),
    ):
        files.download("short.csv", landing / "short.csv", expected_size=20)
    assert list(landing.iterdir()) == []


def test_a_file_larger_than_listed_is_read_only_to_the_listed_size_and_refused(
    sftp_site: SftpSite, tmp_path: Path
) -> None:
    (sftp_site.local_folder("processing") / "grew.csv").write_bytes(b"x" * 70_001)
    landing = tmp_path / "landing"
    landing.mkdir()
    with sftp_site.files() as files:
        with pytest.raises(TransferIncompleteError, match="sent more than the 5 bytes the listing said; stopped"):
            files.download("grew.csv", landing / "grew.csv", expected_size=5)
        # The session is still in step with the server after the refused transfer.
        assert files.read_bytes("grew.csv") == b"x" * 70_001
    assert list(landing.iterdir()) == []


def test_empty_and_multi_window_files_round_trip(sftp_site: SftpSite, tmp_path: Path) -> None:
    big = bytes(range(251)) * 13_000  # 3.2 MB, not a multiple of the request size: the window slides
    with sftp_site.files() as files:
        files.upload(b"", "empty.csv", kind="processing")
        files.upload(big, "big.bin", kind="processing")
        empty = files.download("empty.csv", tmp_path / "empty.csv")
        fetched = files.download("big.bin", tmp_path / "big.bin")
    assert empty.size == 0 and (tmp_path / "empty.csv").read_bytes() == b""
    assert fetched.size == len(big) and (tmp_path / "big.bin").read_bytes() == big
    assert fetched.sha256 == hashlib.sha256(big).hexdigest()
