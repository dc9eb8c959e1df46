"""A real `dagster dev` (webserver + daemon) on the embedded sandboxes, for the end-to-end and browser tests.

Temp DAGSTER_HOME with the dagster.yaml `make dev` uses, free ports, its own process group stopped
at the end, and the server's output kept in a log file the failure message points at.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbo_sftp_assets.dagster_dev import (
    DagsterDev,
    DagsterDevError,
    materialized_partitions,
    prepare_dagster_home,
    start_dagster_dev,
)
from qbo_sftp_assets.embedded import EmbeddedEnvironment, connect_company, embedded_environment


@dataclass
class DevSession:
    env: EmbeddedEnvironment
    dev: DagsterDev
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float = 120, every: float = 1.0) -> Any:
        """Poll `condition` until it returns something truthy; on timeout fail with the server's log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}\n--- dagster dev log ---\n{self.log_tail()}"
        )

    def materialized_partitions(self, asset: str) -> set[str]:
        return materialized_partitions(self.dev.url, asset)


@contextlib.contextmanager
def dagster_dev_session(workdir: Path) -> Iterator[DevSession]:
    """Both sandboxes, the company connected, and `dagster dev` with its code location loaded."""
    with embedded_environment(workdir / "embedded") as env:
        connect_company(env)
        home = prepare_dagster_home(workdir / "dagster_home")
        log_path = workdir / "dagster_dev.log"
        with log_path.open("wb") as log, start_dagster_dev(home, environ=env.environ, output=log) as dev:
            session = DevSession(env, dev, log_path)
            try:
                dev.wait_until_ready()
            except DagsterDevError as error:
                raise AssertionError(f"{error}\n--- dagster dev log ---\n{session.log_tail()}") from error
            yield session
