"""The webhook receiver in its own process: signed events per second into the spool, and response times
at Intuit-like steady load (goal: p99 < 100 ms at 200 events/s).

`BENCH_WEBHOOKS_SECONDS` sets each phase's length (default 10). The spool is a SQLite file on local
disk with `synchronous=FULL` (each 200 follows an fsync).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from qbo_sftp_assets.qbo.webhooks import signature_for
from qbo_sftp_assets.webhooks import Spool

REALM = "9130357992221046"
VERIFIER = "bench-verifier-token"
STEADY_RATE = 200.0
SATURATION_CONNECTIONS = 16
GOAL_P99_MS = 100.0
SERVER = """
import os, sys
from pathlib import Path
from qbo_sftp_assets.webhooks import ReceiverSettings, serve_receiver
settings = ReceiverSettings(spool_path=Path(sys.argv[1]), verifiers={sys.argv[2]: os.environ["BENCH_VERIFIER"]})
serve_receiver(settings, port=int(sys.argv[3]))
"""


def signed_event(entity_id: int) -> tuple[bytes, dict[str, str]]:
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    body = (
        f'[{{"specversion":"1.0","id":"{uuid.uuid4()}","source":"intuit.bench","type":"qbo.bill.updated.v1",'
        f'"datacontenttype":"application/json","time":"{moment}123Z","intuitentityid":"{entity_id}",'
        f'"intuitaccountid":"{REALM}","data":{{}}}}]'
    ).encode()
    headers = {"content-type": "application/cloudevents+json", "intuit-signature": signature_for(body, VERIFIER)}
    return body, headers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to tell a slow receiver from a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class _Connections:
    """Keep-alive HTTP/1.1 connections writing pre-built requests: the load generator must cost far less
    than the receiver (httpx's async client spent 8 ms of CPU per request here, more than the receiver)."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def __aenter__(self) -> _Connections:
        for _ in range(self.count):
            self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
        return self

    async def __aexit__(self, *exc: object) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()

    async def post(self, request: bytes) -> int:
        reader, writer = await self.idle.get()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        self.idle.put_nowait((reader, writer))
        return status


def request_bytes(entity_id: int) -> bytes:
    body, headers = signed_event(entity_id)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (
        f"POST /webhooks/qbo HTTP/1.1\r\nhost: 127.0.0.1\r\n{head}content-length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _steady(port: int, rate: float, seconds: float, first_id: int) -> tuple[list[float], int]:
    """Open loop: request i is due at start + i/rate; its time counts from when it was due."""
    requests = [request_bytes(first_id + index) for index in range(int(rate * seconds))]
    latencies: list[float] = []
    failures = 0
    async with _Connections(port, 32) as connections:

        async def one(request: bytes, due: float) -> None:
            nonlocal failures
            if await connections.post(request) == 200:
                latencies.append(time.perf_counter() - due)
            else:
                failures += 1

        start = time.perf_counter() + 0.1
        tasks = []
        for index, request in enumerate(requests):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(request, due)))
        await asyncio.gather(*tasks)
    return latencies, failures


async def _saturate(port: int, connections: int, seconds: float, first_id: int) -> tuple[int, float]:
    accepted = 0
    requests = [request_bytes(first_id + index) for index in range(int(seconds * 3000))]
    async with _Connections(port, connections) as pool:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal accepted
            while time.perf_counter() < stop and requests:
                if await pool.post(requests.pop()) == 200:
                    accepted += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return accepted, time.perf_counter() - started


def run() -> None:
    seconds = float(os.environ.get("BENCH_WEBHOOKS_SECONDS", "10"))
    port = _free_port()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_WEBHOOKS_DIR")) as workdir:
        spool_path = Path(workdir) / "webhooks.sqlite"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(spool_path), REALM, str(port)],
            env={**os.environ, "BENCH_VERIFIER": VERIFIER},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the webhook receiver did not start")
                time.sleep(0.1)
            asyncio.run(_steady(port, 50, 1.0, 0))  # warm up connections and the spool
            cpu_before, client_before = _cpu_seconds(server.pid), time.process_time()
            latencies, failures = asyncio.run(_steady(port, STEADY_RATE, seconds, 100_000))
            cpu_steady, client_steady = _cpu_seconds(server.pid) - cpu_before, time.process_time() - client_before
            accepted, elapsed = asyncio.run(_saturate(port, SATURATION_CONNECTIONS, seconds, 1_000_000))
            counters = httpx.get(f"{base}/stats", timeout=5).json()
        finally:
            server.terminate()
            server.wait(10)
        stored = Spool(spool_path).count()

    milliseconds = [latency * 1000 for latency in latencies]
    p99 = _percentile(milliseconds, 0.99)
    print(f"   steady {STEADY_RATE:.0f} signed events/s for {seconds:.0f} s (open loop, one event per POST):")
    print(
        f"     {len(latencies)} accepted, {failures} refused; response p50 {statistics.median(milliseconds):.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(milliseconds):.1f} ms  "
        f"(goal p99 < {GOAL_P99_MS:.0f} ms: {'met' if p99 < GOAL_P99_MS else 'MISSED'})"
    )
    print(
        f"     receiver CPU {cpu_steady / max(1, len(latencies)) * 1000:.2f} ms per event, load generator "
        f"{client_steady / max(1, len(latencies)) * 1000:.2f} ms; machine load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"   saturated, {SATURATION_CONNECTIONS} connections: {accepted / elapsed:,.0f} signed events/s accepted "
        f"into the spool ({accepted} in {elapsed:.1f} s)"
    )
    print(
        f"   spool rows {stored} (every 200 stored: {'yes' if stored == counters['events']['stored'] else 'NO'}); "
        f"refused {counters['refused']}"
    )
