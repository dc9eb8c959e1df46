"""Inbound steps: land a partner's ready files (claim, download, hash, ledger), then read and acknowledge them.

Posting into QBO sits between reading and acknowledging once mapping and validation exist; until then
the acknowledgment says what the file's own format rules accepted and rejected.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path

from qbo_sftp_assets.config import Config, InboundRule, Partner
from qbo_sftp_assets.formats.files import Acknowledged, acknowledge_file
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets.ledger.store import InboundFile
from qbo_sftp_assets.sftp import PartnerFiles, ReadinessTracker

ACK_SUFFIX = {"x12": ".997", "contrl": ".contrl", "csv": ".ack.csv"}


@dataclass(frozen=True)
class LandedFile:
    """A claimed file: its name in processing/, the local copy, its hash, and its ledger row."""

    partner: str
    name: str
    local_path: Path
    sha256: str
    size: int
    record: InboundFile

    @property
    def duplicate(self) -> bool:
        return self.record.duplicate_of is not None


@dataclass(frozen=True)
class FiledFile:
    """Where a landed file ended up and what it was answered with."""

    landed: LandedFile
    rule: InboundRule | None
    acknowledged: Acknowledged | None
    ack_path: str | None
    final_path: str
    status: str


def land_ready_files(
    files: PartnerFiles,
    partner_name: str,
    ledger: Ledger,
    landing_dir: Path,
    tracker: ReadinessTracker | None = None,
) -> list[LandedFile]:
    """Claim each ready inbound file into processing/, download it with its sha256, and record it.

    A file another reader claimed first is skipped; a file whose bytes already came from this partner
    is recorded as a duplicate (the caller files it without posting it again).
    """
    landed = []
    for entry in files.ready(tracker):
        claim = files.claim(entry.name)
        if not claim.claimed or claim.path is None:
            continue
        name = Path(claim.path).name
        local = landing_dir / partner_name / name
        local.parent.mkdir(parents=True, exist_ok=True)
        downloaded = files.download(name, local, kind="processing", expected_size=entry.size)
        record = ledger.record_inbound_file(
            sha256=downloaded.sha256, partner=partner_name, remote_path=claim.path, size=downloaded.size
        )
        landed.append(LandedFile(partner_name, name, local, downloaded.sha256, downloaded.size, record))
    return landed


def inbound_rule_for(partner: Partner, name: str) -> InboundRule | None:
    """The first of the partner's inbound rules whose pattern matches the file name."""
    return next((rule for rule in partner.inbound if fnmatch.fnmatch(name, rule.pattern)), None)


def acknowledge_and_file(
    files: PartnerFiles,
    landed: LandedFile,
    config: Config,
    ledger: Ledger,
    *,
    as_of: dt.datetime | None = None,
) -> FiledFile:
    """Read a landed file, put its acknowledgment in acks/, and move it to archive/ or error/.

    A duplicate is archived under archive/duplicates without a second acknowledgment: the partner
    already has the first one. A file no rule matches goes to error/ with the reason in the ledger.
    """
    partner = config.partner(landed.partner)
    if landed.duplicate:
        final = files.archive(landed.name, "duplicates")
        detail = f"same bytes as inbound file #{landed.record.duplicate_of}; not posted again"
        ledger.set_inbound_status(landed.record.id, "duplicate", detail, remote_path=final)
        return FiledFile(landed, None, None, None, final, "duplicate")
    rule = inbound_rule_for(partner, landed.name)
    if rule is None:
        final = files.reject(landed.name)
        patterns = ", ".join(rule.pattern for rule in partner.inbound) or "none configured"
        detail = f"no inbound rule matches (patterns: {patterns})"
        ledger.set_inbound_status(landed.record.id, "error", detail, remote_path=final)
        return FiledFile(landed, None, None, None, final, "error")
    acknowledged = acknowledge_file(
        landed.local_path,
        rule.format,
        config.layout(rule.layout) if rule.layout else None,
        name=landed.name,
        control_numbers=ledger.control_numbers_for(landed.partner),
        as_of=as_of or dt.datetime.now(dt.UTC),
    )
    ack_path = None
    if acknowledged.ack:
        uploaded = files.upload(acknowledged.ack, landed.name + ACK_SUFFIX[acknowledged.ack_kind], kind="acks")
        ack_path = uploaded.remote_path
        ledger.record_acknowledgment(
            partner=landed.partner,
            direction="sent",
            kind=acknowledged.ack_kind,
            status="accepted"
            if acknowledged.accepted
            else ("partial" if acknowledged.result.documents else "rejected"),
            file_sha256=landed.sha256,
            remote_path=ack_path,
        )
    result = acknowledged.result
    status = "accepted" if result.ok else ("partial" if result.documents else "rejected")
    # Anything rejected sends the file to error/, so a person looks at it; the ack says what was taken.
    final = files.archive(landed.name) if result.ok else files.reject(landed.name)
    errors = "; ".join(error.render() for error in result.errors[:5]) or None
    ledger.set_inbound_status(landed.record.id, status, errors, remote_path=final)
    return FiledFile(landed, rule, acknowledged, ack_path, final, status)
