"""Several processes (Dagster runs are processes) stay inside one realm's QBO limits together.

Proven for both shared budgets: the SQLite file beside the token file (one host) and the PostgreSQL
table (every host); `budget_url` is None for the first.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from qbo_sftp_assets.config import QboLimits
from qbo_sftp_assets.qbo.client import QboClient
from qbo_sftp_assets.qbo.faults import QboThrottled
from qbo_sftp_assets.qbo.limits import SHARED_BUDGET_FILE, PostgresRealmBudget, SharedRealmBudget
from qbo_sftp_assets.qbo.tokens import TokenStore
from qbo_sftp_assets_tests.fixtures_qbo_client import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    local_company,
    seed_tokens,
)

PROCESSES = 4
REQUESTS_EACH = 30
LIMITS = QboLimits(requests_per_minute=40, max_in_flight=3, max_retries=0, read_timeout_seconds=5.0)
CLOCK_SPEED = 30.0  # a 2-second minute


@pytest.fixture(params=["sqlite", "postgres"])
def budget_url(request: pytest.FixtureRequest) -> str | None:
    """None: the SQLite budget beside the token file; else the PostgreSQL database of the shared budget."""
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else None


def send_requests(base_url: str, token_path: str, start_at: float, budget_url: str | None) -> tuple[int, int]:
    """One worker process: wait for the common start, then send its requests; (ok, throttled)."""
    client = QboClient(
        local_company(base_url, limits=LIMITS),
        TokenStore(token_path),
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        clock_speed=CLOCK_SPEED,
        shared_budget_url=budget_url,
    )
    time.sleep(max(0.0, start_at - time.time()))
    ok = throttled = 0
    with client:
        for _ in range(REQUESTS_EACH):
            try:
                client.preferences()
                ok += 1
            except QboThrottled:
                throttled += 1
    return ok, throttled


def test_four_processes_share_one_realm_budget_and_get_no_429(qbo_sandbox_factory, tmp_path: Path, budget_url):
    sandbox = qbo_sandbox_factory(
        requests_per_minute=LIMITS.requests_per_minute, max_in_flight=LIMITS.max_in_flight, clock_speed=CLOCK_SPEED
    )
    token_path = tmp_path / "tokens.json"
    seed_tokens(sandbox, TokenStore(token_path))
    start_at = time.time() + 3.0  # past every worker's start-up, so they really compete
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(send_requests, sandbox.base_url, str(token_path), start_at, budget_url)
            for _ in range(PROCESSES)
        ]
        results = [future.result(timeout=120) for future in futures]
    elapsed = time.time() - start_at

    assert sum(ok for ok, _ in results) == PROCESSES * REQUESTS_EACH
    assert sum(throttled for _, throttled in results) == 0
    assert sandbox.state.stats()["realms"][sandbox.realm_id]["throttled"] == 0
    # 120 requests at 40 per 2-second minute cannot finish in less than two full minutes.
    minute = 60.0 / CLOCK_SPEED
    assert elapsed >= (PROCESSES * REQUESTS_EACH / LIMITS.requests_per_minute - 1) * minute
    # The budget is where the client was told to keep it, not in both places.
    assert (tmp_path / SHARED_BUDGET_FILE).exists() == (budget_url is None)


def open_budget(tmp_path: Path, budget_url: str | None, limits: QboLimits) -> SharedRealmBudget | PostgresRealmBudget:
    if budget_url is None:
        return SharedRealmBudget(tmp_path / "budget.sqlite", "realm", limits, clock_speed=600.0)
    return PostgresRealmBudget(budget_url, "realm", limits, clock_speed=600.0)


def test_a_request_left_in_flight_by_a_dead_process_is_released_at_its_deadline(tmp_path: Path, budget_url):
    limits = QboLimits(requests_per_minute=100, max_in_flight=1, connect_timeout_seconds=0.1, read_timeout_seconds=0.1)
    dead = open_budget(tmp_path, budget_url, limits)
    dead.acquire()  # never settled: its process "died" holding the only in-flight slot
    alive = open_budget(tmp_path, budget_url, limits)
    started = time.monotonic()
    row, _ = alive.acquire()
    waited = time.monotonic() - started
    alive.settle(row)
    # Released after the longest a request may take (connect + 2 × read = 0.3 s), not never.
    assert 0.25 <= waited < 5.0
