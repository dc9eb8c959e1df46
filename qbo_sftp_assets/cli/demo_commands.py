"""`qbo-sftp demo` (what `make demo` runs), `qbo-sftp dev` (the Dagster UI and daemon, with the webhook
receiver) and `qbo-sftp replay`."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from qbo_sftp_assets.config import CONFIG_PATH_ENV, Config, config_path, load_config
from qbo_sftp_assets.errors import UserFacingError

if TYPE_CHECKING:
    from qbo_sftp_assets.dagster_dev import DagsterDev

# Dagster and the definitions take seconds to import, so these commands import them when they run:
# `qbo-sftp inspect` and the webhook receiver must not pay for (or print the warnings of) the graph.

# The embedded sandboxes keep their state in memory, so `qbo-sftp dev` starts them, and this folder
# with its Dagster instance, afresh each time; with a real config the instance persists.
EMBEDDED_DEV_DIR = Path(".data/dev")
DEFAULT_DAGSTER_HOME = Path(".dagster_home")
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
DAGSTER_URL_ENV = "QBO_SFTP_DAGSTER_URL"
DEFAULT_WEBHOOKS_PORT = 8085
# Same name as qbo_sftp_assets.dagster_dev.POSTGRES_URL_ENV (not imported: that module imports Dagster).
POSTGRES_URL_ENV = "QBO_SFTP_DAGSTER_POSTGRES_URL"
FIRST_SNAPSHOT_TIMEOUT = 120
# Replays re-run the step that applies the mapping and everything after it ("Re-execute from failure"
# would only re-check the stored old output: docs/asset-graph.md, "Replay after a mapping fix").
REPLAY_FROM = ("validated_postings", "parsed_inbound_documents")
REPLAY_ASSETS = {
    "validated_postings": ["validated_postings", "qbo_postings", "inbound_ack"],
    "parsed_inbound_documents": ["parsed_inbound_documents", "validated_postings", "qbo_postings", "inbound_ack"],
}


def register(commands: argparse._SubParsersAction) -> None:
    """Add `demo`, `dev` and `replay` to the `qbo-sftp` parser."""
    demo = commands.add_parser("demo", help="run the pipeline end to end on the embedded sandboxes")
    demo.add_argument("--workdir", default=".data/demo", help="where the demo keeps its files (default .data/demo)")
    demo.set_defaults(handler=demo_command)

    dev = commands.add_parser("dev", help="the Dagster UI and daemon (dagster dev -w workspace.yaml)")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument(
        "--config",
        dest="dev_config",
        metavar="PATH",
        help="run on this real configuration instead of the embedded sandboxes",
    )
    dev.add_argument(
        "--embedded",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run on the embedded QBO sandbox and SFTP server (default); --no-embedded uses your config file",
    )
    dev.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get(POSTGRES_URL_ENV),
        help=f"keep the Dagster instance in this PostgreSQL database (default ${POSTGRES_URL_ENV})",
    )
    dev.add_argument(
        "--webhooks-host",
        metavar="HOST",
        default="127.0.0.1",
        help="where the webhook receiver listens (default 127.0.0.1); it starts with the UI when a company "
        "names webhook_verifier_env, and always on the embedded sandboxes",
    )
    dev.add_argument(
        "--webhooks-port",
        metavar="PORT",
        type=int,
        default=DEFAULT_WEBHOOKS_PORT,
        help=f"the webhook receiver's port with a real config (default {DEFAULT_WEBHOOKS_PORT}); "
        "on the embedded sandboxes it takes a free port, which the sandbox's webhooks point at",
    )
    dev.set_defaults(handler=serve_dagster_ui)

    replay = commands.add_parser(
        "replay",
        help="re-apply the mapping to one inbound file and post what is missing (after fixing the mapping)",
    )
    replay.add_argument("partition", metavar="PARTNER/FILE", help="the file's partition key, e.g. legacy_erp/AP.csv")
    replay.add_argument(
        "--from",
        dest="start",
        choices=REPLAY_FROM,
        default="validated_postings",
        help="first asset to re-materialize (default validated_postings; parsed_inbound_documents re-reads the file)",
    )
    replay.add_argument(
        "--url",
        default=os.environ.get(DAGSTER_URL_ENV, DEFAULT_DAGSTER_URL),
        help=f"the running Dagster webserver (default ${DAGSTER_URL_ENV}, else {DEFAULT_DAGSTER_URL}); "
        "when none answers, the replay runs in this process on $DAGSTER_HOME",
    )
    replay.add_argument("--timeout", type=float, default=300, help="seconds to wait for the run (default 300)")
    replay.set_defaults(handler=replay_file)


def demo_command(args: argparse.Namespace) -> int:
    from qbo_sftp_assets.demo import run_demo

    return run_demo(Path(args.workdir))


def serve_dagster_ui(args: argparse.Namespace) -> int:
    """`dagster dev` on a persistent DAGSTER_HOME with our dagster.yaml, and the webhook receiver, until Ctrl-C."""
    from qbo_sftp_assets.dagster_dev import prepare_dagster_home
    from qbo_sftp_assets.embedded import connect_company, embedded_environment

    real_config = args.dev_config or (None if args.embedded else str(config_path(args.config)))
    if real_config:
        config = load_config(real_config)  # a broken config fails here, with its message, not in the code server
        home = prepare_dagster_home(
            Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME),
            postgres_url=args.postgres,
            ledger_backend=config.ledger.backend,
        )
        environ = {CONFIG_PATH_ENV: str(Path(real_config).resolve())}
        with (
            _sigterm_stops_everything(),
            dev_webhook_receiver(config, os.environ, args.webhooks_host, args.webhooks_port, embedded=False),
        ):
            return _serve(home, environ, args.port, lambda dev: None)
    workdir = EMBEDDED_DEV_DIR.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    with _sigterm_stops_everything(), embedded_environment(workdir, webhooks=True) as env:
        connect_company(env)
        print(f"QBO sandbox on {env.qbo.base_url}, SFTP server on 127.0.0.1:{env.sftp.port}, config {env.config_path}")
        home = prepare_dagster_home(workdir / "dagster_home", postgres_url=args.postgres)
        port = env.webhook_port or 0
        with dev_webhook_receiver(env.config(), env.environ, "127.0.0.1", port, embedded=True):
            print(
                "Change a bill and its webhook makes a file in legacy_erp/outbound (feed bill_changes): "
                f"qbo-sftp sandbox edit-bill --url {env.qbo.base_url}"
            )
            return _serve(home, env.environ, args.port, lambda dev: _fill_first_page(dev, env.config()))


@contextlib.contextmanager
def _sigterm_stops_everything() -> Iterator[None]:
    """SIGTERM stops the block as Ctrl-C does: `dagster dev` runs in its own process group, which only
    the `with` blocks stop (a plain SIGTERM would end this process and leave it, and the sandboxes' port
    users, running)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def dev_webhook_receiver(
    config: Config, environ: Mapping[str, str], host: str, port: int, *, embedded: bool
) -> Iterator[None]:
    """The QBO webhook receiver in a thread of this process, for as long as the UI runs.

    It starts when a company names `webhook_verifier_env` (the embedded config does). A relative spool
    path is taken from the project root, where `dagster dev` runs and the webhook sensors read it.
    """
    from qbo_sftp_assets.dagster_dev import PROJECT_ROOT
    from qbo_sftp_assets.webhooks import WEBHOOK_PATH, ReceiverSettings, start_receiver

    verifier_vars = sorted({f"${c.webhook_verifier_env}" for c in config.companies.values() if c.webhook_verifier_env})
    if not verifier_vars:
        print("No webhook receiver: no company names webhook_verifier_env (changes arrive by the CDC sensor).")
        yield
        return
    settings = ReceiverSettings.from_config(config, environ)
    settings = dataclasses.replace(settings, spool_path=PROJECT_ROOT / settings.spool_path)
    receiver = start_receiver(settings, host=host, port=port)
    try:
        running = receiver.__enter__()
    except OSError as error:
        raise UserFacingError(
            f"the webhook receiver cannot listen on {host}:{port} ({error.strerror}); pick another --webhooks-port"
        ) from error
    try:
        print(
            f"QBO webhook receiver on {running.webhook_url} (health {running.base_url}/health, "
            f"counters {running.base_url}/stats), spool {settings.spool_path}"
        )
        if embedded:
            print(f"  the embedded QBO sandbox's webhooks point here, signed with {', '.join(verifier_vars)}")
        else:
            print(
                f"  Register https://YOUR-PUBLIC-HOST{WEBHOOK_PATH} as the Intuit app's webhook endpoint: an HTTPS "
                f"proxy forwarding only that path to {running.base_url} (never the Dagster UI); "
                f"{', '.join(verifier_vars)} holds the app's Verifier Token."
            )
        yield
    finally:
        receiver.__exit__(None, None, None)


