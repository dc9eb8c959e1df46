"""Partners' 997s for our outbound X12: landed from the partner's ack folder, matched to our deliveries by
control numbers, recorded per set; and the deliveries still unacknowledged past the partner's SLA.

Matching: a 997 names the group it answers by our GS06 (AK102) and each set by our ST02 (AK202); a TA1
names our interchange by ISA13. GS06 comes from the partner's own counter in the ledger, so it names
one delivery of ours. Each set's verdict is a `received` acknowledgment row (kind 997, control number
`ISA13/GS06/ST02`, status accepted | accepted_with_errors | rejected, the AK3/AK4 detail); the delivery's
`ack_status` sums them up: accepted, accepted_with_errors, partially_accepted or rejected. An ack file
already recorded (by its sha256) is not recorded twice. Our deliveries never go out as EDIFACT, so no
CONTRL can answer one; a CONTRL left in the folder is reported as unmatched.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qbo_sftp_assets.config import Partner
from qbo_sftp_assets.formats.x12 import AckResult, X12DelimiterError, read_997
from qbo_sftp_assets.ledger import Ledger, OutboundDelivery
from qbo_sftp_assets.sftp import PartnerFiles

log = logging.getLogger(__name__)

AWAITING = "awaiting_997"
SET_STATUS = {"A": "accepted", "E": "accepted_with_errors", "R": "rejected", "M": "rejected", "W": "rejected"}
GROUP_STATUS = {"A": "accepted", "E": "accepted_with_errors", "P": "partially_accepted", "R": "rejected"}


@dataclass(frozen=True)
class SetVerdict:
    """The partner's word on one transaction set we sent."""

    delivery_id: int
    remote_path: str
    control_number: str  # ISA13/GS06/ST02
    record: str  # the entity key the set carried, e.g. Bill/12
    status: str
    codes: tuple[str, ...]
    errors: tuple[str, ...]


@dataclass
class LandedAckFile:
    """One ack file: what it said about which of our deliveries, and what matched nothing."""

    name: str
    remote_path: str
    sha256: str
    verdicts: list[SetVerdict] = field(default_factory=list)
    deliveries: dict[int, str] = field(default_factory=dict)  # delivery id -> its new ack status
    unmatched: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    already_recorded: bool = False
    moved_to: str | None = None


def land_partner_acks(files: PartnerFiles, ledger: Ledger, partner_name: str, partner: Partner) -> list[LandedAckFile]:
    """Read every ack file in the partner's ack folder, record what it says, move it to the ack archive."""
    folder = partner.partner_acks.folder
    files.ensure_folder(folder)
    entries = [
        entry
        for entry in files.list_folder(folder)
        if entry.is_file
        and not entry.name.startswith(".")
        and fnmatch.fnmatch(entry.name, partner.partner_acks.pattern)
    ]
    landed = []
    for entry in entries:
        content = files.read_bytes(entry.name, folder)
        result = record_ack_file(ledger, partner_name, entry.name, entry.path, content)
        result.moved_to = files.move(entry.name, folder, partner.partner_acks.archive)
        landed.append(result)
    return landed


def record_ack_file(ledger: Ledger, partner_name: str, name: str, remote_path: str, content: bytes) -> LandedAckFile:
    """Match one 997 file's verdicts to our deliveries and record them (once per file content)."""
    landed = LandedAckFile(name, remote_path, hashlib.sha256(content).hexdigest())
    if ledger.query(
        "SELECT 1 FROM acknowledgments WHERE direction = 'received' AND partner = ? AND detail LIKE ? LIMIT 1",
        [partner_name, f'%"ack_file_sha256": "{landed.sha256}"%'],
    ):
        landed.already_recorded = True
        return landed
    try:
        results, parse_errors = read_997(content, file=name)
    except X12DelimiterError as error:
        landed.errors.append(f"not an X12 file: {error}")
        log.warning("%s: %s is not a 997 we can read: %s", partner_name, name, error)
        return landed
    landed.errors.extend(str(e) for e in parse_errors)
    deliveries = [d for d in ledger.outbound_deliveries(partner=partner_name) if d.control_numbers]
    # Oldest first, so that after a counter wraps the newest delivery with a number is the one it names.
    oldest_first = list(reversed(deliveries))
    by_group = {str((d.control_numbers or {}).get("GS06")): d for d in oldest_first}
    by_interchange = {str((d.control_numbers or {}).get("ISA13")): d for d in oldest_first}
    verdicts: dict[int, list[SetVerdict]] = {}
    group_verdicts: dict[int, AckResult] = {}
    for result in results:
        if result.level == "interchange":
            delivery = by_interchange.get(_number(result.interchange))
            if delivery is None:
                landed.unmatched.append(f"TA1 for interchange {result.interchange}")
            elif result.status == "R":
                group_verdicts[delivery.id] = result
            continue
        delivery = by_group.get(_number(result.group))
        if delivery is None:
            landed.unmatched.append(f"{result.level} {result.group}/{result.transaction_set or ''}".rstrip("/"))
            continue
        if result.level == "group":
            group_verdicts[delivery.id] = result
            continue
        numbers = delivery.control_numbers or {}
        sets = numbers.get("sets", {})
        number = result.transaction_set or ""
        verdicts.setdefault(delivery.id, []).append(
            SetVerdict(
                delivery_id=delivery.id,
                remote_path=delivery.remote_path,
                control_number=f"{numbers.get('ISA13')}/{numbers.get('GS06')}/{number}",
                record=sets.get(number) or sets.get(number.zfill(4)) or "?",
                status=SET_STATUS.get(result.status, "rejected"),
                codes=result.codes,
                errors=result.errors,
            )
        )
    known = {d.id: d for d in deliveries}
    for delivery_id in sorted(set(verdicts) | set(group_verdicts)):
        delivery = known[delivery_id]
        sets = verdicts.get(delivery_id, [])
        status = _delivery_status(sets, group_verdicts.get(delivery_id))
        for verdict in sets:
            _record(ledger, partner_name, delivery, verdict.control_number, verdict.status, landed, verdict)
        group = group_verdicts.get(delivery_id)
        if group is not None:
            numbers = delivery.control_numbers or {}
            number = f"{numbers.get('ISA13')}/{numbers.get('GS06')}"
            _record(ledger, partner_name, delivery, number, status, landed, None, codes=group.codes, content=content)
        ledger.set_delivery_ack(delivery_id, status)
        landed.deliveries[delivery_id] = status
        landed.verdicts.extend(sets)
    return landed


