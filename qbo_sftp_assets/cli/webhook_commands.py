"""`qbo-sftp webhooks serve` (the public receiver Intuit POSTs to) and `webhooks list` (what the spool holds)."""

from __future__ import annotations

import argparse
import logging

from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.webhooks import (
    WEBHOOK_PATH,
    ReceiverSettings,
    RunningReceiver,
    Spool,
    SpoolUnavailable,
    serve_receiver,
    spool_for,
)


class ReceiverPortUnavailable(UserFacingError):
    """The requested host/port cannot be bound."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `webhooks serve` and `webhooks list` to the `qbo-sftp` parser."""
    webhooks = commands.add_parser("webhooks", help="the QBO webhook receiver and its spool")
    actions = webhooks.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve", help=f"receive QBO webhooks on POST {WEBHOOK_PATH} into the spool until Ctrl-C (also /health, /stats)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8085, help="port to listen on (default 8085; 0 picks a free one)")
    serve.set_defaults(handler=serve_command)
    listing = actions.add_parser("list", help="the spooled events after a cursor, oldest first")
    listing.add_argument("--after", default=None, metavar="CURSOR", help="a cursor printed by an earlier listing")
    listing.add_argument("--limit", type=int, default=50, help="events to show (default 50)")
    listing.add_argument(
        "--spool",
        default=None,
        metavar="PATH",
        help="a SQLite spool file (default: the spool webhooks.spool_backend names)",
    )
    listing.set_defaults(handler=list_command)


def describe(running: RunningReceiver, settings: ReceiverSettings) -> str:
    return "\n".join(
        [
            f"QBO webhook receiver on {running.webhook_url}",
            f"  health: {running.base_url}/health   counters: {running.base_url}/stats",
            f"  realms: {', '.join(sorted(settings.verifiers))}",
            f"  spool: {running.receiver.spool!r} (max body {settings.max_body_bytes} bytes, "
            f"events older than {settings.max_event_age} ignored)",
            "Register https://YOUR-HOST" + WEBHOOK_PATH + " in the Intuit app; expose only this port. Ctrl-C stops.",
        ]
    )


def serve_command(args: argparse.Namespace) -> int:
    settings = ReceiverSettings.from_config(load_config(args.config))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve_receiver(
            settings,
            host=args.host,
            port=args.port,
            on_ready=lambda running: print(describe(running, settings), flush=True),
        )
    except OSError as error:
        raise ReceiverPortUnavailable(
            f"cannot listen on {args.host}:{args.port} ({error.strerror}); pick another --port"
        ) from error
    return 0


def list_command(args: argparse.Namespace) -> int:
    spool = Spool(args.spool) if args.spool else spool_for(load_config(args.config))
    try:
        events = spool.read_after(args.after, args.limit)
    except SpoolUnavailable as error:
        raise UserFacingError(str(error)) from error
    if not events:
        print(f"spool {spool!r}: no events" + (" after that cursor" if args.after else ""))
        return 0
    for event in events:
        print(
            f"{event.seq:>8}  {event.received_at:%Y-%m-%d %H:%M:%S}  realm {event.realm_id}  "
            f"{event.entity} {event.entity_id} {event.operation}  "
            f"({event.source_format}, changed {event.occurred_at:%Y-%m-%d %H:%M:%S})"
        )
    print(f"next cursor: {events[-1].cursor}")
    return 0
