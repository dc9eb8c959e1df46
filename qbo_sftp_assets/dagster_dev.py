"""`dagster dev` as `qbo-sftp dev`, the end-to-end tests and the pipeline bench run it.

The instance folder (DAGSTER_HOME) gets our `dagster.yaml` and the ledger pool's limit; the server runs
in its own process group because its children (daemon, webserver, code server) must be stopped with it.
It is stopped the way Ctrl-C stops it, SIGINT to the group: measured 3 s, against 8-20 s for SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import dagster as dg
import httpx

from qbo_sftp_assets.defs.event_log_storage import EVENT_BATCH_SIZE, EVENT_BATCH_SIZE_ENV
from qbo_sftp_assets.defs.resources import LEDGER_POOL
from qbo_sftp_assets.errors import UserFacingError

INSTANCE_YAML = Path(__file__).with_name("dagster.yaml")
# The repository root holds workspace.yaml; `dagster dev` runs there.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The instance on PostgreSQL (deploy/dagster.yaml) reads its database URL from this variable.
POSTGRES_INSTANCE_YAML = PROJECT_ROOT / "deploy" / "dagster.yaml"
POSTGRES_URL_ENV = "QBO_SFTP_DAGSTER_POSTGRES_URL"
CODE_LOCATION = "qbo_sftp_assets"
_OUR_YAML_MARKER = INSTANCE_YAML.read_text().splitlines()[0]


class DagsterDevError(UserFacingError):
    """`dagster dev` did not come up, or its code location failed to load."""


def dagster_postgres_url(url: str) -> str:
    """The URL with the psycopg2 driver named: SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare) :]
    return url


