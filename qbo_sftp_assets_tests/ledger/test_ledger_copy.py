"""`qbo-sftp ledger copy --to-postgres`: a DuckDB ledger's whole history moves into PostgreSQL, and the
PostgreSQL ledger then answers as the file did (lineage, exactly-once postings, control numbers, ids)."""

import datetime as dt
import json
from contextlib import closing
from decimal import Decimal

import duckdb
import psycopg2
import psycopg2.extras
import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.ledger import Ledger, LedgerCopyError, copy_ledger_to_postgres
from qbo_sftp_assets.ledger.migrations import MIGRATIONS
from qbo_sftp_assets.ledger.reference import ReferenceStore
from qbo_sftp_assets.ledger.store import PostingResult, PostingStart

BILLS_SHA = "b1" * 32
INVOICE_SHA = "e1" * 32
ACK_BYTES = b"ISA*00*\x00\xff\r\nIEA*1*000000007~"
NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-8)))


def _fill(ledger: Ledger) -> None:
    """Some history in every table, written through the ledger's own API as runs write it."""
    bills = ledger.record_inbound_file(sha256=BILLS_SHA, partner="acme", remote_path="in/bills.csv", size=120)
    ledger.record_inbound_file(sha256=BILLS_SHA, partner="acme", remote_path="in/bills-again.csv", size=120)
    ledger.set_inbound_status(bills.id, "posted", remote_path="archive/bills.csv")
    ledger.set_inbound_stage(bills.id, "filed")
    edi = ledger.record_inbound_file(sha256=INVOICE_SHA, partner="globex", remote_path="in/810.x12", size=800)
    ledger.begin_posting(
        file_sha256=BILLS_SHA,
        record_index=0,
        document_key="bill:V1:INV-7",
        entity_type="Bill",
        request_id="req-bill-0",
        source_line=2,
        partner="acme",
        realm_id="r1",
        doc_number="INV-7",
        vendor_id="V1",
    )
    ledger.complete_posting(BILLS_SHA, 0, qbo_id="145", sync_token="0")
    starts = [
        PostingStart(
            file_sha256=INVOICE_SHA,
            record_index=index,
            document_key=f"bill:V2:E-{index}",
            entity_type="Bill",
            request_id=f"req-edi-{index}",
            partner="globex",
            realm_id="r1",
            doc_number=f"E-{index}",
            vendor_id="V2",
            content_sha256=None,
            operation="create",
            source_segment=10 + index,
            batch_request_id="batch-1",
            batch_bid=str(index),
            payload=json.dumps({"TotalAmt": "12345678.905", "DocNumber": f"E-{index}"}),
        )
        for index in range(2)
    ]
    ledger.begin_postings(starts)
    # A run crashed after the batch answered for the first document only: the second stays pending.
    ledger.finish_postings([PostingResult(INVOICE_SHA, 0, "posted", qbo_id="146", sync_token="0")])
    ledger.set_inbound_stage(edi.id, "posted")
    for _ in range(7):
        ledger.next_control_number("acme", "ISA13")
    ledger.next_control_number("acme", "GS06")
    ledger.next_control_number("globex", "UNB")
    delivery = ledger.record_delivery(
        partner="acme",
        feed="bills",
        remote_path="out/810-7.x12",
        sha256="d1" * 32,
        record_count=1,
        entity_versions={"Bill/145": "0"},
        control_numbers={"ISA13": 7, "GS06": 1},
        ack_status="expected",
    )
    ledger.set_delivery_ack(delivery, "accepted")
    # A delivery row that was removed after its id was handed out: the id must still never come back.
    dropped = ledger.record_delivery(
        partner="acme", feed="bills", remote_path="out/x", sha256="d2" * 32, record_count=0, entity_versions={}
    )
    ledger.query("DELETE FROM outbound_deliveries WHERE id = ?", [dropped])
    ledger.record_acknowledgment(
        partner="globex", direction="sent", kind="997", status="A", file_sha256=INVOICE_SHA, content=ACK_BYTES
    )
    ledger.record_acknowledgment(
        partner="acme",
        direction="received",
        kind="997",
        status="A",
        file_sha256="d1" * 32,
        control_number="7",
        detail='AK5*A\n\tnote: 50% \\ "quoted"\r',  # what COPY's text format must escape
    )
    ledger.record_interchange(
        partner="globex", standard="x12", sender="GLOBEX", control_number="000000042", file_sha256=INVOICE_SHA
    )
    ledger.set_cursor("reference:r1:Vendor", "2026-11-01T00:00:00-08:00")
    store = ReferenceStore(ledger)
    store.upsert("r1", "Vendor", [{"Id": "V1", "SyncToken": "3", "DisplayName": 'Acme "East"\\Co\t'}], now=NOW)
    store.upsert("r1", "Bill", [{"Id": "145", "SyncToken": "0", "TotalAmt": Decimal("12345678.905")}], now=NOW)
    store.mark_deleted("r1", "Vendor", [("V9", "2026-11-01T10:00:00-08:00")], now=NOW)


