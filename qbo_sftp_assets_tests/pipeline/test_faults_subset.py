"""The CI-sized part of `make faults`: a kill -9 after the second posting batch, QBO 500s and 503s, an SFTP
connection dropped mid-download, a full landing disk and fuzzed files among good ones, each on the QBO sandbox
and a real sshd; each fault was really injected, and after the recovery run nothing is lost, nothing is in
QuickBooks twice and no secret is in any file."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from qbo_sftp_assets_tests.faults.scenarios import by_name
from qbo_sftp_assets_tests.faults.table import render
from qbo_sftp_assets_tests.faults.world import World, fault_world

SUBSET = [
    "kill_after_posting_batch_2",
    "qbo_500_503",
    "sftp_drop_mid_download",
    "landing_disk_full",  # mounts a 64 KiB tmpfs: root, as in CI
    "fuzzed_files_among_good",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    with fault_world(tmp_path_factory.mktemp("faults")) as running:
        yield running


@pytest.mark.parametrize("scenario", by_name(SUBSET), ids=SUBSET)
def test_nothing_is_lost_duplicated_or_leaked(world: World, scenario):
    if scenario.name == "landing_disk_full" and os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (CI runs as root)")
    row = scenario.run(world)
    table = render([row])
    assert (row.duplicates, row.lost, row.leaked) == (0, 0, 0), table
    assert row.files > 0 and row.posted > 0, table
    assert not row.missed, table
