"""QBO webhooks: the `intuit-signature` check over raw bytes, and legacy / CloudEvents bodies as change events.

The parser is strict on purpose: every field the receiver stores must be text of a known shape, so
an odd body (lists where objects belong, numbers where text belongs, deep nesting, 5,000-digit
numbers, `NaN`, timestamps that overflow) is one `WebhookPayloadError`, never another exception.
Error messages name the JSON path and what was expected, never the value (it may be hostile).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from qbo_sftp_assets.qbo import entities

SIGNATURE_HEADER = "intuit-signature"
_CLOUDEVENT_VERBS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}
# ASCII-only shapes, so nothing stored can smuggle control characters or lone surrogates.
_REALM_ID = re.compile(r"[0-9]{1,32}")
_ENTITY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
_ENTITY_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_OPERATION = re.compile(r"[A-Za-z]{1,32}")
_EVENT_ID = re.compile(r"[\x21-\x7e]{1,128}")
_CLOUDEVENT_TYPE = re.compile(r"qbo\.([A-Za-z][A-Za-z0-9]{0,63})\.([a-z]{1,32})\.v[0-9]{1,4}")


class WebhookPayloadError(ValueError):
    """The body is neither a legacy `eventNotifications` object nor a CloudEvents array."""


@dataclass(frozen=True)
class ChangeEvent:
    """One entity change announced by a webhook; re-fetch the entity, the payload carries no data."""

    realm_id: str
    entity: str
    entity_id: str
    operation: str  # Create, Update, Delete, Merge, Void, Emailed
    occurred_at: datetime | None
    event_id: str  # CloudEvents `id`; for legacy events a key built from realm, entity, id, operation, time
    source_format: Literal["legacy", "cloudevents"]

    @property
    def dedup_key(self) -> str:
        """Unique per change: the CloudEvents `id`, or realm + entity + id + operation + lastUpdated (UTC)."""
        return f"{self.source_format}:{self.event_id}"


def signature_for(body: bytes, verifier_token: str) -> str:
    """base64(HMAC-SHA256(key=verifier token, msg=raw body)), as Intuit computes `intuit-signature`."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, signature: str | None, verifier_token: str) -> bool:
    """Whether the header matches the raw body; compare before parsing any JSON."""
    if not signature or not verifier_token:
        return False
    return hmac.compare_digest(signature.strip().encode(), signature_for(body, verifier_token).encode())


def parse_timestamp(text: Any) -> datetime | None:
    """A webhook/QBO timestamp in UTC: offsets with or without a colon, `Z`, up to 9 fractional digits.

    None for anything else, including non-text and moments that do not fit a datetime in UTC."""
    if not isinstance(text, str) or not text.strip() or len(text) > 64:
        return None
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, _, rest = value.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        value = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _refuse_constant(name: str) -> Any:
    raise WebhookPayloadError(f"webhook body holds {name}, which is not JSON")


def parse_payload(body: bytes | str) -> list[ChangeEvent]:
    """The change events in a webhook body, either format; raises WebhookPayloadError on anything else."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise WebhookPayloadError("webhook body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError, and ints past Python's digit limit
        if isinstance(error, WebhookPayloadError):
            raise
        raise WebhookPayloadError(f"webhook body is not JSON ({type(error).__name__})") from None
    if isinstance(data, list):
        return [_cloud_event(item, f"[{index}]") for index, item in enumerate(data)]
    if isinstance(data, dict) and "eventNotifications" in data:
        return _legacy_events(data["eventNotifications"])
    if isinstance(data, dict) and "specversion" in data:
        return [_cloud_event(data, "")]
    raise WebhookPayloadError("webhook body is neither `eventNotifications` nor a CloudEvents array")


def _entity(name: str) -> str:
    try:
        return entities.entity_name(name)
    except entities.UnknownEntity:
        return name


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise WebhookPayloadError(f"{where} must be a list")
    return value


def _text(container: dict[str, Any], key: str, where: str, pattern: re.Pattern[str]) -> str:
    value = container.get(key)
    if not isinstance(value, str):
        raise WebhookPayloadError(f"{where}.{key} must be text")
    if not pattern.fullmatch(value):
        raise WebhookPayloadError(f"{where}.{key} is not a valid {key}")
    return value


def _moment(container: dict[str, Any], key: str, where: str) -> datetime:
    moment = parse_timestamp(container.get(key))
    if moment is None:
        raise WebhookPayloadError(f"{where}.{key} must be an ISO 8601 timestamp")
    return moment


def _legacy_events(notifications: Any) -> list[ChangeEvent]:
    events = []
    for index, notification in enumerate(_list(notifications, "eventNotifications")):
        where = f"eventNotifications[{index}]"
        notification = _object(notification, where)
        realm_id = _text(notification, "realmId", where, _REALM_ID)
        change_event = _object(notification.get("dataChangeEvent"), f"{where}.dataChangeEvent")
        changes = _list(change_event.get("entities"), f"{where}.dataChangeEvent.entities")
        for position, change in enumerate(changes):
            at = f"{where}.dataChangeEvent.entities[{position}]"
            change = _object(change, at)
            entity = _entity(_text(change, "name", at, _ENTITY_NAME))
            entity_id = _text(change, "id", at, _ENTITY_ID)
            operation = _text(change, "operation", at, _OPERATION)
            occurred_at = _moment(change, "lastUpdated", at)
            # The time in the key is normalised, so one change printed with two offsets is one event.
            key_time = occurred_at.isoformat(timespec="microseconds")
            events.append(
                ChangeEvent(
                    realm_id=realm_id,
                    entity=entity,
                    entity_id=entity_id,
                    operation=operation,
                    occurred_at=occurred_at,
                    event_id=f"{realm_id}:{entity}:{entity_id}:{operation}:{key_time}",
                    source_format="legacy",
                )
            )
    return events


def _cloud_event(item: Any, where: str) -> ChangeEvent:
    item = _object(item, where or "the CloudEvent")
    where = where or "event"
    if item.get("specversion") != "1.0":
        raise WebhookPayloadError(f'{where}.specversion must be "1.0"')
    kind = item.get("type")
    match = _CLOUDEVENT_TYPE.fullmatch(kind) if isinstance(kind, str) else None
    if match is None:
        raise WebhookPayloadError(f"{where}.type is not qbo.<entity>.<verb>.v1")
    verb = match.group(2)
    return ChangeEvent(
        realm_id=_text(item, "intuitaccountid", where, _REALM_ID),
        entity=_entity(match.group(1)),
        entity_id=_text(item, "intuitentityid", where, _ENTITY_ID),
        operation=_CLOUDEVENT_VERBS.get(verb, verb.capitalize()),
        occurred_at=_moment(item, "time", where),
        event_id=_text(item, "id", where, _EVENT_ID),
        source_format="cloudevents",
    )