@pytest.fixture
def source(tmp_path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with ledger.session():
        _fill(ledger)
    return ledger


def _ledger_tables(path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as duck:
        return [
            name
            for (name,) in duck.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT internal AND table_name <> 'schema_migrations'"
            ).fetchall()
        ]


def _rows(source_path, url: str, table: str) -> tuple[list[tuple], list[tuple]]:
    """A table's rows on both sides, sorted, with JSON as its text and bytea as bytes."""
    with duckdb.connect(str(source_path), read_only=True) as duck:
        listed = duck.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]).fetchall()
        columns = [column for (column,) in listed]
        before = duck.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    connection = psycopg2.connect(url)
    try:
        psycopg2.extras.register_default_json(connection, loads=lambda text: text)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
            after = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor.fetchall()]
    finally:
        connection.close()
    key = repr
    return sorted(before, key=key), sorted(after, key=key)


def test_every_table_moves_and_postgres_answers_as_the_file_did(source, postgres_url, tmp_path, monkeypatch, capsys):
    tables = _ledger_tables(source.path)
    # Every table the migrations make holds history here, so a table a copy skipped would show below; a
    # migration adding a table fails this until the fixture above writes to it too.
    fresh = Ledger(tmp_path / "fresh.duckdb")
    fresh.migrate()
    assert sorted(tables) == sorted(_ledger_tables(fresh.path))
    empty = [t for t in tables if not source.query(f"SELECT count(*) FROM {t}")[0][0]]
    assert not empty, f"the fixture writes no row to {empty}: give it some history there"
    # The database is shared with the other server backends: their tables are no reason to refuse.
    with closing(psycopg2.connect(postgres_url)) as connection, connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE qbo_tokens (realm_id TEXT PRIMARY KEY); INSERT INTO qbo_tokens VALUES ('r1')")
    monkeypatch.setenv("NEW_LEDGER_URL", postgres_url)
    config = tmp_path / "qbo_sftp.yaml"
    config.write_text(f"ledger:\n  path: {source.path}\npostgres:\n  url_env: NEW_LEDGER_URL\n")

    assert main(["--config", str(config), "ledger", "copy", "--to-postgres"]) == 0

    out = capsys.readouterr().out
    for table in tables:
        count = source.query(f"SELECT count(*) FROM {table}")[0][0]
        assert f"{table} " in out and f" {count:,} rows" in out
        before, after = _rows(source.path, postgres_url, table)
        assert after == before, table
    assert "outbound_delivery_ids  next id 3" in out and "password" not in out
    target = Ledger(url=postgres_url)
    [trail] = target.trace("145", "Bill")
    assert (trail["partner"], trail["remote_path"], trail["source_line"]) == ("acme", "archive/bills.csv", 2)
    assert trail["file_sha256"] == BILLS_SHA and trail["request_id"] == "req-bill-0"
    assert trail["received_at"].tzinfo is not None
    assert target.trace("146")[0]["source_segment"] == 10
    # Control numbers continue where the file left off: the partner never sees one twice.
    assert target.next_control_number("acme", "ISA13") == 8
    assert target.next_control_number("globex", "UNB") == 2
    # A retry recognizes what was posted (no second Bill) and re-sends the pending one as it was.
    replay = target.begin_posting(
        file_sha256=BILLS_SHA, record_index=0, document_key="bill:V1:INV-7", entity_type="Bill", request_id="new"
    )
    assert (replay.request_id, replay.status, replay.qbo_id) == ("req-bill-0", "posted", "145")
    done = target.posted_documents("acme", "r1", [("Bill", "V1", "INV-7")])
    assert done[("Bill", "V1", "INV-7")].qbo_id == "145"
    [pending] = target.pending_postings("r1", ["batch-1"])
    assert pending.request_id == "req-edi-1" and json.loads(pending.payload)["TotalAmt"] == "12345678.905"
    # New rows get fresh ids, past every id the file ever handed out (the removed delivery's too).
    again = target.record_inbound_file(sha256=BILLS_SHA, partner="acme", remote_path="in/third.csv", size=120)
    assert again.id == 4 and again.duplicate_of == 1 and again.status == "duplicate"
    assert target.record_inbound_file(sha256="f0" * 32, partner="acme", remote_path="in/new.csv", size=1).id == 5
    assert (
        target.record_delivery(
            partner="acme", feed="bills", remote_path="out/next", sha256="d3" * 32, record_count=0, entity_versions={}
        )
        == 3
    )
    assert target.delivered_versions("acme", "bills") == {"Bill/145": "0"}
    [sent] = target.sent_acknowledgments(INVOICE_SHA, ["997"])
    assert sent.content == ACK_BYTES
    assert (
        target.record_interchange(
            partner="globex", standard="x12", sender="GLOBEX", control_number="000000042", file_sha256="00" * 32
        )
        == INVOICE_SHA
    )
    assert target.get_cursor("reference:r1:Vendor") == "2026-11-01T00:00:00-08:00"
    store = ReferenceStore(target)
    [bill] = store.rows("r1", ["Bill"])
    assert bill.data["TotalAmt"] == Decimal("12345678.905")
    vendors = {r.qbo_id: r for r in store.rows("r1", ["Vendor"], include_deleted=True)}
    assert vendors["V1"].data["DisplayName"] == 'Acme "East"\\Co\t' and vendors["V9"].deleted
    [received] = target.received_acknowledgments("acme", ["d1" * 32])
    assert received["detail"] == 'AK5*A\n\tnote: 50% \\ "quoted"\r'


