"""The SQLite event log `qbo-sftp dev` runs on: Dagster's own, keeping one SQLAlchemy engine per database.

Dagster's `SqliteEventLogStorage` builds a new SQLAlchemy engine for every connection, so every
statement is compiled afresh each time (the compiled-statement cache lives on the engine). Storing
one event cost 10.6 ms (9.5 ms of CPU) on this machine's two cores, and 6.8 ms with the engine kept.
An inbound file stores 12 events (5 planned at run creation, 5 materializations, 2 check
evaluations), so this is the largest cost a file has (docs/asset-graph.md, "Where a file's time goes").

Dagster hands the events of one batch (a run's planned materializations, a step's materializations of
many files) to `store_event_batch` when DAGSTER_EVENT_BATCH_SIZE is set, which `qbo-sftp dev` does;
the SQLite storage then still wrote two transactions per event. Here a batch of one run's asset events
is one transaction per database: 1.5-2.2 ms an event instead of 6.3 (measured over 1,000 events).

Its `has_table` builds yet another engine to reflect the index database on every check evaluation;
here a table found once is known to be there.

Only the engine object lives on: with `NullPool` each connection is still a new sqlite3 connection,
opened and closed around one unit of work under the storage's lock, exactly as before, so locking
between processes is unchanged. A process that touches many runs (the webserver, the daemon) keeps the
engines of the few databases it used last. This overrides `_connect`, Dagster's private seam for
every connection of the storage, and `has_table`; `test_dagster_dev_instance` fails if they move.
"""

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 1000
"""Events Dagster buffers before it hands them to `store_event_batch` (it hands over a batch's end sooner)."""

ENGINES_KEPT = 8
"""The index database and the runs a process wrote last; a run process uses two."""


class SqliteEventLogStorageKeepingEngines(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with one engine per database file, kept for the next connection."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._index_reflection: Engine | None = None
        self._tables_found: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "SqliteEventLogStorageKeepingEngines":
        # The parent's builds a SqliteEventLogStorage by name, not `cls`.
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """What `store_event` writes for each event, with each stretch of one run's asset events in one
        transaction per database. Anything else (a run's two planned check evaluations among its files'
        planned materializations) is stored on its own, in its place."""
        stretch: list[EventLogEntry] = []
        for event in events:
            if (
                event.is_dagster_event
                and event.dagster_event_type in ASSET_EVENTS
                and (not stretch or event.run_id == stretch[0].run_id)
            ):
                stretch.append(event)
                continue
            self._store_asset_events(stretch)
            stretch = []
            if event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS:
                stretch.append(event)  # another run's
            else:
                self.store_event(event)
        self._store_asset_events(stretch)

    def _store_asset_events(self, events: list[EventLogEntry]) -> None:
        """One run's asset events: its database, then the cross-run index, as `store_event` writes them."""
        if not events:
            return
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as connection:
            for statement in statements:
                connection.execute(statement)
        with self.index_transaction() as connection:
            event_ids = []
            for statement in statements:
                with db_result(connection, statement) as result:
                    event_id = result.inserted_primary_key[0]
                if event_id is None:
                    raise DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
                event_ids.append(event_id)
            self._store_asset_event_tags(connection, events, event_ids)
            for event, event_id in zip(events, event_ids, strict=True):
                self._store_asset_event(connection, event, event_id)

    def has_table(self, table_name: str) -> bool:
        """Dagster asks before every check evaluation, event tag and pool claim, with a new engine each
        time (5% of an inbound run); a table, once there, stays. It is asked while the storage's lock
        is held, so this engine is its own."""
        if table_name in self._tables_found:
            return True
        if self._index_reflection is None:
            self._index_reflection = create_engine(
                self.conn_string_for_shard(INDEX_SHARD_NAME),
                poolclass=NullPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
        with self._index_reflection.connect() as connection:
            found = bool(self._index_reflection.dialect.has_table(connection, table_name))
        if found:
            self._tables_found.add(table_name)
        return found

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > ENGINES_KEPT:
            _shard, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine
