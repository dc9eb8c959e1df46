"""The QBO webhook receiver and its spool: Intuit POSTs here, a Dagster sensor reads the spool.

- `Spool(path)`: `append` (receiver), `read_after(cursor, limit) -> list[SpooledEvent]` (sensor, read-only;
  keep `events[-1].cursor`), `SpoolUnavailable` when there is nothing to read yet (skip the tick).
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
from qbo_sftp_assets.webhooks.spool import AppendResult, Spool, SpooledEvent, SpoolUnavailable, parse_cursor

__all__ = [
    "WEBHOOK_PATH",
    "AppendResult",
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
    "start_receiver",
]
