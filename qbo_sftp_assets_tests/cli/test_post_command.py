"""`qbo-sftp post FILE --partner NAME [--dry-run]` against the embedded QBO sandbox, and `ledger trace` after it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.embedded import (
    COMPANY,
    EmbeddedEnvironment,
    connect_company,
    embedded_environment,
    environment_variables,
)
from qbo_sftp_assets.qbo.client import qbo_client_for

HEADER = "Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount\r\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[EmbeddedEnvironment]:
    with embedded_environment(tmp_path_factory.mktemp("post_cli")) as env, environment_variables(env.environ):
        connect_company(env)
        yield env


def ap_file(folder: Path, good: str, unmapped: str) -> Path:
    path = folder / f"AP_{uuid.uuid4().hex[:6]}.csv"
    path.write_text(
        HEADER
        + f"100871,Precision Machining Partners,{good},2026-11-18,2026-12-18,5100,Brackets,612.40\r\n"
        + f"100871,Precision Machining Partners,{unmapped},2026-11-18,2026-12-18,5250,Argon,45.00\r\n",
        encoding="utf-8",
    )
    return path


def bills(env: EmbeddedEnvironment, number: str) -> int:
    with qbo_client_for(env.config(), COMPANY) as client:
        return client.count("Bill", f"DocNumber = '{number}'")


def cli(env: EmbeddedEnvironment, *args: str) -> int:
    return main(["--config", str(env.config_path), *args])


def test_dry_run_prints_payloads_and_the_failure_table_and_writes_nothing(env, tmp_path, capsys):
    good, unmapped = f"DRY-{uuid.uuid4().hex[:6]}", f"DRY-{uuid.uuid4().hex[:6]}"
    path = ap_file(tmp_path, good, unmapped)
    ledger_path = Path(env.config().ledger.path)
    existed = ledger_path.exists()
    before = ledger_path.stat().st_mtime_ns if existed else None

    code = cli(env, "post", str(path), "--partner", "legacy_erp", "--dry-run")
    out = capsys.readouterr().out
    assert code == 1  # a document failed
    assert f"Bill {good} (record 0)" in out and '"DocNumber": "' + good + '"' in out
    assert "failures:" in out and unmapped in out and "5250" in out and "mapping.accounts" in out
    assert "nothing was posted and nothing was written" in out
    assert bills(env, good) == 0
    assert ledger_path.exists() == existed
    if existed:
        assert ledger_path.stat().st_mtime_ns == before


def test_a_real_post_prints_qbo_ids_and_ledger_trace_finds_them(env, tmp_path, capsys):
    good, unmapped = f"CLI-{uuid.uuid4().hex[:6]}", f"CLI-{uuid.uuid4().hex[:6]}"
    path = ap_file(tmp_path, good, unmapped)

    code = cli(env, "post", str(path), "--partner", "legacy_erp")
    out = capsys.readouterr().out
    assert code == 1  # one document rejected
    posted = re.search(rf"{good}\s+posted\s+Bill (\d+)", out)
    assert posted, out
    assert re.search(rf"{unmapped}\s+rejected", out), out
    assert bills(env, good) == 1 and bills(env, unmapped) == 0

    assert cli(env, "ledger", "trace", posted.group(1), "--entity", "Bill") == 0
    trace = capsys.readouterr().out
    assert f"Bill {posted.group(1)}" in trace and f"document {good}" in trace and "line 2" in trace

    # Posting the same file again links, never creates.
    cli(env, "post", str(path), "--partner", "legacy_erp")
    capsys.readouterr()
    assert bills(env, good) == 1
