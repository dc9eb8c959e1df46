"""The ledger: idempotent migrations, refusal of newer schemas, duplicates, lineage, counters, concurrency.

Every test runs on both backends: the DuckDB file and a PostgreSQL database.
"""

import datetime as dt
import multiprocessing
from decimal import Decimal

import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.ledger import LATEST_SCHEMA_VERSION, Ledger, LedgerTooNew
from qbo_sftp_assets.ledger.reference import ReferenceStore
from qbo_sftp_assets_tests.fixtures_ledger import BOTH_LEDGER_BACKENDS, ledger_config, reopened

pytestmark = BOTH_LEDGER_BACKENDS


def test_migrations_are_idempotent(ledger):
    assert ledger.migrate() == LATEST_SCHEMA_VERSION
    again = reopened(ledger)
    assert again.migrate() == LATEST_SCHEMA_VERSION
    assert again.schema_version() == LATEST_SCHEMA_VERSION
    assert ledger.query("SELECT count(*) FROM schema_migrations")[0][0] == LATEST_SCHEMA_VERSION


def test_a_newer_schema_is_refused_clearly(ledger):
    ledger.query("INSERT INTO schema_migrations VALUES (?, now())", [LATEST_SCHEMA_VERSION + 1])
    with pytest.raises(LedgerTooNew) as caught:
        reopened(ledger).migrate()
    message = str(caught.value)
    assert f"schema version {LATEST_SCHEMA_VERSION + 1}" in message
    assert f"up to {LATEST_SCHEMA_VERSION}" in message
    assert "upgrade qbo-sftp" in message


def test_same_bytes_from_same_partner_are_a_duplicate(ledger):
    first = ledger.record_inbound_file(sha256="aa" * 32, partner="acme", remote_path="in/a.edi", size=10)
    retry = ledger.record_inbound_file(sha256="aa" * 32, partner="acme", remote_path="in/a-copy.edi", size=10)
    other = ledger.record_inbound_file(sha256="aa" * 32, partner="globex", remote_path="in/a.edi", size=10)
    assert first.duplicate_of is None and first.status == "received"
    assert retry.duplicate_of == first.id and retry.status == "duplicate"
    assert other.duplicate_of is None


def test_posting_row_is_written_before_the_call_and_replays_keep_the_request_id(ledger):
    sha = "bb" * 32
    ledger.record_inbound_file(sha256=sha, partner="acme", remote_path="in/bills.csv", size=99)
    first = ledger.begin_posting(
        file_sha256=sha,
        record_index=3,
        document_key="bill:V1:INV-7",
        entity_type="Bill",
        request_id="req-1",
        source_line=12,
    )
    replay = ledger.begin_posting(
        file_sha256=sha,
        record_index=3,
        document_key="bill:V1:INV-7",
        entity_type="Bill",
        request_id="req-2",
    )
    assert first.status == "pending" and replay.request_id == "req-1"
    ledger.complete_posting(sha, 3, qbo_id="145", sync_token="0")
    [trail] = ledger.trace("145", "bill")
    assert trail["remote_path"] == "in/bills.csv" and trail["source_line"] == 12
    assert trail["file_sha256"] == sha and trail["request_id"] == "req-1" and trail["status"] == "posted"


def test_control_numbers_count_per_partner_and_kind_and_wrap(ledger):
    assert [ledger.next_control_number("acme", "ISA13") for _ in range(3)] == [1, 2, 3]
    assert ledger.next_control_number("acme", "GS06") == 1
    assert ledger.control_numbers_for("globex").next("ISA13") == 1
    ledger.query("UPDATE control_numbers SET value = 999999999 WHERE partner = 'acme' AND kind = 'ISA13'")
    assert ledger.next_control_number("acme", "ISA13") == 1


def test_cursors_round_trip(ledger):
    assert ledger.get_cursor("cdc:123") is None
    ledger.set_cursor("cdc:123", "2026-11-01T00:00:00Z")
    ledger.set_cursor("cdc:123", "2026-11-02T00:00:00Z")
    assert ledger.get_cursor("cdc:123") == "2026-11-02T00:00:00Z"


def _write_rows(ledger: Ledger, writer: int, count: int) -> None:
    ledger.lock_timeout = 60
    for index in range(count):
        ledger.record_inbound_file(
            sha256=f"{writer:02d}{index:062d}", partner=f"p{writer}", remote_path=f"in/{index}", size=index
        )
        ledger.next_control_number("shared", "ISA13")


