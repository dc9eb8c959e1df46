"""`webhooks.spool_backend`: the SQLite file stays the embedded default, the spool follows a PostgreSQL ledger
unless a file is named, and the receiver, the webhook sensor (reading and pruning) and `webhooks list` all
open the spool the config names through `spool_for`."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.config import ConfigError, parse_config
from qbo_sftp_assets.defs.outbound.triggers import ChangeFeed
from qbo_sftp_assets.defs.webhooks.sensors import PRUNE_EVERY, evaluate_webhook_tick
from qbo_sftp_assets.pipeline.change_events import seen_by_webhooks
from qbo_sftp_assets.qbo.webhooks import ChangeEvent
from qbo_sftp_assets.webhooks import PostgresSpool, ReceiverSettings, Spool, spool_for

REALM = "123145"
T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
URL_ENV = "QBO_SFTP_POSTGRES_URL"
COMPANY = "companies: {northwind: {realm_id: '123145', webhook_verifier_env: NORTHWIND_VERIFIER}}\n"


def event(qbo_id: str, realm: str = REALM) -> ChangeEvent:
    return ChangeEvent(realm, "Bill", qbo_id, "Update", T0, str(uuid.uuid4()), "cloudevents")


@pytest.mark.parametrize(
    ("text", "backend"),
    [
        ("", "sqlite"),
        ("ledger: {backend: postgres}\n", "postgres"),
        ("ledger: {backend: postgres}\nwebhooks: {spool_path: /var/lib/spool.sqlite}\n", "sqlite"),
        ("ledger: {backend: postgres}\nwebhooks: {spool_backend: sqlite}\n", "sqlite"),
        ("webhooks: {spool_backend: postgres}\n", "postgres"),
    ],
    ids=["embedded default", "follows the ledger", "a named file", "said sqlite", "said postgres"],
)
def test_the_spool_backend_defaults_to_the_file_and_follows_a_postgres_ledger(text: str, backend: str) -> None:
    assert parse_config(text).spool_backend == backend


def test_a_spool_path_beside_the_postgres_backend_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"webhooks: .*spool_path names a SQLite file.*remove spool_path"):
        parse_config("webhooks: {spool_backend: postgres, spool_path: x.sqlite}\n")
    with pytest.raises(ConfigError, match=r"webhooks.spool_backend: 'mysql' is not allowed"):
        parse_config("webhooks: {spool_backend: mysql}\n")


def test_spool_for_opens_the_configured_spool_and_names_a_missing_url_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite = spool_for(parse_config(f"webhooks: {{spool_path: {tmp_path / 'spool.sqlite'}}}\n"))
    assert isinstance(sqlite, Spool) and sqlite.path == tmp_path / "spool.sqlite"
    config = parse_config("webhooks: {spool_backend: postgres}\n")
    monkeypatch.delenv(URL_ENV, raising=False)
    with pytest.raises(ConfigError, match=URL_ENV):
        spool_for(config)
    url = "postgresql://qbo:s3cret@db.example:5432/qbo"
    spool = spool_for(config, {URL_ENV: url})
    assert isinstance(spool, PostgresSpool) and spool.url == url and "s3cret" not in repr(spool)


def test_the_receiver_reads_the_postgres_url_at_start_and_never_shows_it() -> None:
    config = parse_config(COMPANY + "webhooks: {spool_backend: postgres}\n")
    with pytest.raises(ConfigError, match=URL_ENV):
        ReceiverSettings.from_config(config, {"NORTHWIND_VERIFIER": "v"})
    url = "postgresql://qbo:s3cret@db.example/qbo"
    settings = ReceiverSettings.from_config(config, {"NORTHWIND_VERIFIER": "v", URL_ENV: url})
    assert isinstance(settings.open_spool(), PostgresSpool) and settings.open_spool().url == url
    assert "s3cret" not in repr(settings)
    file_config = parse_config(COMPANY)
    assert isinstance(ReceiverSettings.from_config(file_config, {"NORTHWIND_VERIFIER": "v"}).open_spool(), Spool)


@pytest.fixture
def spool(tmp_path: Path, spool_url: str | None) -> Spool | PostgresSpool:
    opened = PostgresSpool(spool_url) if spool_url else Spool(tmp_path / "spool.sqlite")
    opened.create()
    return opened


def test_the_sensor_requests_the_apply_run_and_prunes_on_either_spool(spool: Spool | PostgresSpool) -> None:
    week = dt.timedelta(days=7)
    feeds = {"p/bills": ChangeFeed("p/bills", frozenset({"Bill"}), 30.0)}
    spool.append([event("1"), event("2", realm="999")], received_at=T0)
    spool.append([event("3")], received_at=T0 + dt.timedelta(days=6))

    def tick(cursor: str | None, now: dt.datetime):
        return evaluate_webhook_tick(
            cursor, spool, "northwind", REALM, feeds, "snapshots", "outbound", now=now, retention=week
        )

    now = T0 + week + dt.timedelta(hours=1)
    first = tick(None, now)
    # The apply run, and the bill feed, quiet for longer than its 30 s already.
    assert sorted((r.job_name, r.partition_key) for r in first.run_requests) == [
        ("outbound", "p/bills"),
        ("snapshots", "northwind"),
    ]
    assert [e.entity_id for e in spool.read_after(None)] == ["2", "3"]  # its realm's old, read event only
    spool.append([event("4")], received_at=now)
    second = tick(first.cursor, now + PRUNE_EVERY)
    [apply] = [r for r in second.run_requests if r.job_name == "snapshots"]
    assert apply.run_key == f"webhook:northwind:{spool.read_after(None)[-1].cursor}"


def test_webhooks_list_reads_the_configured_spool(
    spool: Spool | PostgresSpool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    spool.append([event("41"), event("42")], received_at=T0)
    if isinstance(spool, PostgresSpool):
        monkeypatch.setenv(URL_ENV, spool.url)
        webhooks = "webhooks: {spool_backend: postgres}\n"
    else:
        webhooks = f"webhooks: {{spool_path: {spool.path}}}\n"
    config = tmp_path / "qbo_sftp.yaml"
    config.write_text(COMPANY + webhooks)
    assert main(["--config", str(config), "webhooks", "list"]) == 0
    printed = capsys.readouterr().out
    assert "Bill 41 Update" in printed and "Bill 42 Update" in printed
    assert f"next cursor: {spool.read_after(None)[-1].cursor}" in printed


def test_cdc_sees_the_changes_either_spool_already_holds(spool: Spool | PostgresSpool) -> None:
    """The CDC sensor asks the spool the config names which changes webhooks brought (not the SQLite file)."""
    spool.append([event("41"), event("42"), event("43", realm="999")])
    changed_at = T0.isoformat()
    later = (T0 + dt.timedelta(minutes=5)).isoformat()
    changes = {"Bill": [("41", changed_at), ("42", later), ("43", changed_at), ("44", changed_at)]}
    # 42 changed again after its event; 43's event is another company's; 44 never came by webhook.
    assert seen_by_webhooks(spool, REALM, changes) == {("Bill", "41")}
    assert seen_by_webhooks(spool, REALM, {}) == set()
