"""SFTP throughput: our transport vs OpenSSH's `sftp -b` against the same sshd in the same run.

Sizes: QBO_SFTP_BENCH_FILES (1000), QBO_SFTP_BENCH_FILE_KB (10), QBO_SFTP_BENCH_BIG_MB (100).
Rounds: QBO_SFTP_BENCH_ROUNDS (5, small files) and QBO_SFTP_BENCH_BIG_ROUNDS (3, the big file).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qbo_sftp_assets.config import Folders, SftpEndpoint
from qbo_sftp_assets.sftp.connection import open_session
from qbo_sftp_assets.sftp.transfer import PartnerFiles
from qbo_sftp_assets_tests.sshd_server import SshdServer, find_sshd, generate_key, start_sshd


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _openssh(server: SshdServer, key: Path, known_hosts: Path, batch: str, workdir: Path) -> None:
    batch_file = workdir / "batch.txt"
    batch_file.write_text(batch)
    command = [
        "sftp",
        "-q",
        "-b",
        str(batch_file),
        "-i",
        str(key),
        "-F",
        "/dev/null",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-P",
        str(server.port),
        f"{server.user}@{server.host}",
    ]
    subprocess.run(command, check=True, capture_output=True, cwd=workdir)


@dataclass
class _Phase:
    """The seconds each contender took in each round of one phase; OpenSSH's are the reference."""

    label: str
    count: int
    total_bytes: int
    openssh: list[float] = field(default_factory=list)
    ours: dict[str, list[float]] = field(default_factory=dict)

    def report(self) -> None:
        def rate(seconds: float) -> str:
            per_file = f"{self.count / seconds:6.0f} files/s " if self.count > 1 else ""
            return f"{per_file}{self.total_bytes / seconds / 1e6:7.1f} MB/s"

        theirs = statistics.median(self.openssh)
        print(f"   {self.label:<28} openssh {rate(theirs)} (median of {len(self.openssh)})")
        for how, times in self.ours.items():
            # Ratio per round (same round, same load), then the median and best of those ratios.
            ratios = sorted(peer / mine for peer, mine in zip(self.openssh, times, strict=True))
            print(
                f"     ours, {how:<21} {rate(statistics.median(times))} | "
                f"ratio median {statistics.median(ratios):5.2f} best {ratios[-1]:5.2f}"
            )


def _alternate(
    phase: _Phase,
    rounds: int,
    ours: dict[str, Callable[[int], Callable[[], None]]],
    peer: Callable[[int], Callable[[], None]],
) -> None:
    """Time ours and OpenSSH in alternating order round after round: the CPU is shared and its load
    comes and goes, so each ratio compares runs made moments apart."""
    for round_ in range(rounds):
        contenders = [("openssh", peer(round_))] + [(how, make(round_)) for how, make in ours.items()]
        if round_ % 2:
            contenders.reverse()
        for how, action in contenders:
            seconds = _timed(action)
            if how == "openssh":
                phase.openssh.append(seconds)
            else:
                phase.ours.setdefault(how, []).append(seconds)


def run() -> None:
    if find_sshd() is None or shutil.which("sftp") is None:
        print("   skipped: needs sshd and sftp (make os-packages)")
        return
    files = _env_int("QBO_SFTP_BENCH_FILES", 1000)
    file_bytes = _env_int("QBO_SFTP_BENCH_FILE_KB", 10) * 1024
    big_bytes = _env_int("QBO_SFTP_BENCH_BIG_MB", 100) * 1024 * 1024
    rounds = _env_int("QBO_SFTP_BENCH_ROUNDS", 5)
    big_rounds = _env_int("QBO_SFTP_BENCH_BIG_ROUNDS", 3)
    # Memory-backed scratch space when there is room, so disk writeback does not time the disk.
    shm = Path("/dev/shm")
    room = shm.is_dir() and shutil.disk_usage(shm).free > 4 * big_bytes + (1 << 30)
    with tempfile.TemporaryDirectory(prefix="bench-sftp-", dir=shm if room else None) as scratch:
        base = Path(scratch)
        key = generate_key(base / "id_ed25519")
        server = start_sshd(base / "sshd", [Path(f"{key}.pub")])
        known_hosts = base / "known_hosts"
        known_hosts.write_text(server.host_key_line + "\n")
        try:
            _run_all(server, key, known_hosts, base, files, file_bytes, big_bytes, rounds, big_rounds)
        finally:
            server.stop()


