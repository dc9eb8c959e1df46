"""SFTP throughput: our transport vs OpenSSH's `sftp -b` against the same sshd in the same run.

Sizes: QBO_SFTP_BENCH_FILES (1000), QBO_SFTP_BENCH_FILE_KB (10), QBO_SFTP_BENCH_BIG_MB (100).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qbo_sftp_assets.config import Folders, SftpEndpoint
from qbo_sftp_assets.sftp.connection import open_session
from qbo_sftp_assets.sftp.transfer import PartnerFiles
from qbo_sftp_assets_tests.sshd_server import SshdServer, find_sshd, generate_key, start_sshd

ROUNDS = 2


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


def _report(label: str, count: int, total_bytes: int, ours: float, theirs: float) -> None:
    def rate(seconds: float) -> str:
        per_file = f"{count / seconds:6.0f} files/s " if count > 1 else ""
        return f"{per_file}{total_bytes / seconds / 1e6:7.1f} MB/s"

    print(f"   {label:<20} ours {rate(ours)} | openssh {rate(theirs)} | ratio {theirs / ours:5.2f}")


def run() -> None:
    if find_sshd() is None or shutil.which("sftp") is None:
        print("   skipped: needs sshd and sftp (make os-packages)")
        return
    files = _env_int("QBO_SFTP_BENCH_FILES", 1000)
    file_bytes = _env_int("QBO_SFTP_BENCH_FILE_KB", 10) * 1024
    big_bytes = _env_int("QBO_SFTP_BENCH_BIG_MB", 100) * 1024 * 1024
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
            _run_all(server, key, known_hosts, base, files, file_bytes, big_bytes)
        finally:
            server.stop()


def _run_all(
    server: SshdServer, key: Path, known_hosts: Path, base: Path, files: int, file_bytes: int, big_bytes: int
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
    ours_down.mkdir()
    theirs_down.mkdir()
    big_mb = big_bytes // (1024 * 1024)
    print(f"   {files} files x {file_bytes // 1024} KB and one {big_mb} MB file")
    print("   each run over one connection (setup included); best of alternating rounds")
    print("   ratio = ours / openssh throughput (>= 0.5 is the goal for the small files)")

    def over_one_connection(work: Callable[[PartnerFiles], object]) -> Callable[[], None]:
        # Connection setup is inside the timing, as it is for each `sftp -b` run.
        def timed_work() -> None:
            with open_session(endpoint, partner="bench") as session:
                work(PartnerFiles(session, Folders(root=str(remote))))

        return timed_work

    def download_small(partner: PartnerFiles) -> None:
        for name in names:
            partner.download(name, ours_down / name, kind="small", expected_size=file_bytes)

    def upload_small(target: str) -> Callable[[PartnerFiles], None]:
        def work(partner: PartnerFiles) -> None:
            for name in names:
                partner.upload((ours_down / name).read_bytes(), name, kind=target)

        return work

    def openssh(batch: str) -> Callable[[], None]:
        return lambda: _openssh(server, key, known_hosts, batch, theirs_down)

    def fresh(folder: str) -> str:
        (remote / folder).mkdir()
        return folder

    gets = f"cd {small}\n" + "".join(f"get {name}\n" for name in names)

    def puts(folder: str) -> str:
        return f"lcd {ours_down}\ncd {remote / folder}\n" + "".join(f"put {name}\n" for name in names)

    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}

    def best_of(
        phase: str, rounds: int, mine: Callable[[int], Callable[[], None]], peer: Callable[[int], Callable[[], None]]
    ) -> None:
        # Alternate the two and keep each one's best round: the CPU is shared, so load comes and goes.
        for round_ in range(rounds):
            ours[phase] = min(ours.get(phase, float("inf")), _timed(mine(round_)))
            theirs[phase] = min(theirs.get(phase, float("inf")), _timed(peer(round_)))

    best_of("small down", ROUNDS, lambda r: over_one_connection(download_small), lambda r: openssh(gets))
    best_of(
        "small up",
        ROUNDS,
        lambda r: over_one_connection(upload_small(fresh(f"up-ours-{r}"))),
        lambda r: openssh(puts(fresh(f"up-openssh-{r}"))),
    )
    best_of(
        "big down",
        1,
        lambda r: over_one_connection(lambda p: p.download(big_name, ours_down / big_name, kind=".")),
        lambda r: openssh(f"get {remote / big_name}\n"),
    )
    best_of(
        "big up",
        1,
        lambda r: over_one_connection(lambda p: p.upload(ours_down / big_name, big_name, kind=fresh("big-up-ours"))),
        lambda r: openssh(f"put {ours_down / big_name} {remote / fresh('big-up-openssh')}/\n"),
    )
    _report(f"{files} files download", files, files * file_bytes, ours["small down"], theirs["small down"])
    _report(f"{files} files upload", files, files * file_bytes, ours["small up"], theirs["small up"])
    _report("big file download", 1, big_bytes, ours["big down"], theirs["big down"])
    _report("big file upload", 1, big_bytes, ours["big up"], theirs["big up"])
