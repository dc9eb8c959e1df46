"""`qbo-sftp`: the one command-line entry point; each domain registers its sub-commands here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from qbo_sftp_assets.cli import (
    config_commands,
    demo_commands,
    format_commands,
    ledger_commands,
    post_commands,
    qbo_commands,
    sandbox_commands,
    sftp_commands,
    webhook_commands,
)
from qbo_sftp_assets.errors import UserFacingError

COMMAND_MODULES = (
    config_commands,
    ledger_commands,
    qbo_commands,
    sftp_commands,
    format_commands,
    post_commands,
    sandbox_commands,
    demo_commands,
    webhook_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qbo-sftp",
        description="Keep QuickBooks Online and SFTP / flat-file trading partners in sync.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $QBO_SFTP_CONFIG, else ./qbo_sftp.yaml)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserFacingError as error:
        print(f"qbo-sftp {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
