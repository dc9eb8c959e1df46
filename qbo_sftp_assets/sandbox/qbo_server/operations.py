"""Writes shared by the single-entity endpoint and batch: create, update, delete, void, and their answers."""

from __future__ import annotations

from qbo_sftp_assets.sandbox.qbo_server import faults
from qbo_sftp_assets.sandbox.qbo_server.entities import EntityKind
from qbo_sftp_assets.sandbox.qbo_server.store import RealmStore, WriteResult


def perform_write(
    store: RealmStore, kind: EntityKind, operation: str | None, payload: object, allow_dup_docnum: bool
) -> WriteResult:
    """Apply one write as QBO would; `operation` is None/"create"/"update" (by Id), "delete" or "void"."""
    if not isinstance(payload, dict):
        raise faults.request_body_error(f"The request body must be a {kind.name} object")
    if kind.read_only:
        raise faults.unsupported_operation(str(operation or "create"), kind.name)
    if operation == "delete":
        return store.delete(kind, payload)
    if operation == "void":
        return store.void(kind, payload)
    if operation not in (None, "", "create", "update"):
        raise faults.unsupported_operation(str(operation), kind.name)
    has_id = payload.get("Id") not in (None, "", 0, "0")
    if operation == "update" or (operation in (None, "") and has_id):
        return store.update(kind, payload, sparse=payload.get("sparse") is True, allow_dup_docnum=allow_dup_docnum)
    return store.create(kind, payload, allow_dup_docnum=allow_dup_docnum)


def entity_json(result: WriteResult) -> dict:
    """What QBO returns under the entity's key: the object, or a Deleted stub after a delete."""
    if result.operation == "Delete":
        return {"domain": "QBO", "status": "Deleted", "Id": result.row.data["Id"]}
    return result.row.data
