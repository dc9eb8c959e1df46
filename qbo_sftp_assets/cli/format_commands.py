"""Sub-commands of `qbo-sftp` for this domain (filled in by the issue that owns it)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add this domain's sub-commands to the `qbo-sftp` parser."""