def _run_all(
    server: SshdServer,
    key: Path,
    known_hosts: Path,
    base: Path,
    files: int,
    file_bytes: int,
    big_bytes: int,
    rounds: int,
    big_rounds: int,
) -> None:
    remote = base / "remote"
    small = remote / "small"
    small.mkdir(parents=True)
    names = [f"doc-{n:05}.csv" for n in range(files)]
    for name in names:
        (small / name).write_bytes(os.urandom(file_bytes))
    big_name = "big.bin"
    with (remote / big_name).open("wb") as out:
        for _ in range(big_bytes // (1024 * 1024)):
            out.write(os.urandom(1024 * 1024))
    endpoint = SftpEndpoint(
        host=server.host,
        port=server.port,
        user=server.user,
        auth={"key_file": str(key)},
        host_keys=[server.host_key_line],
    )
    ours_down, theirs_down = base / "ours-down", base / "openssh-down"
    ours_down_many = base / "ours-down-many"
    ours_down.mkdir()
    ours_down_many.mkdir()
    theirs_down.mkdir()
    for name in names:  # the upload source, in place before any upload round
        shutil.copyfile(small / name, ours_down / name)
    shutil.copyfile(remote / big_name, ours_down / big_name)
    big_mb = big_bytes // (1024 * 1024)
    print(
        f"   {files} files x {file_bytes // 1024} KB and one {big_mb} MB file; one connection per run, setup included"
    )
    print(f"   ours and openssh alternate: {rounds} rounds (small files), {big_rounds} (big file)")
    print("   ratio = ours / openssh throughput in the same round (>= 1.0 is the goal for the batched small files)")
    print("   'one ... per file' sends one file at a time; 'download_many' (after a listing) and")
    print("   'upload_many' keep the requests of 32 files in flight together")

    def over_one_connection(work: Callable[[PartnerFiles], object]) -> Callable[[], None]:
        # Connection setup is inside the timing, as it is for each `sftp -b` run.
        def timed_work() -> None:
            with open_session(endpoint, partner="bench") as session:
                work(PartnerFiles(session, Folders(root=str(remote))))

        return timed_work

    def download_small(partner: PartnerFiles) -> None:
        for name in names:
            partner.download(name, ours_down / name, kind="small", expected_size=file_bytes)

    def download_many(partner: PartnerFiles) -> None:
        # The listing is timed too: its sizes bound each download, as landing's listing does.
        for result in partner.download_many(partner.list_folder("small"), ours_down_many, kind="small"):
            if result.error is not None:
                raise result.error

    def upload_each(target: str) -> Callable[[PartnerFiles], None]:
        def work(partner: PartnerFiles) -> None:
            for name in names:
                partner.upload((ours_down / name).read_bytes(), name, kind=target)

        return work

    def upload_many(target: str) -> Callable[[PartnerFiles], None]:
        def work(partner: PartnerFiles) -> None:
            items = (((ours_down / name).read_bytes(), name) for name in names)
            for _uploaded in partner.upload_many(items, kind=target):
                pass

        return work

    def openssh(batch: str) -> Callable[[], None]:
        return lambda: _openssh(server, key, known_hosts, batch, theirs_down)

    def fresh(folder: str) -> str:
        # The previous round's copy goes first (untimed), so every round writes into an empty folder.
        shutil.rmtree(remote / folder, ignore_errors=True)
        (remote / folder).mkdir()
        return folder

    gets = f"cd {small}\n" + "".join(f"get {name}\n" for name in names)

    def puts(folder: str) -> str:
        return f"lcd {ours_down}\ncd {remote / folder}\n" + "".join(f"put {name}\n" for name in names)

    small_total = files * file_bytes
    down = _Phase(f"{files} files download", files, small_total)
    _alternate(
        down,
        rounds,
        {
            "one download per file": lambda r: over_one_connection(download_small),
            "download_many": lambda r: over_one_connection(download_many),
        },
        lambda r: openssh(gets),
    )
    up = _Phase(f"{files} files upload", files, small_total)
    _alternate(
        up,
        rounds,
        {
            "one upload per file": lambda r: over_one_connection(upload_each(fresh("up-ours"))),
            "upload_many": lambda r: over_one_connection(upload_many(fresh("up-ours-many"))),
        },
        lambda r: openssh(puts(fresh("up-openssh"))),
    )
    big_down = _Phase("big file download", 1, big_bytes)
    _alternate(
        big_down,
        big_rounds,
        {"download": lambda r: over_one_connection(lambda p: p.download(big_name, ours_down / big_name, kind="."))},
        lambda r: openssh(f"get {remote / big_name}\n"),
    )
    big_up = _Phase("big file upload", 1, big_bytes)
    _alternate(
        big_up,
        big_rounds,
        {
            "upload": lambda r: over_one_connection(
                lambda p: p.upload(ours_down / big_name, big_name, kind=fresh("big-up-ours"))
            )
        },
        lambda r: openssh(f"put {ours_down / big_name} {remote / fresh('big-up-openssh')}/\n"),
    )
    for phase in (down, up, big_down, big_up):
        phase.report()
