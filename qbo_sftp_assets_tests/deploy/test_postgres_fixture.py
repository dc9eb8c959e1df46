"""The private PostgreSQL cluster the server-backend tests run on: it starts as root, isolates tests, and stops."""

from __future__ import annotations

import os

import psycopg2

from qbo_sftp_assets_tests.fixtures_postgres import PostgresCluster, start_postgres


def test_each_test_gets_an_empty_database_on_loopback(postgres_cluster: PostgresCluster, postgres_url: str) -> None:
    connection = psycopg2.connect(postgres_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database(), inet_server_addr()::text, current_setting('server_version_num')")
            database, address, version = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            (tables,) = cursor.fetchone()
    finally:
        connection.close()
    assert postgres_url.endswith(f"/{database}") and database != "postgres"
    assert address.startswith("127.0.0.1")
    assert int(version) >= 150000
    assert tables == 0


def test_a_cluster_started_and_stopped_leaves_no_server_or_folder() -> None:
    cluster = start_postgres()
    directory, pid = cluster.directory, cluster.process.pid
    # The server runs as an unprivileged account: PostgreSQL refuses root.
    owner = os.stat(f"/proc/{pid}").st_uid
    assert owner != 0
    cluster.stop()
    assert cluster.process.poll() is not None
    assert not directory.exists()
