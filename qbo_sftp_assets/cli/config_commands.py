"""`qbo-sftp config check`: validate a configuration file and say what to fix."""

from __future__ import annotations

import argparse

from qbo_sftp_assets.config import config_path, load_config


def register(commands: argparse._SubParsersAction) -> None:
    """Add `config check` to the `qbo-sftp` parser."""
    config = commands.add_parser("config", help="validate the configuration file")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a configuration file; exit 2 when it is broken")
    check.add_argument("path", nargs="?", help="file to check (default: --config, $QBO_SFTP_CONFIG, ./qbo_sftp.yaml)")
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    path = config_path(args.path or args.config)
    config = load_config(path)
    print(
        f"{path}: OK — {len(config.companies)} company(ies), {len(config.partners)} partner(s), "
        f"{len(config.layouts)} layout(s); ledger at {config.ledger.path}"
    )
    return 0