def test_two_processes_writing_at_once_lose_no_row(ledger):
    ledger.migrate()
    count = 40
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_rows, args=(ledger, w, count)) for w in range(2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    assert ledger.query("SELECT count(*) FROM inbound_files")[0][0] == 2 * count
    assert ledger.next_control_number("shared", "ISA13") == 2 * count + 1


def test_ledger_command_prints_recent_activity_and_traces(ledger, capsys, tmp_path, monkeypatch):
    sha = "cc" * 32
    ledger.record_inbound_file(sha256=sha, partner="acme", remote_path="in/x.edi", size=5)
    ledger.begin_posting(
        file_sha256=sha,
        record_index=0,
        document_key="bill:A:1",
        entity_type="Bill",
        request_id="r",
        source_segment=7,
    )
    ledger.complete_posting(sha, 0, qbo_id="9", sync_token="1")
    config = ["--config", ledger_config(ledger, tmp_path, monkeypatch)]
    assert main([*config, "ledger"]) == 0
    out = capsys.readouterr().out
    assert "inbound files" in out and "in/x.edi" in out and "postings" in out
    assert main([*config, "ledger", "trace", "9"]) == 0
    out = capsys.readouterr().out
    assert "Bill 9 (SyncToken 1, posted) <- acme:in/x.edi segment 7" in out
    assert main([*config, "ledger", "trace", "404"]) == 1


def test_reference_rows_keep_exact_amounts_tombstones_and_resync(ledger):
    store = ReferenceStore(ledger)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    bills = [
        {"Id": "2", "SyncToken": "0", "DocNumber": "B-2", "TotalAmt": Decimal("0.10"), "MetaData": {}},
        {"Id": "10", "SyncToken": "1", "DocNumber": "B-10", "TotalAmt": Decimal("12345678.905")},
    ]
    assert store.upsert("r1", "Bill", bills, now=now) == 2
    assert store.upsert("r1", "Bill", [{**bills[0], "SyncToken": "1"}], now=now) == 1
    [first, second] = store.rows("r1", ["Bill"])
    assert (first.qbo_id, first.sync_token, first.name) == ("10", "1", "B-10")
    assert first.data["TotalAmt"] == Decimal("12345678.905") and second.data["TotalAmt"] == Decimal("0.10")
    assert second.sync_token == "1"
    assert store.mark_deleted("r1", "Bill", [("2", "2026-11-02T10:00:00-08:00"), ("77", None)], now=now) == 2
    gone = {r.qbo_id: r for r in store.rows("r1", ["Bill"], include_deleted=True) if r.deleted}
    assert set(gone) == {"2", "77"} and gone["2"].name == "B-2"  # what we knew of it is kept
    assert gone["2"].last_updated == dt.datetime(2026, 11, 2, 18, tzinfo=dt.UTC)
    assert store.replace_all("r1", "Bill", [{"Id": "11", "SyncToken": "0", "DocNumber": "B-11"}], now=now) == (1, 1)
    assert [r.qbo_id for r in store.rows("r1")] == ["11"] and store.counts("r1") == {"Bill": 1}
    assert store.rows("r1", []) == [] and store.rows("other") == []


def test_deliveries_and_acknowledgments_round_trip(ledger):
    delivery = ledger.record_delivery(
        partner="acme",
        feed="bills",
        remote_path="out/b.x12",
        sha256="dd" * 32,
        record_count=2,
        entity_versions={"Bill/1": "0", "Bill/2": "3"},
        control_numbers={"ISA13": 7},
        ack_status="expected",
    )
    ledger.set_delivery_ack(delivery, "accepted")
    [found] = ledger.outbound_deliveries(partner="acme", ack_statuses=["accepted", "rejected"])
    assert found.control_numbers == {"ISA13": 7} and found.acked_at is not None
    assert ledger.outbound_deliveries(ack_statuses=["expected"]) == []
    assert ledger.delivered_versions("acme", "bills") == {"Bill/1": "0", "Bill/2": "3"}
    ledger.record_acknowledgment(
        partner="acme", direction="sent", kind="997", status="A", file_sha256="ee" * 32, content=b"ISA*\x00\xff"
    )
    ledger.record_acknowledgment(
        partner="acme", direction="received", kind="997", status="A", file_sha256="dd" * 32, detail='{"x": "50%"}'
    )
    [sent] = ledger.sent_acknowledgments("ee" * 32, ["997"])
    assert sent.content == b"ISA*\x00\xff" and sent.revision == 1
    [received] = ledger.received_acknowledgments("acme", ["dd" * 32, "ff" * 32])
    assert received["status"] == "A"
    assert ledger.query("SELECT count(*) FROM acknowledgments WHERE detail LIKE ?", ["%50%%"]) == [(1,)]
    assert (
        ledger.record_interchange(partner="acme", standard="x12", sender="S", control_number="1", file_sha256="aa" * 32)
        is None
    )
    assert (
        ledger.record_interchange(partner="acme", standard="x12", sender="S", control_number="1", file_sha256="bb" * 32)
        == "aa" * 32
    )
