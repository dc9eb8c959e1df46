"""The spool: deduplicated appends, a commit-ordered cursor that never skips a row while several
processes write, read-only readers that never block the writer, and a clear error before it exists."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qbo_sftp_assets.qbo.webhooks import ChangeEvent
from qbo_sftp_assets.webhooks import Spool, SpoolUnavailable


def event(entity_id: str, event_id: str | None = None) -> ChangeEvent:
    return ChangeEvent(
        realm_id="1",
        entity="Bill",
        entity_id=entity_id,
        operation="Update",
        occurred_at=datetime(2025, 10, 5, 21, 42, 19, tzinfo=UTC),
        event_id=event_id or f"id-{entity_id}",
        source_format="cloudevents",
    )


def test_appends_are_deduplicated_and_read_in_order_after_a_cursor(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.create()
    assert spool.append([event("1"), event("2"), event("1")]).stored == 2  # a body repeating an event
    result = spool.append([event("2"), event("3")])
    assert (result.stored, result.duplicates) == (1, 1)
    first = spool.read_after(None, limit=2)
    assert [e.entity_id for e in first] == ["1", "2"]
    rest = spool.read_after(first[-1].cursor, limit=10)
    assert [e.entity_id for e in rest] == ["3"]
    assert spool.read_after(rest[-1].cursor) == []
    assert rest[0].occurred_at == datetime(2025, 10, 5, 21, 42, 19, tzinfo=UTC) and rest[0].received_at.tzinfo


def test_a_cursor_from_a_recreated_spool_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    spool.create()
    spool.append([event(str(n)) for n in range(5)])
    cursor = spool.read_after(None)[-1].cursor
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    spool.create()
    spool.append([event("new")])
    assert [e.entity_id for e in spool.read_after(cursor)] == ["new"]  # not skipped as "seq 1 <= 5"
    assert spool.read_after("garbage")[0].entity_id == "new"


def test_a_missing_or_empty_spool_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(SpoolUnavailable, match="no webhook spool"):
        Spool(tmp_path / "absent.sqlite").read_after(None)
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with pytest.raises(SpoolUnavailable):
        Spool(empty).read_after(None)
    assert not (tmp_path / "absent.sqlite").exists()  # the reader never creates the file


def test_a_reader_holding_a_transaction_does_not_block_the_writer(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.create()
    spool.append([event("1")])
    reader = sqlite3.connect(f"{spool.path.as_uri()}?mode=ro", uri=True)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM events").fetchone() == (1,)
    started = time.perf_counter()
    spool.append([event("2")])
    assert time.perf_counter() - started < 1.0
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("INSERT INTO events (dedup_key) VALUES ('x')")  # read-only really is read-only
    reader.close()
    assert spool.count() == 2


def _write_many(path: str, writer: int, count: int) -> None:
    spool = Spool(path)
    for n in range(count):
        spool.append([event(f"{writer}-{n}")])


def test_a_cursor_reader_misses_nothing_while_processes_write(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.create()
    writers, per_writer = 4, 60
    seen: list[str] = []
    done = threading.Event()

    def follow() -> None:
        cursor = None
        while True:
            finished = done.is_set()
            batch = spool.read_after(cursor, limit=7)
            seen.extend(e.entity_id for e in batch)
            cursor = batch[-1].cursor if batch else cursor
            if finished and not batch:
                return

    # Fork before the follower thread exists (forking a threaded process is unsafe); spawn costs seconds.
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_write_many, args=(str(spool.path), writer, per_writer)) for writer in range(writers)
    ]
    for process in processes:
        process.start()
    follower = threading.Thread(target=follow)
    follower.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    done.set()
    follower.join(30)
    expected = {f"{w}-{n}" for w in range(writers) for n in range(per_writer)}
    assert len(seen) == len(expected) and set(seen) == expected


def test_prune_deletes_only_old_events_of_the_realm_a_reader_has_passed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.create()
    received = datetime(2026, 11, 1, tzinfo=UTC)
    other_realm = ChangeEvent("2", "Bill", "9", "Update", received, "id-other", "cloudevents")
    spool.append([event("1"), event("2"), other_realm, event("3")], received_at=received)
    read_to = spool.read_after(None)[1].cursor  # the reader has passed "1" and "2" only
    later = datetime(2026, 11, 30, tzinfo=UTC)
    assert spool.prune(received, realm_id="1", through=read_to) == 0  # nothing received before that moment
    assert spool.prune(later, through="another-spool:99") == 0  # a cursor of another spool passed nothing
    assert spool.prune(later, realm_id="1", through=read_to) == 2
    assert [e.entity_id for e in spool.read_after(None)] == ["9", "3"]
    assert spool.append([event("1")]).stored == 1  # its dedup key went with it (hence retention >= max age)
