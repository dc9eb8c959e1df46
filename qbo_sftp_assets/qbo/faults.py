"""QBO faults: one parser for JSON or XML bodies (any key case), and the typed errors they become."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qbo_sftp_assets.errors import UserFacingError

THROTTLE_CODES = frozenset({"3001"})
AUTH_CODES = frozenset({"3200", "3100", "3202", "100"})
STALE_OBJECT_CODES = frozenset({"5010"})
DUPLICATE_DOC_NUMBER_CODES = frozenset({"6140"})
NOT_FOUND_CODES = frozenset({"610"})
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class FaultDetail:
    """One `Error` entry of a QBO `Fault`."""

    code: str
    message: str
    detail: str = ""
    element: str = ""


@dataclass(frozen=True)
class Fault:
    """A parsed QBO `Fault`: its type and every `Error` in it (never empty)."""

    fault_type: str
    errors: tuple[FaultDetail, ...]

    @property
    def first(self) -> FaultDetail:
        return self.errors[0]


class QboError(Exception):
    """Base of every QBO API failure; carries QBO's code, message, detail, element and intuit_tid."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        detail: str = "",
        element: str = "",
        fault_type: str = "",
        status_code: int | None = None,
        intuit_tid: str | None = None,
        errors: tuple[FaultDetail, ...] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.fault_type = fault_type
        self.status_code = status_code
        self.intuit_tid = intuit_tid
        self.errors = errors
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"QBO {self.fault_type or 'fault'}"]
        if self.code:
            parts.append(f"code {self.code}")
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        text = f"{' '.join(parts)}: {self.message}"
        if self.detail and self.detail != self.message:
            text += f" — {self.detail}"
        if self.element:
            text += f" (element {self.element})"
        if len(self.errors) > 1:
            text += f" (+{len(self.errors) - 1} more)"
        if self.intuit_tid:
            text += f" [intuit_tid {self.intuit_tid}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status_code={self.status_code!r}, "
            f"intuit_tid={self.intuit_tid!r})"
        )


class QboValidationError(QboError):
    """The request itself is wrong (a 4xx ValidationFault); retrying the same request cannot help."""


class QboNotFound(QboValidationError):
    """The object does not exist (HTTP 404 or fault 610)."""


class StaleObjectConflict(QboValidationError):
    """Fault 5010: the SyncToken sent is older than QBO's; re-read and re-apply, or give up."""


class DuplicateDocumentNumber(QboValidationError):
    """Fault 6140: the DocNumber is already used and the company refuses duplicates."""


class QboAmountError(QboValidationError, ValueError):
    """An amount the client refuses to send: not finite, or beyond QBO's 15-digit limit.

    Raised before the request leaves, so nothing was written; the document itself must change.
    """

    def __init__(self, amount: object, reason: str) -> None:
        super().__init__(f"amount {amount} cannot be sent to QuickBooks: {reason}", fault_type="AmountLimit")
        self.amount = amount


class QboAuthError(QboError):
    """Authentication or authorization failed (401 / 403, faults 3200, 3100)."""


class QboThrottled(QboError):
    """HTTP 429 / fault 3001: the realm's request limit was reached."""

    def __init__(self, message: str, *, retry_after: float | None = None, **fields: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **fields)


class QboServerError(QboError):
    """QBO failed on its side (5xx) or did not answer in time; the same request may be resent."""


class ReconnectRequired(QboAuthError, UserFacingError):
    """The refresh token is dead (`invalid_grant`): a person must run the consent flow again."""

    exit_code = 3

    def __init__(self, company: str, realm_id: str, reason: str = "") -> None:
        self.company = company
        self.realm_id = realm_id
        why = f" ({reason})" if reason else ""
        QboAuthError.__init__(
            self,
            f"QuickBooks refused the stored refresh token for realm {realm_id}{why}. "
            f"Reconnect the company: run `qbo-sftp connect {company}`",
            code="invalid_grant",
            fault_type="OAuth",
        )

    def _describe(self) -> str:
        return self.message


# --- parsing ------------------------------------------------------------------------------------


def parse_fault(body: bytes | str | Mapping[str, Any] | None) -> Fault | None:
    """The Fault in a response body (JSON or XML, any key case), or None when there is none."""
    if body is None:
        return None
    if isinstance(body, Mapping):
        return _fault_from_mapping(body)
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = text.strip()
    if text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        return _fault_from_mapping(data) if isinstance(data, Mapping) else None
    if text.startswith("<"):
        return _fault_from_xml(text)
    return None


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    """`mapping[key]` matched without regard to case (QBO's gateway sends lower-case keys)."""
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for name, value in mapping.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None