def _serve(home: Path, environ: dict[str, str], port: int, after_start: Callable[[DagsterDev], None]) -> int:
    from qbo_sftp_assets.dagster_dev import start_dagster_dev

    with start_dagster_dev(home, environ=environ, port=port) as dev:
        try:
            dev.wait_until_ready()
            print(f"\nDagster UI on {dev.url} (DAGSTER_HOME={home}); sensors and schedules are running.")
            after_start(dev)
            print("Ctrl-C stops it.\n")
            return dev.process.wait()
        except KeyboardInterrupt:
            return 0


def _fill_first_page(dev: DagsterDev, config: Config) -> None:
    """Give a newcomer's first page something to show, the way the product gets it by itself.

    The CDC sensor's first tick refreshes the snapshots; then each outbound feed is rendered once (as
    clicking Materialize would) and the partners' sample files are dropped for the SFTP sensors to take
    in: one of them carries a GL code the mapping lacks, so a failed check with its table shows up too.
    """
    from qbo_sftp_assets.dagster_dev import launch_assets, materialized_partitions, partition_keys
    from qbo_sftp_assets.demo import drop_inbound_files, sample_inbound_files

    deadline = time.monotonic() + FIRST_SNAPSHOT_TIMEOUT
    print("Waiting for the CDC sensor's first snapshots (the mapping resolves against them)...")
    while not materialized_partitions(dev.url, "qbo_vendors"):
        if time.monotonic() > deadline:
            print(f"No snapshot after {FIRST_SNAPSHOT_TIMEOUT} s: see the qbo_cdc sensor's ticks in the UI.")
            break
        time.sleep(2)
    for key in partition_keys(dev.url, "outbound_files"):
        launch_assets(dev.url, ["outbound_files"], key)
        print(f"Rendering outbound feed {key}")
    drop_inbound_files(config, sample_inbound_files(), say=print)
    print("The SFTP sensors take these in within a few seconds; watch Runs, then validated_postings' check.")


