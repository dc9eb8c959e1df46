"""Posting into the sandbox over HTTP: every document once, whatever is retried, re-sent or refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import pandas as pd
import pytest
from quickbooks.objects.bill import Bill as QbBill
from quickbooks.objects.journalentry import JournalEntry as QbJournalEntry
from quickbooks.objects.vendorcredit import VendorCredit as QbVendorCredit

from qbo_sftp_assets.formats.outcomes import OutcomeStatus
from qbo_sftp_assets.mapping.plan import FAILURE_COLUMNS
from qbo_sftp_assets.pipeline import posting
from qbo_sftp_assets.pipeline.posting import ReconnectTheCompany, post_files
from qbo_sftp_assets.qbo.tokens import TokenGrant, TokenRecord
from qbo_sftp_assets_tests.fixtures_posting import (
    PostingEnv,
    bill_draft,
    file_postings,
    file_sha,
    journal_draft,
)
from qbo_sftp_assets_tests.fixtures_qbo_client import FIRST_REALM
from qbo_sftp_assets_tests.sandbox.test_sandbox_fidelity_python_quickbooks import local_quickbooks_class


def arm(env: PostingEnv, **rule) -> None:
    httpx.post(f"{env.sandbox.base_url}/_sandbox/faults", json=rule).raise_for_status()


def statuses(outcomes) -> list[str]:
    return [o.status.value for o in outcomes]


@pytest.fixture
def quickbooks(posting_env: PostingEnv, monkeypatch):
    """python-quickbooks pointed at the same sandbox company: the outside judge of what we created."""
    from intuitlib.client import AuthClient

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    sandbox = posting_env.sandbox
    tokens = sandbox.state.issue_tokens(FIRST_REALM)
    auth = AuthClient(sandbox.settings.client_id, sandbox.settings.client_secret, "http://x", sandbox.discovery_url)
    auth.access_token = tokens["access_token"]
    return local_quickbooks_class(sandbox)(
        auth_client=auth,
        refresh_token=tokens["refresh_token"],
        company_id=FIRST_REALM,
        minorversion=75,
        use_decimal=True,
    )


def test_each_entity_type_is_posted_and_read_back_by_python_quickbooks(posting_env: PostingEnv, quickbooks):
    env, company = posting_env, posting_env.company
    bill = bill_draft(company, 0, "MIG-55120")
    credit = bill_draft(company, 1, "MIG-CR-7", entity_type="VendorCredit", lines=(("5100", "30.00", "Machining"),))
    journal = journal_draft(company, 0, "JE-1101")
    outcomes = post_files(
        env.client,
        env.ledger,
        [file_postings([bill, credit]), file_postings([journal], "GL_1.csv")],
        policies=env.policies(),
    )
    ap, gl = outcomes[file_sha("AP_1.csv")], outcomes[file_sha("GL_1.csv")]
    assert statuses(ap) == ["posted", "posted"] and statuses(gl) == ["posted"]

    qb_bill = QbBill.get(ap[0].qbo_id, qb=quickbooks)
    assert qb_bill.DocNumber == "MIG-55120" and qb_bill.VendorRef.value == company.vendors["100871"]
    assert [Decimal(str(line.Amount)) for line in qb_bill.Line] == [Decimal("612.40"), Decimal("45.00")]
    detail = qb_bill.Line[0].AccountBasedExpenseLineDetail
    assert detail.AccountRef.value == company.accounts["5100"] and detail.ClassRef.value == company.classes["Welding"]
    assert "AP_1.csv" in qb_bill.PrivateNote and file_sha("AP_1.csv")[:12] in qb_bill.PrivateNote

    qb_credit = QbVendorCredit.get(ap[1].qbo_id, qb=quickbooks)
    assert qb_credit.DocNumber == "MIG-CR-7" and Decimal(str(qb_credit.TotalAmt)) == Decimal("30.00")
    assert qb_credit.Line[0].AccountBasedExpenseLineDetail.ClassRef.value == company.classes["Machining"]

    qb_journal = QbJournalEntry.get(gl[0].qbo_id, qb=quickbooks)
    sides = sorted(line.JournalEntryLineDetail.PostingType for line in qb_journal.Line)
    assert qb_journal.DocNumber == "JE-1101" and sides == ["Credit", "Debit"]

    # The ledger traces every id back to its file and line.
    [trail] = env.ledger.trace(ap[0].qbo_id, "Bill")
    assert trail["file_sha256"] == file_sha("AP_1.csv") and trail["source_line"] == 2
    assert trail["status"] == "posted" and trail["doc_number"] == "MIG-55120"


def test_batches_fill_across_files_and_a_rerun_posts_nothing_again(posting_env: PostingEnv):
    env, company = posting_env, posting_env.company
    files = [
        file_postings([bill_draft(company, i, f"F{f}-{i}", file_name=f"AP_{f}.csv") for i in range(12)], f"AP_{f}.csv")
        for f in range(5)
    ]
    before = env.sandbox.state.stats()["realms"][FIRST_REALM]
    outcomes = post_files(env.client, env.ledger, files, policies=env.policies())
    after = env.sandbox.state.stats()["realms"][FIRST_REALM]
    assert all(statuses(o) == ["posted"] * 12 for o in outcomes.values())
    # 60 documents from 5 files: two full batch requests, not five part-filled ones.
    assert after["batch_requests"] - before["batch_requests"] == 2
    assert env.bill_count("DocNumber LIKE 'F%'") == 60

    again = post_files(env.client, env.ledger, files, policies=env.policies())
    assert [o.qbo_id for o in again[file_sha("AP_0.csv")]] == [o.qbo_id for o in outcomes[file_sha("AP_0.csv")]]
    assert env.sandbox.state.stats()["realms"][FIRST_REALM]["batch_requests"] == after["batch_requests"]
    assert env.bill_count("DocNumber LIKE 'F%'") == 60


def test_a_re_exported_file_with_other_bytes_links_instead_of_creating(posting_env: PostingEnv):
    env, company = posting_env, posting_env.company
    first = post_files(
        env.client, env.ledger, [file_postings([bill_draft(company, 0, "MIG-1")])], policies=env.policies()
    )
    original_id = first[file_sha("AP_1.csv")][0].qbo_id
    resent = bill_draft(company, 0, "MIG-1", file_name="AP_1_reexport.csv")  # same content, other file
    second = post_files(env.client, env.ledger, [file_postings([resent], "AP_1_reexport.csv")], policies=env.policies())
    [outcome] = second[file_sha("AP_1_reexport.csv")]
    assert outcome.status == OutcomeStatus.DUPLICATE and outcome.qbo_id == original_id
    assert env.bill_count("DocNumber = 'MIG-1'") == 1
    # Both files trace to the one bill.
    assert {row["file_sha256"] for row in env.ledger.trace(original_id, "Bill")} == {
        file_sha("AP_1.csv"),
        file_sha("AP_1_reexport.csv"),
    }


def test_a_bill_already_in_quickbooks_but_not_in_the_ledger_is_found_by_its_docnumber(posting_env: PostingEnv):
    env, company = posting_env, posting_env.company
    draft = bill_draft(company, 0, "HAND-ENTERED-1")
    existing = env.client.create("Bill", draft.payload, request_id="entered-by-hand")
    outcomes = post_files(env.client, env.ledger, [file_postings([draft])], policies=env.policies())
    [outcome] = outcomes[file_sha("AP_1.csv")]
    assert outcome.status == OutcomeStatus.DUPLICATE and outcome.qbo_id == existing["Id"]
    assert env.bill_count("DocNumber = 'HAND-ENTERED-1'") == 1


def test_a_bill_another_run_creates_between_the_look_and_the_create_is_linked_not_refused(
    posting_env: PostingEnv, monkeypatch: pytest.MonkeyPatch
):
    """Two runs posting one file at once: the other run's bill lands after our look found nothing, so
    QuickBooks refuses ours as a duplicate number (6140); what it has is linked, and the file is whole."""
    env, company = posting_env, posting_env.company
    draft = bill_draft(company, 0, "RACED-1")
    looks = []
    real_look = posting.find_in_qbo

    def look_then_lose_the_race(client, drafts):
        looks.append([d.doc_number for d in drafts])
        if len(looks) == 1:
            env.client.create("Bill", draft.payload, request_id="the-other-run")
            return {}  # what our look saw, a moment before the other run's create
        return real_look(client, drafts)

    monkeypatch.setattr(posting, "find_in_qbo", look_then_lose_the_race)
    outcomes = post_files(env.client, env.ledger, [file_postings([draft])], policies=env.policies())
    [outcome] = outcomes[file_sha("AP_1.csv")]
    [bill] = env.client.query("SELECT * FROM Bill WHERE DocNumber = 'RACED-1'")
    assert looks == [["RACED-1"], ["RACED-1"]]
    assert outcome.status == OutcomeStatus.DUPLICATE and outcome.qbo_id == bill["Id"], outcome
    [row] = env.ledger.postings_for_files([file_sha("AP_1.csv")])
    assert (row.status, row.qbo_id) == ("linked", bill["Id"])


def test_changed_content_is_skipped_by_default_and_updated_when_asked_even_after_a_concurrent_change(
    posting_env: PostingEnv,
):
    env, company = posting_env, posting_env.company
    post_files(env.client, env.ledger, [file_postings([bill_draft(company, 0, "MIG-9")])], policies=env.policies())
    changed = bill_draft(company, 0, "MIG-9", lines=(("5100", "700.00", "Welding"),), file_name="AP_2.csv")

    skipped = post_files(env.client, env.ledger, [file_postings([changed], "AP_2.csv")], policies=env.policies())
    [outcome] = skipped[file_sha("AP_2.csv")]
    assert outcome.status == OutcomeStatus.SKIPPED and "on_existing" in outcome.reason

    bill_id = env.ledger.trace(outcome.qbo_id, "Bill")[0]["qbo_id"]
    # Someone edits the bill in QuickBooks meanwhile: the SyncToken we hold is now stale (5010).
    current = env.client.read("Bill", bill_id)
    env.client.update("Bill", bill_id, {"PrivateNote": "edited by a person"}, request_id="person-edit")
    assert env.client.read("Bill", bill_id)["SyncToken"] != current["SyncToken"]

    changed_again = bill_draft(company, 0, "MIG-9", lines=(("5100", "700.00", "Welding"),), file_name="AP_3.csv")
    updated = post_files(
        env.client,
        env.ledger,
        [file_postings([changed_again], "AP_3.csv")],
        policies=env.policies(on_existing="update"),
    )
    [outcome] = updated[file_sha("AP_3.csv")]
    assert outcome.status == OutcomeStatus.UPDATED and outcome.qbo_id == bill_id
    stored = env.client.read("Bill", bill_id)
    assert Decimal(str(stored["TotalAmt"])) == Decimal("700.00")
    assert env.bill_count("DocNumber = 'MIG-9'") == 1
    rows = env.ledger.query(
        "SELECT operation, status, sync_token FROM postings WHERE file_sha256 = ?", [file_sha("AP_3.csv")]
    )
    assert rows == [("update", "updated", stored["SyncToken"])]


def test_quickbooks_refusals_are_document_outcomes_and_validation_failures_too(posting_env: PostingEnv):
    env, company = posting_env, posting_env.company
    good = bill_draft(company, 0, "OK-1")
    bad = bill_draft(company, 1, "BAD-1")
    bad.payload["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"] = {"value": "99999"}
    failures = pd.DataFrame(
        [[2, "UNMAPPED-1", 1, "AP_1.csv:4", "account", "6999", "account_mapped", "add '6999' to mapping.accounts"]],
        columns=list(FAILURE_COLUMNS),
    )
    outcomes = post_files(
        env.client, env.ledger, [file_postings([good, bad], failures=failures)], policies=env.policies()
    )
    ok, refused, unmapped = outcomes[file_sha("AP_1.csv")]
    assert ok.status == OutcomeStatus.POSTED
    assert refused.status == OutcomeStatus.REJECTED and refused.code == "2500" and "Invalid Reference" in refused.reason
    assert unmapped.status == OutcomeStatus.REJECTED and unmapped.code == "account_mapped"
    assert "mapping.accounts" in unmapped.reason and unmapped.document_number == "UNMAPPED-1"

    # The mapping is fixed: a replay posts only what was not posted.
    fixed = bill_draft(company, 1, "BAD-1")
    replay = post_files(env.client, env.ledger, [file_postings([good, fixed])], policies=env.policies())
    assert statuses(replay[file_sha("AP_1.csv")]) == ["posted", "posted"]
    assert replay[file_sha("AP_1.csv")][0].qbo_id == ok.qbo_id
    assert env.bill_count("DocNumber = 'OK-1'") == 1 and env.bill_count("DocNumber = 'BAD-1'") == 1


def test_all_or_nothing_posts_nothing_from_a_file_with_a_failure(posting_env: PostingEnv):
    env, company = posting_env, posting_env.company
    failures = pd.DataFrame(
        [[1, "X-2", None, "AP_1.csv:3", "vendor", "999", "vendor_mapped", "add '999' to mapping.vendors"]],
        columns=list(FAILURE_COLUMNS),
    )
    outcomes = post_files(
        env.client,
        env.ledger,
        [file_postings([bill_draft(company, 0, "X-1")], failures=failures)],
        policies=env.policies(all_or_nothing=True),
    )
    assert statuses(outcomes[file_sha("AP_1.csv")]) == ["rejected", "rejected"]
    assert env.bill_count("DocNumber = 'X-1'") == 0


def test_a_429_storm_and_503s_during_batches_lose_and_duplicate_nothing(posting_env: PostingEnv):
    env, company = posting_env, posting_env.company
    arm(env, kind="429", count=6, path_contains="/batch")
    arm(env, kind="503", count=2, path_contains="/batch", after_write=True)
    arm(env, kind="503", count=1, path_contains="/batch")
    drafts = [bill_draft(company, i, f"STORM-{i}") for i in range(75)]
    outcomes = post_files(env.client, env.ledger, [file_postings(drafts)], policies=env.policies())
    assert statuses(outcomes[file_sha("AP_1.csv")]) == ["posted"] * 75
    assert env.bill_count("DocNumber LIKE 'STORM-%'") == 75
    assert env.sandbox.state.stats()["realms"][FIRST_REALM]["duplicate_documents_stored"] == 0
    assert len({o.qbo_id for o in outcomes[file_sha("AP_1.csv")]}) == 75


def test_a_refused_refresh_stops_with_reconnect_and_leaves_everything_replayable(posting_env: PostingEnv):
    env, company = posting_env, posting_env.company
    client = env.new_client()
    record = client.store.require(FIRST_REALM)
    # The access token is gone and the refresh token revoked: QBO answers invalid_grant.
    env.sandbox.state.expire_access_tokens(FIRST_REALM)
    env.sandbox.state.tokens.revoke(record.refresh_token)
    drafts = [bill_draft(company, i, f"RC-{i}") for i in range(3)]
    with pytest.raises(ReconnectTheCompany, match="reconnect the company"):
        post_files(client, env.ledger, [file_postings(drafts)], policies=env.policies())
    assert env.ledger.query("SELECT DISTINCT status FROM postings") == [("pending",)]
    # Reconnected: the same rows go out with the same requestids; each bill exists once.
    fresh = env.new_client()
    fresh.store.put(
        TokenRecord.from_grant(FIRST_REALM, TokenGrant.from_json(env.sandbox.state.issue_tokens(FIRST_REALM)))
    )
    outcomes = post_files(fresh, env.ledger, [file_postings(drafts)], policies=env.policies())
    assert statuses(outcomes[file_sha("AP_1.csv")]) == ["posted"] * 3
    assert env.bill_count("DocNumber LIKE 'RC-%'") == 3


CRASHING_CHILD = """
import sys
from pathlib import Path
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.pipeline.posting import post_files
from qbo_sftp_assets_tests.fixtures_posting import bill_draft, company_ids, file_postings, make_posting_client
from qbo_sftp_assets.config import PostingPolicy

