"""Nobody posts an event by hand: a bill changed through the sandbox's API makes the sandbox send its own
signed webhook over HTTP to the receiver, and the webhook sensor's runs put the changed bill in the CSV
feed's new file and the X12 feed's new 810 on the SFTP server; once with the SQLite spool file, once with
the spool on PostgreSQL (`webhooks.spool_backend: postgres`)."""

import time
import warnings
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from qbo_sftp_assets.defs.outbound.triggers import TRIGGER_TAG
from qbo_sftp_assets.embedded import COMPANY
from qbo_sftp_assets.webhooks import PostgresSpool, ReceiverSettings, Spool, spool_for, start_receiver
from qbo_sftp_assets_tests.fixtures_defs import DefsEnvironment, defs_environment
from qbo_sftp_assets_tests.fixtures_outbound import (
    DEBOUNCE,
    change_feeds,
    run_request,
    sandbox_api,
    tick_webhook_sensor,
    update_bill,
)

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

FEEDS = {"legacy_erp": "legacy_erp/bill_changes", "acme_tractor": "acme_tractor/bill_810s"}


def outbound_files(env: DefsEnvironment, partner: str) -> set[str]:
    return {p.name for p in env.sftp_folder(partner, "outbound").iterdir() if not p.name.startswith(".")}


def wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_the_sandboxs_own_webhook_brings_a_changed_bill_to_the_csv_and_the_810_feed(
    tmp_path: Path, spool_url: str | None, monkeypatch: pytest.MonkeyPatch
):
    feeds_edit = change_feeds(tmp_path)

    def edit(raw: dict[str, Any]) -> None:
        feeds_edit(raw)
        if spool_url:
            raw["webhooks"] = {"spool_backend": "postgres"}

    if spool_url:
        # The receiver, the sensor and the run read the database URL from postgres.url_env's variable.
        monkeypatch.setenv("QBO_SFTP_POSTGRES_URL", spool_url)
    with defs_environment(tmp_path, edit, webhooks=True) as env:
        settings = ReceiverSettings.from_config(env.config)  # the sandbox's verifier is in os.environ here
        spool = spool_for(env.config)
        assert isinstance(spool, PostgresSpool if spool_url else Spool)
        with start_receiver(settings, port=env.env.webhook_port):
            # Each feed's first change delivery carries every bill: send it, so the next one is the change.
            for key in FEEDS.values():
                assert env.materialize("outbound_files", partition_key=key, tags={TRIGGER_TAG: "change"}).success
            before = {partner: outbound_files(env, partner) for partner in FEEDS}

            with sandbox_api(env) as api:
                bills = api.get("/query", params={"query": "SELECT * FROM Bill"}).json()["QueryResponse"]["Bill"]
                changed = update_bill(api, bills[0]["Id"], "changed in QuickBooks, announced by its webhook")
            [event] = wait_for(
                lambda: [e for e in spool.read_after(None) if e.entity_id == changed["Id"]], "the sandbox's webhook"
            )
            realm_id = env.config.company(COMPANY).realm_id
            assert (event.realm_id, event.entity, event.operation) == (realm_id, "Bill", "Update")

            first = tick_webhook_sensor(env, None)
            [apply] = first.run_requests
            assert apply.asset_selection == [dg.AssetKey("qbo_webhook_changes")]
            assert run_request(env, apply).success
            cursor, feeds = first.cursor, []
            deadline = time.monotonic() + 20 * DEBOUNCE
            while not feeds and time.monotonic() < deadline:
                time.sleep(DEBOUNCE / 4)
                result = tick_webhook_sensor(env, cursor)
                cursor = result.cursor
                feeds = [r for r in result.run_requests if r.tags.get(TRIGGER_TAG) == "change"]
            assert sorted(r.partition_key for r in feeds) == sorted(FEEDS.values())
            for request in feeds:
                assert run_request(env, request).success

            [new_csv] = outbound_files(env, "legacy_erp") - before["legacy_erp"]
            csv_text = (env.sftp_folder("legacy_erp", "outbound") / new_csv).read_text()
            assert changed["Id"] in csv_text and "announced by its webhook" in csv_text
            [new_810] = outbound_files(env, "acme_tractor") - before["acme_tractor"]
            interchange = (env.sftp_folder("acme_tractor", "outbound") / new_810).read_bytes()
            assert interchange.count(b"ST*810*") == 1 and changed["DocNumber"].encode() in interchange
        # On PostgreSQL no spool file was ever made: the receiver, the sensor and the run all used the table.
        assert (tmp_path / "webhooks.sqlite").exists() is not bool(spool_url)