def replay_file(args: argparse.Namespace) -> int:
    """Re-materialize one file's partition from the asset that applies the mapping, downstream."""
    from qbo_sftp_assets.dagster_dev import launch_assets, wait_for_run
    from qbo_sftp_assets.defs.partitions import split_inbound_file_key

    try:
        split_inbound_file_key(args.partition)
    except ValueError:
        raise UserFacingError(f"{args.partition!r} is not PARTNER/FILE (the inbound file's partition key)") from None
    assets = REPLAY_ASSETS[args.start]
    try:
        httpx.get(f"{args.url}/server_info", timeout=3).raise_for_status()
    except httpx.HTTPError:
        return _replay_in_process(args.partition, args.start)
    run_id = launch_assets(args.url, assets, args.partition)
    print(f"replaying {args.partition} from {args.start}: run {run_id} on {args.url}/runs/{run_id}")
    status = wait_for_run(args.url, run_id, args.timeout)
    print(f"run {run_id}: {status}")
    return 0 if status == "SUCCESS" else 1


def _replay_in_process(partition: str, start: str) -> int:
    """No webserver answers: run `dagster asset materialize` on $DAGSTER_HOME (the CLI runs it in its own process)."""
    from qbo_sftp_assets.dagster_dev import PROJECT_ROOT

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise UserFacingError(
            "no Dagster webserver answers and DAGSTER_HOME is not set: start `qbo-sftp dev`, "
            "or set DAGSTER_HOME to the instance that processed the file"
        )
    dagster = Path(sys.executable).with_name("dagster")
    command = [
        str(dagster), "asset", "materialize", "-m", "qbo_sftp_assets.definitions",
        "--select", f"{start}*", "--partition", partition,
    ]  # fmt: skip
    print(f"replaying {partition} from {start} on DAGSTER_HOME={home}")
    return subprocess.call(command, cwd=PROJECT_ROOT)