def _fault_from_mapping(data: Mapping[str, Any]) -> Fault | None:
    fault = _get(data, "Fault")
    if fault is None:
        response = _get(data, "IntuitResponse")
        fault = _get(response, "Fault") if isinstance(response, Mapping) else None
    if not isinstance(fault, Mapping):
        return None
    raw_errors = _get(fault, "Error") or []
    if isinstance(raw_errors, Mapping):
        raw_errors = [raw_errors]
    errors = tuple(
        FaultDetail(
            code=_text(_get(item, "code")),
            message=_text(_get(item, "Message")),
            detail=_text(_get(item, "Detail")),
            element=_text(_get(item, "element")),
        )
        for item in raw_errors
        if isinstance(item, Mapping)
    )
    return Fault(_text(_get(fault, "type")), errors or (FaultDetail(code="", message="unspecified fault"),))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _fault_from_xml(text: str) -> Fault | None:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    fault = root if _local(root.tag) == "fault" else next((e for e in root.iter() if _local(e.tag) == "fault"), None)
    if fault is None:
        return None
    errors = []
    for node in fault:
        if _local(node.tag) != "error":
            continue
        attributes = {key.lower(): value for key, value in node.attrib.items()}
        children = {_local(child.tag): (child.text or "").strip() for child in node}
        errors.append(
            FaultDetail(
                code=attributes.get("code", children.get("code", "")),
                message=children.get("message", ""),
                detail=children.get("detail", ""),
                element=attributes.get("element", children.get("element", "")),
            )
        )
    fault_type = {key.lower(): value for key, value in fault.attrib.items()}.get("type", "")
    return Fault(fault_type, tuple(errors) or (FaultDetail(code="", message="unspecified fault"),))


# --- classification -----------------------------------------------------------------------------


def error_from_fault(
    fault: Fault,
    *,
    status_code: int | None = None,
    intuit_tid: str | None = None,
    retry_after: float | None = None,
) -> QboError:
    """The typed error for a parsed Fault, chosen by QBO's code first and the HTTP status second."""
    first = fault.first
    codes = {error.code for error in fault.errors}
    fields: dict[str, Any] = {
        "code": first.code,
        "detail": first.detail,
        "element": first.element,
        "fault_type": fault.fault_type,
        "status_code": status_code,
        "intuit_tid": intuit_tid,
        "errors": fault.errors,
    }
    kind: type[QboError]
    if codes & THROTTLE_CODES or status_code == 429:
        return QboThrottled(first.message, retry_after=retry_after, **fields)
    if codes & STALE_OBJECT_CODES:
        kind = StaleObjectConflict
    elif codes & DUPLICATE_DOC_NUMBER_CODES:
        kind = DuplicateDocumentNumber
    elif codes & AUTH_CODES or status_code in (401, 403) or fault.fault_type.upper().startswith("AUTH"):
        kind = QboAuthError
    elif codes & NOT_FOUND_CODES or status_code == 404:
        kind = QboNotFound
    elif status_code is not None and status_code >= 500:
        kind = QboServerError
    else:
        kind = QboValidationError
    return kind(first.message, **fields)


def error_from_response(
    status_code: int,
    body: bytes,
    *,
    intuit_tid: str | None = None,
    retry_after: float | None = None,
) -> QboError | None:
    """The typed error a response stands for (a Fault even inside HTTP 200), or None if it succeeded."""
    fault = parse_fault(body)
    if fault is not None:
        return error_from_fault(fault, status_code=status_code, intuit_tid=intuit_tid, retry_after=retry_after)
    if status_code < 400:
        return None
    fields: dict[str, Any] = {"status_code": status_code, "intuit_tid": intuit_tid, "fault_type": "HTTP"}
    reason = f"HTTP {status_code} without a QBO fault body"
    if status_code == 429:
        return QboThrottled(reason, retry_after=retry_after, **fields)
    if status_code in (401, 403):
        return QboAuthError(reason, **fields)
    if status_code == 404:
        return QboNotFound(reason, **fields)
    if status_code >= 500:
        return QboServerError(reason, **fields)
    return QboValidationError(reason, **fields)


def is_retryable(error: QboError) -> bool:
    """Whether resending the same request (same requestid) may succeed: throttles and server failures."""
    return isinstance(error, QboThrottled | QboServerError)