def test_a_target_holding_ledger_rows_is_refused_and_left_as_it_was(source, postgres_url):
    copy_ledger_to_postgres(source.path, postgres_url)
    target = Ledger(url=postgres_url)
    target.record_inbound_file(sha256="f1" * 32, partner="acme", remote_path="in/after.csv", size=1)
    with pytest.raises(LedgerCopyError) as caught:
        copy_ledger_to_postgres(source.path, postgres_url)
    message = str(caught.value)
    assert "already holds rows in" in message and "inbound_files (4 rows)" in message
    assert "control_numbers (3 rows)" in message and "only fills an empty ledger" in message
    assert target.query("SELECT count(*) FROM inbound_files") == [(4,)]
    assert target.next_control_number("acme", "ISA13") == 8


def test_a_missing_broken_or_foreign_source_is_a_clear_error_and_copies_nothing(tmp_path, postgres_url):
    missing = tmp_path / "nowhere.duckdb"
    with pytest.raises(LedgerCopyError, match=r"nowhere\.duckdb: no ledger file here"):
        copy_ledger_to_postgres(missing, postgres_url)
    assert not missing.exists()
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"not a database " * 400)
    with pytest.raises(LedgerCopyError, match=r"broken\.duckdb: cannot read it as a DuckDB ledger"):
        copy_ledger_to_postgres(broken, postgres_url)
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(LedgerCopyError, match="not a qbo-sftp ledger"):
        copy_ledger_to_postgres(other, postgres_url)
    # The source is checked before the target is touched.
    with closing(psycopg2.connect(postgres_url)) as connection, connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        assert cursor.fetchone() == (0,)
    scratch = tmp_path / "scratch.duckdb"
    Ledger(scratch).migrate()
    with duckdb.connect(str(scratch)) as duck:
        duck.execute("CREATE TABLE my_notes (note VARCHAR); INSERT INTO my_notes VALUES ('x')")
    with pytest.raises(LedgerCopyError, match="tables the ledger's migrations do not make: my_notes"):
        copy_ledger_to_postgres(scratch, postgres_url)
    assert Ledger(url=postgres_url).query("SELECT count(*) FROM control_numbers") == [(0,)]


def test_the_command_says_what_is_wrong_without_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NEW_LEDGER_URL", raising=False)
    path = tmp_path / "ledger.duckdb"
    Ledger(path).migrate()
    assert main(["ledger", "copy", "--to-postgres", "--path", str(path), "--url-env", "NEW_LEDGER_URL"]) == 2
    assert "set the environment variable NEW_LEDGER_URL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ledger", "copy", "--path", str(path)])
    assert "--to-postgres" in capsys.readouterr().err


def test_an_older_source_is_migrated_before_it_is_copied(tmp_path, postgres_url):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as duck:
        duck.execute(MIGRATIONS[0])
        duck.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
        duck.execute("INSERT INTO schema_migrations VALUES (1, now())")
        duck.execute("INSERT INTO control_numbers VALUES ('acme', 'ISA13', 41)")
    copied = copy_ledger_to_postgres(path, postgres_url)
    assert copied.migrated_source_from == 1 and "schema version 1; migrated it first" in copied.summary()
    assert Ledger(url=postgres_url).next_control_number("acme", "ISA13") == 42
