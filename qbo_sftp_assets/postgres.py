"""Connections and schema creation for the PostgreSQL server backends (token store, limiter, webhook spool).

Plain psycopg2 (dagster-postgres already ships it); no Dagster here, so every layer may use it.
"""

from __future__ import annotations

import hashlib
import re

import psycopg2
import psycopg2.extensions

# SQLAlchemy spells the driver into the scheme (`postgresql+psycopg2://`); libpq knows only the bare scheme.
_DRIVER_IN_SCHEME = re.compile(r"^(postgres(?:ql)?)\+\w+://")


def libpq_url(url: str) -> str:
    """The URL as libpq takes it: a SQLAlchemy `postgresql+driver://` scheme becomes `postgresql://`."""
    return _DRIVER_IN_SCHEME.sub(r"\1://", url)


def connect(url: str, *, application_name: str = "qbo_sftp_assets") -> psycopg2.extensions.connection:
    """A new connection (a transaction opens with the first statement; the caller commits)."""
    return psycopg2.connect(libpq_url(url), application_name=application_name, connect_timeout=30)


def ensure_schema(connection: psycopg2.extensions.connection, name: str, ddl: str) -> None:
    """Run `CREATE ... IF NOT EXISTS` DDL once per database, safely when many processes start at once.

    Two sessions running the same `CREATE TABLE IF NOT EXISTS` concurrently can both pass the check and
    one fails on the catalog's unique index; a transaction-scoped advisory lock per schema name
    serializes them.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key(f"schema:{name}"),))
        cursor.execute(ddl)
    connection.commit()


def advisory_key(text: str) -> int:
    """A stable signed 64-bit advisory lock key for a name (the same in every process and host)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def redacted(url: str) -> str:
    """The URL for messages and reprs: user, host, port and database, never the password."""
    try:
        parts = psycopg2.extensions.parse_dsn(libpq_url(url))
    except psycopg2.ProgrammingError:
        return "postgresql://(unparsable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"
