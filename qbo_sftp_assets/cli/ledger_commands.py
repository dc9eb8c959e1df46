"""`qbo-sftp ledger`: recent activity, and the trail from a QBO id back to its file, line and hash."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from typing import Any

from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.ledger import Ledger


def register(commands: argparse._SubParsersAction) -> None:
    """Add `ledger` (recent activity) and `ledger trace QBO_ID` to the `qbo-sftp` parser."""
    ledger = commands.add_parser("ledger", help="show recent ledger activity, or trace a QBO id to its source")
    ledger.add_argument("--path", help="ledger file (default: the config's ledger.path)")
    ledger.add_argument("--limit", type=int, default=20, help="rows per table (default 20)")
    ledger.set_defaults(handler=show_recent_activity)
    actions = ledger.add_subparsers(dest="ledger_command", metavar="ACTION")
    trace = actions.add_parser("trace", help="the file, line and hash a QBO entity came from")
    trace.add_argument("qbo_id")
    trace.add_argument("--entity", help="QBO entity type, e.g. Bill")
    trace.set_defaults(handler=trace_qbo_id)


def _ledger(args: argparse.Namespace) -> Ledger:
    return Ledger(args.path or load_config(args.config).ledger.path)


def show_recent_activity(args: argparse.Namespace) -> int:
    ledger = _ledger(args)
    activity = ledger.recent_activity(args.limit)
    print(f"ledger {ledger.path} (schema version {ledger.schema_version()})")
    for table, rows in activity.items():
        print(f"\n{table.replace('_', ' ')} ({len(rows)} most recent)")
        print(render_table(rows) if rows else "  (none yet)")
    return 0


def trace_qbo_id(args: argparse.Namespace) -> int:
    rows = _ledger(args).trace(args.qbo_id, args.entity)
    if not rows:
        print(f"no posting in the ledger produced QBO id {args.qbo_id}")
        return 1
    for row in rows:
        position = f"line {row['source_line']}" if row["source_line"] else f"segment {row['source_segment']}"
        print(
            f"{row['entity_type']} {row['qbo_id']} (SyncToken {row['sync_token']}, {row['status']}) <- "
            f"{row['partner']}:{row['remote_path']} {position}, record {row['record_index']}, "
            f"sha256 {row['file_sha256']}, requestid {row['request_id']}"
        )
    return 0


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    columns = list(rows[0])
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)
