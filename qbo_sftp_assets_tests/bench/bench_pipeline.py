"""Inbound files end to end under the running daemon, against the sandbox at QBO's real limits and clock.

`BENCH_PIPELINE_FILES` files (default 1,000: CSV, X12 810 and EDIFACT INVOIC in turn, 1-5 bills each,
3 on average) are dropped at once into three partners' inbound folders on the embedded SFTP server;
`dagster dev` (webserver + daemon, the dagster.yaml `make dev` uses) takes them from sensor tick to
the last ack. The floor is what QBO's limits allow at best: bills / (batch requests a minute x 30).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from qbo_sftp_assets.dagster_dev import materialized_partitions, prepare_dagster_home, start_dagster_dev
from qbo_sftp_assets.defs.jobs import INBOUND_JOB
from qbo_sftp_assets.embedded import connect_company, embedded_environment
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef
from qbo_sftp_assets.formats.edifact.invoic import write_invoic
from qbo_sftp_assets.formats.x12 import Parties, write_810

AS_OF = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
# Vendors of the sandbox company's seed data, by their QBO account number (matched as the files name them).
VENDORS = [
    ("100234", "Great Lakes Steel Supply"),
    ("204455", "Buckeye Industrial Gases"),
    ("558812", "Fastenal Dayton"),
    ("300019", "Midwest Freight Lines"),
    ("100871", "Precision Machining Partners"),
]
BILLS_PER_FILE = (1, 2, 3, 4, 5)  # 3 on average
EDIFACT_PARTNER = {
    "folders": {"root": "baltic_mills"},
    "readiness": {"policy": "rename"},
    "poll_interval": 5.0,
    "inbound": [{"pattern": "*.edi", "format": "edifact"}],
    "edifact": {"our_id": "NORTHWINDFAB", "partner_id": "BALTICMILLS"},
    "mapping": {"accounts": {"items": {"A36-025": "Steel & Raw Materials"}, "charges": "Freight In"}},
}
CSV_HEADER = b"Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount\r\n"


@dataclass(frozen=True)
class DroppedFile:
    partner: str
    name: str
    content: bytes
    bills: int


def bills_for(index: int, prefix: str) -> list[Bill]:
    count = BILLS_PER_FILE[index % len(BILLS_PER_FILE)]
    bills = []
    for n in range(count):
        vendor_id, vendor_name = VENDORS[(index + n) % len(VENDORS)]
        lines = (
            Line(Decimal("315.00"), "A36 plate 1/4in", Decimal(3), Decimal("105.00"), item="A36-025"),
            Line(Decimal("42.00"), "Freight", kind="charge"),
        )
        bills.append(
            Bill(
                vendor=PartyRef(id=vendor_id, name=vendor_name),
                number=f"{prefix}-{index:05d}-{n}",
                date=dt.date(2026, 11, 20),
                due_date=dt.date(2026, 12, 20),
                lines=lines,
            )
        )
    return bills


def csv_file(index: int) -> DroppedFile:
    rows = [CSV_HEADER]
    bills = BILLS_PER_FILE[index % len(BILLS_PER_FILE)]
    for n in range(bills):
        vendor_id, vendor_name = VENDORS[(index + n) % len(VENDORS)]
        number = f"AP-{index:05d}-{n}"
        rows.append(f"{vendor_id},{vendor_name},{number},2026-11-18,2026-12-18,5000,Hex bolts,318.75\r\n".encode())
        rows.append(f"{vendor_id},{vendor_name},{number},2026-11-18,2026-12-18,5200,Delivery,45.00\r\n".encode())
    return DroppedFile("legacy_erp", f"AP_{index:05d}.csv", b"".join(rows), bills)


def x12_file(index: int) -> DroppedFile:
    bills = bills_for(index, "GLS")
    parties = Parties(
        sender_qualifier="ZZ", sender_id="GREATLAKES", receiver_qualifier="ZZ", receiver_id="NORTHWINDFAB"
    )
    content = write_810(bills, parties=parties, control_numbers=InMemoryControlNumbers(10_000 + index), as_of=AS_OF)
    return DroppedFile("great_lakes_steel", f"GLS_{index:05d}.edi", content, len(bills))


def edifact_file(index: int) -> DroppedFile:
    bills = bills_for(index, "BAL")
    content = write_invoic(
        bills, sender="BALTICMILLS", recipient="NORTHWINDFAB", reference=f"{20_000 + index}", as_of=AS_OF
    )
    return DroppedFile("baltic_mills", f"BAL_{index:05d}.edi", content, len(bills))


def generate(count: int) -> list[DroppedFile]:
    makers = (csv_file, x12_file, edifact_file)
    return [makers[index % len(makers)](index) for index in range(count)]


def drop_all(root: Path, files: list[DroppedFile]) -> None:
    """Every file written under a temporary name and renamed into its inbound folder, all at once."""
    for file in files:
        inbound = root / file.partner / "inbound"
        temporary = inbound / f".{file.name}.part"
        temporary.write_bytes(file.content)
        temporary.rename(inbound / file.name)


def filed(root: Path, files: list[DroppedFile]) -> int:
    """Files archived or in error/ whose ack has been sent, with nothing left in inbound/ or processing/."""
    done = 0
    for partner in {f.partner for f in files}:
        folder = root / partner
        if any((folder / "inbound").iterdir()) or any((folder / "processing").iterdir()):
            return 0
        acks = [p.name for p in (folder / "acks").iterdir()]
        for file in (f for f in files if f.partner == partner):
            in_place = (folder / "archive" / file.name).exists() or (folder / "error" / file.name).exists()
            done += in_place and any(ack.startswith(file.name) for ack in acks)
    return done


def group_rss_bytes(pgid: int) -> tuple[int, int]:
    """Resident memory of every process in the group: the sum and the largest one."""
    sizes = []
    for stat in _proc_stats():
        fields = stat.rsplit(")", 1)[-1].split()
        if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp, ...
            sizes.append(int(fields[21]) * os.sysconf("SC_PAGE_SIZE"))
    return sum(sizes), max(sizes, default=0)


def _proc_stats() -> Iterator[str]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue  # the process ended while we looked


def _wait_for_inbound_runs(home: Path, deadline: float) -> None:
    busy = {dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            runs = instance.get_runs(dg.RunsFilter(job_name=INBOUND_JOB, statuses=list(busy)))
            if not runs:
                return
            time.sleep(1)


def _root_cause(error: SerializableErrorInfo) -> str:
    while error.cause is not None:  # the step's own exception, not Dagster's wrapper around it
        error = error.cause
    return error.message.strip()


def _engine_error(event: dg.EventLogEntry) -> bool:
    dagster_event = event.dagster_event
    if dagster_event is None or dagster_event.event_type != dg.DagsterEventType.ENGINE_EVENT:
        return False
    return dagster_event.engine_event_data.error is not None


def _created(record: dg.RunRecord) -> float:
    return record.create_timestamp.timestamp()


def _timeline_row(record: dg.RunRecord, dropped_at: float) -> str:
    def since(stamp: float | None) -> str:
        return "-" if stamp is None else f"{stamp - dropped_at:7.1f}"

    run = record.dagster_run
    origin = run.tags.get("dagster/sensor_name") or run.tags.get("dagster/schedule_name") or "launched"
    return (
        f"{since(_created(record))} {since(record.start_time)} {since(record.end_time)}  "
        f"{run.job_name} ({origin}) {run.status.value}"
    )


def step_seconds(instance: dg.DagsterInstance, records: list[dg.RunRecord]) -> dict[str, float]:
    """Seconds each step (asset or check) took, summed over the inbound runs: where the time per file goes."""
    totals: dict[str, float] = {}
    for record in records:
        if record.dagster_run.job_name != INBOUND_JOB:
            continue
        for event in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS):
            step = event.dagster_event.step_key
            totals[step] = totals.get(step, 0.0) + event.dagster_event.step_success_data.duration_ms / 1000
    return totals


def run() -> None:
    count = int(os.environ.get("BENCH_PIPELINE_FILES", "1000"))
    files = generate(count)
    bills = sum(f.bills for f in files)
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as scratch:
        workdir = Path(scratch)
        with embedded_environment(workdir / "embedded", extra_partners={"baltic_mills": EDIFACT_PARTNER}) as env:
            connect_company(env)
            settings = env.qbo.settings
            ceiling = settings.batch_write_ceiling_per_real_minute()
            floor = bills / ceiling * 60
            home = prepare_dagster_home(workdir / "dagster_home")
            realm = env.qbo.realm_id
            with (
                (workdir / "dagster_dev.log").open("wb") as log,
                start_dagster_dev(home, environ=env.environ, output=log) as dev,
            ):
                dev.wait_until_ready()
                deadline = time.monotonic() + 180
                while not materialized_partitions(dev.url, "qbo_vendors") and time.monotonic() < deadline:
                    time.sleep(1)
                before = env.qbo.state.stats()["realms"][realm]
                peak_total = peak_single = 0
                started = time.monotonic()
                load_at_drop = os.getloadavg()
                drop_all(env.sftp.root, files)
                timeout = max(600.0, 6 * floor)
                done = 0
                while time.monotonic() - started < timeout:
                    total, single = group_rss_bytes(dev.process.pid)
                    peak_total, peak_single = max(peak_total, total), max(peak_single, single)
                    done = filed(env.sftp.root, files)
                    if done == count:
                        break
                    time.sleep(0.5)
                elapsed = time.monotonic() - started
                after = env.qbo.state.stats()["realms"][realm]
                # The last ack is out but its run may still be recording; stopping now would fail it.
                _wait_for_inbound_runs(home, deadline=time.monotonic() + 120)
                dropped_at = time.time() - elapsed
            with dg.DagsterInstance.from_config(str(home)) as instance:
                records = instance.get_run_records()
                runs = [r for r in records if r.dagster_run.tags.get("dagster/sensor_name", "").startswith("sftp_")]
                timeline = [_timeline_row(record, dropped_at) for record in sorted(records, key=_created)]
                steps = step_seconds(instance, records)
                failures = [
                    f"{event.dagster_event.step_key}: {_root_cause(event.dagster_event.step_failure_data.error)}"
                    for record in records
                    if record.dagster_run.status == dg.DagsterRunStatus.FAILURE
                    for event in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
                ]
                # A run that failed without a failed step (it never started, or was stopped): Dagster's reason.
                failures += [
                    f"{record.dagster_run.job_name} (no step failed): {event.message}"
                    + (f" ({_root_cause(event.dagster_event.engine_event_data.error)})" if _engine_error(event) else "")
                    for record in records
                    if record.dagster_run.status == dg.DagsterRunStatus.FAILURE
                    and not instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
                    for event in instance.all_logs(
                        record.dagster_run.run_id,
                        of_type={dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.ENGINE_EVENT},
                    )[-2:]
                ]
    batches = after["batch_requests"] - before["batch_requests"]
    bills_written = after["writes"].get("Bill", 0) - before["writes"].get("Bill", 0)
    print(f"   {count} files ({bills} bills: CSV, X12 810, EDIFACT INVOIC) dropped at once")
    print(f"   filed with their acks: {done}/{count}{'' if done == count else '  (TIMED OUT)'}")
    print(
        f"   end to end {elapsed:.1f} s; QBO floor {floor:.1f} s ({bills} bills / {ceiling:.0f} a minute: "
        f"{settings.batch_requests_per_minute} batch requests x {settings.batch_max_items}); "
        f"ratio {elapsed / floor:.2f} (goal <= 1.25)"
    )
    print(
        f"   runs launched {len(runs)}; QBO batch requests {batches}, mean fill "
        f"{bills_written / batches if batches else 0:.1f} of {settings.batch_max_items}; "
        f"bills created {bills_written}, duplicates stored {after['duplicate_documents_stored']}"
    )
    mib = 2**20
    print(f"   peak RSS {peak_total / mib:.0f} MiB over dagster dev's processes, largest {peak_single / mib:.0f} MiB")
    load_at_end = os.getloadavg()
    print(
        f"   load average at the drop {load_at_drop[0]:.1f} / {load_at_drop[1]:.1f} / {load_at_drop[2]:.1f}, "
        f"at the end {load_at_end[0]:.1f} / {load_at_end[1]:.1f} / {load_at_end[2]:.1f} "
        f"({os.cpu_count()} cores; the machine may be shared)"
    )
    print("   inbound steps, seconds summed over the runs (per file):")
    for step, seconds in sorted(steps.items(), key=lambda item: -item[1]):
        print(f"     {step:40s} {seconds:8.1f} s  {seconds / count * 1000:7.1f} ms")
    print("   runs, seconds after the drop: created / started / ended, job (origin) status")
    for row in timeline:
        print(f"     {row}")
    for failure in failures:
        print(f"   failed step {failure[:300]}")
