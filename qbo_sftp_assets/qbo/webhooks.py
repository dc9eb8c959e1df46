"""QBO webhooks: the `intuit-signature` check over raw bytes, and legacy / CloudEvents bodies as change events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
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
    event_id: str  # CloudEvents `id`; for legacy events a key built from realm, entity, id, time
    source_format: Literal["legacy", "cloudevents"]


def signature_for(body: bytes, verifier_token: str) -> str:
    """base64(HMAC-SHA256(key=verifier token, msg=raw body)), as Intuit computes `intuit-signature`."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, signature: str | None, verifier_token: str) -> bool:
    """Whether the header matches the raw body; compare before parsing any JSON."""
    if not signature or not verifier_token:
        return False
    return hmac.compare_digest(signature.strip().encode(), signature_for(body, verifier_token).encode())


def parse_timestamp(text: str | None) -> datetime | None:
    """A webhook/QBO timestamp in UTC: offsets with or without a colon, `Z`, up to 9 fractional digits."""
    if not text:
        return None
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, _, rest = value.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        value = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_payload(body: bytes | str) -> list[ChangeEvent]:
    """The change events in a webhook body, either format; raises WebhookPayloadError on anything else."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise WebhookPayloadError(f"webhook body is not JSON ({error})") from None
    if isinstance(data, list):
        return [_cloud_event(item) for item in data]
    if isinstance(data, dict) and "eventNotifications" in data:
        return _legacy_events(data["eventNotifications"])
    if isinstance(data, dict) and "specversion" in data:
        return [_cloud_event(data)]
    raise WebhookPayloadError("webhook body is neither `eventNotifications` nor a CloudEvents array")


def _entity(name: str) -> str:
    try:
        return entities.entity_name(name)
    except entities.UnknownEntity:
        return name


def _legacy_events(notifications: Any) -> list[ChangeEvent]:
    if not isinstance(notifications, list):
        raise WebhookPayloadError("`eventNotifications` must be a list")
    events = []
    for notification in notifications:
        realm_id = str(notification.get("realmId", ""))
        for change in notification.get("dataChangeEvent", {}).get("entities", []):
            entity, entity_id = _entity(str(change.get("name", ""))), str(change.get("id", ""))
            operation, last_updated = str(change.get("operation", "")), change.get("lastUpdated")
            events.append(
                ChangeEvent(
                    realm_id=realm_id,
                    entity=entity,
                    entity_id=entity_id,
                    operation=operation,
                    occurred_at=parse_timestamp(last_updated),
                    event_id=f"{realm_id}:{entity}:{entity_id}:{operation}:{last_updated}",
                    source_format="legacy",
                )
            )
    return events


def _cloud_event(item: Any) -> ChangeEvent:
    if not isinstance(item, dict):
        raise WebhookPayloadError("each CloudEvents entry must be an object")
    kind = str(item.get("type", ""))
    parts = kind.split(".")
    if len(parts) < 3 or parts[0] != "qbo":
        raise WebhookPayloadError(f"CloudEvents type {kind!r} is not qbo.<entity>.<verb>.v1")
    verb = parts[2].lower()
    return ChangeEvent(
        realm_id=str(item.get("intuitaccountid", "")),
        entity=_entity(parts[1]),
        entity_id=str(item.get("intuitentityid", "")),
        operation=_CLOUDEVENT_VERBS.get(verb, verb.capitalize()),
        occurred_at=parse_timestamp(item.get("time")),
        event_id=str(item.get("id", "")),
        source_format="cloudevents",
    )