class Sandbox:
    base_url = sys.argv[1]

client = make_posting_client(Sandbox, Path(sys.argv[2]))
company = company_ids(client)
drafts = [bill_draft(company, i, f"CRASH-{i}") for i in range(3)]
post_files(client, Ledger(sys.argv[3]), [file_postings(drafts)], policies={"legacy_erp": PostingPolicy()})
print("finished without being killed")
"""


def test_a_crash_after_begin_posting_and_before_the_reply_leaves_exactly_one_bill(posting_env: PostingEnv):
    env, company = posting_env, posting_env.company
    # QBO writes the bills, then holds the answer: the child is killed while it waits for it.
    arm(env, kind="timeout", after_write=True, delay=30, path_contains="/batch")
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_CHILD, env.sandbox.base_url, str(env.tmp_path), str(env.ledger.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while env.sandbox.state.stats()["realms"][FIRST_REALM]["writes"].get("Bill", 0) < 3:
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "the child never reached the batch"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    httpx.delete(f"{env.sandbox.base_url}/_sandbox/faults").raise_for_status()
    assert env.ledger.query("SELECT count(*), min(status) FROM postings") == [(3, "pending")]

    drafts = [bill_draft(company, i, f"CRASH-{i}") for i in range(3)]
    outcomes = post_files(env.client, env.ledger, [file_postings(drafts)], policies=env.policies())
    assert statuses(outcomes[file_sha("AP_1.csv")]) == ["posted"] * 3
    assert env.bill_count("DocNumber LIKE 'CRASH-%'") == 3
    assert env.ledger.query("SELECT count(*) FROM postings WHERE status = 'posted' AND qbo_id IS NOT NULL") == [(3,)]
