"""One run of the whole inbound pipeline in its own process, as a Dagster run would do it: land every file
waiting in inbound/ or left in processing/, read, map, validate, post (batches filling across files),
acknowledge and file. The fault suite kills this process with SIGKILL.

`QBO_FAULTS_HOLD=point[:n]` makes the process stop itself (SIGSTOP) right after the n-th call that ends a
step (`point` is a key of HOLD_POINTS), so the parent can observe the boundary and kill -9 it there; the
library is untouched, only wrapped here. `QBO_FAULTS_HOLD_BEFORE=point[:n]` stops before the call instead
(the parent then breaks the server under the call and lets it go on).

    python -m qbo_sftp_assets_tests.faults.child CONFIG LOG_FILE
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.pipeline import inbound, inbound_batch
from qbo_sftp_assets.qbo.client import QboClient, qbo_client_for
from qbo_sftp_assets.sftp import PartnerFiles, partner_files

HOLD_ENV = "QBO_FAULTS_HOLD"
HOLD_BEFORE_ENV = "QBO_FAULTS_HOLD_BEFORE"


def _is_ack_upload(args: tuple, kwargs: dict) -> bool:
    return kwargs.get("kind") == "acks"


# point -> (class, method, which calls count); each is the last call of one step of the pipeline.
HOLD_POINTS: dict[str, tuple[type, str, Callable[[tuple, dict], bool] | None]] = {
    "claim": (PartnerFiles, "claim", None),
    # Landing downloads through `download_many`, a generator; its batches are the calls that return.
    "download": (PartnerFiles, "_download_batch", None),
    "ledger_row": (Ledger, "record_inbound_file", None),
    "read": (Ledger, "set_inbound_stages", lambda args, kwargs: args[-1:] == ("read",)),
    # One HTTP batch request (up to 30 documents), not one `batch()` call, which sends several.
    "batch": (QboClient, "request", lambda args, kwargs: bool(kwargs.get("batch"))),
    "ack_upload": (PartnerFiles, "upload", _is_ack_upload),
    "ack_row": (Ledger, "record_acknowledgment", None),
    "move": (PartnerFiles, "move", None),
}


def _install_hold(spec: str, *, before: bool) -> None:
    point, _, nth = spec.partition(":")
    owner, method, counts = HOLD_POINTS[point]
    original = getattr(owner, method)
    wanted = int(nth or 1)
    seen = 0
    lock = threading.Lock()

    def nth_call() -> int:
        nonlocal seen
        with lock:
            seen += 1
            return seen

    # Batches go out on several threads at once: "after the n-th" counts calls as they return (one
    # counter read at the start would let every concurrent call see the total, and none stop).
    @functools.wraps(original)
    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        matched = counts is None or counts(args, kwargs)
        if before and matched and nth_call() == wanted:
            _stop_here(point, "before")
        result = original(self, *args, **kwargs)
        if not before and matched and nth_call() == wanted:
            _stop_here(point, "after")
        return result

    setattr(owner, method, held)


def _stop_here(point: str, when: str) -> None:
    print(f"HOLD {when} {point}", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)


def run(config_path: Path) -> dict[str, str]:
    """Process every waiting or unfinished inbound file once, through the steps the asset graph calls
    (`pipeline.inbound_batch`: one file's failure stays that file's); returns each file's outcome."""
    config = load_config(config_path)
    ledger = Ledger(config.ledger.path)
    partners = {name: partner for name, partner in config.partners.items() if partner.inbound}

    def open_partner(name: str):
        return partner_files(name, config.partner(name))

    def open_client(company: str):
        return qbo_client_for(config, company)

    files: dict[str, tuple[str, str]] = {}
    for name in partners:
        with open_partner(name) as session:
            for kind in ("processing", "inbound"):
                files.update({f"{name}/{entry.name}": (name, entry.name) for entry in session.list_folder(kind)})
    now = dt.datetime.now(dt.UTC)
    landed = inbound_batch.land_files(open_partner, files, ledger, inbound_batch.landing_dir(config))
    parsed = inbound_batch.read_files(landed, config, ledger, as_of=now)
    validated = inbound_batch.validate_files(parsed, config, ledger)
    outcomes = inbound_batch.post_validated_files(open_client, parsed, validated, config, ledger)
    filed = inbound_batch.acknowledge_files(open_partner, parsed, outcomes, config, ledger, as_of=now)
    return {
        key: (value.status if isinstance(value, inbound.FiledFile) else repr(value)) for key, value in filed.items()
    }


def main(argv: list[str]) -> int:
    config_path, log_file = Path(argv[0]), Path(argv[1])
    # DEBUG everywhere, into a file the suite then searches for secrets.
    logging.basicConfig(filename=log_file, level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s")
    if os.environ.get(HOLD_ENV):
        _install_hold(os.environ[HOLD_ENV], before=False)
    if os.environ.get(HOLD_BEFORE_ENV):
        _install_hold(os.environ[HOLD_BEFORE_ENV], before=True)
    statuses = run(config_path)
    for key, status in sorted(statuses.items()):
        print(f"FILED {status} {key}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
