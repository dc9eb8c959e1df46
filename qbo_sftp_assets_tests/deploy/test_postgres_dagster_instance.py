"""The Dagster instance on PostgreSQL (deploy/dagster.yaml): shared by every process, same queue and limits."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import sqlalchemy
import yaml
from dagster_postgres import PostgresRunStorage, PostgresScheduleStorage

from qbo_sftp_assets.dagster_dev import (
    INSTANCE_YAML,
    LEDGER_POOL,
    POSTGRES_INSTANCE_YAML,
    POSTGRES_URL_ENV,
    dagster_postgres_url,
    free_port,
    graphql,
    prepare_dagster_home,
)
from qbo_sftp_assets.defs.event_log_storage import PostgresEventLogStorageKeepingConnections
from qbo_sftp_assets.defs.realm_runs import RealmTaggingRunCoordinator
from qbo_sftp_assets.defs.resources import REALM_TAG


def test_the_deploy_instance_queues_and_limits_runs_like_the_single_machine_one() -> None:
    single, deploy = (yaml.safe_load(path.read_text()) for path in (INSTANCE_YAML, POSTGRES_INSTANCE_YAML))
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        assert deploy[storage]["config"] == {"postgres_url": {"env": POSTGRES_URL_ENV}}, storage
    assert "run_storage" not in single
    for section in ("run_coordinator", "schedules", "telemetry"):
        assert deploy[section] == single[section], section
    # One machine submits a tick's few big runs in order (the first queued soonest); a deployment of many
    # companies submits side by side, so one company's large tick does not hold up another's runs.
    assert {**deploy["sensors"], "num_submit_workers": 1} == single["sensors"]
    assert deploy["sensors"]["num_submit_workers"] > 1
    assert (
        deploy["concurrency"]["runs"]["tag_concurrency_limits"]
        == single["concurrency"]["runs"]["tag_concurrency_limits"]
    )


def test_a_bare_postgresql_url_gets_the_psycopg2_driver() -> None:
    assert dagster_postgres_url("postgresql://u:p@h:5/db") == "postgresql+psycopg2://u:p@h:5/db"
    assert dagster_postgres_url("postgres://h/db") == "postgresql+psycopg2://h/db"
    assert dagster_postgres_url("postgresql+psycopg2://h/db") == "postgresql+psycopg2://h/db"


def test_a_run_stored_by_one_instance_is_read_by_another_on_the_same_database(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POSTGRES_URL_ENV, "unset")  # restored after the test; prepare_dagster_home sets it
    home = prepare_dagster_home(tmp_path / "webserver_home", postgres_url=postgres_url)
    assert (home / "dagster.yaml").read_text() == POSTGRES_INSTANCE_YAML.read_text()
    assert os.environ[POSTGRES_URL_ENV].startswith("postgresql+psycopg2://")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorageKeepingConnections)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, RealmTaggingRunCoordinator)
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 10
        assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [(REALM_TAG, 1)]
        assert instance.get_settings("sensors") == {"use_threads": True, "num_workers": 4, "num_submit_workers": 4}
        run = instance.create_run_for_job(
            dg.GraphDefinition(name="noop", node_defs=[]).to_job(), tags={REALM_TAG: "9130"}
        )
    # Another host: its own DAGSTER_HOME with the same file, the same database.
    other = tmp_path / "daemon_home"
    other.mkdir()
    (other / "dagster.yaml").write_text(POSTGRES_INSTANCE_YAML.read_text())
    with dg.DagsterInstance.from_config(str(other)) as instance:
        stored = instance.get_run_by_id(run.run_id)
        assert stored is not None and stored.tags[REALM_TAG] == "9130"
        assert instance.event_log_storage.get_concurrency_info(LEDGER_POOL).slot_count == 1
    # The rows are in PostgreSQL itself, not in a file under either home.
    connection = psycopg2.connect(postgres_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM runs WHERE run_id = %s", (run.run_id,))
            assert cursor.fetchone() == (1,)
    finally:
        connection.close()
    assert not list(home.rglob("*.db")) and not list(other.rglob("*.db"))


def test_a_run_stores_its_events_over_one_kept_connection(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stock storage opened a server connection (a new backend process) for every stored event."""
    monkeypatch.setenv(POSTGRES_URL_ENV, "unset")  # restored after the test; prepare_dagster_home sets it
    home = prepare_dagster_home(tmp_path / "home", postgres_url=postgres_url)
    files = dg.DynamicPartitionsDefinition(name="files")

    @dg.asset(partitions_def=files)
    def landed(context) -> dg.MaterializeResult:  # type: ignore[no-untyped-def]  # annotations are strings here
        return dg.MaterializeResult(metadata={"file": context.partition_key})

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("files", ["partner/a.csv", "partner/b.csv"])
        opened: list[object] = []
        sqlalchemy.event.listen(instance.event_log_storage._engine, "connect", lambda *_: opened.append(1))
        for key in ("partner/a.csv", "partner/b.csv"):
            assert dg.materialize([landed], instance=instance, partition_key=key).success
        events = instance.get_records_for_run(instance.get_runs()[0].run_id).records
        assert len(events) > 10
        assert len(opened) <= 2  # one, and one beside it while Dagster asks about its tables
        # Another process reads what this one stored, each materialization once.
        other = tmp_path / "other"
        other.mkdir()
        (other / "dagster.yaml").write_text(POSTGRES_INSTANCE_YAML.read_text())
    with dg.DagsterInstance.from_config(str(other)) as reader:
        assert reader.get_materialized_partitions(landed.key) == {"partner/a.csv", "partner/b.csv"}


def _count(postgres_url: str, table: str) -> int:
    connection = psycopg2.connect(postgres_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


@pytest.mark.slow
def test_qbo_sftp_dev_with_postgres_serves_the_ui_and_ticks_sensors_on_it(tmp_path: Path, postgres_url: str) -> None:
    """`qbo-sftp dev --postgres URL`: the webserver reports the PostgreSQL storage and the daemon's ticks land there."""
    port = free_port()
    log_path = tmp_path / "dev.log"
    environ = {key: value for key, value in os.environ.items() if key not in ("DAGSTER_HOME", POSTGRES_URL_ENV)}
    qbo_sftp = Path(sys.executable).with_name("qbo-sftp")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(qbo_sftp), "dev", "--postgres", postgres_url, "--port", str(port)],
            cwd=tmp_path,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for(what: str, condition: Callable[[], object], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, f"qbo-sftp dev exited\n{log_path.read_text(errors='replace')[-3000:]}"
            if condition():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}\n{log_path.read_text(errors='replace')[-3000:]}")

    try:
        wait_for("the UI", lambda: re.search(r"Dagster UI on http://127\.0\.0\.1:\d+", log_path.read_text()))
        info = graphql(f"http://127.0.0.1:{port}", "{ instance { info } }")["instance"]["info"]
        assert "class: PostgresRunStorage" in info
        assert "class: PostgresEventLogStorageKeepingConnections" in info
        assert "key: qbo/realm_id" in info
        # The daemon (another process) records its sensor ticks in the same database.
        wait_for("a sensor tick in PostgreSQL", lambda: _count(postgres_url, "job_ticks") > 0)
        assert not list((tmp_path / ".data").rglob("*.db"))
    finally:
        # Ctrl-C: the command stops its `dagster dev` process group and the embedded sandboxes.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
