"""Post validated documents into QuickBooks exactly once: ledger row first, one requestid per batch, no duplicates.

Batches fill across files (at most 30 items each) and go out together as far as the realm's limits
allow. Before anything is created the ledger is asked, then QuickBooks itself (one DocNumber query per
batch); a posting a crash left pending is re-sent with the requestid it was written with.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from qbo_sftp_assets.config import PostingPolicy
from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.formats import Document, DocumentOutcome, OutcomeStatus, PartyRef, Source
from qbo_sftp_assets.ledger import DONE_STATUSES, Ledger, Posting, PostingResult, PostingStart
from qbo_sftp_assets.qbo import (
    BATCH_MAX_ITEMS,
    BatchItem,
    BatchItemResult,
    DuplicateDocumentNumber,
    QboClient,
    QboError,
    ReconnectRequired,
    encode_json,
)

if TYPE_CHECKING:
    from qbo_sftp_assets.mapping.plan import PostingDraft

logger = logging.getLogger(__name__)

DocumentKey = tuple[str, str | None, str]  # (entity type, QBO vendor id, document number)


class ReconnectTheCompany(UserFacingError):
    """QuickBooks refused our tokens (invalid_grant): nothing more can be posted until someone reconnects."""

    exit_code = 3


class PostingInterrupted(UserFacingError):
    """QuickBooks did not answer some batches even after retries; their rows stay pending for the next run."""


class ValidatedLike(Protocol):
    """What posting reads from validation's `ValidatedPostings`."""

    @property
    def valid(self) -> list[PostingDraft]: ...

    @property
    def failures(self) -> Any: ...  # a pandas DataFrame (or a list of failure rows) with record_index, check, fix


class DraftLike(Protocol):
    """What `find_in_qbo` reads of a document to post: a draft, or a pending row's stored one."""

    @property
    def entity_type(self) -> str: ...

    @property
    def doc_number(self) -> str | None: ...

    @property
    def vendor_id(self) -> str | None: ...


@dataclass(frozen=True)
class FilePostings:
    """One file's validated postings, and the documents they came from (for rejected documents' details)."""

    partner: str
    realm_id: str
    file_name: str
    file_sha256: str
    validated: ValidatedLike
    documents: Sequence[Document] = ()


@dataclass
class _Work:
    """One document to post, with where it came from."""

    file: FilePostings
    draft: PostingDraft
    request_id: str

    @property
    def key(self) -> DocumentKey | None:
        number = self.draft.doc_number
        return None if not number else (self.draft.entity_type, self.draft.vendor_id, number)


@dataclass
class _Batch:
    request_id: str
    works: list[_Work]
    bids: list[str]


@dataclass
class _Update:
    work: _Work
    qbo_id: str
    sync_token: str | None


@dataclass
class _Run:
    """Everything decided for one call of post_files: outcomes so far and rows to write."""

    outcomes: dict[str, dict[int, DocumentOutcome]] = field(default_factory=dict)
    results: list[PostingResult] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)


def post_files(
    client: QboClient,
    ledger: Ledger,
    files: Sequence[FilePostings],
    *,
    policies: Mapping[str, PostingPolicy],
    max_workers: int | None = None,
) -> dict[str, list[DocumentOutcome]]:
    """Post every valid document of `files` (one company) and say what became of every document of each file.

    Rejected documents (mapping, validation, or QuickBooks' own refusals) are outcomes, never exceptions.
    Raises ReconnectTheCompany when the company's tokens are refused, and PostingInterrupted when QBO
    stayed unreachable; in both cases every document not yet answered stays replayable.
    """
    realms = {f.realm_id for f in files}
    if realms - {client.realm_id}:
        raise ValueError(f"post_files got files for realms {sorted(realms)} and a client for {client.realm_id}")
    # One ledger connection for the whole call: rows are written before and after every batch.
    with ledger.session():
        return _post_files(client, ledger, files, policies, max_workers or client.limits.max_in_flight)


