"""The QBO webhook receiver and its spool: Intuit POSTs here, a Dagster sensor reads the spool.

- `spool_for(config)`: the spool `webhooks.spool_backend` names, `Spool(path)` (SQLite) or `PostgresSpool(url)`,
  one API: `append` (receiver), `read_after(cursor, limit) -> list[SpooledEvent]` (sensor; keep
  `events[-1].cursor`), `prune`, `SpoolUnavailable` when there is nothing to read yet (skip the tick).
- `ReceiverSettings.from_config(config)`, `create_receiver_app`, `start_receiver` / `serve_receiver`.
"""

from qbo_sftp_assets.webhooks.receiver import (
    WEBHOOK_PATH,
    ReceiverConfigError,
    ReceiverSettings,
    WebhookReceiver,
    create_receiver_app,
)
from qbo_sftp_assets.webhooks.runner import RunningReceiver, serve_receiver, start_receiver
from qbo_sftp_assets.webhooks.spool import (
    SPOOL_WRITE_ERRORS,
    AnySpool,
    AppendResult,
    PostgresSpool,
    Spool,
    SpooledEvent,
    SpoolUnavailable,
    parse_cursor,
    spool_for,
)

__all__ = [
    "SPOOL_WRITE_ERRORS",
    "WEBHOOK_PATH",
    "AnySpool",
    "AppendResult",
    "PostgresSpool",
    "ReceiverConfigError",
    "ReceiverSettings",
    "RunningReceiver",
    "Spool",
    "SpoolUnavailable",
    "SpooledEvent",
    "WebhookReceiver",
    "create_receiver_app",
    "parse_cursor",
    "serve_receiver",
    "spool_for",
    "start_receiver",
]
