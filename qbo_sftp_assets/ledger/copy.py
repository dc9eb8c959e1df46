"""Copy a DuckDB ledger into PostgreSQL, so a company that outgrows one machine keeps its history.

Switching `ledger.backend` to `postgres` on an empty database would forget which files were posted
(requestids, DocNumbers: retries would post twice) and restart the X12/EDIFACT control numbers (a
partner rejects a repeated ISA13). The copy moves every table the DuckDB catalog holds, ids and all, in
one PostgreSQL transaction, then moves each id counter past everything the file ever handed out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from qbo_sftp_assets import postgres
from qbo_sftp_assets.ledger.migrations import LATEST_SCHEMA_VERSION
from qbo_sftp_assets.ledger.store import Ledger, LedgerError, LedgerTooNew

# The migration bookkeeping: the target writes its own rows when it is migrated, so it is checked, not copied.
SCHEMA_TABLE = "schema_migrations"
# Rows fetched from DuckDB and sent to PostgreSQL at a time: bounded memory for a ledger of any size.
BATCH_ROWS = 5000
# How long the copy waits for a writer still holding a ledger table on the target.
LOCK_TIMEOUT_SECONDS = 30


class LedgerCopyError(LedgerError):
    """The ledger cannot be copied as asked; nothing was written to the target."""


@dataclass(frozen=True)
class CopiedTable:
    name: str
    rows: int


@dataclass(frozen=True)
class LedgerCopy:
    """What a copy did: the rows of each table, and the last value of each id counter on the target."""

    source: str
    target: str
    schema_version: int
    migrated_source_from: int | None  # the source's version when it had to be brought up to date first
    tables: tuple[CopiedTable, ...]
    counters: dict[str, int]

    def summary(self) -> str:
        """The lines `qbo-sftp ledger copy` prints."""
        width = max([len(t.name) for t in self.tables] + [len(name) for name in self.counters] + [5])
        lines = [f"copied ledger {self.source} -> {self.target} (schema version {self.schema_version})"]
        if self.migrated_source_from is not None:
            lines.append(f"  (the source was at schema version {self.migrated_source_from}; migrated it first)")
        lines += [f"  {t.name.ljust(width)}  {t.rows:>10,} rows" for t in self.tables]
        lines.append(f"  {'total'.ljust(width)}  {sum(t.rows for t in self.tables):>10,} rows")
        lines += [f"  {name.ljust(width)}  next id {value + 1:,}" for name, value in sorted(self.counters.items())]
        return "\n".join(lines)


def copy_ledger_to_postgres(source: str | Path, url: str, *, batch_rows: int = BATCH_ROWS) -> LedgerCopy:
    """Copy the DuckDB ledger file `source` into the (empty) PostgreSQL ledger at `url`.

    The source is brought to this release's schema first if it is older (as any command opening it
    would), then read through a read-only connection, which also keeps runs from writing it meanwhile.
    The target is migrated by the ledger's own migrations, then filled in one transaction holding its
    ledger tables locked, or left as it was. A target that already holds ledger rows is refused: merging
    two histories would reuse ids and control numbers.
    """
    path = Path(source)
    migrated_from = _bring_source_up_to_date(path)
    target = Ledger(url=url)
    schema_version = target.migrate()
    with _read_only(path) as duck:
        tables = _source_tables(duck)
        counters = _source_counters(duck)
        connection = _connect(url, target.location)
        try:
            with connection.cursor() as cursor:
                _check_schema(cursor, tables, target.location)
                _lock(cursor, list(tables))
                _check_empty(cursor, list(tables), target.location)
                copied = tuple(
                    CopiedTable(name, _copy_table(duck, cursor, name, columns, batch_rows))
                    for name, columns in tables.items()
                )
                _check_counts(duck, cursor, copied)
                last_values = _advance_counters(cursor, list(tables), counters)
            connection.commit()
        except psycopg2.errors.LockNotAvailable:
            connection.rollback()
            raise LedgerCopyError(
                f"{target.location}: another process kept the ledger's tables there locked for over "
                f"{LOCK_TIMEOUT_SECONDS} s; stop the runs that use the PostgreSQL ledger, then copy again"
            ) from None
        except psycopg2.Error as error:
            connection.rollback()
            raise LedgerCopyError(
                f"{target.location}: the copy failed and was rolled back, no row was copied: {str(error).strip()}"
            ) from None
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
    return LedgerCopy(
        source=str(path),
        target=target.location,
        schema_version=schema_version,
        migrated_source_from=migrated_from,
        tables=copied,
        counters=last_values,
    )


# --- the source: a DuckDB file ------------------------------------------------------------------------


def _bring_source_up_to_date(path: Path) -> int | None:
    """Check the file is a ledger this release can read; migrate it if older. Returns the older version."""
    with _read_only(path) as duck:
        names = {row[0] for row in duck.execute(_TABLES_SQL).fetchall()}
        if SCHEMA_TABLE not in names:
            raise LedgerCopyError(f"{path}: a DuckDB database, but not a qbo-sftp ledger (no {SCHEMA_TABLE} table)")
        (version,) = duck.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA_TABLE}").fetchone() or (0,)
    if version > LATEST_SCHEMA_VERSION:
        raise LedgerTooNew(
            f"{path}: the ledger has schema version {version}, but this qbo-sftp only knows versions up to "
            f"{LATEST_SCHEMA_VERSION}; copy it with the release that wrote it (pip install -U qbo_sftp_assets)."
        )
    if version == LATEST_SCHEMA_VERSION:
        return None
    Ledger(path).migrate()
    return version


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the source, with errors that say what is wrong with the file."""
    # Never create a ledger here: a mistyped path is an error, not an empty history to copy.
    if not path.is_file():
        raise LedgerCopyError(f"{path}: no ledger file here; check --path or the config's ledger.path")
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        text = str(error)
        if "lock" in text.lower():
            raise LedgerCopyError(
                f"{path}: another process has the ledger open for writing ({text}). Stop the runs, "
                "the Dagster daemon and anything else using it, then copy it."
            ) from None
        raise LedgerCopyError(f"{path}: cannot read it as a DuckDB ledger: {text}") from None
    try:
        yield connection
    finally:
        connection.close()


