"""The pipeline bench's files over four QBO companies: DuckDB with one run worker, then PostgreSQL with four.

`BENCH_SCALE_FILES` files (default 1,000; the pipeline bench's CSV, X12 810 and EDIFACT INVOIC files,
1-5 bills each) are dealt out to four companies (sandbox realms, each with QBO's own limits), three
partners each, and dropped at once. Then:

- DuckDB (the embedded default): one inbound run over every file, in one worker process, the ledger
  a DuckDB file and the instance Dagster's SQLite one;
- PostgreSQL: Dagster, the ledger, tokens and request budgets on a private PostgreSQL cluster, and
  four runs at once, one per company, each in its own worker process (as run workers on four hosts).

Each prints bills per minute from the workers' start to the last one's exit (process start-up and
definitions loading included) and the fraction of the four realms' combined ceiling (each realm:
batch requests a minute x 30 bills). Goal for PostgreSQL: >= 0.8 with 0 duplicates. QBO's limit is a
sliding minute: a realm whose bills need fewer batch requests than a minute allows is never held back
by it, and the figure then measures how fast this machine runs the pipeline (1,000 files: about 750
bills, 25 requests, a realm); the bench says which it is.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from qbo_sftp_assets.dagster_dev import prepare_dagster_home
from qbo_sftp_assets.defs.jobs import INBOUND_JOB
from qbo_sftp_assets_tests.bench.bench_pipeline import DroppedFile, drop_all, step_seconds
from qbo_sftp_assets_tests.fixtures_postgres import start_postgres
from qbo_sftp_assets_tests.scale_site import (
    ScaleSite,
    add_partitions,
    file_key,
    filed,
    scale_site,
    site_files,
    start_worker,
)

REALMS = 4


@dataclass
class Outcome:
    label: str
    files: int
    bills: int
    seconds: float
    run_seconds: float
    filed: int
    failed_workers: int
    bills_written: int
    duplicates: int
    throttled: int
    ceiling_per_minute: float
    steps: dict[str, float]
    batches_per_realm: int  # the fewest batch requests the busiest realm's bills need
    batches_per_window: int  # what QBO allows a realm in any (sandbox) minute

    def report(self) -> None:
        per_minute = self.bills / self.seconds * 60 if self.seconds else 0.0
        print(
            f"   {self.label}: {self.bills} bills in {self.seconds:.1f} s = {per_minute:.0f} bills/min, "
            f"{per_minute / self.ceiling_per_minute:.2f} of the {REALMS} realms' combined ceiling "
            f"({self.ceiling_per_minute:.0f}/min; goal >= 0.8)"
        )
        in_runs = self.bills / self.run_seconds * 60 if self.run_seconds else 0.0
        print(
            f"     from the first run's start to the last run's end (no process start-up): {self.run_seconds:.1f} s, "
            f"{in_runs:.0f} bills/min, {in_runs / self.ceiling_per_minute:.2f} of the ceiling"
        )
        binds = (
            "binds"
            if self.batches_per_realm > self.batches_per_window
            else "does not bind (the figure measures this machine)"
        )
        print(
            f"     the busiest realm needs {self.batches_per_realm} batch requests, QBO allows "
            f"{self.batches_per_window} in any minute: its limit {binds}"
        )
        print(
            f"     filed with acks {self.filed}/{self.files}; bills created {self.bills_written}, "
            f"duplicates stored {self.duplicates}; 429s {self.throttled}; failed workers {self.failed_workers}"
        )
        print("     inbound steps, seconds summed over the runs (per file):")
        for step, seconds in sorted(self.steps.items(), key=lambda item: -item[1]):
            print(f"       {step:40s} {seconds:8.1f} s  {seconds / self.files * 1000:7.1f} ms")


def _measure(
    label: str, site: ScaleSite, home: Path, dealt: list[list[DroppedFile]], runs: list[tuple[list[DroppedFile], str]]
) -> Outcome:
    """Drop every file, start a worker per run (its files and its realm tag, "" for none), wait for them all."""
    everything = [file for files in dealt for file in files]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        add_partitions(instance, [file for files, _realm in runs for file in files])
    drop_all(site.sftp.root, everything)
    before = site.realm_stats()
    started = time.monotonic()
    workers = []
    for number, (files, realm) in enumerate(runs):
        log = site.workdir / f"worker_{label}_{number}.log"
        workers.append(start_worker(home, site, file_key(files[0]), file_key(files[-1]), realm, log))
    failed = sum(worker.wait() != 0 for worker in workers)
    seconds = time.monotonic() - started
    after = site.realm_stats()
    done, _waiting = filed(site.sftp.root, everything)
    settings = site.qbo.settings
    ceiling = settings.batch_write_ceiling_per_real_minute() * len(site.realms)
    busiest = max(sum(file.bills for file in files) for files in dealt)
    return Outcome(
        label=label,
        files=len(everything),
        bills=sum(file.bills for file in everything),
        seconds=seconds,
        run_seconds=_run_span(home),
        steps=_step_seconds(home),
        filed=done,
        failed_workers=failed,
        bills_written=sum(after[r]["writes"].get("Bill", 0) - before[r]["writes"].get("Bill", 0) for r in after),
        duplicates=sum(after[r]["duplicate_documents_stored"] for r in after),
        throttled=sum(after[r]["throttled"] - before[r]["throttled"] for r in after),
        ceiling_per_minute=ceiling,
        batches_per_realm=-(-busiest // settings.batch_max_items),
        batches_per_window=settings.batch_requests_per_minute,
    )


def _run_span(home: Path) -> float:
    """Seconds from the first inbound run's start to the last one's end, as the instance recorded them."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(job_name=INBOUND_JOB))
    starts = [record.start_time for record in records if record.start_time is not None]
    ends = [record.end_time for record in records if record.end_time is not None]
    return max(ends) - min(starts) if starts and ends else 0.0


def _step_seconds(home: Path) -> dict[str, float]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return step_seconds(instance, list(instance.get_run_records(dg.RunsFilter(job_name=INBOUND_JOB))))


def run() -> None:
    count = int(os.environ.get("BENCH_SCALE_FILES", "1000"))
    dealt = site_files(count, REALMS)
    load_at_start = os.getloadavg()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as scratch:
        workdir = Path(scratch)
        with scale_site(workdir / "duckdb", realms=REALMS) as site:
            home = prepare_dagster_home(workdir / "duckdb" / "dagster_home")
            everything = [file for files in dealt for file in files]
            outcomes.append(_measure("DuckDB, 1 worker", site, home, dealt, [(everything, "")]))
        cluster = start_postgres()
        try:
            state_url = cluster.create_database("state")
            with scale_site(workdir / "postgres", realms=REALMS, state_url=state_url) as site:
                home = prepare_dagster_home(
                    workdir / "postgres" / "dagster_home",
                    postgres_url=cluster.create_database("dagster"),
                    ledger_backend="postgres",
                )
                runs = list(zip(dealt, site.realms.values(), strict=True))
                outcomes.append(_measure(f"PostgreSQL, {REALMS} workers", site, home, dealt, runs))
        finally:
            cluster.stop()
    print(f"   {count} files over {REALMS} companies x 3 partners (CSV, X12 810, EDIFACT INVOIC), dropped at once")
    for outcome in outcomes:
        outcome.report()
    load_at_end = os.getloadavg()
    print(
        f"   load average at the start {load_at_start[0]:.1f}, at the end {load_at_end[0]:.1f} "
        f"({os.cpu_count()} cores; the machine may be shared)"
    )
