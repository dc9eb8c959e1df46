"""A private PostgreSQL cluster for the tests: `initdb` in a temp folder, a free loopback port, stopped at the end.

The server refuses to run as root (as CI does), so under root the cluster's folder belongs to the
`postgres` account the Debian package creates (or `nobody`) and initdb/postgres run as that account.
Each test gets its own database on the one session cluster, so the suite pays for initdb once.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from qbo_sftp_assets.qbo.tokens import AnyTokenStore, PostgresTokenStore, TokenStore
from qbo_sftp_assets_tests.sshd_server import _die_with_parent, free_port

# Debian's postgresql-NN packages keep the server binaries off PATH, under /usr/lib/postgresql/NN/bin.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_ACCOUNTS = ("postgres", "nobody")
SUPERUSER = "qbo"
START_TIMEOUT = 60.0


def find_postgres_bin() -> Path | None:
    """The folder holding initdb and postgres (newest installed major version first), or None."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).parent
    for folder in sorted(glob.glob(POSTGRES_BIN_GLOB), key=lambda path: int(Path(path).parent.name), reverse=True):
        if os.access(Path(folder) / "initdb", os.X_OK) and os.access(Path(folder) / "postgres", os.X_OK):
            return Path(folder)
    return None


def _server_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in SERVER_ACCOUNTS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root without a `postgres` or `nobody` account to run PostgreSQL as")


@dataclass
class PostgresCluster:
    """A running private cluster; `url(db)` is a libpq URL for one of its databases (trust auth, loopback)."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    log_file: Path
    host: str = "127.0.0.1"
    user: str = SUPERUSER

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{secrets.token_hex(6)}"
        connection = psycopg2.connect(self.url())
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, close sessions), then remove the folder."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


def _as_account(account: pwd.struct_passwd | None) -> dict[str, object]:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def start_postgres(*, settings: dict[str, str] | None = None) -> PostgresCluster:
    """initdb a cluster in a new temp folder and start it on a free 127.0.0.1 port; wait until it answers."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed; run `make os-packages` (Debian package postgresql)")
    account = _server_account()
    # Not under pytest's 0700 temp root: the server account must be able to reach its folder.
    directory = Path(tempfile.mkdtemp(prefix="qbo-pg-"))
    data, sockets, log_file = directory / "data", directory / "sockets", directory / "postgres.log"
    sockets.mkdir()
    log_file.touch()
    if account is not None:
        for path in (directory, sockets, log_file):
            os.chown(path, account.pw_uid, account.pw_gid)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    env.pop("PGDATA", None)
    initdb = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        env=env,
        cwd=directory,
        **_as_account(account),  # type: ignore[arg-type]
    )
    if initdb.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {initdb.stderr.strip() or initdb.stdout.strip()}")
    # Durability is not under test here; without fsync the cluster is several times faster on CI disks.
    options = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(sockets),
        "max_connections": "200",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        **(settings or {}),
    }
    last_error = ""
    for _attempt in range(5):
        port = free_port()
        arguments = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
        for key, value in options.items():
            arguments += ["-c", f"{key}={value}"]
        with log_file.open("ab") as log:
            process = subprocess.Popen(
                arguments,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=directory,
                # Runs after the uid change (which would clear it): SIGTERM the server if pytest dies.
                preexec_fn=_die_with_parent,
                **_as_account(account),  # type: ignore[arg-type]
            )
        cluster = PostgresCluster(directory=directory, port=port, process=process, log_file=log_file)
        if _wait_ready(cluster):
            return cluster
        last_error = cluster.log()[-2000:]
        if process.poll() is None:
            process.kill()
            process.wait(10)
    shutil.rmtree(directory, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start: {last_error}")


def _wait_ready(cluster: PostgresCluster) -> bool:
    """Wait until the server accepts a connection (or exits, e.g. because another process took the port)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if cluster.process.poll() is not None:
            return False
        try:
            psycopg2.connect(cluster.url(), connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One private PostgreSQL cluster for the whole session."""
    if find_postgres_bin() is None:
        pytest.fail("PostgreSQL is not installed: run `make os-packages` (Debian package postgresql)")
    cluster = start_postgres()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty database on the session cluster (one per test, so tests never see each other's rows)."""
    return postgres_cluster.create_database()


# --- the state backends over both storages ------------------------------------------------------------

TOKEN_BACKENDS = ("file", "postgres")


def token_store_spec(store: AnyTokenStore) -> tuple[str, str]:
    """What a spawned process needs to open the same store: (backend, path or URL)."""
    if isinstance(store, PostgresTokenStore):
        return "postgres", store.url
    return "file", str(store.path)


def open_token_store_spec(spec: tuple[str, str]) -> AnyTokenStore:
    """Another handle on the store a spec names (another process's view of it)."""
    backend, where = spec
    return PostgresTokenStore(where) if backend == "postgres" else TokenStore(where)


@pytest.fixture(params=TOKEN_BACKENDS)
def token_store(request: pytest.FixtureRequest, tmp_path: Path) -> AnyTokenStore:
    """An empty token store, once as the JSON file and once on PostgreSQL (the cluster starts only for that one)."""
    if request.param == "postgres":
        return PostgresTokenStore(request.getfixturevalue("postgres_url"))
    return TokenStore(tmp_path / "tokens.json")
