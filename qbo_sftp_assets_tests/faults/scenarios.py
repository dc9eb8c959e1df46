"""The scenarios: each drops files into its own site, breaks something while the pipeline runs, lets a
recovery run (the next sensor tick or retry) finish, and returns the seconds that recovery took."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import random
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from qbo_sftp_assets.dagster_dev import INSTANCE_YAML
from qbo_sftp_assets.embedded import COMPANY, connect_company
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets.qbo.tokens import TokenStore
from qbo_sftp_assets.qbo.webhooks import signature_for
from qbo_sftp_assets.sandbox.qbo_server import FIRST_REALM_ID
from qbo_sftp_assets.webhooks import ReceiverSettings, start_receiver
from qbo_sftp_assets.webhooks.spool import Spool
from qbo_sftp_assets_tests.faults.checker import Figures, check_site
from qbo_sftp_assets_tests.faults.daemon import DAEMON_TIMEOUT, Daemons, run_monitoring_enabled, settle, wait_until
from qbo_sftp_assets_tests.faults.world import CSV_PARTNER, X12_PARTNER, Site, World, kill9, last_line


@dataclass(frozen=True)
class Scenario:
    name: str
    code: str  # DocNumber prefix: the scenario's documents in the sandbox start with it
    body: Callable[[Site], float]  # breaks something, recovers; returns the recovery seconds
    # A bug this scenario shows that is not fixed yet: the row is printed as a known failure, not hidden.
    known_failure: str | None = None

    def run(self, world: World) -> Figures:
        world.disarm()
        world.duplicates_before = world.sandbox_stats()["duplicate_documents_stored"]
        site = world.site(self.name, self.code)
        try:
            recovery = self.body(site)
        finally:
            world.disarm()
        figures = check_site(site, recovery)
        figures.known_failure = self.known_failure
        return figures


def everyday_files(site: Site, csv_files: int = 3, per_file: int = 2) -> None:
    """A few CSV files (one with a document on an unmapped account) and an X12 810."""
    for index in range(csv_files):
        site.drop_csv(per_file, unmapped=1 if index == 0 else 0)
    site.drop_x12(1)


def many_documents(site: Site) -> None:
    """Enough documents for three batch requests (30 a batch: 74 documents), spread over files."""
    for _ in range(4):
        site.drop_csv(18)
    site.drop_x12(2)


# --- kill -9 at each step boundary -----------------------------------------------------------------


def kill_at(point: str, nth: int = 1, files: Callable[[Site], None] = everyday_files) -> Callable[[Site], float]:
    def body(site: Site) -> float:
        files(site)
        child = site.start(hold=f"{point}:{nth}")
        if not site.wait_stopped(child):
            site.missed.append(f"never reached {point}:{nth} (exit {child.returncode})")
            site.finish(child)
        else:
            site.notes.append(f"killed after {point} #{nth}; {observe(site)}")
            kill9(child)
        return site.recover()

    return body


def observe(site: Site) -> str:
    """What the boundary looks like from outside: the SFTP tree and the sandbox."""
    counts = {
        kind: sum(len(list(site.folder(p, kind).iterdir())) for p in (CSV_PARTNER, X12_PARTNER))
        for kind in ("processing", "acks", "archive", "error")
    }
    stored = sum(1 for e in site.expected if e.doc_number)  # documents dropped
    return " ".join(f"{k}={v}" for k, v in counts.items()) + f" docs={stored}"


def kill_waiting_for_the_batch_reply(site: Site) -> None:
    """QBO stores the batch and holds its answer; the parent sees the writes land and kills the run then."""
    everyday_files(site)
    world = site.world
    before = world.sandbox_stats()["writes_total"]
    world.arm(kind="timeout", after_write=True, delay=60, path_contains="/batch")
    child = site.start()
    deadline = time.monotonic() + 120
    while world.sandbox_stats()["writes_total"] == before and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    stored = world.sandbox_stats()["writes_total"] - before
    if not stored:
        site.missed.append(f"no write stored before the run ended (exit {child.poll()})")
    site.notes.append(f"killed with {stored} writes stored, reply held")
    kill9(child)
    world.disarm()


def kill_during_batch_reply(site: Site) -> float:
    kill_waiting_for_the_batch_reply(site)
    return site.recover()


# --- QuickBooks faults -------------------------------------------------------------------------------

# The throttle window the storm's 429s announce (Retry-After, seconds).
THROTTLE_WINDOW = 1


def qbo_faults(*rules: dict, files: Callable[[Site], None] = many_documents) -> Callable[[Site], float]:
    def body(site: Site) -> float:
        files(site)
        for rule in rules:
            site.world.arm(**rule)
        done = site.run()
        fired = site.world.env.qbo.state.stats()["faults_fired"]
        site.notes.append(f"faulted run exit {done.returncode}, {len(fired)} faults fired in all")
        site.world.disarm()
        return site.recover()

    return body


def qbo_401_mid_run(site: Site) -> float:
    many_documents(site)
    child = site.start(hold="batch:1")
    if site.wait_stopped(child):
        expired = site.world.env.qbo.state.expire_access_tokens(FIRST_REALM_ID)
        site.notes.append(f"access tokens expired after batch 1 ({expired})")
        child.send_signal(signal.SIGCONT)
    else:
        site.missed.append("never reached batch:1 to expire the tokens")
    done = site.finish(child)
    site.notes.append(f"run exit {done.returncode}")
    return site.recover()


def qbo_invalid_grant(site: Site) -> float:
    everyday_files(site)
    world = site.world
    record = TokenStore(world.env.config().tokens.path).require(FIRST_REALM_ID)
    state = world.env.qbo.state
    with state.lock:
        state.tokens.revoke(record.refresh_token)
    state.expire_access_tokens(FIRST_REALM_ID)
    done = site.run()
    site.notes.append(f"run exit {done.returncode}: {last_line(done.stderr)[:80]}")
    started = time.monotonic()
    connect_company(world.env)  # a person runs `qbo-sftp connect`
    world.remember_tokens()
    return site.recover() + (time.monotonic() - started)


def qbo_5010_on_update(site: Site) -> float:
    """Re-sent documents with other amounts, `on_existing: update`, while a person edits the bills in QBO."""
    site.edit_config(lambda raw: raw["partners"][CSV_PARTNER].update({"posting": {"on_existing": "update"}}))
    first = site.drop_csv(3)
    site.recover()
    state = site.world.env.qbo.state
    numbers = [e.doc_number for e in site.expected]
    with state.lock:
        rows = state.realms[FIRST_REALM_ID].store.rows["Bill"]
        edited = [row for row in rows.values() if row.data.get("DocNumber") in numbers]
    # A person edits each bill in QBO: the SyncToken the ledger holds is stale, QBO answers 5010 to our update.
    with qbo_client_for(site.world.env.config(), COMPANY) as client:
        for row in edited:
            client.update("Bill", row.data["Id"], {"PrivateNote": "edited by hand"}, request_id=uuid.uuid4().hex)
    content = (site.folder(CSV_PARTNER, "archive") / first).read_bytes().replace(b"612.40", b"700.00")
    site.drop(CSV_PARTNER, first.replace(".csv", "_v2.csv"), content)
    return site.recover()


# --- SFTP faults --------------------------------------------------------------------------------------


def sftp_broken_during(point: str, *, drop: bool) -> Callable[[Site], float]:
    """Hold the run just before `point`, freeze the sshd session, let the run go into the frozen server,
    then drop the connection (or leave it stalled until the run gives up)."""

    def body(site: Site) -> float:
        everyday_files(site)
        sshd = site.world.sshd
        child = site.start(hold_before=f"{point}:1")
        if not site.wait_stopped(child):
            site.missed.append(f"never reached {point}")
            site.finish(child)
            return site.recover()
        sshd.kill_sessions(signal.SIGSTOP)
        child.send_signal(signal.SIGCONT)
        time.sleep(0.5)  # the request is on the wire, the server says nothing
        if drop:
            sshd.kill_sessions(signal.SIGKILL)
        done = site.finish(child, timeout=90)
        site.notes.append(f"run exit {done.returncode} after {done.seconds:.1f} s: {last_line(done.stderr)[:70]}")
        sshd.kill_sessions(signal.SIGCONT)
        sshd.kill_sessions(signal.SIGKILL)
        return site.recover()

    return body


def wrong_host_key(site: Site) -> float:
    everyday_files(site)
    good = site.world.sftp_endpoint()
    wrong = site.world.sftp_endpoint(host_key_line=site.world.wrong_host_key_line)
    site.edit_config(lambda raw: [raw["partners"][p].update({"sftp": wrong}) for p in (CSV_PARTNER, X12_PARTNER)])
    done = site.run()
    untouched = all((site.folder(p, "inbound") / n).exists() for p, n in site.dropped)
    site.notes.append(f"pinned-key run exit {done.returncode}, files untouched: {untouched}")
    if done.returncode == 0 or not untouched:
        site.notes.append("a server with the wrong host key was talked to")
    site.edit_config(lambda raw: [raw["partners"][p].update({"sftp": good}) for p in (CSV_PARTNER, X12_PARTNER)])
    return site.recover()


# --- the local disk ---------------------------------------------------------------------------------

# tmpfs hands out whole pages; a filler leaves this much room, then writes fail with ENOSPC.
DISK_ROOM = 8 * 1024


@contextlib.contextmanager
def small_disk(site: Site, folder: Path, size: int) -> Iterator[bool]:
    """`folder` on a tmpfs of `size` bytes (True), or False when it cannot be mounted (not root)."""
    folder.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)]
    mounted = subprocess.run(command, capture_output=True, text=True, check=False)
    if mounted.returncode:
        site.missed.append(f"a size-limited tmpfs could not be mounted (needs root): {mounted.stderr.strip()}")
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, size: int) -> Path:
    """A filler file that leaves DISK_ROOM of `size` free (less what is there already)."""
    used = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    filler = folder / ".filler"
    with filler.open("wb") as out:
        out.write(b"\0" * max(0, size - used - DISK_ROOM))
    return filler


def run_on_full_disk(site: Site, filler: Path) -> float:
    """A run on the full disk (it must fail cleanly), then an operator frees the disk and runs recover."""
    done = site.run()
    refused = (done.stdout + done.stderr + site.log_text()).count("No space left on device")
    said = f": {last_line(done.stderr)[:110]}" if done.returncode else ""
    site.notes.append(f"run on a full disk exit {done.returncode}{said}; 'No space left' {refused} times in its output")
    if not refused:
        site.missed.append("the disk never filled up")
    filler.unlink()
    return site.recover()


def landing_disk_full(site: Site) -> float:
    """The folder files are landed into is full: two fit, the rest are refused until the disk is freed."""
    everyday_files(site, csv_files=4)
    landed, size = site.landing_folder(), 64 * 1024
    with small_disk(site, landed, size) as mounted:
        # The copies landed there go with the mount at the end, as on a disk cleaned by hand.
        return run_on_full_disk(site, fill(landed, size)) if mounted else site.recover()


def ledger_disk_full(site: Site) -> float:
    """The disk the DuckDB ledger (and the landing folder beside it) is on is full."""
    everyday_files(site, csv_files=4)
    disk = site.root / "disk"
    ledger = site.root / "ledger.duckdb"
    size = ledger.stat().st_size + 64 * 1024
    with small_disk(site, disk, size) as mounted:
        if not mounted:
            return site.recover()
        shutil.copy(ledger, disk / ledger.name)
        site.edit_config(lambda raw: raw["ledger"].update({"path": str(disk / ledger.name)}))
        recovery = run_on_full_disk(site, fill(disk, size))
        # The checker reads the ledger after the unmount: keep the recovered one, with its write-ahead log.
        for path in disk.glob(ledger.name + "*"):
            shutil.copy(path, site.root / path.name)
        site.edit_config(lambda raw: raw["ledger"].update({"path": str(ledger)}))
        return recovery


# --- DuckDB contention ------------------------------------------------------------------------------


def duckdb_contention(site: Site) -> float:
    """Two runs at once over the same files while a reader keeps querying the ledger."""
    everyday_files(site, csv_files=4)
    stop = threading.Event()
    reads = {"ok": 0, "failed": 0}

    def reader() -> None:
        while not stop.is_set():
            try:
                site.ledger().query("SELECT count(*) FROM inbound_files")
                reads["ok"] += 1
            except Exception:  # noqa: BLE001 - counting the reader's lock failures is the point
                reads["failed"] += 1
            time.sleep(0.01)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    children = [site.start(), site.start()]
    exits = [site.finish(child).returncode for child in children]
    stop.set()
    thread.join()
    site.notes.append(f"concurrent runs exit {exits}; reader {reads['ok']} reads, {reads['failed']} refused")
    return site.recover()


# --- through Dagster: the sensor, the run queue, the daemon ------------------------------------------


def through_the_sensor(site: Site) -> float:
    """No fault: the SFTP sensors of a real daemon find the files and its runs file them; the seconds that took."""
    everyday_files(site)
    daemons = Daemons(site)
    try:
        daemons.start()
        seconds = settle(site, daemons)
    finally:
        daemons.stop_all()
    site.notes.append(f"runs: {daemons.summary()}")
    return seconds


HOST_CRASH_WAIT = 120.0
HOST_CRASH_KNOWN_FAILURE = (
    "a run killed with its process stays STARTED: the local run launcher has no worker health check, and the "
    "duckdb_ledger pool slot it held is never freed, so its realm's queued runs wait behind it and the sensor "
    "does not resume its stranded files. Measured fix (dagster.yaml): run_monitoring enabled with "
    "max_runtime_seconds and free_slots_after_run_end_seconds: clean, recovery = max runtime + about a minute"
)


def product_run_monitoring() -> bool:
    """Whether the dagster.yaml `qbo-sftp dev` installs turns run monitoring on."""
    return run_monitoring_enabled(INSTANCE_YAML.parent)


def daemon_restarted_mid_run(site: Site, *, with_its_runs: bool = False) -> float:
    """The daemon is killed -9 while a run it launched waits on QBO's answer to a batch, then started again;
    `with_its_runs` kills its whole process group (code server and run too), as a host crash would."""
    everyday_files(site)
    world = site.world
    fired = world.env.qbo.state.faults.fired
    before = len(fired)
    # The first batch request is held 8 s and then refused with a 500 (nothing written); the client retries.
    world.arm(kind="500", count=1, delay=8, path_contains="/batch")
    daemons = Daemons(site)
    recovery = 0.0
    try:
        first = daemons.start()
        if not wait_until(lambda: len(fired) > before, DAEMON_TIMEOUT):
            site.missed.append(f"no run reached posting ({daemons.summary()})")
        else:
            if with_its_runs:
                daemons.kill_group(first)
            else:
                daemons.kill_daemon_only(first)
            site.notes.append(f"daemon killed with a batch request held; runs then: {daemons.summary()}")
            started = time.monotonic()
            daemons.start()
            # Without run monitoring nothing marks the dead run failed after a host crash (the known failure),
            # so waiting the full timeout would only add minutes to `make faults`.
            crash_wait = DAEMON_TIMEOUT if daemons.monitoring else HOST_CRASH_WAIT
            settle(site, daemons, timeout=crash_wait if with_its_runs else DAEMON_TIMEOUT)
            recovery = time.monotonic() - started
    finally:
        daemons.stop_all()
    site.notes.append(f"runs in all: {daemons.summary()}")
    return recovery


# --- hostile input ----------------------------------------------------------------------------------


def fuzzed_among_good(site: Site, seed: int = 12) -> float:
    everyday_files(site)
    rng = random.Random(seed)
    templates = []
    for index in range(3):  # templates with their own numbers, so a mutation never posts a tracked document
        number = f"{site.code}Z{index:02d}"
        templates.append(
            (
                CSV_PARTNER,
                ".csv",
                (
                    "Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount\r\n"
                    f"100871,Precision Machining Partners,{number},2026-11-18,2026-12-18,5100,Brackets,612.40\r\n"
                ).encode(),
            )
        )
    from qbo_sftp_assets_tests.faults.world import x12_bills

    templates.append((X12_PARTNER, ".edi", x12_bills(site.world.next_control_number(), [f"{site.code}Z99"])))
    for index in range(10):
        partner, suffix, content = rng.choice(templates)
        data = bytearray(content)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[position] = rng.randrange(256)
            elif choice < 0.7:
                del data[position : position + rng.randint(1, 20)]
            else:
                data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        site.drop(partner, f"FUZZ_{site.code}_{index:02d}{suffix}", bytes(data))
    site.drop(CSV_PARTNER, f"FUZZ_{site.code}_empty.csv", b"")
    site.drop(X12_PARTNER, f"FUZZ_{site.code}_binary.edi", bytes(rng.randrange(256) for _ in range(4096)))
    site.untracked_docs = 0
    done = site.run()
    site.notes.append(f"run exit {done.returncode}")
    return site.recover() if done.returncode else 0.0


# --- webhooks ---------------------------------------------------------------------------------------


def webhooks_forged_and_replayed(world: World) -> Figures:
    """Signed events once each; forged, replayed and stale ones refused; the verifier token never logged."""
    root = world.workdir / "scenarios" / "webhooks_forged_replayed"
    root.mkdir(parents=True, exist_ok=True)
    token = "verifier-" + uuid.uuid4().hex
    world.extra_secrets.add(token)
    log_file = root / "receiver.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    figures = Figures("webhooks_forged_replayed")
    started = time.monotonic()
    try:
        settings = ReceiverSettings(spool_path=root / "spool.sqlite", verifiers={FIRST_REALM_ID: token})
        with start_receiver(settings) as receiver:
            url = receiver.webhook_url
            genuine = [event_body(str(200 + i)) for i in range(5)]
            answers = []
            for body in genuine:
                answers.append(post_webhook(url, body, signature_for(body, token)))
            for body in genuine:  # a replay: the very bytes and signature seen on the wire
                answers.append(post_webhook(url, body, signature_for(body, token)))
            for index, body in enumerate(genuine[:3]):  # forged: other bytes under a captured signature
                forged = body.replace(b'"Update"', b'"Delete"')
                other = post_webhook(url, forged, signature_for(body, token) if index else "bm90IGEgc2lnbmF0dXJl")
                answers.append(other)
            old = event_body("999", moment=datetime.now(UTC) - timedelta(days=3))
            answers.append(post_webhook(url, old, signature_for(old, token)))
        stored = Spool(settings.spool_path).read_after(None)
        ids = [event.entity_id for event in stored]
        figures.files = 0
        figures.documents = len(genuine)
        figures.posted = len(set(ids))
        figures.rejected = sum(1 for status in answers[10:] if status >= 400)
        figures.duplicates = len(ids) - len(set(ids))
        figures.lost = len({str(200 + i) for i in range(5)} - set(ids))
        wrongly = [i for i in ids if i not in {str(200 + n) for n in range(5)}]
        figures.problems += [f"a forged or stale event was spooled: {i}" for i in wrongly]
        figures.duplicates += len(wrongly)
        figures.notes.append(f"answers {answers}")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous_level)
        handler.close()
    from qbo_sftp_assets_tests.faults.checker import leaked_secrets

    leaks = leaked_secrets(world, root, world.workdir / "tokens.json")
    figures.leaked = len(leaks)
    figures.problems += leaks
    figures.recovery_seconds = time.monotonic() - started
    return figures


def event_body(entity_id: str, *, moment: datetime | None = None) -> bytes:
    moment = moment or datetime.now(UTC)
    change = {"name": "Bill", "id": entity_id, "operation": "Update", "lastUpdated": moment.isoformat()}
    return json.dumps(
        {"eventNotifications": [{"realmId": FIRST_REALM_ID, "dataChangeEvent": {"entities": [change]}}]}
    ).encode()


def post_webhook(url: str, body: bytes, signature: str) -> int:
    headers = {"content-type": "application/json", "intuit-signature": signature}
    return httpx.post(url, content=body, headers=headers, timeout=10).status_code


@dataclass(frozen=True)
class StandaloneScenario:
    """A scenario that is not a pipeline run (the webhook receiver): it makes its own row."""

    name: str
    body: Callable[[World], Figures]
    known_failure: str | None = None

    def run(self, world: World) -> Figures:
        figures = self.body(world)
        figures.known_failure = self.known_failure
        return figures


SCENARIOS: list[Scenario | StandaloneScenario] = [
    Scenario("kill_after_claim", "KC", kill_at("claim")),
    Scenario("kill_after_download", "KD", kill_at("download")),
    Scenario("kill_after_ledger_row", "KL", kill_at("ledger_row")),
    Scenario("kill_after_read", "KR", kill_at("read")),  # every file of the run read, none posted
    Scenario("kill_after_posting_batch_1", "KB1", kill_at("batch", 1, many_documents)),
    Scenario("kill_after_posting_batch_2", "KB2", kill_at("batch", 2, many_documents)),
    Scenario("kill_after_posting_batch_3", "KB3", kill_at("batch", 3, many_documents)),
    Scenario("kill_awaiting_batch_reply", "KW", kill_during_batch_reply),
    Scenario("kill_after_ack_upload", "KA", kill_at("ack_upload", 2)),
    Scenario("kill_after_ack_row", "KAR", kill_at("ack_row", 2)),
    Scenario("kill_after_move", "KM", kill_at("move", 2)),
    # Each throttle answer names a one-second window (Retry-After), which the client honours as it would
    # QBO's; without the header the client waits QBO's 60 s (test_qbo_limits_window), minutes for a storm.
    Scenario(
        "qbo_429_storm",
        "Q429",
        qbo_faults(
            {"kind": "429", "count": 12, "path_contains": "/batch", "retry_after": THROTTLE_WINDOW},
            {"kind": "429", "count": 4, "path_contains": "/query", "retry_after": THROTTLE_WINDOW},
        ),
    ),
    Scenario(
        "qbo_500_503",
        "Q5XX",
        qbo_faults(
            {"kind": "500", "count": 2, "path_contains": "/batch"},
            {"kind": "503", "count": 2, "path_contains": "/batch", "after_write": True},
        ),
    ),
    Scenario("qbo_timeouts", "QTO", qbo_faults({"kind": "timeout", "count": 2, "delay": 2, "path_contains": "/batch"})),
    Scenario("qbo_401_mid_run", "Q401", qbo_401_mid_run),
    Scenario("qbo_invalid_grant", "QIG", qbo_invalid_grant),
    Scenario("qbo_5010_on_update", "Q5010", qbo_5010_on_update),
    Scenario("sftp_drop_mid_download", "SDD", sftp_broken_during("download", drop=True)),
    Scenario("sftp_drop_mid_upload", "SDU", sftp_broken_during("ack_upload", drop=True)),
    Scenario("sftp_server_stalls", "SST", sftp_broken_during("download", drop=False)),
    Scenario("sftp_wrong_host_key", "SHK", wrong_host_key),
    Scenario("landing_disk_full", "LDF", landing_disk_full),
    Scenario("ledger_disk_full", "LGF", ledger_disk_full),
    Scenario("duckdb_two_runs_and_a_reader", "DBL", duckdb_contention),
    Scenario("through_the_sensor", "TS", through_the_sensor),
    Scenario("daemon_restarted_mid_run", "DR", daemon_restarted_mid_run),
    Scenario(
        "daemon_and_its_run_killed",
        "DK",
        functools.partial(daemon_restarted_mid_run, with_its_runs=True),
        known_failure=None if product_run_monitoring() else HOST_CRASH_KNOWN_FAILURE,
    ),
    Scenario("fuzzed_files_among_good", "FZ", fuzzed_among_good),
    StandaloneScenario("webhooks_forged_replayed", webhooks_forged_and_replayed),
]


def by_name(names: list[str]) -> list[Scenario | StandaloneScenario]:
    known = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]