_TABLES_SQL = (
    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
    "AND schema_name = current_schema() AND NOT temporary AND NOT internal ORDER BY table_name"
)


def _source_tables(duck: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every table of the ledger (from the catalog, so a table a later migration adds is copied too),
    with its columns in order; the migration bookkeeping excepted."""
    tables: dict[str, list[str]] = {}
    for (name,) in duck.execute(_TABLES_SQL).fetchall():
        if name == SCHEMA_TABLE:
            continue
        columns = duck.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = current_schema() AND table_name = ? ORDER BY column_index",
            [name],
        ).fetchall()
        tables[name] = [column for (column,) in columns]
    return tables


def _source_counters(duck: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Each sequence's last value handed out; it can be past the largest id still in a table."""
    rows = duck.execute(
        "SELECT sequence_name, last_value FROM duckdb_sequences() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND NOT temporary AND last_value IS NOT NULL"
    ).fetchall()
    return {name: int(value) for name, value in rows}


def _duck_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _batches(duck: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], size: int) -> Iterator[list[Any]]:
    result = duck.execute(f"SELECT {', '.join(_duck_name(c) for c in columns)} FROM {_duck_name(table)}")
    while rows := result.fetchmany(size):
        yield rows


# --- the target: a PostgreSQL database ------------------------------------------------------------------


def _connect(url: str, location: str) -> psycopg2.extensions.connection:
    try:
        return postgres.connect(url, application_name="qbo_sftp_assets ledger copy")
    except psycopg2.OperationalError as error:
        raise LedgerCopyError(f"{location}: cannot reach the database ({str(error).strip()})") from None


def _check_schema(cursor: Any, tables: dict[str, list[str]], location: str) -> None:
    """The migrated target must have each table and column of the source, or a table would be left behind."""
    cursor.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        (list(tables),),
    )
    present: dict[str, set[str]] = {}
    for table, column in cursor.fetchall():
        present.setdefault(table, set()).add(column)
    foreign = [t for t in tables if t not in present]
    if foreign:
        raise LedgerCopyError(
            f"the ledger file has tables the ledger's migrations do not make: {', '.join(foreign)}. Nothing was "
            "copied; drop them from the file (or move them yourself) and copy again."
        )
    missing = [f"{t}.{c}" for t, columns in tables.items() for c in columns if c not in present[t]]
    if missing:
        raise LedgerCopyError(
            f"{location}: the migrated target lacks {', '.join(missing)}, which the source has; "
            "the two were not built by the same migrations, so nothing was copied"
        )


def _lock(cursor: Any, tables: Sequence[str]) -> None:
    """Keep every other writer out until the copy commits (readers may go on); a run writing now is waited
    for, a while: a copy is done with the runs stopped."""
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'")
    cursor.execute(
        sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.SQL(", ").join(sql.Identifier(t) for t in tables))
    )


def _check_empty(cursor: Any, tables: Sequence[str], location: str) -> None:
    """Refuse a target holding ledger rows (the other server backends' tables in the database do not count)."""
    held = []
    for table in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        count = cursor.fetchone()[0]
        if count:
            held.append(f"{table} ({count:,} rows)")
    if held:
        raise LedgerCopyError(
            f"{location}: the PostgreSQL ledger already holds rows in {', '.join(held)}. The copy only fills an "
            "empty ledger: merging two histories would reuse ids and control numbers. Point the copy at a new "
            "database, or drop the ledger's tables there if those rows are expendable."
        )