def _number(text: str | None) -> str:
    """A control number as our ledger stores it (an integer's digits, without the padding)."""
    return str(int(text)) if text and text.strip().isdigit() else (text or "")


def _delivery_status(sets: Sequence[SetVerdict], group: AckResult | None) -> str:
    if sets:
        statuses = {v.status for v in sets}
        if statuses == {"accepted"}:
            return "accepted"
        if "rejected" not in statuses:
            return "accepted_with_errors"
        return "rejected" if statuses == {"rejected"} else "partially_accepted"
    if group is None:
        return AWAITING
    return GROUP_STATUS.get(group.status, "rejected")


def _record(
    ledger: Ledger,
    partner_name: str,
    delivery: OutboundDelivery,
    control_number: str,
    status: str,
    landed: LandedAckFile,
    verdict: SetVerdict | None,
    *,
    codes: Sequence[str] = (),
    content: bytes | None = None,
) -> None:
    detail: dict[str, Any] = {"ack_file_sha256": landed.sha256, "ack_file": landed.remote_path}
    if verdict is not None:
        detail.update(record=verdict.record, codes=list(verdict.codes), errors=list(verdict.errors))
    else:
        detail.update(codes=list(codes))
    ledger.record_acknowledgment(
        partner=partner_name,
        direction="received",
        kind="997",
        status=status,
        file_sha256=delivery.sha256,
        remote_path=delivery.remote_path,
        control_number=control_number,
        detail=json.dumps(detail),
        content=content,
    )


# --- what is overdue or rejected -------------------------------------------------------------------


@dataclass(frozen=True)
class AckReport:
    """A feed's deliveries as the partner answered them: overdue ones, rejected sets still standing."""

    partner: str
    feed: str
    sla_hours: float
    awaiting: int
    overdue: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    statuses: dict[str, int]

    @property
    def passed(self) -> bool:
        return not self.overdue and not self.rejected


def ack_report(ledger: Ledger, partner_name: str, feed_name: str, sla_hours: float, *, now: dt.datetime) -> AckReport:
    """Deliveries of the feed with no 997 after `sla_hours`, and rejected sets whose record was not sent again."""
    deliveries = [d for d in ledger.outbound_deliveries(partner=partner_name, feed=feed_name) if d.control_numbers]
    sla = dt.timedelta(hours=sla_hours)
    statuses: dict[str, int] = {}
    overdue = []
    for delivery in deliveries:
        statuses[delivery.ack_status] = statuses.get(delivery.ack_status, 0) + 1
        if delivery.ack_status == AWAITING and now - delivery.delivered_at > sla:
            numbers = delivery.control_numbers or {}
            overdue.append(
                {
                    "remote_path": delivery.remote_path,
                    "control_numbers": f"ISA13={numbers.get('ISA13')} GS06={numbers.get('GS06')} "
                    f"ST02={','.join(numbers.get('sets', {})) or numbers.get('ST02')}",
                    "delivered_at": delivery.delivered_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                    "late_by": _duration(now - delivery.delivered_at - sla),
                }
            )
    rejected = []
    received = ledger.received_acknowledgments(partner_name, [d.sha256 for d in deliveries])
    for row in received:
        if row["status"] != "rejected" or row["control_number"].count("/") != 2:
            continue
        detail = json.loads(row["detail"] or "{}")
        delivery = next(d for d in deliveries if d.sha256 == row["file_sha256"])
        record = detail.get("record", "?")
        if any(later.id > delivery.id and record in later.entity_versions for later in deliveries):
            continue  # sent again since; that delivery's own ack decides now
        rejected.append(
            {
                "remote_path": delivery.remote_path,
                "control_number": row["control_number"],
                "record": record,
                "codes": ", ".join(detail.get("codes", [])),
                "errors": "; ".join(detail.get("errors", [])) or "(no AK3/AK4 detail)",
            }
        )
    return AckReport(
        partner_name,
        feed_name,
        sla_hours,
        statuses.get(AWAITING, 0),
        overdue,
        rejected,
        statuses,
    )


def _duration(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m"