def _post_files(
    client: QboClient,
    ledger: Ledger,
    files: Sequence[FilePostings],
    policies: Mapping[str, PostingPolicy],
    workers: int,
) -> dict[str, list[DocumentOutcome]]:
    run = _Run(outcomes={f.file_sha256: {} for f in files})
    existing = {(p.file_sha256, p.record_index): p for p in ledger.postings_for_files([f.file_sha256 for f in files])}
    pending = [p for p in existing.values() if p.status == "pending"]
    if pending:
        resolve_pending(client, ledger, batch_request_ids={p.batch_request_id for p in pending if p.batch_request_id})
        existing = {
            (p.file_sha256, p.record_index): p for p in ledger.postings_for_files([f.file_sha256 for f in files])
        }

    todo: list[_Work] = []
    for file in files:
        policy = policies.get(file.partner, PostingPolicy())
        failed = _rejections(file, run)
        for draft in file.validated.valid:
            row = existing.get((file.file_sha256, draft.record_index))
            if failed and policy.all_or_nothing:
                run.outcomes[file.file_sha256][draft.record_index] = _outcome(
                    draft,
                    OutcomeStatus.REJECTED,
                    code="all_or_nothing",
                    reason=f"not posted: the partner posts all or nothing and {len(failed)} document(s) "
                    "of this file failed",
                )
            elif row is not None and row.status in DONE_STATUSES:
                run.outcomes[file.file_sha256][draft.record_index] = _outcome_of_row(draft, row)
            else:
                todo.append(_Work(file, draft, row.request_id if row else _new_request_id()))

    # Two documents of this run with the same vendor and number (a file re-sent beside the original)
    # go in rounds: the second is decided after the first is in the ledger, so it is linked, not created.
    while todo:
        leaders, todo = _first_per_key(todo)
        _post_round(client, ledger, leaders, policies, run, workers)

    if run.interrupted:
        raise PostingInterrupted(
            f"QuickBooks did not answer {len(run.interrupted)} batch request(s) even after retries "
            f"({'; '.join(run.interrupted[:3])}); their documents stay pending and are resolved by requestid "
            "on the next run"
        )
    return {sha: [by_index[i] for i in sorted(by_index)] for sha, by_index in run.outcomes.items()}


def _first_per_key(works: list[_Work]) -> tuple[list[_Work], list[_Work]]:
    seen: set[tuple[str, DocumentKey]] = set()
    leaders, rest = [], []
    for work in works:
        key = work.key
        scoped = None if key is None else (work.file.partner, key)
        if scoped is not None and scoped in seen:
            rest.append(work)
        else:
            if scoped is not None:
                seen.add(scoped)
            leaders.append(work)
    return leaders, rest


def _post_round(
    client: QboClient,
    ledger: Ledger,
    works: list[_Work],
    policies: Mapping[str, PostingPolicy],
    run: _Run,
    workers: int,
) -> None:
    known = _known_in_ledger(ledger, client.realm_id, works)
    starts: list[PostingStart] = []
    creates: list[_Work] = []
    updates: list[_Update] = []
    for work in works:
        hit = known.get((work.file.partner, work.key)) if work.key else None
        if hit is None or hit.file_sha256 == work.file.file_sha256:
            creates.append(work)
            continue
        policy = policies.get(work.file.partner, PostingPolicy())
        if hit.content_sha256 == work.draft.content_sha256:
            starts.append(_start(work, "link", "linked", qbo_id=hit.qbo_id, sync_token=hit.sync_token, linked=hit))
            run.outcomes[work.file.file_sha256][work.draft.record_index] = _linked_outcome(work.draft, hit)
        elif policy.on_existing == "update" and hit.qbo_id:
            token = ledger.latest_sync_token(hit.entity_type, hit.qbo_id) or hit.sync_token
            starts.append(_start(work, "update", "pending", qbo_id=hit.qbo_id, sync_token=token, linked=hit))
            updates.append(_Update(work, hit.qbo_id, token))
        else:
            starts.append(_start(work, "skip", "skipped", qbo_id=hit.qbo_id, linked=hit))
            run.outcomes[work.file.file_sha256][work.draft.record_index] = _outcome(
                work.draft,
                OutcomeStatus.SKIPPED,
                qbo_id=hit.qbo_id,
                code="changed_content",
                reason=f"already in QuickBooks as {hit.entity_type} {hit.qbo_id} (from an earlier file) with "
                "different content; not changed (the partner's posting.on_existing is skip)",
            )
    batches = _batches(creates)
    # Links, skips and updates are written now; each batch's rows just before that batch goes out.
    ledger.begin_postings(starts)
    _send(client, ledger, batches, updates, run, workers)


