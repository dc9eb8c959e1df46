"""Run workers in separate processes behave like separate hosts: concurrent runs over the same partners and realms.

Dagster on PostgreSQL, and the ledger, tokens and QBO request budgets in another PostgreSQL database.
Two companies, three partners each; four inbound runs start at once as four OS processes, two per
company, and the two of a company overlap on some files (a run asked twice, as two daemons or a
re-sent request would). The sandbox allows one request in flight per realm, so two processes that
did not share the realm's budget would be answered 429; every access token has just expired, so
each process's first call finds it dead.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from qbo_sftp_assets.dagster_dev import LEDGER_POOL, POSTGRES_URL_ENV, prepare_dagster_home
from qbo_sftp_assets.defs.jobs import INBOUND_JOB
from qbo_sftp_assets.embedded import environment_variables
from qbo_sftp_assets.ledger import ledger_for
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets_tests.bench.bench_pipeline import DroppedFile, drop_all
from qbo_sftp_assets_tests.fixtures_postgres import PostgresCluster
from qbo_sftp_assets_tests.scale_site import add_partitions, file_key, filed, scale_site, site_files, start_worker

REALMS = 2
FILES = 24  # 12 a company: 4 per partner, 1-5 bills each
OVERLAP = 2  # files both of a company's runs are asked for
RUN_TIMEOUT = 150.0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_concurrent_runs_over_the_same_partners_post_each_bill_once_file_everything_and_keep_the_limits(
    tmp_path: Path, postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    dagster_url = postgres_cluster.create_database("dagster")
    state_url = postgres_cluster.create_database("state")
    monkeypatch.setenv(POSTGRES_URL_ENV, "unset")  # restored after the test; prepare_dagster_home sets it
    with scale_site(
        tmp_path / "site",
        realms=REALMS,
        state_url=state_url,
        sandbox={"max_in_flight": 1, "latency": 0.25},
        limits={"max_in_flight": 1},
    ) as site:
        home = prepare_dagster_home(tmp_path / "dagster_home", postgres_url=dagster_url, ledger_backend="postgres")
        dealt = site_files(FILES, REALMS)
        everything = [file for files in dealt for file in files]
        with dg.DagsterInstance.from_config(str(home)) as instance:
            # The PostgreSQL ledger takes many writers: its pool has no limit to queue the runs' steps on.
            assert LEDGER_POOL not in instance.event_log_storage.get_concurrency_keys()
            add_partitions(instance, everything)
        drop_all(site.sftp.root, everything)
        for realm in site.realms.values():
            site.qbo.state.expire_access_tokens(realm)
        before = site.realm_stats()

        workers = []
        for files, realm in zip(dealt, site.realms.values(), strict=True):
            half = len(files) // 2
            for first, last in ((0, half + OVERLAP - 1), (half, len(files) - 1)):
                log = tmp_path / f"worker_{realm}_{first}.log"
                workers.append(
                    (start_worker(home, site, file_key(files[first]), file_key(files[last]), realm, log), log)
                )
        deadline = time.monotonic() + RUN_TIMEOUT
        for process, log in workers:
            try:
                process.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
            assert process.returncode == 0, log.read_text(errors="replace")[-4000:]
        after = site.realm_stats()

        done, waiting = filed(site.sftp.root, everything)
        assert waiting == [] and done == len(everything)
        # One answer per file: the run a shared file was taken from left the ack to the one that took it.
        acks = [
            ack.name
            for file in everything
            for ack in (site.sftp.root / file.partner / "acks").iterdir()
            if ack.name.startswith(f"{file.name}.")
        ]
        assert len(acks) == len(everything), sorted(acks)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs(dg.RunsFilter(job_name=INBOUND_JOB))
            assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * len(workers)
        with environment_variables(site.environ):
            config = site.config()
            for index, company in enumerate(site.realms):
                with qbo_client_for(config, company) as client:
                    numbers = Counter(bill.get("DocNumber") for bill in client.query("SELECT * FROM Bill"))
                expected = {bill for file in dealt[index] for bill in _bill_numbers(file)}
                assert {number: numbers[number] for number in expected} == dict.fromkeys(expected, 1)
            # The runs that shared a file share its ledger row, and it names where the file really went.
            rows = ledger_for(config).query("SELECT remote_path, stage FROM inbound_files ORDER BY remote_path")
        expected_rows = sorted((f"{file.partner}/archive/{file.name}", "filed") for file in everything)
        assert rows == expected_rows, (sorted(set(rows) - set(expected_rows)), sorted(set(expected_rows) - set(rows)))
        for files, realm in zip(dealt, site.realms.values(), strict=True):
            assert after[realm]["writes"].get("Bill", 0) - before[realm]["writes"].get("Bill", 0) == sum(
                file.bills for file in files
            )
            assert after[realm]["duplicate_documents_stored"] == 0
            assert after[realm]["throttled"] - before[realm]["throttled"] == 0, after[realm]
            assert after[realm]["token_refreshes"] - before[realm]["token_refreshes"] == 1, after[realm]
            assert after[realm]["invalid_grants"] == 0


def _bill_numbers(file: DroppedFile) -> list[str]:
    """The DocNumbers a bench file's bills carry: `AP_00003.csv` holds AP-00003-0, AP-00003-1, ..."""
    prefix, index = Path(file.name).stem.split("_")
    return [f"{prefix}-{index}-{n}" for n in range(file.bills)]


def test_with_the_postgres_ledger_the_ledger_pool_has_no_limit_even_where_one_was_set(tmp_path: Path) -> None:
    home = prepare_dagster_home(tmp_path / "home")  # the DuckDB default: one writer
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(LEDGER_POOL).slot_count == 1
    prepare_dagster_home(home, ledger_backend="postgres")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert LEDGER_POOL not in instance.event_log_storage.get_concurrency_keys()
