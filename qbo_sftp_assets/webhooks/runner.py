"""Run the receiver in a background thread (`start_receiver`: tests, benches, `dev`) or blocking (`serve_receiver`)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import uvicorn

from qbo_sftp_assets.webhooks.receiver import WEBHOOK_PATH, ReceiverSettings, WebhookReceiver, create_receiver_app

STARTUP_TIMEOUT = 10.0


class ReceiverStartError(RuntimeError):
    """The receiver thread did not start listening in time."""


@dataclass
class RunningReceiver:
    """A started receiver: where it listens, and its live handlers (counters, spool)."""

    base_url: str
    receiver: WebhookReceiver

    @property
    def webhook_url(self) -> str:
        """The URL to register in the Intuit app (behind the public HTTPS proxy in production)."""
        return f"{self.base_url}{WEBHOOK_PATH}"


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def _server(settings: ReceiverSettings, now: Callable[[], datetime] | None) -> tuple[uvicorn.Server, WebhookReceiver]:
    app, receiver = create_receiver_app(settings, now=now)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    return uvicorn.Server(config), receiver


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def start_receiver(
    settings: ReceiverSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    now: Callable[[], datetime] | None = None,
) -> Iterator[RunningReceiver]:
    """Serve on `host:port` (0 picks a free port) in a thread until the block ends."""
    sock = _bind(host, port)
    server, receiver = _server(settings, now)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="qbo-webhooks", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise ReceiverStartError("the webhook receiver did not start")
        time.sleep(0.005)
    try:
        yield RunningReceiver(_url(host, sock.getsockname()[1]), receiver)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        sock.close()


def serve_receiver(
    settings: ReceiverSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8085,
    on_ready: Callable[[RunningReceiver], None] | None = None,
) -> None:
    """Serve in the calling thread until interrupted; `on_ready` gets the bound address first."""
    sock = _bind(host, port)
    server, receiver = _server(settings, None)
    try:
        if on_ready is not None:
            on_ready(RunningReceiver(_url(host, sock.getsockname()[1]), receiver))
        server.run(sockets=[sock])
    finally:
        sock.close()