def _copy_table(
    duck: duckdb.DuckDBPyConnection, cursor: Any, table: str, columns: Sequence[str], batch_rows: int
) -> int:
    """Copy one table's rows as they are: ids kept, BLOB as bytea, aware timestamps, Decimals and JSON text exact.

    COPY rather than INSERT: several times faster, which matters for months of postings.
    """
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    command = statement.as_string(cursor)
    copied = 0
    for rows in _batches(duck, table, columns, batch_rows):
        text = "".join("\t".join(_copy_field(table, value) for value in row) + "\n" for row in rows)
        cursor.copy_expert(command, io.StringIO(text))
        copied += len(rows)
    return copied


# COPY's text format: a backslash, tab, newline or carriage return inside a value is written escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(table: str, value: Any) -> str:
    """One value in COPY's text format, spelled so PostgreSQL reads back exactly what DuckDB held."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, int | Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()  # bytea's hex input `\x...`, its backslash escaped for COPY
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()  # a TIMESTAMPTZ arrives aware, so its offset is written: the same instant
    raise LedgerCopyError(f"{table}: cannot copy a {type(value).__name__} value ({value!r}) to PostgreSQL")


def _check_counts(duck: duckdb.DuckDBPyConnection, cursor: Any, copied: Sequence[CopiedTable]) -> None:
    for table in copied:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table.name)))
        written = cursor.fetchone()[0]
        (held,) = duck.execute(f"SELECT count(*) FROM {_duck_name(table.name)}").fetchone() or (0,)
        if not written == held == table.rows:
            raise LedgerCopyError(
                f"{table.name}: the source holds {held} rows, {table.rows} were read and {written} landed; "
                "nothing was committed"
            )


# Each sequence feeding a column of these tables: by a `DEFAULT nextval(...)` (what the migrations
# write, as DuckDB has no identity columns) or owned by it (serial / identity).
_TABLE_SEQUENCES_SQL = """
SELECT tab.relname, att.attname, seq.oid, seq.relname
FROM pg_attrdef def
JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = def.oid
    AND dep.refclassid = 'pg_class'::regclass
JOIN pg_class seq ON seq.oid = dep.refobjid AND seq.relkind = 'S'
JOIN pg_class tab ON tab.oid = def.adrelid
JOIN pg_attribute att ON att.attrelid = def.adrelid AND att.attnum = def.adnum
WHERE tab.relnamespace = current_schema()::regnamespace AND tab.relname = ANY(%(tables)s)
UNION
SELECT tab.relname, att.attname, seq.oid, seq.relname
FROM pg_depend dep
JOIN pg_class seq ON seq.oid = dep.objid AND dep.classid = 'pg_class'::regclass AND seq.relkind = 'S'
JOIN pg_class tab ON tab.oid = dep.refobjid AND dep.refclassid = 'pg_class'::regclass
JOIN pg_attribute att ON att.attrelid = tab.oid AND att.attnum = dep.refobjsubid
WHERE dep.deptype IN ('a', 'i') AND tab.relnamespace = current_schema()::regnamespace
    AND tab.relname = ANY(%(tables)s)
"""


def _advance_counters(cursor: Any, tables: Sequence[str], source_counters: dict[str, int]) -> dict[str, int]:
    """Set each sequence so its next value is past every id copied and every value the source handed out.

    setval is not undone by a rollback; a failed copy leaves a counter ahead, which only skips ids.
    """
    cursor.execute(_TABLE_SEQUENCES_SQL, {"tables": list(tables)})
    floors: dict[str, int] = {}
    oids: dict[str, int] = {}
    for table, column, oid, name in cursor.fetchall():
        cursor.execute(sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), sql.Identifier(table)))
        largest = cursor.fetchone()[0]
        oids[name] = oid
        floors[name] = max(floors.get(name, 0), int(largest or 0))
    if source_counters:
        cursor.execute(
            "SELECT relname, oid FROM pg_class WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace "
            "AND relname = ANY(%s)",
            (list(source_counters),),
        )
        oids.update(dict(cursor.fetchall()))
        lost = sorted(set(source_counters) - set(oids))
        if lost:
            raise LedgerCopyError(
                f"the target has no sequence {', '.join(lost)}, which the source counts ids with; nothing was committed"
            )
        for name, value in source_counters.items():
            floors[name] = max(floors.get(name, 0), value)
    last_values: dict[str, int] = {}
    for name, floor in floors.items():
        cursor.execute("SELECT coalesce(pg_sequence_last_value(%s::regclass), 0)", (oids[name],))
        value = max(floor, int(cursor.fetchone()[0]))
        if value > 0:
            cursor.execute("SELECT setval(%s::regclass, %s, true)", (oids[name], value))
            last_values[name] = value
    return last_values
