"""Attachments: the multipart `upload` endpoint, the `download` link, and the file behind that link."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from qbo_sftp_assets.sandbox.qbo_server import faults, wire
from qbo_sftp_assets.sandbox.qbo_server.entities import ENTITY_KINDS
from qbo_sftp_assets.sandbox.qbo_server.store import RealmStore, StoredFile, WriteResult

# QBO's attachment size cap as third-party clients state it (intuit/quickbooks-online-mcp-server#96).
MAX_FILE_BYTES = 100 * 1024 * 1024
PARAM = re.compile(r';\s*([A-Za-z_-]+)\s*=\s*(?:"([^"]*)"|([^;\s]*))')


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    content: bytes


def header_params(value: str) -> dict[str, str]:
    return {match.group(1).lower(): match.group(2) or match.group(3) or "" for match in PARAM.finditer(value)}


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart/form-data body into parts.

    Tolerant the way QBO is: python-quickbooks writes LF (not CRLF) line ends and sends the file as
    base64 with `Content-Transfer-Encoding: base64`; browsers and httpx send raw bytes with CRLF.
    """
    if not content_type.lower().startswith("multipart/form-data"):
        raise faults.request_body_error(
            f"Content type {content_type or '(none)'} is not supported: the upload endpoint takes multipart/form-data"
        )
    boundary = header_params(content_type).get("boundary")
    if not boundary:
        raise faults.request_body_error("multipart/form-data without a boundary")
    parts = []
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk[1:] if chunk.startswith(b"\n") else chunk
        ends = [(chunk.find(mark), mark) for mark in (b"\r\n\r\n", b"\n\n") if chunk.find(mark) >= 0]
        if not ends:
            raise faults.request_body_error("a multipart part has no blank line after its headers")
        end, mark = min(ends)
        headers = {}
        for line in chunk[:end].decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        # The line break before the next delimiter belongs to the delimiter, not to the content.
        content = chunk[end + len(mark) :]
        content = content[:-2] if content.endswith(b"\r\n") else content[:-1] if content.endswith(b"\n") else content
        if headers.get("content-transfer-encoding", "").lower() == "base64":
            try:
                content = base64.b64decode(b"".join(content.split()), validate=True)
            except binascii.Error as error:
                raise faults.request_body_error(f"a base64 part does not decode: {error}") from error
        disposition = header_params(headers.get("content-disposition", ""))
        parts.append(
            Part(disposition.get("name", ""), disposition.get("filename"), headers.get("content-type"), content)
        )
    return parts


def run_upload(store: RealmStore, parts: list[Part], base_url: str) -> tuple[list[dict], list[WriteResult]]:
    """One `AttachableResponse` item per `file_content_*` part, each an Attachable or its own Fault."""
    metadata = {
        part.name.removeprefix("file_metadata_"): part for part in parts if part.name.startswith("file_metadata_")
    }
    files = [part for part in parts if part.name.startswith("file_content_")]
    if not files:
        raise faults.required_param_missing("file_content_0")
    store.download_base = base_url
    items: list[dict] = []
    writes: list[WriteResult] = []
    for part in files:
        try:
            result = upload_one(store, part, metadata.get(part.name.removeprefix("file_content_")))
        except faults.QboFault as fault:
            items.append({"Fault": fault.fault_json()})
            continue
        items.append({"Attachable": result.row.data})
        writes.append(result)
    return items, writes


def upload_one(store: RealmStore, part: Part, metadata: Part | None) -> WriteResult:
    try:
        attachable = wire.loads(metadata.content) if metadata is not None and metadata.content.strip() else {}
    except ValueError as error:
        raise faults.request_body_error(f"file metadata is not valid JSON: {error}") from error
    if not isinstance(attachable, dict):
        raise faults.request_body_error("file metadata must be an Attachable object")
    file_name = attachable.get("FileName") or part.filename
    if not file_name:
        raise faults.required_param_missing("FileName")
    if len(part.content) > MAX_FILE_BYTES:
        raise faults.business_validation(f"{file_name} is larger than the 100 MB an attachment may be.", "FileName")
    content_type = attachable.get("ContentType") or part.content_type or "application/octet-stream"
    stored = StoredFile(str(file_name), str(content_type), part.content, secrets.token_urlsafe(24))
    return store.create(ENTITY_KINDS["Attachable"], attachable, file=stored)


def download_link(store: RealmStore, attachable_id: str) -> str:
    """What `GET .../download/{id}` answers: the file's temporary URL, as plain text."""
    row = store.row("Attachable", attachable_id)
    if row is None or attachable_id not in store.files:
        raise faults.object_not_found("Id")
    return str(row.data["TempDownloadUri"])


def stored_file(store: RealmStore, attachable_id: str, token: str) -> StoredFile | None:
    """The file behind a TempDownloadUri, if the link is right and the attachable still exists."""
    found = store.files.get(attachable_id)
    if found is None or store.row("Attachable", attachable_id) is None:
        return None
    return found if secrets.compare_digest(found.token, token) else None