def _batch_starts(batch: _Batch) -> list[PostingStart]:
    return [
        _start(
            work,
            "create",
            "pending",
            batch_request_id=batch.request_id,
            bid=bid,
            payload=encode_json(work.draft.payload).decode(),
        )
        for work, bid in zip(batch.works, batch.bids, strict=True)
    ]


def _send(
    client: QboClient, ledger: Ledger, batches: list[_Batch], updates: list[_Update], run: _Run, workers: int
) -> None:
    if not batches and not updates:
        return
    stop: ReconnectRequired | None = None
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="qbo-post") as pool:
        futures: dict[Future[Any], _Batch | _Update] = {}
        for update in updates:
            futures[pool.submit(_update_one, client, update)] = update
        # Every batch's rows are in the ledger before it is submitted. Groups of 1, 2, 4, ... batches
        # per transaction: the first request leaves at once, and a thousand rows take few transactions.
        start, size = 0, 1
        while start < len(batches):
            group = batches[start : start + size]
            ledger.begin_postings([row for batch in group for row in _batch_starts(batch)])
            for batch in group:
                futures[pool.submit(_create_batch, client, batch)] = batch
            start, size = start + size, size * 2
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            results: list[PostingResult] = []
            for future in done:
                job = futures[future]
                try:
                    answer = future.result()
                except ReconnectRequired as error:
                    stop = stop or error
                    for other in remaining:
                        other.cancel()
                    continue
                except QboError as error:
                    run.interrupted.append(f"{_describe(job)}: {error}")
                    continue
                if isinstance(job, _Batch):
                    found, answers = answer
                    results.extend(_batch_results(job, found, answers, run))
                else:
                    results.append(_update_result(job, answer, run))
            # Written as each answer arrives, so a crash later loses at most what is still in flight.
            ledger.finish_postings(results)
            remaining = {f for f in remaining if not f.cancelled()}
    if stop is not None:
        raise ReconnectTheCompany(
            f"reconnect the company: {stop}. Nothing more was posted; every document not yet answered stays "
            "pending in the ledger and is resolved by its requestid on the next run (qbo-sftp connect)"
        ) from None


def _describe(job: _Batch | _Update) -> str:
    if isinstance(job, _Batch):
        return f"batch {job.request_id} ({len(job.works)} documents)"
    return f"update of {job.work.draft.entity_type} {job.qbo_id}"


def _create_batch(client: QboClient, batch: _Batch) -> tuple[dict[int, dict[str, Any]], list[BatchItemResult]]:
    """Ask QBO for documents already there (one query), then create the rest in one batch request."""
    found = find_in_qbo(client, [work.draft for work in batch.works])
    items = [
        BatchItem("create", work.draft.entity_type, work.draft.payload, bid=bid)
        for index, (work, bid) in enumerate(zip(batch.works, batch.bids, strict=True))
        if index not in found
    ]
    results = client.batch(items, request_id=batch.request_id) if items else []
    # Another run posting the same document at this moment (two runs holding one file) can create it
    # between our look and our create; QBO then refuses ours as a duplicate number (6140). What it
    # has is linked, as if the look had found it.
    refused = {result.bid for result in results if isinstance(result.error, DuplicateDocumentNumber)}
    late = [index for index, bid in enumerate(batch.bids) if bid in refused]
    if late:
        again = find_in_qbo(client, [batch.works[index].draft for index in late])
        found.update({late[position]: row for position, row in again.items()})
    return found, results


def _update_one(client: QboClient, update: _Update) -> dict[str, Any]:
    draft = update.work.draft
    changes = {key: value for key, value in draft.payload.items() if key != "VendorRef"}
    return client.update(
        draft.entity_type, update.qbo_id, changes, request_id=update.work.request_id, sync_token=update.sync_token
    )


