"""CSV bills through read → map → validate → post against the sandbox at QBO's real limits on a 10x clock.

`BENCH_POSTING_BILLS` sets the count (default 1,000; 3 lines each), spread over files of 50 bills.

The ceiling: QBO allows 40 batch requests a minute per realm in a sliding window, so a company that
has been busy (the steady state of a stream of partner files) gets one batch slot every 1.5 s.
The bench first fills the window evenly with small batch requests, as that steady state would have,
then times the whole pipeline. The fastest schedule the limits allow sends batch k when slot k
opens; the ratio is that schedule's duration over the pipeline's (1.0 = the limits are the only cost).
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import time
import uuid
from pathlib import Path

from qbo_sftp_assets.config import Company, Partner, QboLimits
from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.files import read_file
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.mapping import ReferenceData, plan_postings, refresh_reference
from qbo_sftp_assets.pipeline.posting import FilePostings, post_files
from qbo_sftp_assets.qbo.client import BATCH_MAX_ITEMS, BatchItem, QboClient
from qbo_sftp_assets.qbo.tokens import TokenGrant, TokenRecord, TokenStore
from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox
from qbo_sftp_assets.validation import validate_plans

CLOCK_SPEED = 10.0
REALM = "9130357992221046"
BILLS_PER_FILE = 50
PARTNER = "legacy_erp"
HEADER = "Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount\r\n"


def partner_config() -> Partner:
    return Partner.model_validate(
        {
            "company": "northwind",
            "sftp": {"host": "127.0.0.1", "user": "bench", "auth": {"password_env": "UNUSED"}},
            "inbound": [{"pattern": "*.csv", "format": "csv", "layout": "bills_csv"}],
        }
    )


def write_files(folder: Path, bills: int, tag: str) -> list[Path]:
    paths = []
    for start in range(0, bills, BILLS_PER_FILE):
        rows = [HEADER]
        for n in range(start, min(start + BILLS_PER_FILE, bills)):
            for line, (account, amount) in enumerate((("5000", "410.00"), ("5200", "38.50"), ("6100", "12.25"))):
                rows.append(
                    f"100871,Precision Machining,{tag}-{n},2026-11-18,2026-12-18,{account},part {line},{amount}\r\n"
                )
        path = folder / f"AP_{tag}_{start // BILLS_PER_FILE:03d}.csv"
        path.write_text("".join(rows), encoding="utf-8")
        paths.append(path)
    return paths


def run_pipeline(client: QboClient, ledger: Ledger, paths: list[Path], partner: Partner) -> dict[str, list]:
    reference = ReferenceData.load(ledger, REALM)
    layout = builtin_layouts()["bills_csv"]
    plans, documents = [], []
    for path in paths:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        result = read_file(path, "csv", layout, name=path.name)
        plans.append(
            plan_postings(
                result.documents,
                partner_name=PARTNER,
                partner=partner,
                reference=reference,
                file_name=path.name,
                file_sha256=sha,
            )
        )
        documents.append(result.documents)
    validated = validate_plans(plans, reference)
    files = [
        FilePostings(PARTNER, REALM, plan.file_name, plan.file_sha256, checked, docs)
        for plan, checked, docs in zip(plans, validated, documents, strict=True)
    ]
    return post_files(client, ledger, files, policies={PARTNER: partner.posting})


def fill_window_evenly(client: QboClient, limits: QboLimits) -> None:
    """One small batch request per slot, spread over a minute: the window a steadily busy company has."""
    interval = 60.0 / CLOCK_SPEED / limits.batch_requests_per_minute
    for n in range(limits.batch_requests_per_minute):
        started = time.perf_counter()
        client.batch([BatchItem("query", query="SELECT * FROM Term")], request_id=f"warm-{uuid.uuid4().hex[:20]}-{n}")
        time.sleep(max(0.0, interval - (time.perf_counter() - started)))


def run() -> None:
    bills = int(os.environ.get("BENCH_POSTING_BILLS", "1000"))
    report = measure(bills)
    for line in report["lines"]:
        print(f"   {line}")
    if not report["ok"]:
        raise BenchCheckFailed(", ".join(report["failed"]))


def measure(bills: int, *, fill_window: bool = True) -> dict:
    limits = QboLimits()  # QBO's documented ceilings: 500 req/min, 10 in flight, 40 batch/min
    settings = SandboxSettings(
        clock_speed=CLOCK_SPEED,
        requests_per_minute=limits.requests_per_minute,
        max_in_flight=limits.max_in_flight,
        batch_requests_per_minute=limits.batch_requests_per_minute,
    )
    partner = partner_config()
    with start_sandbox(settings) as sandbox, tempfile.TemporaryDirectory() as workdir:
        store = TokenStore(Path(workdir) / "tokens.json")
        store.put(TokenRecord.from_grant(REALM, TokenGrant.from_json(sandbox.state.issue_tokens(REALM))))
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
            ledger = Ledger(Path(workdir) / "ledger.duckdb")
            ledger.migrate()
            refresh_reference(client, ledger, REALM)
            tag = f"P{uuid.uuid4().hex[:5]}"
            paths = write_files(Path(workdir), bills, tag)
            if fill_window:
                fill_window_evenly(client, limits)
            window_filled_at = time.perf_counter()
            started = time.perf_counter()
            outcomes = run_pipeline(client, ledger, paths, partner)
            elapsed = time.perf_counter() - started
            stats = sandbox.state.stats()["realms"][REALM]
            stored = client.count("Bill", f"DocNumber LIKE '{tag}-%'")
    every = [o for file_outcomes in outcomes.values() for o in file_outcomes]
    posted = sum(o.status.value == "posted" for o in every)
    requests = math.ceil(bills / BATCH_MAX_ITEMS)
    slot = 60.0 / CLOCK_SPEED / limits.batch_requests_per_minute
    # Slot k opens when the k-th warm-up request leaves the window; the last batch goes at slot requests-1.
    fastest = (requests - 1) * slot - (started - window_filled_at) if fill_window else 0.0
    ratio = fastest / elapsed if fastest > 0 else None
    duplicates = stats["duplicate_documents_stored"]
    lines = [
        f"bills: {bills} in {len(paths)} CSV files ({bills * 3} lines), {requests} full batch requests",
        f"elapsed read→map→validate→post: {elapsed:.2f} s real = {elapsed * CLOCK_SPEED / 60:.2f} sandbox minutes",
    ]
    if ratio is not None:
        lines.append(
            f"RATIO vs ceiling: {ratio:.2f}  (fastest schedule the limits allow in steady state: "
            f"{fastest:.2f} s; goal >= 0.90)"
        )
    # bench_qbo's figures, for comparison: its burst ceiling needs >= 41 requests (n/a here), and the
    # literal rate against 40 batch requests/min x 30 items.
    sandbox_minutes = elapsed * CLOCK_SPEED / 60.0
    nominal = limits.batch_requests_per_minute * BATCH_MAX_ITEMS
    lines.append(
        f"literal ratio (as bench_qbo prints it): {bills / sandbox_minutes / nominal:.2f}  "
        f"({bills / sandbox_minutes:,.0f} bills/sandbox-min vs {nominal:,})"
    )
    lines.append(f"posted {posted}, stored in QBO {stored}, duplicates stored {duplicates}")
    checks = {
        "every bill posted": posted == bills,
        "0 lost documents (a COUNT query finds every bill)": stored == bills,
        "0 duplicates (counted in the sandbox)": duplicates == 0,
    }
    lines += [f"check: {name:<52} {'ok' if passed else 'FAILED'}" for name, passed in checks.items()]
    failed = [name for name, passed in checks.items() if not passed]
    return {"lines": lines, "ok": not failed, "failed": failed, "ratio": ratio, "elapsed": elapsed}


class BenchCheckFailed(RuntimeError):
    """The run lost or duplicated a document."""


if __name__ == "__main__":
    run()
