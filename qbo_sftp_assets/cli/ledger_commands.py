"""`qbo-sftp ledger`: recent activity, the trail from a QBO id back to its file, line and hash, and the
copy of a DuckDB ledger into PostgreSQL."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic

from qbo_sftp_assets.config import PostgresSettings, load_config
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.ledger import Ledger, ledger_for
from qbo_sftp_assets.ledger.copy import copy_ledger_to_postgres


def register(commands: argparse._SubParsersAction) -> None:
    """Add `ledger` (recent activity) and `ledger trace QBO_ID` to the `qbo-sftp` parser."""
    ledger = commands.add_parser("ledger", help="show recent ledger activity, or trace a QBO id to its source")
    ledger.add_argument("--path", help="ledger file (default: the config's ledger.path)")
    ledger.add_argument("--limit", type=_positive, default=20, help="rows per table (default 20)")
    ledger.set_defaults(handler=show_recent_activity)
    actions = ledger.add_subparsers(dest="ledger_command", metavar="ACTION")
    trace = actions.add_parser("trace", help="the file, line and hash a QBO entity came from")
    trace.add_argument("qbo_id")
    trace.add_argument("--entity", help="QBO entity type, e.g. Bill")
    trace.set_defaults(handler=trace_qbo_id)
    copy = actions.add_parser(
        "copy",
        help="copy the DuckDB ledger, its whole history, into an empty PostgreSQL ledger",
        description="Copy every table of the DuckDB ledger into PostgreSQL in one transaction (ids, control "
        "numbers and id counters carried over), then set ledger.backend: postgres. Stop the runs first.",
    )
    # One destination today; a required group leaves room for another without changing this spelling.
    destination = copy.add_mutually_exclusive_group(required=True)
    destination.add_argument(
        "--to-postgres",
        action="store_true",
        help="into the database whose URL is in the config's postgres.url_env (or --url-env)",
    )
    copy.add_argument(
        "--path", dest="copy_source", metavar="FILE", help="the DuckDB ledger file (default: the config's ledger.path)"
    )
    copy.add_argument(
        "--url-env",
        type=_env_var,
        metavar="VARIABLE",
        help="environment variable holding the target's URL (default: the config's postgres.url_env)",
    )
    copy.set_defaults(handler=copy_ledger)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _env_var(text: str) -> PostgresSettings:
    try:
        return PostgresSettings(url_env=text)
    except pydantic.ValidationError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an environment variable name") from None


def _ledger(args: argparse.Namespace) -> Ledger:
    if args.path:
        path = Path(args.path)
    else:
        config = load_config(args.config)
        if config.ledger.backend != "duckdb":
            return ledger_for(config)
        path = Path(config.ledger.path)
    # Showing a ledger must never create one: a mistyped path is an error, not an empty new file.
    if not path.is_file():
        raise UserFacingError(f"no ledger at {path}; check --path or the config's ledger.path")
    return Ledger(path)


def show_recent_activity(args: argparse.Namespace) -> int:
    ledger = _ledger(args)
    activity = ledger.recent_activity(args.limit)
    # Outbound deliveries with what the partner's 997 said, set by set, instead of the bare table row.
    activity["outbound_deliveries"] = delivery_rows(ledger, args.limit)
    print(f"ledger {ledger.location} (schema version {ledger.schema_version()})")
    for table, rows in activity.items():
        print(f"\n{table.replace('_', ' ')} ({len(rows)} most recent)")
        print(render_table(rows) if rows else "  (none yet)")
    return 0


def copy_ledger(args: argparse.Namespace) -> int:
    """`qbo-sftp ledger copy --to-postgres`: the DuckDB file (--path, else ledger.path) into PostgreSQL."""
    # The config is read only for what the command line leaves out, so both flags work without one.
    config = functools.cache(lambda: load_config(args.config))
    source = args.copy_source or args.path or config().ledger.path
    settings: PostgresSettings = args.url_env or config().postgres
    copied = copy_ledger_to_postgres(source, settings.url())
    print(copied.summary())
    print(
        "\nnext: runs use the copy once qbo_sftp.yaml says `ledger.backend: postgres` (and the same postgres.url_env); "
        "keep the DuckDB file as the record of the history up to now."
    )
    return 0


def delivery_rows(ledger: Ledger, limit: int) -> list[dict[str, Any]]:
    """Each recent delivery: file, records, control numbers, ack status, and the rejected sets' records."""
    deliveries = ledger.outbound_deliveries(limit=limit)
    by_file: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for partner in {d.partner for d in deliveries}:
        shas = [d.sha256 for d in deliveries if d.partner == partner]
        for ack in ledger.received_acknowledgments(partner, shas):
            by_file.setdefault((partner, ack["file_sha256"]), []).append(ack)
    rows = []
    for delivery in deliveries:
        numbers = delivery.control_numbers or {}
        sets = [a for a in by_file.get((delivery.partner, delivery.sha256), []) if a["control_number"].count("/") == 2]
        rejected = [a["control_number"].rsplit("/", 1)[1] for a in sets if a["status"] == "rejected"]
        rows.append(
            {
                "id": delivery.id,
                "delivered_at": delivery.delivered_at,
                "partner": delivery.partner,
                "feed": delivery.feed,
                "remote_path": delivery.remote_path,
                "records": delivery.record_count,
                "control_numbers": f"{numbers.get('ISA13')}/{numbers.get('GS06')}" if numbers else None,
                "ack_status": delivery.ack_status,
                "acked_at": delivery.acked_at,
                "sets_acked": f"{len(sets) - len(rejected)} ok, {len(rejected)} rejected" if sets else None,
                "rejected_sets": ", ".join(rejected) or None,
            }
        )
    return rows


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
            f"sha256 {row['file_sha256']}, requestid {row['request_id']}, document {row['doc_number'] or '-'}, "
            f"{row['operation'] or 'create'}"
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