def find_in_qbo(client: QboClient, drafts: Sequence[DraftLike]) -> dict[int, dict[str, Any]]:
    """Documents QBO already has (same entity, vendor and DocNumber), by position in `drafts`: one query per entity."""
    found: dict[int, dict[str, Any]] = {}
    by_entity: dict[str, list[int]] = {}
    for index, draft in enumerate(drafts):
        if draft.doc_number:
            by_entity.setdefault(draft.entity_type, []).append(index)
    for entity, indexes in by_entity.items():
        numbers = sorted({drafts[i].doc_number or "" for i in indexes})
        listed = ", ".join(_quoted(number) for number in numbers)
        rows = list(client.query(f"SELECT * FROM {entity} WHERE DocNumber IN ({listed})"))
        for index in indexes:
            draft = drafts[index]
            for row in rows:
                if str(row.get("DocNumber")) == draft.doc_number and _same_vendor(row, draft.vendor_id):
                    found[index] = row
                    break
    return found


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _same_vendor(row: Mapping[str, Any], vendor_id: str | None) -> bool:
    if vendor_id is None:
        return True
    return str((row.get("VendorRef") or {}).get("value")) == vendor_id


def _batch_results(
    batch: _Batch, found: dict[int, dict[str, Any]], results: list[BatchItemResult], run: _Run
) -> list[PostingResult]:
    by_bid = {result.bid: result for result in results}
    rows: list[PostingResult] = []
    for index, (work, bid) in enumerate(zip(batch.works, batch.bids, strict=True)):
        sha, draft = work.file.file_sha256, work.draft
        if index in found:
            existing = found[index]
            qbo_id, token = str(existing.get("Id")), _text(existing.get("SyncToken"))
            rows.append(PostingResult(sha, draft.record_index, "linked", qbo_id, token))
            run.outcomes[sha][draft.record_index] = _outcome(
                draft,
                OutcomeStatus.DUPLICATE,
                qbo_id=qbo_id,
                reason=f"already in QuickBooks as {draft.entity_type} {qbo_id} (same vendor and number); linked",
            )
            continue
        result = by_bid.get(bid)
        rows.append(_item_result(work, result, run))
    return rows


def _item_result(work: _Work, result: BatchItemResult | None, run: _Run) -> PostingResult:
    sha, draft = work.file.file_sha256, work.draft
    if result is not None and result.ok and result.object is not None:
        qbo_id, token = str(result.object.get("Id")), _text(result.object.get("SyncToken"))
        run.outcomes[sha][draft.record_index] = _outcome(draft, OutcomeStatus.POSTED, qbo_id=qbo_id)
        return PostingResult(sha, draft.record_index, "posted", qbo_id, token)
    error = result.error if result is not None else None
    code = (error.code if error else None) or "qbo"
    message = _qbo_reason(error) if error else "QuickBooks did not answer for this document"
    run.outcomes[sha][draft.record_index] = _outcome(draft, OutcomeStatus.REJECTED, code=code, reason=message)
    return PostingResult(sha, draft.record_index, "failed", error_code=code, error=message)


def _update_result(update: _Update, answer: dict[str, Any], run: _Run) -> PostingResult:
    sha, draft = update.work.file.file_sha256, update.work.draft
    qbo_id, token = str(answer.get("Id", update.qbo_id)), _text(answer.get("SyncToken"))
    run.outcomes[sha][draft.record_index] = _outcome(
        draft,
        OutcomeStatus.UPDATED,
        qbo_id=qbo_id,
        reason=f"{draft.entity_type} {qbo_id} updated with this file's content (SyncToken now {token})",
    )
    return PostingResult(sha, draft.record_index, "updated", qbo_id, token)


def _qbo_reason(error: QboError) -> str:
    parts = [f"QuickBooks refused it: {error.code or ''} {error.message or ''}".strip()]
    if error.detail and error.detail != error.message:
        parts.append(error.detail)
    return ": ".join(parts)


# --- crash recovery -----------------------------------------------------------------------------------


