"""Batch: up to 30 items (creates, updates, deletes, voids, queries), each answered or faulted on its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from qbo_sftp_assets.sandbox.qbo_server import faults
from qbo_sftp_assets.sandbox.qbo_server.entities import ENTITY_KINDS
from qbo_sftp_assets.sandbox.qbo_server.operations import entity_json, perform_write
from qbo_sftp_assets.sandbox.qbo_server.query import parse_query, query_response
from qbo_sftp_assets.sandbox.qbo_server.store import RealmStore, WriteResult


@dataclass
class BatchOutcome:
    """The `BatchItemResponse` list and the writes that happened (for counters and webhooks)."""

    items: list[dict] = field(default_factory=list)
    writes: list[WriteResult] = field(default_factory=list)


MAX_BID_LENGTH_WITH_REQUESTID = 10


def batch_items(body: object, max_items: int, with_requestid: bool = False) -> list[dict]:
    if not isinstance(body, dict) or not isinstance(body.get("BatchItemRequest"), list):
        raise faults.required_param_missing("BatchItemRequest")
    items = body["BatchItemRequest"]
    # Code 1040 comes from a third-party error list (help.redteam.com's QuickBooks error codes; unconfirmed by Intuit).
    if len(items) > max_items:
        raise faults.validation_fault(
            "1040",
            "Batch size exceeds allowed limit",
            f"Batch request has {len(items)} items; the maximum is {max_items}",
            "BatchItemRequest",
        )
    if with_requestid:
        for item in items:
            if isinstance(item, dict) and len(str(item.get("bId", ""))) > MAX_BID_LENGTH_WITH_REQUESTID:
                raise faults.validation_fault(
                    "2010",
                    "Request has invalid or unsupported property",
                    f"bId {item.get('bId')!r} is longer than {MAX_BID_LENGTH_WITH_REQUESTID} characters; "
                    "a batch sent with a requestid allows at most 10",
                    "bId",
                )
    return items


def run_batch(store: RealmStore, items: list[dict], query_cap: int) -> BatchOutcome:
    """Run items in order; an item's fault is reported in its own `Fault` and does not stop the rest."""
    outcome = BatchOutcome()
    for item in items:
        bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
        try:
            outcome.items.append({"bId": bid, **run_item(store, item, query_cap, outcome)})
        except faults.QboFault as fault:
            outcome.items.append({"bId": bid, "Fault": fault.fault_json()})
    return outcome


def run_item(store: RealmStore, item: object, query_cap: int, outcome: BatchOutcome) -> dict:
    if not isinstance(item, dict) or not item.get("bId"):
        raise faults.required_param_missing("bId")
    if "Query" in item:
        query = parse_query(str(item["Query"]), query_cap)
        return {"QueryResponse": query_response(query, store.queryable_rows(query.kind.name))}
    names = [name for name in item if name in ENTITY_KINDS]
    if len(names) != 1:
        raise faults.request_body_error("Each batch item needs exactly one entity object or a Query")
    kind = ENTITY_KINDS[names[0]]
    operation = item.get("operation")
    if operation is None:
        raise faults.required_param_missing("operation")
    if operation == "update" and item.get("optionsData") == "void":
        operation = "void"
    result = perform_write(store, kind, operation, item[kind.name], allow_dup_docnum=False)
    outcome.writes.append(result)
    return {kind.name: entity_json(result)}
