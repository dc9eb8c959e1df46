"""Bills through the batch path against the sandbox with QBO's real limits on a 10x clock, vs the limits' ceiling.

`BENCH_QBO_BILLS` sets the count (default 3,000).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from qbo_sftp_assets.config import Company, QboLimits
from qbo_sftp_assets.qbo.client import BATCH_MAX_ITEMS, BatchItem, QboClient
from qbo_sftp_assets.qbo.faults import QboThrottled
from qbo_sftp_assets.qbo.tokens import TokenGrant, TokenRecord, TokenStore
from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox

CLOCK_SPEED = 10.0
REALM = "9130357992221046"


def run() -> None:
    bills = int(os.environ.get("BENCH_QBO_BILLS", "3000"))
    limits = QboLimits()  # QBO's documented ceilings: 500 req/min, 10 in flight, 40 batch/min
    settings = SandboxSettings(
        clock_speed=CLOCK_SPEED,
        requests_per_minute=limits.requests_per_minute,
        max_in_flight=limits.max_in_flight,
        batch_requests_per_minute=limits.batch_requests_per_minute,
    )
    with start_sandbox(settings) as sandbox, tempfile.TemporaryDirectory() as workdir:
        store = TokenStore(Path(workdir) / "tokens.json")
        grant = TokenGrant.from_json(sandbox.state.issue_tokens(REALM))
        store.put(TokenRecord.from_grant(REALM, grant))
        company = Company(realm_id=REALM, environment="local", base_url=sandbox.base_url, limits=limits)
        client = QboClient(
            company,
            store,
            settings.client_id,
            settings.client_secret,
            clock_speed=CLOCK_SPEED,
            throttle_wait_seconds=60.0 / CLOCK_SPEED,
        )
        with client:
            vendor = next(client.query("SELECT * FROM Vendor"))["Id"]
            account = next(client.query("SELECT * FROM Account WHERE Name = 'Shop Supplies'"))["Id"]
            run_tag = uuid.uuid4().hex[:6]
            items = [BatchItem("create", "Bill", bill(vendor, account, f"B{run_tag}-{n}")) for n in range(bills)]
            writes_before = sandbox.state.stats()["realms"][REALM]["writes"].get("Bill", 0)
            started = time.perf_counter()
            results = client.batch(items, request_id=str(uuid.uuid4()), max_workers=8)
            elapsed = time.perf_counter() - started
            stats = sandbox.state.stats()["realms"][REALM]
            stored = client.count("Bill", f"DocNumber LIKE 'B{run_tag}-%'")

    surfaced_429 = sum(isinstance(r.error, QboThrottled) for r in results)
    failed = sum(not r.ok for r in results)
    created = stats["writes"].get("Bill", 0) - writes_before
    duplicates = max(0, created - bills) + max(0, stored - bills)
    sandbox_minutes = elapsed * CLOCK_SPEED / 60.0
    rate = bills / sandbox_minutes
    ceiling = min(limits.batch_requests_per_minute * BATCH_MAX_ITEMS, limits.requests_per_minute * BATCH_MAX_ITEMS)
    requests = math.ceil(bills / BATCH_MAX_ITEMS)
    # A sliding window lets a minute's 40 batch requests go at once, so the fastest schedule the limits
    # allow sends group k of 40 at minute k: the last group starts after (groups - 1) minutes.
    ideal_minutes = math.ceil(requests / limits.batch_requests_per_minute) - 1
    absorbed = client.stats["throttled"]
    print(f"   bills created via batch:          {bills} in {requests} batch requests")
    print(f"   elapsed:                          {elapsed:.1f} s real = {sandbox_minutes:.2f} sandbox minutes")
    print(f"   achieved:                         {rate:,.0f} bills/sandbox-minute")
    print(f"   nominal ceiling (40/min x 30):    {ceiling:,} bills/min -> ratio {rate / ceiling:.2f}")
    if ideal_minutes:
        ratio = ideal_minutes / sandbox_minutes
        print(f"   fastest schedule allowed:         {ideal_minutes} min -> achieved/ceiling ratio {ratio:.2f}")
    else:
        print("   fastest schedule allowed:         one window (too few bills for a rate; use >= 1,230)")
    print(f"   429s surfaced to the caller:      {surfaced_429} (absorbed by retries: {absorbed:.0f})")
    print(f"   duplicates in the sandbox:        {duplicates} (sandbox writes {created}, stored {stored})")
    print(f"   failed items:                     {failed}")


def bill(vendor: str, account: str, doc_number: str) -> dict:
    return {
        "VendorRef": {"value": vendor},
        "DocNumber": doc_number,
        "Line": [
            {
                "Amount": Decimal("42.50"),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account}},
            }
        ],
    }


if __name__ == "__main__":
    run()
