"""`qbo-sftp demo` (what `make demo` runs) and `qbo-sftp dev` (the Dagster UI on the embedded sandboxes)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from qbo_sftp_assets.demo import run_demo
from qbo_sftp_assets.embedded import connect_company, embedded_environment


def register(commands: argparse._SubParsersAction) -> None:
    """Add `demo` and `dev` to the `qbo-sftp` parser."""
    demo = commands.add_parser("demo", help="run what exists end to end on the embedded sandboxes")
    demo.add_argument("--workdir", default=".data/demo", help="where the demo keeps its files (default .data/demo)")
    demo.set_defaults(handler=lambda args: run_demo(Path(args.workdir)))
    dev = commands.add_parser("dev", help="the Dagster UI (dagster dev -w workspace.yaml)")
    dev.add_argument("--port", default="3000")
    dev.add_argument(
        "--embedded",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run on the embedded QBO sandbox and SFTP server (default); --no-embedded uses your config file",
    )
    dev.set_defaults(handler=serve_dagster_ui)


def serve_dagster_ui(args: argparse.Namespace) -> int:
    home = Path(os.environ.get("DAGSTER_HOME", ".dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", args.port]
    environment = {**os.environ, "DAGSTER_HOME": str(home)}
    if not args.embedded:
        print(f"Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={home}); Ctrl-C stops it")
        return subprocess.call(command, env=environment)
    with embedded_environment(Path(".data/dev")) as env:
        connect_company(env)
        print(f"QBO sandbox on {env.qbo.base_url}, SFTP server on 127.0.0.1:{env.sftp.port}, config {env.config_path}")
        print(f"Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={home}); Ctrl-C stops it")
        return subprocess.call(command, env={**environment, **env.environ})
