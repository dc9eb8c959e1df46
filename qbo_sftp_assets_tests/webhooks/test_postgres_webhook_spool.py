"""The webhook spool on PostgreSQL: dedup by event id, and a `seq > cursor` reader that misses no late commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from qbo_sftp_assets.qbo.webhooks import ChangeEvent
from qbo_sftp_assets.webhooks.spool import AppendResult, PostgresSpool, SpoolUnavailable, event_rows

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def change(event_id: str, entity_id: str = "1") -> ChangeEvent:
    return ChangeEvent(
        realm_id="9130",
        entity="Vendor",
        entity_id=entity_id,
        operation="Update",
        occurred_at=NOW,
        event_id=event_id,
        source_format="cloudevents",
    )


def test_a_spool_without_tables_is_unavailable_until_created(postgres_url: str) -> None:
    spool = PostgresSpool(postgres_url)
    with pytest.raises(SpoolUnavailable):
        spool.read_after(None)
    spool_id = spool.create()
    assert spool.create() == spool_id  # idempotent: a second receiver keeps the same spool
    assert spool.read_after(None) == [] and spool.count() == 0


def test_a_repeated_event_id_is_stored_once_and_the_cursor_continues(postgres_url: str) -> None:
    spool = PostgresSpool(postgres_url)
    spool.create()
    assert spool.append([change("a"), change("b", "2")], received_at=NOW) == AppendResult(2, 0)
    assert spool.append([change("b", "2"), change("c", "3")], received_at=NOW) == AppendResult(1, 1)
    first = spool.read_after(None, limit=2)
    assert [event.event_id for event in first] == ["a", "b"]
    assert first[0].occurred_at == NOW and first[0].received_at.tzinfo is not None
    rest = spool.read_after(first[-1].cursor)
    assert [event.event_id for event in rest] == ["c"]
    assert spool.read_after(rest[-1].cursor) == []
    assert spool.prune(NOW + timedelta(seconds=1)) == 3 and spool.count() == 0


def test_a_row_committed_late_is_not_skipped_by_the_cursor(postgres_url: str) -> None:
    """The pitfall: writer A draws seq 1, writer B seq 2 and commits first; a reader at 2 never sees 1."""
    spool = PostgresSpool(postgres_url)
    spool.create()
    slow = psycopg2.connect(postgres_url)
    try:
        with slow.cursor() as cursor:
            spool.insert_deliveries(cursor, [event_rows([change("slow")], NOW)])  # not committed yet
        fast_done = threading.Event()

        def fast_writer() -> None:
            spool.append([change("fast", "2")], received_at=NOW)
            fast_done.set()

        writer = threading.Thread(target=fast_writer)
        writer.start()
        # The fast writer waits for the slow one instead of committing past it.
        assert not fast_done.wait(0.5)
        assert spool.read_after(None) == []
        slow.commit()
        writer.join(30)
        assert fast_done.is_set()
    finally:
        slow.close()
    events = spool.read_after(None)
    assert [event.event_id for event in events] == ["slow", "fast"]
    assert events[0].seq < events[1].seq


def test_concurrent_writers_lose_nothing_for_a_reader_following_along(postgres_url: str) -> None:
    spool = PostgresSpool(postgres_url)
    spool.create()
    writers = 4
    each = 25

    def write(worker: int) -> None:
        for number in range(each):
            spool.append([change(f"{worker}-{number}", str(number))], received_at=NOW)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(writers)]
    for thread in threads:
        thread.start()
    seen: list[str] = []
    cursor = None
    while any(thread.is_alive() for thread in threads) or len(seen) < writers * each:
        batch = spool.read_after(cursor, limit=7)
        if batch:
            seen += [event.event_id for event in batch]
            cursor = batch[-1].cursor
        elif not any(thread.is_alive() for thread in threads):
            break
    for thread in threads:
        thread.join(30)
    assert sorted(seen) == sorted(f"{w}-{n}" for w in range(writers) for n in range(each))
