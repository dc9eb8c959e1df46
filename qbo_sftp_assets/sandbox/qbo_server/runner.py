"""Run the sandbox: in a background thread for tests (`start_sandbox`) or blocking for the CLI (`serve`)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn

from qbo_sftp_assets.sandbox.qbo_server.app import create_app
from qbo_sftp_assets.sandbox.qbo_server.settings import SandboxSettings
from qbo_sftp_assets.sandbox.qbo_server.state import SandboxState

STARTUP_TIMEOUT = 10.0


class SandboxStartError(RuntimeError):
    """The server thread did not start listening in time."""


@dataclass
class RunningSandbox:
    """A started sandbox: where it listens, how it was configured, and its live state."""

    base_url: str
    settings: SandboxSettings
    state: SandboxState

    @property
    def api_url(self) -> str:
        """The `.../v3` base that python-quickbooks' `api_url_v3` expects."""
        return f"{self.base_url}/v3"

    @property
    def discovery_url(self) -> str:
        """Pass as intuit-oauth's `environment` to point AuthClient at this server."""
        return f"{self.base_url}/.well-known/openid_sandbox_configuration"

    @property
    def realm_ids(self) -> list[str]:
        return [spec.realm_id for spec in self.settings.realms]

    @property
    def realm_id(self) -> str:
        return self.realm_ids[0]


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def build_server(settings: SandboxSettings, state: SandboxState) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings, state),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


@contextlib.contextmanager
def start_sandbox(settings: SandboxSettings | None = None) -> Iterator[RunningSandbox]:
    """Serve on a free loopback port (or `settings.port`) in a thread until the block ends."""
    settings = settings or SandboxSettings()
    state = SandboxState(settings)
    sock = bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    server = build_server(settings, state)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="qbo-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise SandboxStartError("the sandbox QBO server did not start")
        time.sleep(0.005)
    try:
        yield RunningSandbox(f"http://{settings.host}:{port}", settings, state)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        sock.close()


def serve(settings: SandboxSettings, on_ready: Callable[[RunningSandbox], None] | None = None) -> None:
    """Serve in the calling thread until interrupted; `on_ready` gets the bound address first."""
    state = SandboxState(settings)
    sock = bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    if on_ready is not None:
        on_ready(RunningSandbox(f"http://{settings.host}:{port}", settings, state))
    try:
        build_server(settings, state).run(sockets=[sock])
    finally:
        sock.close()
