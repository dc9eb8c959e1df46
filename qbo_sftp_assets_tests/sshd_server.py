"""A real OpenSSH `sshd` on a free loopback port, configured in a temp folder (for tests and the bench)."""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def find_sshd() -> str | None:
    """The absolute path of sshd (it re-execs itself, so it must be absolute), or None."""
    for candidate in (shutil.which("sshd"), *SSHD_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def generate_key(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    """Write an OpenSSH private key at `path` (and `path.pub`) with ssh-keygen."""
    bits = {"rsa": ["-b", "2048"], "ecdsa": ["-b", "256"]}.get(kind, [])
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *bits, "-N", passphrase, "-C", f"qbo-sftp-test-{kind}", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    path.chmod(0o600)
    return path


def _load_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Resolved before any fork: looking a symbol up in the child of a threaded process can deadlock.
_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM sshd if the test process dies without cleanup."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SshdServer:
    """A running sshd; `host_key_line` is the pin, `user` the account its keys log in as."""

    directory: Path
    port: int
    user: str
    host_key_line: str
    host_fingerprint: str
    process: subprocess.Popen
    log_file: Path
    extra_users: list[str] = field(default_factory=list)

    host: str = "127.0.0.1"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def session_pids(self) -> list[int]:
        """Processes sshd forked for client connections (all descendants of the listener)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
        found, todo = [], list(children.get(self.process.pid, []))
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def kill_sessions(self, sig: int = signal.SIGKILL) -> int:
        """Send `sig` to every per-connection sshd process (drops or, with SIGSTOP, freezes them)."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return len(pids)

    def stop(self) -> None:
        self.kill_sessions(signal.SIGCONT)
        self.kill_sessions()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_sshd(
    directory: Path,
    authorized_public_keys: list[Path],
    *,
    host_key: Path | None = None,
    extra_host_keys: tuple[Path, ...] = (),
    password_auth: bool = False,
    options: dict[str, str] | None = None,
) -> SshdServer:
    """Start sshd -D -e on a free loopback port with its config, keys and log under `directory`."""
    sshd = find_sshd()
    if sshd is None:
        raise RuntimeError("sshd is not installed; run `make os-packages` (Debian package openssh-server)")
    directory.mkdir(parents=True, exist_ok=True)
    if host_key is None:
        host_key = generate_key(directory / "ssh_host_ed25519_key")
    authorized = directory / "authorized_keys"
    authorized.write_text("".join(key.read_text() for key in authorized_public_keys))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    extra_keys = "".join(f"HostKey {key}\n" for key in extra_host_keys)
    settings = {
        "ListenAddress": "127.0.0.1",
        "HostKey": str(host_key),
        "PidFile": str(directory / "sshd.pid"),
        "AuthorizedKeysFile": str(authorized),
        "StrictModes": "no",
        "UsePAM": "no",
        "PermitRootLogin": "yes",
        "PasswordAuthentication": "yes" if password_auth else "no",
        "KbdInteractiveAuthentication": "no",
        "PubkeyAuthentication": "yes",
        "Subsystem": "sftp internal-sftp",
        "LogLevel": "VERBOSE",
        "MaxStartups": "100:30:200",
        "MaxSessions": "50",
        **(options or {}),
    }
    last_error = ""
    for _attempt in range(5):
        port = free_port()
        config = directory / "sshd_config"
        config.write_text(
            f"Port {port}\n" + extra_keys + "".join(f"{key} {value}\n" for key, value in settings.items())
        )
        check = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd rejected its test config: {check.stderr.strip()}")
        log_file = directory / "sshd.log"
        log = log_file.open("ab")
        process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log.close()
        if _wait_listening(port, process):
            public = Path(f"{host_key}.pub").read_text().split()
            fingerprint = subprocess.run(
                ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{host_key}.pub"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[1]
            return SshdServer(
                directory=directory,
                port=port,
                user=getpass.getuser(),
                host_key_line=f"[127.0.0.1]:{port} {public[0]} {public[1]}",
                host_fingerprint=fingerprint,
                process=process,
                log_file=log_file,
            )
        last_error = log_file.read_text(errors="replace")[-2000:]
        if process.poll() is None:
            process.kill()
            process.wait()
    raise RuntimeError(f"sshd did not start: {last_error}")


def _wait_listening(port: int, process: subprocess.Popen, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.01)
    return False


@dataclass
class ThrowawayAccount:
    """A local account with a random password (root only), removed by `remove()`."""

    name: str
    password: str
    home: Path

    def remove(self) -> None:
        subprocess.run(["userdel", self.name], capture_output=True)


def create_throwaway_account(home: Path) -> ThrowawayAccount:
    """`useradd` + `chpasswd` a short-lived account whose home is `home` (must be root)."""
    name = f"qbosftp{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh", name],
        check=True,
        capture_output=True,
    )
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
    shutil.chown(home, user=name, group=name)
    return ThrowawayAccount(name, password, home)