def resolve_pending(client: QboClient, ledger: Ledger, *, batch_request_ids: Iterable[str] | None = None) -> int:
    """Finish postings a crash left pending: whatever QBO already has is linked, the rest re-sent with its requestid.

    Returns how many rows were resolved. A batch is re-sent with the requestid it was written with, so
    QBO answers with the original response when it had run it (requestid replay) and runs it otherwise.
    """
    ids = None if batch_request_ids is None else sorted(set(batch_request_ids))
    rows = ledger.pending_postings(client.realm_id, ids)
    groups: dict[str, list[Posting]] = {}
    updates: list[Posting] = []
    for row in rows:
        if row.operation == "update":
            updates.append(row)
        elif row.batch_request_id and row.payload:
            groups.setdefault(row.batch_request_id, []).append(row)
    results: list[PostingResult] = []
    for request_id, members in groups.items():
        drafts = [_StoredDraft.of(row) for row in members]
        found = find_in_qbo(client, drafts)
        items = [
            BatchItem("create", row.entity_type, drafts[i].payload, bid=row.batch_bid)
            for i, row in enumerate(members)
            if i not in found
        ]
        answers = {r.bid: r for r in client.batch(items, request_id=request_id)} if items else {}
        for i, row in enumerate(members):
            if i in found:
                results.append(
                    PostingResult(
                        row.file_sha256, row.record_index, "posted", str(found[i]["Id"]), _text(found[i]["SyncToken"])
                    )
                )
                continue
            answer = answers.get(row.batch_bid or "")
            if answer is not None and answer.ok and answer.object is not None:
                results.append(
                    PostingResult(
                        row.file_sha256,
                        row.record_index,
                        "posted",
                        str(answer.object.get("Id")),
                        _text(answer.object.get("SyncToken")),
                    )
                )
            elif answer is not None and answer.error is not None:
                results.append(
                    PostingResult(
                        row.file_sha256,
                        row.record_index,
                        "failed",
                        error_code=answer.error.code or "qbo",
                        error=_qbo_reason(answer.error),
                    )
                )
    for row in updates:
        if not row.qbo_id or not row.payload:
            continue
        payload = _StoredDraft.of(row).payload
        changes = {key: value for key, value in payload.items() if key != "VendorRef"}
        # The replay of the same requestid returns the original answer when the update had gone through.
        updated = client.update(
            row.entity_type, row.qbo_id, changes, request_id=row.request_id, sync_token=row.sync_token
        )
        results.append(
            PostingResult(row.file_sha256, row.record_index, "updated", row.qbo_id, _text(updated.get("SyncToken")))
        )
    ledger.finish_postings(results)
    return len(results)


@dataclass(frozen=True)
class _StoredDraft:
    """The parts of a pending posting row that `find_in_qbo` and a re-sent batch need."""

    entity_type: str
    doc_number: str | None
    vendor_id: str | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, row: Posting) -> _StoredDraft:
        payload = json.loads(row.payload or "{}", parse_float=Decimal)
        return cls(row.entity_type, row.doc_number, row.vendor_id, payload)


# --- ledger rows and outcomes ------------------------------------------------------------------------


def _known_in_ledger(ledger: Ledger, realm_id: str, works: list[_Work]) -> dict[tuple[str, DocumentKey], Posting]:
    by_partner: dict[str, list[DocumentKey]] = {}
    for work in works:
        if work.key:
            by_partner.setdefault(work.file.partner, []).append(work.key)
    known: dict[tuple[str, DocumentKey], Posting] = {}
    for partner, keys in by_partner.items():
        for key, posting in ledger.posted_documents(partner, realm_id, keys).items():
            known[(partner, key)] = posting
    return known


def _batches(works: list[_Work]) -> list[_Batch]:
    batches = []
    for start in range(0, len(works), BATCH_MAX_ITEMS):
        chunk = works[start : start + BATCH_MAX_ITEMS]
        batches.append(_Batch(str(uuid.uuid4()), chunk, [str(i) for i in range(len(chunk))]))
    return batches


def _start(
    work: _Work,
    operation: str,
    status: str,
    *,
    qbo_id: str | None = None,
    sync_token: str | None = None,
    linked: Posting | None = None,
    batch_request_id: str | None = None,
    bid: str | None = None,
    payload: str | None = None,
) -> PostingStart:
    draft = work.draft
    if operation == "update":
        payload = encode_json(draft.payload).decode()
    return PostingStart(
        file_sha256=work.file.file_sha256,
        record_index=draft.record_index,
        document_key=draft.document_key,
        entity_type=draft.entity_type,
        request_id=work.request_id,
        partner=work.file.partner,
        realm_id=work.file.realm_id,
        doc_number=draft.doc_number,
        vendor_id=draft.vendor_id,
        content_sha256=draft.content_sha256,
        operation=operation,
        status=status,
        source_line=draft.source.line,
        source_segment=draft.source.segment,
        batch_request_id=batch_request_id,
        batch_bid=bid,
        payload=payload,
        qbo_id=qbo_id,
        sync_token=sync_token,
        linked_file_sha256=None if linked is None else linked.file_sha256,
    )


