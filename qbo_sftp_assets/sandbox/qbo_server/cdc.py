"""Change data capture: changes since a time within the last 30 days, capped at 1000 objects per answer."""

from __future__ import annotations

from datetime import datetime, timedelta

from qbo_sftp_assets.sandbox.qbo_server import faults
from qbo_sftp_assets.sandbox.qbo_server.clock import parse_qbo_datetime
from qbo_sftp_assets.sandbox.qbo_server.entities import kind_by_name_insensitive
from qbo_sftp_assets.sandbox.qbo_server.store import RealmStore


def cdc_query_responses(
    store: RealmStore, entities: str | None, changed_since: str | None, now: datetime, max_age_days: int, cap: int
) -> list[dict]:
    """The `QueryResponse` list of a CDC answer: one element per requested entity, oldest changes first."""
    if not entities:
        raise faults.required_param_missing("entities")
    if not changed_since:
        raise faults.required_param_missing("changedSince")
    kinds = []
    for name in entities.split(","):
        kind = kind_by_name_insensitive(name.strip())
        if kind is None or not kind.in_cdc:
            raise faults.validation_fault(
                "2030", "Invalid ID", f"Entity {name.strip()!r} is not supported by change data capture", "entities"
            )
        if kind not in kinds:
            kinds.append(kind)
    try:
        since = parse_qbo_datetime(changed_since)
    except ValueError as error:
        raise faults.validation_fault(
            "2030", "Invalid date", f"changedSince {changed_since!r} is not a valid date-time", "changedSince"
        ) from error
    # The 30-day limit is documented; the fault QBO answers with is not, so this code is an assumption.
    if since < now - timedelta(days=max_age_days):
        raise faults.validation_fault(
            "4001",
            "Invalid query",
            f"QueryValidationError: changedSince must be within the last {max_age_days} days",
            "changedSince",
        )
    changes = sorted(
        ((row.updated_at, kind.name, row) for kind in kinds for row in store.changed_since(kind.name, since)),
        key=lambda change: change[0],
    )[:cap]
    responses = []
    for kind in kinds:
        objects = [row.tombstone_json() if row.deleted else row.data for _, name, row in changes if name == kind.name]
        response: dict = {"startPosition": 1, "maxResults": len(objects)}
        if objects:
            response = {kind.name: objects, **response}
        responses.append(response)
    return responses
