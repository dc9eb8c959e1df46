"""When an inbound file counts as complete: stable across listings, a done-file, or renamed into place."""

from __future__ import annotations

import os
import threading
import time

import pytest

from qbo_sftp_assets.config import Readiness
from qbo_sftp_assets.sftp.transfer import ReadinessTracker, RemoteFile, ready_files, snapshot_of
from qbo_sftp_assets_tests.fixtures_sftp import SftpSite

NOW = 1_800_000_000


def entry(name: str, size: int = 10, mtime: int = NOW - 120) -> RemoteFile:
    return RemoteFile(name=name, path=f"inbound/{name}", size=size, mtime=mtime, is_file=True)


def test_stable_needs_two_equal_listings_and_minimum_age() -> None:
    policy = Readiness(policy="stable", min_age_seconds=60)
    first = [entry("a.csv"), entry("young.csv", mtime=NOW - 5), entry("empty.csv", size=0)]
    assert ready_files(first, policy, None, NOW) == []
    previous = snapshot_of(first)
    grown = [entry("a.csv"), entry("young.csv", mtime=NOW - 5), entry("empty.csv", size=0)]
    assert [f.name for f in ready_files(grown, policy, previous, NOW)] == ["a.csv"]
    changed = [entry("a.csv", size=11)]
    assert ready_files(changed, policy, previous, NOW) == []


def test_tracker_carries_the_previous_listing_and_round_trips_as_json() -> None:
    tracker = ReadinessTracker(Readiness(policy="stable", min_age_seconds=0))
    assert tracker.ready([entry("a.csv", size=5)], NOW) == []
    assert tracker.ready([entry("a.csv", size=9)], NOW) == []
    restored = ReadinessTracker(tracker.readiness, dict(tracker.snapshot))
    assert [f.name for f in restored.ready([entry("a.csv", size=9)], NOW)] == ["a.csv"]


def test_done_file_policy_and_in_progress_names() -> None:
    policy = Readiness(policy="done_file", done_suffix=".ok")
    listing = [entry("a.csv"), entry("a.csv.ok"), entry("b.csv"), entry(".hidden"), entry("c.csv.part")]
    assert [f.name for f in ready_files(listing, policy, None, NOW)] == ["a.csv"]
    renamed = [entry("a.csv"), entry("b.csv.tmp"), entry(".a.csv.part"), entry("d.edi")]
    assert [f.name for f in ready_files(renamed, Readiness(policy="rename"), None, NOW)] == ["a.csv", "d.edi"]


@pytest.mark.slow
def test_a_file_still_growing_is_not_claimed(sshd_sftp_site: SftpSite) -> None:
    inbound = sshd_sftp_site.local_folder("inbound")
    growing = inbound / "growing.csv"
    done = inbound / "done.csv"
    done.write_bytes(b"complete\n")
    old = time.time() - 3600
    os.utime(done, (old, old))
    stop = threading.Event()

    def writer() -> None:
        with growing.open("ab") as handle:
            while not stop.is_set():
                handle.write(b"line\n")
                handle.flush()
                time.sleep(0.05)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        tracker = ReadinessTracker(Readiness(policy="stable", min_age_seconds=0))
        with sshd_sftp_site.files(tracker.readiness) as files:
            claimed = []
            for _poll in range(3):
                claimed += [files.claim(f.name).name for f in files.ready(tracker)]
                time.sleep(1.1)  # SFTP mtimes are whole seconds: let each listing see a new one
    finally:
        stop.set()
        thread.join()
    assert claimed == ["done.csv"]
    assert growing.exists()


def test_done_file_policy_against_sshd_and_the_marker_goes_with_the_claim(sshd_sftp_site: SftpSite) -> None:
    inbound = sshd_sftp_site.local_folder("inbound")
    (inbound / "ready.x12").write_bytes(b"ISA*...")
    (inbound / "ready.x12.done").write_bytes(b"")
    (inbound / "waiting.x12").write_bytes(b"ISA*...")
    policy = Readiness(policy="done_file")
    with sshd_sftp_site.files(policy) as files:
        ready = files.ready()
        assert [f.name for f in ready] == ["ready.x12"]
        assert files.claim("ready.x12").claimed
    assert sorted(p.name for p in inbound.iterdir()) == ["waiting.x12"]
