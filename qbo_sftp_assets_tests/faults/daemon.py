"""The path through Dagster for the fault suite: a real `dagster-daemon run` on the code location, with the
scenario's config and its own DAGSTER_HOME (the dagster.yaml `make dev` uses). Nobody calls the pipeline:
the SFTP sensors find the files, the run queue launches runs, and the runs post, acknowledge and file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import yaml

from qbo_sftp_assets.config import CONFIG_PATH_ENV
from qbo_sftp_assets.dagster_dev import PROJECT_ROOT, prepare_dagster_home
from qbo_sftp_assets.defs.inbound.sensors import ACTIVE_STATUSES, PARTNER_TAG
from qbo_sftp_assets_tests.faults.world import INBOUND_PARTNERS, Site

DAEMON_TIMEOUT = 300.0
# Run monitoring's windows in a scenario's instance, when the product's dagster.yaml turns monitoring on:
# the mechanism is the product's, only its minutes become seconds (as the 429 storm's Retry-After does).
MONITORING_WINDOWS = {"max_runtime_seconds": 45, "free_slots_after_run_end_seconds": 5, "poll_interval_seconds": 5}


def run_monitoring_enabled(home: Path) -> bool:
    settings = (yaml.safe_load((home / "dagster.yaml").read_text()) or {}).get("run_monitoring") or {}
    return bool(settings.get("enabled"))


class Daemons:
    """The daemon processes a scenario started (one per start), each in its own process group."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.home = prepare_dagster_home(site.root / "dagster_home")
        self.monitoring = run_monitoring_enabled(self.home)
        if self.monitoring:
            shorten_monitoring_windows(self.home / "dagster.yaml")
        self.started: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        number = len(self.started) + 1
        log = (self.site.root / "logs" / f"daemon{number}.log").open("wb")
        command = [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "qbo_sftp_assets.definitions"]
        environ = self.site.environ(DAGSTER_HOME=str(self.home), **{CONFIG_PATH_ENV: str(self.site.config_path)})
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.started.append(process)
        return process

    def kill_daemon_only(self, process: subprocess.Popen) -> None:
        """SIGKILL the daemon process itself; the code server and the runs it launched are left running."""
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def kill_group(self, process: subprocess.Popen) -> None:
        """SIGKILL the daemon with its code server and every run it launched."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        """End every process group a start made (the daemon, its code server, any run still there)."""
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def runs(self) -> list[dg.DagsterRun]:
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            return [
                run
                for partner in INBOUND_PARTNERS
                for run in instance.get_runs(filters=dg.RunsFilter(tags={PARTNER_TAG: partner}))
            ]

    def inbound_runs_active(self) -> bool:
        return any(run.status in ACTIVE_STATUSES for run in self.runs())

    def summary(self) -> str:
        statuses: dict[str, int] = {}
        for run in self.runs():
            statuses[run.status.value] = statuses.get(run.status.value, 0) + 1
        return ", ".join(f"{count} {status.lower()}" for status, count in sorted(statuses.items())) or "no runs"


def shorten_monitoring_windows(instance_yaml: Path) -> None:
    """Only the windows the product's dagster.yaml sets are shortened; none is added."""
    raw = yaml.safe_load(instance_yaml.read_text())
    settings = raw["run_monitoring"]
    for key, seconds in MONITORING_WINDOWS.items():
        if key in settings or key == "poll_interval_seconds":
            settings[key] = min(int(settings.get(key, seconds)), seconds)
    instance_yaml.write_text(yaml.safe_dump(raw, sort_keys=False))


def all_filed(site: Site) -> bool:
    """Every dropped file left inbound/ and processing/ and sits in a filed folder."""
    for partner in INBOUND_PARTNERS:
        for kind in ("inbound", "processing"):
            if any(not p.name.startswith(".") for p in site.folder(partner, kind).iterdir()):
                return False
    return all(
        any((site.folder(partner, kind) / name).is_file() for kind in ("archive", "archive/duplicates", "error"))
        for partner, name in site.dropped
    )


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def settle(site: Site, daemons: Daemons, timeout: float = DAEMON_TIMEOUT) -> float:
    """Seconds until every file is filed and no inbound run is active; a note if that never happened."""
    started = time.monotonic()
    if not wait_until(lambda: all_filed(site) and not daemons.inbound_runs_active(), timeout):
        site.notes.append(f"the daemon did not file everything within {timeout:.0f} s ({daemons.summary()})")
    return time.monotonic() - started
