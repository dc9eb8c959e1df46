"""The world a fault scenario runs in: the embedded QBO sandbox, a real OpenSSH sshd serving each scenario's
partner folders, a connected company, and one site (config, ledger, folders, logs) per scenario; the
pipeline runs in child processes (`faults.child`) that the suite holds at a step and kills with SIGKILL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.demo import PARTNER_CLOCK
from qbo_sftp_assets.embedded import (
    COMPANY,
    EmbeddedEnvironment,
    connect_company,
    embedded_environment,
    environment_variables,
)
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef
from qbo_sftp_assets.formats.x12 import Parties, write_810
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.mapping import refresh_reference
from qbo_sftp_assets.pipeline import inbound_batch
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets.sandbox.qbo_server import FIRST_REALM_ID
from qbo_sftp_assets_tests.sshd_server import SshdServer, find_sshd, generate_key, start_sshd

CSV_PARTNER = "legacy_erp"
X12_PARTNER = "great_lakes_steel"
INBOUND_PARTNERS = (CSV_PARTNER, X12_PARTNER)
CSV_HEADER = "Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount\r\n"
MAPPED_ACCOUNT, UNMAPPED_ACCOUNT = "5100", "5250"
# Short SFTP timeouts, so a stalled server ends a run in seconds rather than the default five minutes.
SFTP_TIMEOUTS = {"connect": 5, "banner": 5, "auth": 5, "channel": 5, "operation": 8, "keepalive": 2}
RUN_TIMEOUT = 240.0


@dataclass
class Expected:
    """A document the suite dropped: its number and whether it can be posted (an unmapped account cannot)."""

    doc_number: str
    postable: bool


@dataclass
class ChildRun:
    """A finished child: exit code (negative for a signal), and where its output went."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Site:
    """One scenario's own partner folders (served by sshd), ledger, config, landing folder and logs."""

    world: World
    name: str
    code: str
    root: Path
    config_path: Path
    dropped: list[tuple[str, str]] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    untracked_docs: int = 0  # documents of fuzzed files: their numbers are whatever the mutation left
    runs: int = 0
    notes: list[str] = field(default_factory=list)
    # Faults the scenario meant to inject and could not (a hold point never reached): the row fails.
    missed: list[str] = field(default_factory=list)
    _files: int = 0

    # --- the partner's side -------------------------------------------------------------------------

    def folder(self, partner: str, kind: str) -> Path:
        return self.root / "sftp" / partner / kind

    def drop(self, partner: str, name: str, content: bytes) -> None:
        """Put a file in inbound/ the way a partner's client does: written aside, then renamed into place."""
        target = self.folder(partner, "inbound") / name
        temporary = target.with_name("." + name + ".part")
        temporary.write_bytes(content)
        temporary.rename(target)
        self.dropped.append((partner, name))

    def new_number(self, tag: str = "D") -> str:
        self._files += 1
        return f"{self.code}{tag}{self._files:03d}"

    def drop_csv(self, documents: int = 2, *, unmapped: int = 0) -> str:
        """A CSV of `documents` bills, the last `unmapped` of them on a GL account the mapping lacks."""
        name = f"AP_{self.code}_{len(self.dropped):03d}.csv"
        rows = [CSV_HEADER]
        for index in range(documents):
            number = self.new_number()
            postable = index < documents - unmapped
            account = MAPPED_ACCOUNT if postable else UNMAPPED_ACCOUNT
            rows.append(
                f"100871,Precision Machining Partners,{number},2026-11-18,2026-12-18,{account},Brackets,612.40\r\n"
            )
            self.expected.append(Expected(number, postable))
        self.drop(CSV_PARTNER, name, "".join(rows).encode())
        return name

    def drop_x12(self, documents: int = 1) -> str:
        numbers = [self.new_number("X") for _ in range(documents)]
        control = self.world.next_control_number()
        name = f"GLS_{self.code}_{control}.edi"
        self.drop(X12_PARTNER, name, x12_bills(control, numbers))
        self.expected.extend(Expected(number, True) for number in numbers)
        return name

    # --- runs ---------------------------------------------------------------------------------------

    def environ(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **self.world.env.environ, **extra}

    def start(self, *, hold: str | None = None, hold_before: str | None = None) -> subprocess.Popen:
        """Start one pipeline run; with `hold` it stops itself (SIGSTOP) at that step boundary."""
        self.runs += 1
        logs = self.root / "logs"
        extra = {}
        if hold:
            extra["QBO_FAULTS_HOLD"] = hold
        if hold_before:
            extra["QBO_FAULTS_HOLD_BEFORE"] = hold_before
        command = [
            sys.executable,
            "-m",
            "qbo_sftp_assets_tests.faults.child",
            str(self.config_path),
            str(logs / f"run{self.runs}.log"),
        ]
        return subprocess.Popen(
            command,
            stdout=(logs / f"run{self.runs}.stdout").open("wb"),
            stderr=(logs / f"run{self.runs}.stderr").open("wb"),
            env=self.environ(**extra),
            cwd=self.root,
        )

    def finish(self, child: subprocess.Popen, timeout: float = RUN_TIMEOUT) -> ChildRun:
        started = time.monotonic()
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            self.notes.append(f"a run did not end within {timeout:.0f} s and was killed")
        logs = self.root / "logs"
        number = int(Path(child.args[-1]).stem.removeprefix("run"))
        stdout = (logs / f"run{number}.stdout").read_text(errors="replace")
        stderr = (logs / f"run{number}.stderr").read_text(errors="replace")
        return ChildRun(child.returncode, stdout, stderr, time.monotonic() - started)

    def run(self, **options: Any) -> ChildRun:
        return self.finish(self.start(**options))

    def recover(self, attempts: int = 3) -> float:
        """Run until a run ends cleanly (the way the next sensor tick or a retry would); its seconds."""
        started = time.monotonic()
        for _attempt in range(attempts):
            done = self.run()
            if done.returncode == 0:
                return time.monotonic() - started
            self.notes.append(f"recovery run exit {done.returncode}: {last_line(done.stderr)}")
        return time.monotonic() - started

    def wait_stopped(self, child: subprocess.Popen, timeout: float = 120.0) -> bool:
        """True once the child stopped itself at its hold point; False if it ended without reaching it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.poll() is not None:
                return False
            if process_state(child.pid) == "T":
                return True
            time.sleep(0.02)
        return False

    def ledger(self) -> Ledger:
        return Ledger(load_config(self.config_path).ledger.path)

    def landing_folder(self) -> Path:
        return inbound_batch.landing_dir(load_config(self.config_path))

    def log_text(self) -> str:
        """Every run's log so far, for what the runs said."""
        return "".join(path.read_text(errors="replace") for path in sorted((self.root / "logs").glob("run*.log")))

    def edit_config(self, edit) -> None:
        raw = yaml.safe_load(self.config_path.read_text())
        edit(raw)
        self.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def process_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def kill9(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


def x12_bills(control_number: int, numbers: list[str]) -> bytes:
    vendor = PartyRef(id="100234", name="Great Lakes Steel Supply")
    bills = [
        Bill(
            vendor=vendor,
            number=number,
            date=dt.date(2026, 11, 20),
            due_date=dt.date(2026, 12, 20),
            lines=(Line(Decimal("3150.00"), "A36 plate", Decimal(30), Decimal("105.00"), item="A36-025"),),
        )
        for number in numbers
    ]
    parties = Parties(
        sender_qualifier="ZZ", sender_id="GREATLAKES", receiver_qualifier="ZZ", receiver_id="NORTHWINDFAB"
    )
    return write_810(
        bills, parties=parties, control_numbers=InMemoryControlNumbers(control_number), as_of=PARTNER_CLOCK
    )


@dataclass
class World:
    """Everything the scenarios share; `site()` makes a fresh one for each."""

    workdir: Path
    env: EmbeddedEnvironment
    sshd: SshdServer
    client_key: Path
    wrong_host_key_line: str
    template_ledger: Path
    extra_secrets: set[str] = field(default_factory=set)
    seen_tokens: set[str] = field(default_factory=set)
    duplicates_before: int = 0  # the sandbox's count of documents stored twice when a scenario starts
    _control: int = 700000

    def next_control_number(self) -> int:
        self._control += 1
        return self._control

    @property
    def sandbox_url(self) -> str:
        return self.env.qbo.base_url

    def arm(self, **rule: Any) -> None:
        httpx.post(f"{self.sandbox_url}/_sandbox/faults", json=rule, timeout=10).raise_for_status()

    def disarm(self) -> None:
        httpx.delete(f"{self.sandbox_url}/_sandbox/faults", timeout=10).raise_for_status()

    def sandbox_stats(self) -> dict[str, Any]:
        return self.env.qbo.state.stats()["realms"][FIRST_REALM_ID]

    def remember_tokens(self) -> None:
        """Every token and code the sandbox ever issued: each is a secret the suite searches for."""
        registry = self.env.qbo.state.tokens
        with self.env.qbo.state.lock:
            self.seen_tokens |= set(registry.access_tokens) | set(registry.refresh_tokens) | set(registry.codes)

    def sftp_endpoint(self, *, host_key_line: str | None = None) -> dict[str, Any]:
        return {
            "host": self.sshd.host,
            "port": self.sshd.port,
            "user": self.sshd.user,
            "auth": {"key_file": str(self.client_key)},
            "host_keys": [host_key_line or self.sshd.host_key_line],
            "timeouts": SFTP_TIMEOUTS,
        }

    def site(self, name: str, code: str) -> Site:
        root = self.workdir / "scenarios" / name
        if root.exists():
            shutil.rmtree(root)
        (root / "logs").mkdir(parents=True)
        raw = yaml.safe_load(self.env.config_path.read_text())
        ledger_path = root / "ledger.duckdb"
        shutil.copy(self.template_ledger, ledger_path)
        raw["ledger"]["path"] = str(ledger_path)
        for partner_name in INBOUND_PARTNERS:
            partner = raw["partners"][partner_name]
            partner["sftp"] = self.sftp_endpoint()
            partner["folders"] = {"root": str(root / "sftp" / partner_name)}
        config_path = root / "qbo_sftp.yaml"
        config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        config = load_config(config_path)
        for partner_name in INBOUND_PARTNERS:
            folders = config.partner(partner_name).folders
            for kind in ("inbound", "processing", "archive", "error", "acks", "outbound"):
                Path(folders.root, getattr(folders, kind).strip("/")).mkdir(parents=True, exist_ok=True)
        return Site(self, name, code, root, config_path)


@contextlib.contextmanager
def fault_world(workdir: Path | None = None) -> Iterator[World]:
    """Start the sandbox and sshd, connect the company, load its reference data once (copied per site)."""
    if find_sshd() is None:
        raise RuntimeError("sshd is not installed: run `make os-packages` (openssh-server)")
    owned = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="qbo-faults-")) if workdir is None else workdir
    try:
        with embedded_environment(workdir) as env, environment_variables(env.environ):
            keys = workdir / "client-keys"
            keys.mkdir(exist_ok=True)
            client_key = generate_key(keys / "id_ed25519")
            other = generate_key(keys / "other_host_ed25519_key")
            sshd = start_sshd(workdir / "sshd", [Path(f"{client_key}.pub")])
            try:
                connect_company(env)
                config = env.config()
                with qbo_client_for(config, COMPANY) as client:
                    refresh_reference(client, Ledger(config.ledger.path), client.realm_id)
                public = Path(f"{other}.pub").read_text().split()
                wrong = f"[{sshd.host}]:{sshd.port} {public[0]} {public[1]}"
                world = World(workdir, env, sshd, client_key, wrong, Path(config.ledger.path))
                world.remember_tokens()
                yield world
            finally:
                sshd.stop()
    finally:
        if owned and not os.environ.get("QBO_FAULTS_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
