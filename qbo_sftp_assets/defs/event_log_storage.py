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

On PostgreSQL (deploy/dagster.yaml) Dagster's `PostgresEventLogStorage` opens a new server connection
for every unit of work (`NullPool`, so that an idle instance holds none): a new backend process per
event, 13.4 ms an event against 2.0 ms on a kept connection (`make bench scale`). A run worker stores
thousands of events, so `PostgresEventLogStorageKeepingConnections` keeps one connection (and a few
more while threads overlap), pinged before reuse and renewed hourly. Like the SQLite one, it
remembers the tables it has found instead of asking the server before every asset event.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from dagster_postgres import PostgresEventLogStorage
from dagster_postgres.event_log.event_log import CHANNEL_NAME
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 1000
"""Events Dagster buffers before it hands them to `store_event_batch` (it hands over a batch's end sooner)."""

ENGINES_KEPT = 8
"""The index database and the runs a process wrote last; a run process uses two."""

POSTGRES_CONNECTIONS_KEPT = 2  # Dagster asks about its tables on a second connection while a first is open
POSTGRES_CONNECTIONS_BEYOND = 4
"""Opened while threads overlap (a run's event batching beside its steps), closed when returned."""
POSTGRES_CONNECTION_RECYCLE_SECONDS = 3600


def store_in_stretches(
    events: Sequence[EventLogEntry],
    store_asset_events: Callable[[list[EventLogEntry]], None],
    store_event: Callable[[EventLogEntry], None],
) -> None:
    """A batch as `store_event` would store each event, with each stretch of one run's asset events
    handed to `store_asset_events` as one unit of work. Anything else (a run's two planned check
    evaluations among its files' planned materializations) is stored on its own, in its place."""
    stretch: list[EventLogEntry] = []
    for event in events:
        if (
            event.is_dagster_event
            and event.dagster_event_type in ASSET_EVENTS
            and (not stretch or event.run_id == stretch[0].run_id)
        ):
            stretch.append(event)
            continue
        if stretch:
            store_asset_events(stretch)
        stretch = []
        if event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS:
            stretch.append(event)  # another run's
        else:
            store_event(event)
    if stretch:
        store_asset_events(stretch)


def latest_of_each_kind(events: Sequence[EventLogEntry]) -> list[int]:
    """The indexes, in order, of the last event of each asset and event type.

    `_store_asset_event` upserts an asset's row in the asset table, each column last writer wins, and
    what an event writes depends only on its type and itself; so the last event of each asset and type,
    stored in their order, leave the row exactly as every event would. For 1,000 files that is one
    upsert per asset and type instead of 10,000 (Dagster's own batch keeps just the last of a batch of
    one asset's materializations, for the same reason).
    """
    last: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        dagster_event = event.get_dagster_event()
        key = dagster_event.asset_key.to_string() if dagster_event.asset_key else ""
        last[(key, dagster_event.event_type_value)] = index
    return sorted(last.values())


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
        store_in_stretches(events, self._store_asset_events, self.store_event)

    def _store_asset_events(self, events: list[EventLogEntry]) -> None:
        """One run's asset events: its database, then the cross-run index, as `store_event` writes them."""
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
            for index in latest_of_each_kind(events):
                self._store_asset_event(connection, events[index], event_ids[index])

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


class PostgresEventLogStorageKeepingConnections(PostgresEventLogStorage):
    """`PostgresEventLogStorage` that keeps its server connection between units of work."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        self._tables_found: set[str] = set()
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._engine.dispose()  # the parent's NullPool engine, which holds nothing
        self._engine = create_pg_engine(
            postgres_url,
            token_provider,
            isolation_level="AUTOCOMMIT",  # as the parent's: each statement commits unless a block begins
            pool_size=POSTGRES_CONNECTIONS_KEPT,
            max_overflow=POSTGRES_CONNECTIONS_BEYOND,
            pool_recycle=POSTGRES_CONNECTION_RECYCLE_SECONDS,
            pool_pre_ping=True,  # a connection the server closed (a restart, an idle timeout) is replaced
        )

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "PostgresEventLogStorageKeepingConnections":
        # The parent's builds a PostgresEventLogStorage by name, not `cls`.
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    def has_table(self, table_name: str) -> bool:
        """Asked before every asset event's tags are stored; a table, once there, stays."""
        if table_name in self._tables_found:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_found.add(table_name)
        return found

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        store_in_stretches(events, self._store_asset_events, self.store_event)

    def _store_asset_events(self, events: list[EventLogEntry]) -> None:
        """One run's asset events in one transaction, as `store_event` writes them one by one."""
        with self.index_transaction() as connection:
            rows = connection.execute(
                self.prepare_insert_event_batch(events).returning(
                    SqlEventLogStorageTable.c.run_id, SqlEventLogStorageTable.c.id
                )
            ).fetchall()
            if len(rows) != len(events) or any(event_id is None for _run_id, event_id in rows):
                raise DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
            for run_id, event_id in rows:
                # As the parent's store_event: nothing listens since 1.x, kept for an older webserver.
                connection.execute(db.text(f"NOTIFY {CHANNEL_NAME}, :notify_id"), {"notify_id": f"{run_id}_{event_id}"})
            event_ids = [int(event_id) for _run_id, event_id in rows]
            self._store_asset_event_tags(connection, events, event_ids)
            for index in latest_of_each_kind(events):
                self._store_asset_event(connection, events[index], event_ids[index])
