"""Validating many files in one pandera run gives each file exactly the table it gets alone; one ledger session."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pandas as pd
from pandas.testing import assert_frame_equal

from qbo_sftp_assets.formats.documents import Line, PartyRef, Source
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.mapping import plan_postings
from qbo_sftp_assets.validation import validate_plan, validate_plans
from qbo_sftp_assets_tests.mapping.test_mapping_plan_postings import bill, partner, reference  # noqa: F401 (fixture)


def file_plan(reference, name: str, documents: list):  # noqa: F811
    return plan_postings(
        documents,
        partner_name="acme",
        partner=partner(),
        reference=reference,
        file_name=name,
        file_sha256=name.encode().hex().ljust(64, "0")[:64],
    )


def test_each_file_gets_the_same_failures_valid_drafts_and_frames_as_when_validated_alone(reference):  # noqa: F811
    long_number = "N" * 30
    unmapped = (Line(Decimal("10.00"), description="x", account="6999", source=Source("b.csv", 2)),)
    plans = [
        file_plan(reference, "a.csv", [bill("A-1"), bill("A-2", currency="EUR"), bill("A-2")]),
        file_plan(reference, "b.csv", [bill("A-1"), bill(long_number), bill("B-3", lines=unmapped)]),
        file_plan(reference, "c.csv", [bill("C-1", vendor=PartyRef())]),
        file_plan(reference, "d.csv", [bill("D-1")]),
    ]
    together = validate_plans(plans, reference)
    for plan, combined in zip(plans, together, strict=True):
        alone = validate_plan(plan, reference)
        assert_frame_equal(combined.failures, alone.failures)
        assert [d.record_index for d in combined.valid] == [d.record_index for d in alone.valid]
        assert_frame_equal(combined.headers.reset_index(drop=True), alone.headers)
        assert_frame_equal(combined.lines.reset_index(drop=True), alone.lines)
    checks = [set(v.failures["check"]) for v in together]
    # The same vendor and number in two files is not a repeat within a file; twice in one file is.
    assert "unique_vendor_number" in checks[0] and "unique_vendor_number" not in checks[1]
    assert {"currency_allowed", "doc_number_length", "account_resolved", "vendor_present"} <= set().union(*checks)
    assert checks[3] == set() and len(together[3].valid) == 1


def test_the_same_bytes_twice_in_one_call_are_validated_once_and_answered_twice(reference):  # noqa: F811
    plan = file_plan(reference, "a.csv", [bill("A-1"), bill("A-1")])
    first, second = validate_plans([plan, dataclasses.replace(plan)], reference)
    assert first is second
    assert list(first.failures["check"]) == ["unique_vendor_number", "unique_vendor_number"]


def test_a_ledger_session_holds_one_connection_for_every_call_inside_it(tmp_path: Path, monkeypatch):
    import duckdb

    ledger = Ledger(tmp_path / "ledger.duckdb")
    ledger.migrate()
    opened = []
    real_connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: opened.append(a) or real_connect(*a, **k))
    with ledger.session():
        for n in range(5):
            ledger.set_cursor(f"c{n}", str(n))
        assert ledger.get_cursor("c3") == "3"
        with ledger.session():  # nested: the same connection
            ledger.set_cursor("inner", "x")
    assert len(opened) == 1
    assert ledger.get_cursor("inner") == "x" and len(opened) == 2  # outside: a connection per call again
    assert not pd.isna(ledger.schema_version())