def prepare_dagster_home(home: Path, *, postgres_url: str | None = None, ledger_backend: str = "duckdb") -> Path:
    """Create `home` with our dagster.yaml (a user's own dagster.yaml is left alone) and the ledger pool's limit.

    With `postgres_url` the instance is deploy/dagster.yaml on that database; the URL is put in this
    process's environment, which the `dagster dev` it starts (and its daemon, webserver and runs) inherit.
    `ledger_backend` is the config's `ledger.backend`: the pool holds DuckDB's one writer to 1 slot; with
    `postgres` its limit is removed (an unlimited pool), so runs write the ledger side by side.
    """
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    source = INSTANCE_YAML
    if postgres_url:
        source = POSTGRES_INSTANCE_YAML
        os.environ[POSTGRES_URL_ENV] = dagster_postgres_url(postgres_url)
    ours = (_OUR_YAML_MARKER, POSTGRES_INSTANCE_YAML.read_text().splitlines()[0])
    if not target.exists() or target.read_text().startswith(ours):
        target.write_text(instance_yaml(source, home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        if ledger_backend == "postgres":
            # A limit set earlier on this instance (a persistent home, a shared database) is lifted too.
            instance.event_log_storage.delete_concurrency_limit(LEDGER_POOL)
        else:
            # What `dagster instance concurrency set duckdb_ledger 1` does, without a second process.
            instance.event_log_storage.set_concurrency_slots(LEDGER_POOL, 1)
    # The "Join the Dagster community" dialog covers the first page until it has been seen once.
    nux = home / ".nux"
    nux.mkdir(exist_ok=True)
    (nux / "nux.yaml").write_text("seen: 1\n")
    return home


def instance_yaml(source: Path, home: Path) -> str:
    """The instance file for `home`: `source` with `$DAGSTER_HOME` (the event log's folder) written out."""
    return source.read_text().replace("$DAGSTER_HOME", str(home))


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class DagsterDev:
    """A running `dagster dev`: its URL, its instance folder and its process group."""

    process: subprocess.Popen
    url: str
    home: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None, *, timeout: float = 30) -> dict[str, Any]:
        """POST one GraphQL query to the webserver and return its `data` (errors raise)."""
        return graphql(self.url, query, variables, timeout=timeout)

    def wait_until_ready(self, timeout: float = 120) -> None:
        """Wait until the webserver answers and our code location has loaded; a load error raises with its message."""
        deadline = time.monotonic() + timeout
        query = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
            locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DagsterDevError(f"dagster dev exited with status {self.process.returncode}")
            try:
                entries = self.graphql(query, timeout=5)["workspaceOrError"].get("locationEntries", [])
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            for entry in entries:
                if entry["name"] != CODE_LOCATION or entry["loadStatus"] != "LOADED":
                    continue
                loaded = entry["locationOrLoadError"] or {}
                if loaded.get("__typename") == "PythonError":
                    raise DagsterDevError(f"the code location failed to load: {loaded['message']}")
                return
            time.sleep(0.5)
        raise DagsterDevError(f"dagster dev did not load {CODE_LOCATION!r} within {timeout:.0f} s at {self.url}")

    def stop(self, timeout: float = 20) -> None:
        """Stop the whole process group: SIGINT (Ctrl-C), then SIGKILL for whatever is still there after `timeout`."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        # Children (daemon, webserver, code server) may outlive the parent; the group takes them too.
        _signal_group(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait()

    def __enter__(self) -> DagsterDev:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def graphql(url: str, query: str, variables: dict[str, Any] | None = None, *, timeout: float = 30) -> dict[str, Any]:
    """POST one GraphQL query to the webserver at `url` and return its `data` (errors raise)."""
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise DagsterDevError(f"GraphQL errors: {body['errors']}")
    return body["data"]


_LAUNCH = """mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
    ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""


def launch_assets(url: str, assets: list[str], partition: str | None = None) -> str:
    """Launch a run of `assets` (and their checks) for one partition, as "Materialize selected" does; the run id."""
    params = {
        "selector": {
            "repositoryLocationName": CODE_LOCATION,
            "repositoryName": "__repository__",
            "pipelineName": "__ASSET_JOB",
            "assetSelection": [{"path": [name]} for name in assets],
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}] if partition else []},
    }
    launched = graphql(url, _LAUNCH, {"params": params})["launchPipelineExecution"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise DagsterDevError(f"could not launch {', '.join(assets)} for {partition}: {launched}")
    return launched["run"]["runId"]


def wait_for_run(url: str, run_id: str, timeout: float) -> str:
    """The run's final status (SUCCESS, FAILURE, CANCELED), or where it was when `timeout` ran out."""
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
    deadline = time.monotonic() + timeout
    status = "QUEUED"
    while time.monotonic() < deadline:
        status = graphql(url, query, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    return f"{status} after {timeout:.0f} s"


def partition_keys(url: str, asset: str) -> list[str]:
    """The partition keys of `asset` as the webserver sees them."""
    query = """query($key: AssetKeyInput!) {
        assetNodeOrError(assetKey: $key) { ... on AssetNode { partitionKeys } } }"""
    node = graphql(url, query, {"key": {"path": [asset]}})["assetNodeOrError"]
    return list(node.get("partitionKeys") or [])


def materialized_partitions(url: str, asset: str, limit: int = 500) -> set[str]:
    """The partitions of `asset` with a materialization among its latest `limit` events."""
    query = """query($key: AssetKeyInput!, $limit: Int!) { assetOrError(assetKey: $key) {
        ... on Asset { assetMaterializations(limit: $limit) { partition } } } }"""
    asset_data = graphql(url, query, {"key": {"path": [asset]}, "limit": limit})["assetOrError"]
    events = (asset_data or {}).get("assetMaterializations") or []
    return {event["partition"] for event in events if event["partition"]}


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(pgid, sig)


def start_dagster_dev(
    home: Path,
    *,
    environ: dict[str, str] | None = None,
    port: int | None = None,
    output: IO[bytes] | int | None = None,
) -> DagsterDev:
    """Start `dagster dev -w workspace.yaml` on loopback with DAGSTER_HOME=`home`, in its own process group.

    `environ` is added to this process's environment (the config path and the env vars it names);
    `output` receives the server's stdout and stderr (default: inherited). Dagster hands its event log
    events in batches (see `defs/event_log_storage.py`).
    """
    port = port or free_port()
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            EVENT_BATCH_SIZE_ENV: str(EVENT_BATCH_SIZE),
            **(environ or {}),
            "DAGSTER_HOME": str(home),
        },
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
    )
    return DagsterDev(process, f"http://127.0.0.1:{port}", home)
