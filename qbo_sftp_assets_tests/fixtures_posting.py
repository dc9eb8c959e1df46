"""Fixtures for the posting tests: a sandbox company with a client and a ledger, and drafts built by hand.

Drafts are built here rather than through mapping so these tests prove posting alone; the end-to-end
tests go through mapping and validation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qbo_sftp_assets.config import PostingPolicy, QboLimits
from qbo_sftp_assets.formats.documents import PartyRef, Source
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.mapping.plan import FAILURE_COLUMNS, PostingDraft, content_sha256
from qbo_sftp_assets.pipeline.posting import FilePostings
from qbo_sftp_assets.qbo.client import QboClient
from qbo_sftp_assets.qbo.tokens import TokenStore
from qbo_sftp_assets.sandbox.qbo_server import RunningSandbox, SandboxSettings, start_sandbox
from qbo_sftp_assets_tests.fixtures_qbo_client import (
    FIRST_REALM,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    local_company,
    seed_tokens,
)

PARTNER = "legacy_erp"
FAST_POSTING_LIMITS = QboLimits(backoff_seconds=0.02, max_backoff_seconds=0.1, read_timeout_seconds=5.0)


@dataclass
class Validated:
    """The shape of validation's ValidatedPostings that posting reads."""

    valid: list[PostingDraft]
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FAILURE_COLUMNS)))


@dataclass
class Company:
    """The sandbox company's ids by the names the tests use."""

    vendors: dict[str, str]  # AcctNum -> Id
    accounts: dict[str, str]  # AcctNum -> Id
    classes: dict[str, str]  # Name -> Id
    customers: dict[str, str]  # DisplayName -> Id


@dataclass
class PostingEnv:
    sandbox: RunningSandbox
    client: QboClient
    ledger: Ledger
    company: Company
    tmp_path: Path

    def new_client(self, **options: Any) -> QboClient:
        return make_posting_client(self.sandbox, self.tmp_path, **options)

    def bill_count(self, where: str = "") -> int:
        return self.client.count("Bill", where or None)

    def policies(self, **overrides: Any) -> dict[str, PostingPolicy]:
        return {PARTNER: PostingPolicy(**overrides)}


def make_posting_client(sandbox: RunningSandbox, tmp_path: Path, **options: Any) -> QboClient:
    store = TokenStore(tmp_path / "tokens.json")
    if store.get(FIRST_REALM) is None:
        seed_tokens(sandbox, store)
    options.setdefault("throttle_wait_seconds", 0.05)
    limits = options.pop("limits", FAST_POSTING_LIMITS)
    return QboClient(
        local_company(sandbox.base_url, limits=limits),
        store,
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        company_name="northwind",
        **options,
    )


def company_ids(client: QboClient) -> Company:
    return Company(
        vendors={v["AcctNum"]: v["Id"] for v in client.query("SELECT * FROM Vendor") if v.get("AcctNum")},
        accounts={a["AcctNum"]: a["Id"] for a in client.query("SELECT * FROM Account") if a.get("AcctNum")},
        classes={c["Name"]: c["Id"] for c in client.query("SELECT * FROM Class")},
        customers={c["DisplayName"]: c["Id"] for c in client.query("SELECT * FROM Customer")},
    )


@pytest.fixture
def posting_env(tmp_path: Path) -> Iterator[PostingEnv]:
    with start_sandbox(SandboxSettings()) as sandbox:
        client = make_posting_client(sandbox, tmp_path)
        with client:
            yield PostingEnv(sandbox, client, Ledger(tmp_path / "ledger.duckdb"), company_ids(client), tmp_path)


def file_sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def bill_draft(
    company: Company,
    record_index: int,
    number: str,
    *,
    vendor: str = "100871",
    lines: Sequence[tuple[str, str, str | None]] = (("5100", "612.40", "Welding"), ("5200", "45.00", None)),
    file_name: str = "AP_1.csv",
    entity_type: str = "Bill",
    memo: str | None = None,
) -> PostingDraft:
    """A bill (or vendor credit) draft: lines are (account AcctNum, amount, class name or None)."""
    sha = file_sha(file_name)
    line_bodies = []
    for account, amount, class_name in lines:
        detail: dict[str, Any] = {"AccountRef": {"value": company.accounts[account]}}
        if class_name:
            detail["ClassRef"] = {"value": company.classes[class_name]}
        line_bodies.append(
            {
                "Amount": Decimal(amount),
                "DetailType": "AccountBasedExpenseLineDetail",
                "Description": f"line for {account}",
                "AccountBasedExpenseLineDetail": detail,
            }
        )
    source = Source(file=file_name, line=2 + record_index)
    payload: dict[str, Any] = {
        "VendorRef": {"value": company.vendors[vendor]},
        "DocNumber": number,
        "TxnDate": "2026-11-18",
        "Line": line_bodies,
        "PrivateNote": memo or f"from {file_name} sha256 {sha[:12]} line {source.line}",
    }
    kind = "vendor_credit" if entity_type == "VendorCredit" else "bill"
    return PostingDraft(
        record_index=record_index,
        document_key=f"{kind}:{vendor}:{number}",
        document_type=kind,  # type: ignore[arg-type]
        entity_type=entity_type,  # type: ignore[arg-type]
        payload=payload,
        doc_number=number,
        vendor_id=company.vendors[vendor],
        currency="USD",
        txn_date=dt.date(2026, 11, 18),
        total=sum((Decimal(a) for _, a, _ in lines), Decimal(0)),
        source=source,
        content_sha256=content_sha256(payload),
        party=PartyRef(id=vendor, name=f"vendor {vendor}"),
    )


def journal_draft(company: Company, record_index: int, number: str, *, file_name: str = "GL_1.csv") -> PostingDraft:
    payload: dict[str, Any] = {
        "DocNumber": number,
        "TxnDate": "2026-11-18",
        "PrivateNote": f"from {file_name} line {2 + record_index}",
        "Line": [
            {
                "Amount": Decimal("250.00"),
                "DetailType": "JournalEntryLineDetail",
                "Description": "accrual",
                "JournalEntryLineDetail": {
                    "PostingType": "Debit",
                    "AccountRef": {"value": company.accounts["6100"]},
                    "ClassRef": {"value": company.classes["Overhead"]},
                },
            },
            {
                "Amount": Decimal("250.00"),
                "DetailType": "JournalEntryLineDetail",
                "Description": "accrual",
                "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": company.accounts["2100"]}},
            },
        ],
    }
    return PostingDraft(
        record_index=record_index,
        document_key=f"journal_entry::{number}",
        document_type="journal_entry",
        entity_type="JournalEntry",
        payload=payload,
        doc_number=number,
        vendor_id=None,
        currency="USD",
        txn_date=dt.date(2026, 11, 18),
        total=Decimal("250.00"),
        source=Source(file=file_name, line=2 + record_index),
        content_sha256=content_sha256(payload),
        party=None,
    )


def file_postings(
    drafts: Sequence[PostingDraft], file_name: str = "AP_1.csv", failures: pd.DataFrame | None = None
) -> FilePostings:
    validated = Validated(list(drafts)) if failures is None else Validated(list(drafts), failures)
    return FilePostings(PARTNER, FIRST_REALM, file_name, file_sha(file_name), validated)