def _new_request_id() -> str:
    return uuid.uuid4().hex


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _outcome(
    draft: PostingDraft,
    status: OutcomeStatus,
    *,
    qbo_id: str | None = None,
    code: str | None = None,
    reason: str | None = None,
) -> DocumentOutcome:
    source: Source = draft.source
    party: PartyRef | None = draft.party
    return DocumentOutcome(
        record_index=draft.record_index,
        document_type=draft.document_type,
        document_number=draft.doc_number,
        status=status,
        vendor_id=None if party is None else party.id,
        vendor_name=None if party is None else party.name,
        total=draft.total,
        line=source.line,
        segment=source.segment,
        transaction_set=source.transaction_set,
        group=source.group,
        interchange=source.interchange,
        qbo_entity=draft.entity_type if qbo_id else None,
        qbo_id=qbo_id,
        code=code,
        reason=reason,
    )


def _outcome_of_row(draft: PostingDraft, row: Posting) -> DocumentOutcome:
    if row.status == "linked":
        return _linked_outcome(draft, row)
    status = OutcomeStatus.UPDATED if row.status == "updated" else OutcomeStatus.POSTED
    return _outcome(draft, status, qbo_id=row.qbo_id)


def _linked_outcome(draft: PostingDraft, earlier: Posting) -> DocumentOutcome:
    first_file = earlier.linked_file_sha256 or earlier.file_sha256
    where = f" (first posted from file sha256 {first_file[:12]})"
    return _outcome(
        draft,
        OutcomeStatus.DUPLICATE,
        qbo_id=earlier.qbo_id,
        reason=f"already in QuickBooks as {earlier.entity_type} {earlier.qbo_id}{where}; linked, not created again",
    )


def _rejections(file: FilePostings, run: _Run) -> set[int]:
    """Outcomes for the documents mapping or validation turned down; their record indexes."""
    rows = _failure_rows(file.validated.failures)
    by_index: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_index.setdefault(int(row["record_index"]), []).append(row)
    valid = {draft.record_index for draft in file.validated.valid}
    for index, failures in by_index.items():
        if index in valid:
            continue
        first = failures[0]
        document = file.documents[index] if 0 <= index < len(file.documents) else None
        reason = "; ".join(
            f"{f.get('check')}: {f.get('column')} {f.get('value')!r} at {f.get('source_location')} ({f.get('fix')})"
            for f in failures[:5]
        )
        run.outcomes[file.file_sha256][index] = _document_outcome(
            document, index, first.get("document_number"), str(first.get("check") or "validation"), reason
        )
    return set(by_index) - valid


def _failure_rows(failures: Any) -> list[Mapping[str, Any]]:
    if failures is None:
        return []
    if hasattr(failures, "to_dict"):
        return list(failures.to_dict("records"))
    return [row.as_dict() if hasattr(row, "as_dict") else row for row in failures]


def _document_outcome(document: Document | None, index: int, number: Any, code: str, reason: str) -> DocumentOutcome:
    party = getattr(document, "vendor", None)
    source = getattr(document, "source", None) or Source()
    total = getattr(document, "total", None)
    return DocumentOutcome(
        record_index=index,
        document_type=str(getattr(document, "type", None) or "bill"),
        document_number=None if number is None or number != number else str(number),
        status=OutcomeStatus.REJECTED,
        vendor_id=getattr(party, "id", None),
        vendor_name=getattr(party, "name", None),
        total=total if isinstance(total, Decimal) else None,
        line=source.line,
        segment=source.segment,
        transaction_set=source.transaction_set,
        group=source.group,
        interchange=source.interchange,
        code=code,
        reason=reason,
    )
