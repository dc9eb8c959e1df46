"""The ledger: idempotent migrations, refusal of newer schemas, duplicates, lineage, counters, concurrency."""

import multiprocessing

import duckdb
import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.ledger import LATEST_SCHEMA_VERSION, Ledger, LedgerTooNew


def test_migrations_are_idempotent(ledger):
    assert ledger.migrate() == LATEST_SCHEMA_VERSION
    again = Ledger(ledger.path)
    assert again.migrate() == LATEST_SCHEMA_VERSION
    rows = duckdb.connect(str(ledger.path)).execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert rows[0] == LATEST_SCHEMA_VERSION


def test_a_newer_schema_is_refused_clearly(ledger):
    ledger.migrate()
    with duckdb.connect(str(ledger.path)) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (?, now())", [LATEST_SCHEMA_VERSION + 1])
    with pytest.raises(LedgerTooNew) as caught:
        Ledger(ledger.path).migrate()
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


def _write_rows(path: str, writer: int, count: int) -> None:
    ledger = Ledger(path, lock_timeout=60)
    for index in range(count):
        ledger.record_inbound_file(
            sha256=f"{writer:02d}{index:062d}", partner=f"p{writer}", remote_path=f"in/{index}", size=index
        )
        ledger.next_control_number("shared", "ISA13")


def test_two_processes_writing_at_once_lose_no_row(ledger):
    ledger.migrate()
    count = 40
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_rows, args=(str(ledger.path), w, count)) for w in range(2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    assert ledger.query("SELECT count(*) FROM inbound_files")[0][0] == 2 * count
    assert ledger.next_control_number("shared", "ISA13") == 2 * count + 1


def test_ledger_command_prints_recent_activity_and_traces(ledger, capsys):
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
    assert main(["ledger", "--path", str(ledger.path)]) == 0
    out = capsys.readouterr().out
    assert "inbound files" in out and "in/x.edi" in out and "postings" in out
    assert main(["ledger", "--path", str(ledger.path), "trace", "9"]) == 0
    out = capsys.readouterr().out
    assert "Bill 9 (SyncToken 1, posted) <- acme:in/x.edi segment 7" in out
    assert main(["ledger", "--path", str(ledger.path), "trace", "404"]) == 1
