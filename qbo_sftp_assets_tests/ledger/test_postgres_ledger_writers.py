"""The ledger on PostgreSQL takes writers from several processes at once, with no single-writer pool:
no row lost or doubled, one original per file content, every control number handed out once."""

import datetime as dt
import multiprocessing

import pytest

from qbo_sftp_assets.config import load_config
from qbo_sftp_assets.defs.resources import ConfigFileResource, LedgerResource
from qbo_sftp_assets.ledger import Ledger, LedgerBusy, ledger_for
from qbo_sftp_assets.ledger.backends import DuckDBBackend, PostgresBackend
from qbo_sftp_assets.ledger.reference import ReferenceStore
from qbo_sftp_assets.ledger.store import PostingResult, PostingStart

WRITERS = 4
FILES = 25
RECORDS = 4
SHARED_SHA = "ab" * 32


def _write(ledger: Ledger, writer: int, barrier) -> None:
    ledger.lock_timeout = 60
    store = ReferenceStore(ledger)
    barrier.wait(60)
    for index in range(FILES):
        sha = f"{writer:02d}{index:062d}"
        ledger.record_inbound_file(sha256=sha, partner="acme", remote_path=f"in/{writer}-{index}.csv", size=index)
        starts = [
            PostingStart(
                file_sha256=sha,
                record_index=record,
                document_key=f"bill:V1:{writer}-{index}-{record}",
                entity_type="Bill",
                request_id=f"req-{writer}-{index}-{record}",
                partner="acme",
                realm_id="r1",
                doc_number=f"{writer}-{index}-{record}",
                vendor_id="V1",
                content_sha256=None,
                operation="create",
            )
            for record in range(RECORDS)
        ]
        ledger.begin_postings(starts)
        ledger.finish_postings(
            [PostingResult(sha, s.record_index, "posted", qbo_id=s.request_id, sync_token="0") for s in starts]
        )
        ledger.next_control_number("acme", "ISA13")
        # Every writer refreshes the same reference rows: the same keys written from four processes.
        store.upsert("r1", "Vendor", [{"Id": str(i), "SyncToken": str(writer)} for i in range(5)], now=_now())
    ledger.record_inbound_file(sha256=SHARED_SHA, partner="acme", remote_path=f"in/same-{writer}.csv", size=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_four_processes_write_files_postings_and_counters_at_once(postgres_url):
    ledger = Ledger(url=postgres_url)
    ledger.migrate()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    writers = [context.Process(target=_write, args=(ledger, w, barrier)) for w in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(180)
    assert [p.exitcode for p in writers] == [0] * WRITERS

    files = ledger.query("SELECT count(*), count(DISTINCT sha256) FROM inbound_files WHERE sha256 <> ?", [SHARED_SHA])
    assert files == [(WRITERS * FILES, WRITERS * FILES)]
    # The same bytes landed by four runs at once: exactly one original, the others point at it.
    shared = ledger.query("SELECT duplicate_of FROM inbound_files WHERE sha256 = ? ORDER BY id", [SHARED_SHA])
    originals = [row for row in shared if row[0] is None]
    assert len(shared) == WRITERS and len(originals) == 1
    first_id = ledger.query("SELECT min(id) FROM inbound_files WHERE sha256 = ?", [SHARED_SHA])[0][0]
    assert {row[0] for row in shared[1:]} == {first_id}

    postings = ledger.query(
        "SELECT count(*), count(DISTINCT request_id), count(*) FILTER (WHERE status = 'posted') FROM postings"
    )
    assert postings == [(WRITERS * FILES * RECORDS,) * 3]
    assert ledger.next_control_number("acme", "ISA13") == WRITERS * FILES + 1
    assert ledger.query("SELECT count(*) FROM reference_rows") == [(5,)]


def test_a_writer_kept_waiting_on_a_row_lock_is_told_the_ledger_is_busy(postgres_url):
    ledger = Ledger(url=postgres_url, lock_timeout=0.5)
    ledger.set_cursor("c", "1")
    holder = Ledger(url=postgres_url)
    with holder.session():
        connection = holder._held.connection
        holder.backend.begin(connection, None, 30)
        connection.execute("SELECT value FROM cursors WHERE name = 'c' FOR UPDATE")
        with pytest.raises(LedgerBusy, match="stayed locked"):
            ledger.set_cursor("c", "2")
        holder.backend.rollback(connection)
    ledger.set_cursor("c", "3")
    assert ledger.get_cursor("c") == "3"


def test_the_config_names_the_postgres_ledger_for_the_cli_and_the_dagster_resource(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("QBO_SFTP_TEST_LEDGER_URL", postgres_url.replace("@", ":s3cret@", 1))
    path = tmp_path / "qbo_sftp.yaml"
    path.write_text("ledger:\n  backend: postgres\npostgres:\n  url_env: QBO_SFTP_TEST_LEDGER_URL\n")
    ledger = ledger_for(load_config(path))
    assert isinstance(ledger.backend, PostgresBackend) and ledger.path is None
    assert "s3cret" not in repr(ledger) and "s3cret" not in ledger.location
    ledger.set_cursor("from-config", "1")
    resource = LedgerResource(config=ConfigFileResource(config_path=str(path)))
    assert resource.ledger().get_cursor("from-config") == "1"
    path.write_text("ledger:\n  path: " + str(tmp_path / "l.duckdb") + "\n")
    assert isinstance(ledger_for(load_config(path)).backend, DuckDBBackend)
