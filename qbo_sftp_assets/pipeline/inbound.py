"""Inbound steps: land a partner's files (claim, download, hash, ledger), read them, and after posting
acknowledge and file them; a file a crash left in processing/ is resumed from the stage it reached.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qbo_sftp_assets.config import Config, InboundRule, Partner
from qbo_sftp_assets.formats import (
    Acknowledged,
    DocumentOutcome,
    FileStatus,
    OutcomeStatus,
    ReadResult,
    acknowledge_file,
    file_status,
    flat_ack,
)
from qbo_sftp_assets.formats.edifact import build_aperak
from qbo_sftp_assets.formats.x12 import X12Acknowledgment, build_824, build_acknowledgments, read_x12
from qbo_sftp_assets.ledger import InboundFile, Ledger, LedgerBusy, LedgerError, LedgerTooNew
from qbo_sftp_assets.sftp import (
    FileChangedSinceDownloadError,
    PartnerFiles,
    ReadinessTracker,
    RemoteFile,
    RemoteFileError,
    RemoteStat,
    SftpError,
    UnsafeRemoteNameError,
    remote_path,
)

logger = logging.getLogger(__name__)

ACK_SUFFIX = {"x12": ".997", "contrl": ".contrl", "csv": ".ack.csv", "ta1": ".ta1"}
# How far a file got, in order; a resumed file skips what its stage says is done.
STAGES = ("landed", "read", "posted", "acked", "filed")


@dataclass(frozen=True)
class LandedFile:
    """A claimed file: its name in processing/, the local copy, its hash, and its ledger row."""

    partner: str
    name: str
    local_path: Path
    sha256: str
    size: int
    record: InboundFile
    mtime: int | None = None  # the remote file's mtime (whole seconds) when it was downloaded
    # Names this landing in the ledger; a later landing of the same file (another run resuming it from
    # processing/) takes the file over. None for a file landed before landings were named.
    landing: str | None = None

    @property
    def expect(self) -> RemoteStat:
        """What the remote file must still be when it is filed: the bytes that were hashed and acknowledged."""
        return RemoteStat(self.size, self.mtime, self.sha256)

    @property
    def duplicate(self) -> bool:
        return self.record.duplicate_of is not None


@dataclass(frozen=True)
class DuplicateOf:
    """A file already answered: the same bytes, or an EDI interchange (sender + control number) seen before."""

    kind: Literal["file", "interchange"]
    earlier: InboundFile
    detail: str
    standard: str | None = None  # x12 | edifact, for an interchange
    control_number: str | None = None  # the repeated ISA13 / UNB reference
    ta1_requested: bool = False  # ISA14 = 1: the partner asked for a TA1


@dataclass(frozen=True)
class ParsedFile:
    """A landed file read once: its rule, documents and errors, its syntax ack, and whether it repeats one."""

    landed: LandedFile
    rule: InboundRule | None
    acknowledged: Acknowledged | None
    duplicate_of: DuplicateOf | None = None

    @property
    def result(self) -> ReadResult | None:
        return None if self.acknowledged is None else self.acknowledged.result


@dataclass(frozen=True)
class FiledFile:
    """Where a landed file ended up and what it was answered with."""

    landed: LandedFile
    rule: InboundRule | None
    acknowledged: Acknowledged | None
    ack_path: str | None
    final_path: str
    status: str
    application_ack_path: str | None = None
    outcomes: tuple[DocumentOutcome, ...] = ()
    revision: int | None = None


def land_ready_files(
    files: PartnerFiles,
    partner_name: str,
    ledger: Ledger,
    landing_dir: Path,
    tracker: ReadinessTracker | None = None,
) -> list[LandedFile]:
    """Land each ready inbound file (see `land_many`); the first file's error, if any, is raised.

    A file another reader claimed first is skipped; a file whose bytes already came from this partner
    is recorded as a duplicate (the caller files it without posting it again).
    """
    ready = [entry.name for entry in files.ready(tracker)]
    return _raise_first_error(land_many(files, partner_name, ready, ledger, landing_dir))


def land_one(files: PartnerFiles, partner_name: str, name: str, ledger: Ledger, landing_dir: Path) -> LandedFile | None:
    """Land one named file (see `land_many`); None when it is in neither inbound/ nor processing/."""
    landings = land_many(files, partner_name, [name], ledger, landing_dir)
    return next(iter(_raise_first_error(landings)), None)


def _raise_first_error(landings: list[Landing]) -> list[LandedFile]:
    for landing in landings:
        if landing.error is not None:
            raise landing.error
    return [landing.landed for landing in landings if landing.landed is not None]


@dataclass(frozen=True)
class Landing:
    """What `land_many` made of one named file: landed, absent (None), or the error that stopped it."""

    name: str
    landed: LandedFile | None
    error: SftpError | LedgerError | None = None


def land_many(
    files: PartnerFiles, partner_name: str, names: Sequence[str], ledger: Ledger, landing_dir: Path
) -> list[Landing]:
    """Land named files: claim each from inbound/, or resume it when a crash left it in processing/;
    download them all with their requests in flight together; hash and record each in the ledger.

    A resumed file keeps its ledger row (never a duplicate of itself); so does a file a person moved
    back from processing/ to inbound/ before it was filed. Either way this landing takes the file over:
    a run still working on it leaves its acknowledgment and filing to this one. One listing of each folder replaces a
    `stat` per file, and `download_many` makes a round trip per batch of files rather than per
    request (what a WAN link makes slow); each download is bounded by the size its listing gave.
    A file's own failure (refused, changed size, a ledger row refused) is that file's `error`; a
    dropped connection or a locked ledger raises, and files not yet recorded stay in processing/.
    """
    local_dir = landing_dir / partner_name
    local_dir.mkdir(parents=True, exist_ok=True)
    landing = uuid.uuid4().hex
    finish_interrupted_filings(files, partner_name, ledger)
    stranded = _files_in(files, "processing")
    waiting = _files_in(files, "inbound")
    results: dict[str, Landing] = {}
    to_download: dict[str, RemoteFile] = {}  # the name asked for -> its entry in processing/
    for name in names:
        if name in stranded:
            to_download[name] = stranded[name]
        elif name not in waiting:
            results[name] = Landing(name, None)
        else:
            try:
                claim = files.claim(name)
            except (RemoteFileError, UnsafeRemoteNameError) as error:
                results[name] = Landing(name, None, error)
                continue
            if claim.refused:
                # Not a regular file (a symlink swapped in after the listing): moved to error/ unread.
                logger.warning("%s: %s refused after the claim: %s", partner_name, name, claim.reason)
            if claim.claimed and claim.path is not None:
                listed = waiting[name]
                to_download[name] = RemoteFile(Path(claim.path).name, claim.path, listed.size, listed.mtime, True)
            else:
                results[name] = Landing(name, None)
    downloads = {d.name: d for d in files.download_many(list(to_download.values()), local_dir, kind="processing")}
    for name, entry in to_download.items():
        downloaded = downloads[entry.name]
        if downloaded.error is not None:
            results[name] = Landing(name, None, downloaded.error)
            continue
        try:
            record = ledger.unfinished_inbound_file(partner_name, entry.path) if name in stranded else None
            if record is None:
                record = _record_unless_unfinished(
                    ledger, partner_name, entry.path, downloaded.sha256, downloaded.size, landing
                )
            else:
                ledger.take_over_inbound_file(record.id, landing)
        except (LedgerBusy, LedgerTooNew):
            raise  # about the whole ledger, not this file
        except LedgerError as error:
            results[name] = Landing(name, None, error)
            continue
        landed = LandedFile(
            partner_name,
            entry.name,
            downloaded.local_path,
            downloaded.sha256,
            downloaded.size,
            record,
            downloaded.mtime,
            landing,
        )
        results[name] = Landing(name, landed)
    return [results[name] for name in names]


def _files_in(files: PartnerFiles, kind: str) -> dict[str, RemoteFile]:
    """The regular files of a partner's folder by name; none when the folder does not exist yet."""
    if files.exists(files.folder(kind)) is None:
        return {}
    return {entry.name: entry for entry in files.list_folder(kind) if entry.is_file}


def finish_interrupted_filings(files: PartnerFiles, partner_name: str, ledger: Ledger) -> int:
    """Mark filed the rows of files a crash caught between their move and the ledger's last write.

    Such a row already names the file's destination and outcome (see `_file`); when the file is there,
    only the stage is missing. A file still in processing/ is left to be resumed. Returns how many.
    """
    finished = 0
    for record in ledger.interrupted_filings(partner_name):
        if files.exists(record.remote_path) is not None:
            ledger.set_inbound_stage(record.id, "filed")
            finished += 1
    return finished


def _record_unless_unfinished(
    ledger: Ledger, partner: str, path: str, sha256: str, size: int, landing: str
) -> InboundFile:
    earlier = ledger.inbound_file_by_sha(partner, sha256)
    if earlier is not None and earlier.duplicate_of is None and (ledger.inbound_stage(earlier.id) or "") != "filed":
        # The same bytes were landed but never filed (a crash, then a person moved the file back):
        # finish that row instead of filing the file as a duplicate of itself.
        ledger.take_over_inbound_file(earlier.id, landing, remote_path=path)
        return ledger.inbound_file(earlier.id)
    return ledger.record_inbound_file(
        sha256=sha256, partner=partner, remote_path=path, size=size, stage="landed", landing=landing
    )


def inbound_rule_for(partner: Partner, name: str) -> InboundRule | None:
    """The first of the partner's inbound rules whose pattern matches the file name."""
    return next((rule for rule in partner.inbound if fnmatch.fnmatch(name, rule.pattern)), None)


def read_landed_file(
    landed: LandedFile, config: Config, ledger: Ledger, *, as_of: dt.datetime | None = None
) -> ParsedFile:
    """Read a landed file once: its documents and errors, its syntax ack, and whether it repeats an earlier one.

    An X12 or EDIFACT interchange whose sender and control number were seen in another file is a
    duplicate even when the bytes differ.
    """
    partner = config.partner(landed.partner)
    if landed.duplicate and landed.record.duplicate_of is not None:
        earlier = ledger.inbound_file(landed.record.duplicate_of)
        return ParsedFile(landed, None, None, DuplicateOf("file", earlier, f"same bytes as inbound file #{earlier.id}"))
    rule = inbound_rule_for(partner, landed.name)
    if rule is None:
        return ParsedFile(landed, None, None)
    acknowledged = acknowledge_file(
        landed.local_path,
        rule.format,
        config.layout(rule.layout) if rule.layout else None,
        name=landed.name,
        control_numbers=ledger.control_numbers_for(landed.partner),
        as_of=as_of or dt.datetime.now(dt.UTC),
    )
    duplicate = _repeated_interchange(acknowledged.result, landed, ledger)
    return ParsedFile(landed, rule, acknowledged, duplicate)


def _repeated_interchange(result: ReadResult, landed: LandedFile, ledger: Ledger) -> DuplicateOf | None:
    for envelope in result.envelopes:
        if envelope.get("type") != "interchange":
            continue
        sender = envelope.get("sender")
        sender_text = ":".join(str(v) for v in sender.values()) if isinstance(sender, dict) else str(sender or "")
        number = str(envelope.get("control_number") or envelope.get("reference") or "")
        if not sender_text or not number:
            continue
        standard = "x12" if result.format == "x12" else "edifact"
        earlier_sha = ledger.record_interchange(
            partner=landed.partner,
            standard=standard,
            sender=sender_text,
            control_number=number,
            file_sha256=landed.sha256,
        )
        if earlier_sha is not None:
            earlier = ledger.inbound_file_by_sha(landed.partner, earlier_sha)
            if earlier is not None:
                detail = f"interchange {number} from {sender_text} was already received in inbound file #{earlier.id}"
                requested = standard == "x12" and bool(envelope.get("ack_requested"))
                return DuplicateOf("interchange", earlier, detail, standard, number, requested)
    return None


def acknowledge_and_file(
    files: PartnerFiles,
    parsed: ParsedFile,
    outcomes: list[DocumentOutcome] | None,
    config: Config,
    ledger: Ledger,
    *,
    as_of: dt.datetime | None = None,
) -> FiledFile:
    """Send the syntax ack and, after posting, the application ack; move the file to archive/ or error/.

    `outcomes` is what posting made of each document (None when nothing was posted: the syntax ack
    alone answers). A flat file gets the CSV ack of its outcomes; X12 keeps its 997 and, when the
    partner asks for application advice and a document was not posted, gets an 824; EDIFACT likewise
    keeps its CONTRL and gets an APERAK. A duplicate is
    answered again (the original EDI ack, or a CSV ack with status duplicate naming the earlier file)
    and archived under archive/duplicates. The file goes to archive/ when every document was posted
    or linked, to error/ otherwise; a replay writes a new revision of the application ack.
    """
    landed = parsed.landed
    now = as_of or dt.datetime.now(dt.UTC)
    if parsed.duplicate_of is not None:
        return _answer_duplicate(files, parsed, config, ledger, now)
    partner = config.partner(landed.partner)
    if parsed.rule is None or parsed.acknowledged is None:
        patterns = ", ".join(rule.pattern for rule in partner.inbound) or "none configured"
        final, status, _ = _file(
            files, landed, ledger, "error", "error", f"no inbound rule matches (patterns: {patterns})"
        )
        return FiledFile(landed, None, None, None, final, status)
    acknowledged = parsed.acknowledged
    result = acknowledged.result
    ack_path = None
    flat = acknowledged.ack_kind == "csv"
    if acknowledged.ack and not (flat and outcomes is not None):
        ack_path = _send_syntax_ack(files, landed, acknowledged, ledger)
    application_path, revision = None, None
    if outcomes is not None:
        application_path, revision = _send_application_ack(files, parsed, outcomes, partner, ledger, now)
        if flat:
            ack_path = application_path
    # Errors of the file's syntax count as one refused part besides its documents.
    documents: list[DocumentOutcome | bool] = list(outcomes) if outcomes is not None else [True] * len(result.documents)
    status = file_status([*documents, *([] if result.ok else [False])]).value
    ok = status == FileStatus.ACCEPTED
    problems = [error.render() for error in result.errors[:5]]
    if outcomes is not None:
        problems += [
            f"{o.document_number or o.record_index}: {o.status.value} ({o.reason})" for o in outcomes if not o.accepted
        ][:5]
    # Anything not posted sends the file to error/, so a person looks at it; the ack says what was taken.
    final, status, _ = _file(files, landed, ledger, "archive" if ok else "error", status, "; ".join(problems) or None)
    return FiledFile(
        landed, parsed.rule, acknowledged, ack_path, final, status, application_path, tuple(outcomes or ()), revision
    )


def _send_syntax_ack(files: PartnerFiles, landed: LandedFile, acknowledged: Acknowledged, ledger: Ledger) -> str:
    sent = ledger.sent_acknowledgments(landed.sha256, [acknowledged.ack_kind])
    if sent and sent[0].remote_path:
        return sent[0].remote_path  # a resumed file: the partner already has it
    uploaded = files.upload(acknowledged.ack, landed.name + ACK_SUFFIX[acknowledged.ack_kind], kind="acks")
    result = acknowledged.result
    ledger.record_acknowledgment(
        partner=landed.partner,
        direction="sent",
        kind=acknowledged.ack_kind,
        status=file_status([True] * len(result.documents) + ([] if acknowledged.accepted else [False])).value,
        file_sha256=landed.sha256,
        remote_path=uploaded.remote_path,
        content=acknowledged.ack,
    )
    return uploaded.remote_path


def _send_application_ack(
    files: PartnerFiles,
    parsed: ParsedFile,
    outcomes: list[DocumentOutcome],
    partner: Partner,
    ledger: Ledger,
    now: dt.datetime,
) -> tuple[str | None, int | None]:
    landed, acknowledged = parsed.landed, parsed.acknowledged
    assert acknowledged is not None
    if acknowledged.ack_kind == "csv":
        kind, suffix = "csv_posting", ".ack.csv"
    elif acknowledged.ack_kind == "x12" and partner.ack.application_advice and partner.x12 is not None:
        kind, suffix = "x12_824", ".824"
    elif acknowledged.ack_kind == "contrl" and partner.ack.application_advice and partner.edifact is not None:
        kind, suffix = "edifact_aperak", ".aperak"
    else:
        return None, None
    # Answers to byte-identical re-sends share the sha256 and are not revisions of this file's ack.
    sent = [ack for ack in ledger.sent_acknowledgments(landed.sha256, [kind]) if ack.status != "duplicate"]
    if sent and ledger.inbound_stage(landed.record.id) != "filed":
        # Resumed before it was filed: this pass's ack went out before the crash; never a revision of itself.
        latest = max(sent, key=lambda ack: ack.revision)
        return latest.remote_path, latest.revision
    revision = max((ack.revision for ack in sent), default=0) + 1
    control_numbers = ledger.control_numbers_for(landed.partner)
    if kind == "csv_posting":
        ack = flat_ack.build_posting_ack(
            outcomes,
            file_name=landed.name,
            sha256=landed.sha256,
            control_number=control_numbers.next("ACK"),
            created_at=now,
            revision=revision,
            read_errors=acknowledged.result.errors,
        )
        content, status = ack.content, str(ack.status)
    elif kind == "edifact_aperak":
        assert partner.edifact is not None  # chosen above only for a partner with an EDIFACT identity
        # A replay's revision goes into the BGM references, so the partner can tell the answers apart.
        content = build_aperak(
            outcomes,
            identity=partner.edifact,
            control_numbers=control_numbers,
            as_of=now,
            reference=landed.name if revision == 1 else f"{landed.name}.r{revision}",
        )
        status = "rejected" if content else "accepted"
        if not content:
            return None, None
    else:
        assert partner.x12 is not None  # chosen above only for a partner with an X12 identity
        content = build_824(
            outcomes,
            parties=partner.x12,
            control_numbers=control_numbers,
            as_of=now,
            reference=landed.name,
            revision=revision,
        )
        status = "rejected" if content else "accepted"
        if not content:
            return None, None
    # A revision goes before the last extension, so the ack keeps the type partners match on: .ack.r2.csv
    stem, extension = suffix.rsplit(".", 1)
    name = landed.name + (suffix if revision == 1 else f"{stem}.r{revision}.{extension}")
    uploaded = files.upload(content, name, kind="acks")
    ledger.record_acknowledgment(
        partner=landed.partner,
        direction="sent",
        kind=kind,
        status=status,
        file_sha256=landed.sha256,
        remote_path=uploaded.remote_path,
        content=content,
        revision=revision,
    )
    return uploaded.remote_path, revision


def _answer_duplicate(
    files: PartnerFiles, parsed: ParsedFile, config: Config, ledger: Ledger, now: dt.datetime
) -> FiledFile:
    """Answer a re-sent file with what the first one got, then archive it under archive/duplicates."""
    landed, duplicate = parsed.landed, parsed.duplicate_of
    assert duplicate is not None
    earlier = duplicate.earlier
    earlier_name = earlier.remote_path.rsplit("/", 1)[-1]
    ack_path = None
    earlier_acks = [a for a in ledger.sent_acknowledgments(earlier.sha256) if a.content]
    edi = [a for a in earlier_acks if a.kind in ("x12", "contrl", "ta1")]
    # Other bytes than the earlier file: an answer recorded under this sha256 was sent before a crash.
    resent = []
    if duplicate.kind == "interchange":
        resent = [a for a in ledger.sent_acknowledgments(landed.sha256) if a.status == "duplicate" and a.remote_path]
    ta1 = _duplicate_ta1(landed, duplicate, ledger, now) if not resent else None
    if resent:
        ack_path = resent[0].remote_path  # a resumed file: the partner already has its answer
    elif ta1:
        uploaded = files.upload(ta1, landed.name + ACK_SUFFIX["ta1"], kind="acks")
        ack_path = uploaded.remote_path
        ledger.record_acknowledgment(
            partner=landed.partner,
            direction="sent",
            kind="ta1",
            status="duplicate",
            file_sha256=landed.sha256,
            remote_path=ack_path,
            detail=f"TA1 R 025: interchange {duplicate.control_number} repeats one of {earlier_name}",
            content=ta1,
        )
    elif edi:
        original = edi[0]
        uploaded = files.upload(original.content or b"", landed.name + ACK_SUFFIX[original.kind], kind="acks")
        ack_path = uploaded.remote_path
        ledger.record_acknowledgment(
            partner=landed.partner,
            direction="sent",
            kind=original.kind,
            status="duplicate",
            file_sha256=landed.sha256,
            remote_path=ack_path,
            detail=f"the acknowledgment of {earlier_name} sent again",
            content=original.content,
        )
    elif _is_flat(config, landed):
        outcomes = _earlier_outcomes(ledger, earlier.sha256)
        ack = flat_ack.build_posting_ack(
            outcomes,
            file_name=landed.name,
            sha256=landed.sha256,
            control_number=ledger.control_numbers_for(landed.partner).next("ACK"),
            created_at=now,
            duplicate_of=earlier_name,
        )
        uploaded = files.upload(ack.content, landed.name + ".ack.csv", kind="acks")
        ack_path = uploaded.remote_path
        ledger.record_acknowledgment(
            partner=landed.partner,
            direction="sent",
            kind="csv_posting",
            status="duplicate",
            file_sha256=landed.sha256,
            remote_path=ack_path,
            detail=f"duplicate of {earlier_name}",
            content=ack.content,
        )
    final, status, _ = _file(
        files, landed, ledger, "archive/duplicates", "duplicate", f"{duplicate.detail}; not posted again"
    )
    return FiledFile(landed, parsed.rule, None, ack_path, final, status)


def _duplicate_ta1(landed: LandedFile, duplicate: DuplicateOf, ledger: Ledger, now: dt.datetime) -> bytes | None:
    """TA1 R 025 (duplicate interchange) for an X12 interchange seen before in other bytes, when it asked for
    a TA1 (ISA14 = 1); None otherwise, and the original 997 is sent again instead (docs/edi-rules.md §7.1)."""
    if duplicate.kind != "interchange" or duplicate.standard != "x12" or not duplicate.ta1_requested:
        return None
    _result, acknowledgment = read_x12(landed.local_path, file=landed.name)
    repeated = [i for i in acknowledgment.interchanges if i.control_number == duplicate.control_number]
    if not repeated:
        return None
    answer = dataclasses.replace(repeated[0], codes=["025"], groups=[])
    return build_acknowledgments(
        X12Acknowledgment(file=landed.name, interchanges=[answer]),
        control_numbers=ledger.control_numbers_for(landed.partner),
        as_of=now,
    )


def _is_flat(config: Config, landed: LandedFile) -> bool:
    rule = inbound_rule_for(config.partner(landed.partner), landed.name)
    return rule is not None and rule.format in ("csv", "fixed")


def _earlier_outcomes(ledger: Ledger, file_sha256: str) -> list[DocumentOutcome]:
    """The earlier file's documents as duplicates, each naming the QuickBooks record it became."""
    outcomes = []
    for posting in sorted(ledger.postings_for_files([file_sha256]), key=lambda p: p.record_index):
        kind = posting.document_key.split(":", 1)[0] or "bill"
        outcomes.append(
            DocumentOutcome(
                record_index=posting.record_index,
                document_type=kind,
                document_number=posting.doc_number,
                status=OutcomeStatus.DUPLICATE,
                line=posting.source_line,
                segment=posting.source_segment,
                qbo_entity=posting.entity_type if posting.qbo_id else None,
                qbo_id=posting.qbo_id,
                reason=f"already received in an earlier file ({posting.status})",
            )
        )
    return outcomes


def _file(
    files: PartnerFiles, landed: LandedFile, ledger: Ledger, target: str, status: str, detail: str | None
) -> tuple[str, str, str | None]:
    """Record the file's outcome and where it goes, move it there, then mark it filed; (path, status, detail).

    The row names the destination before the move, so a crash between the move and the last write
    leaves a row that says where the file really is (stage "filing"), never one that still points at
    processing/ for a file no run will find there again.
    """
    intended = remote_path(files.folder(target), landed.name)
    # The landing that files the file holds it: a run that took the file over meanwhile then leaves it.
    ledger.set_inbound_status(
        landed.record.id, status, detail, remote_path=intended, stage="filing", landing=landed.landing
    )
    try:
        final = _move(files, landed, target)
    except FileChangedSinceDownloadError as changed:
        # Only the bytes that were hashed and acknowledged may be archived; these changed since.
        final = changed.moved_to or landed.record.remote_path
        status = "error"
        reason = f"the file changed on the server after it was read and acknowledged: {changed.reason}"
        detail = reason if not detail else f"{reason}; {detail}"
    if final != intended:  # a name clash at the destination, or the file changed and went to error/
        ledger.set_inbound_status(landed.record.id, status, detail, remote_path=final, stage="filed")
    else:
        ledger.set_inbound_stage(landed.record.id, "filed")
    return final, status, detail


def _move(files: PartnerFiles, landed: LandedFile, target: str) -> str:
    """Move the file from processing/ (or from error/ on a replay that now posted everything) into `target`."""
    if files.exists(remote_path(files.folder("processing"), landed.name)) is not None:
        return files.move(landed.name, "processing", target, expect=None if target == "error" else landed.expect)
    # A replay: the file was filed to error/ (the landed record still names processing/).
    in_error = remote_path(files.folder("error"), landed.name)
    if files.exists(in_error) is not None:
        return in_error if target == "error" else files.move(landed.name, "error", target)
    # Another run asked for the same file filed it while this one worked on it: name where it went
    # (a move keeps size and mtime, which tell it from an older file of the same name).
    in_target = remote_path(files.folder(target), landed.name)
    there = files.exists(in_target)
    if there is not None and (there.st_size, there.st_mtime) == (landed.size, landed.mtime):
        return in_target
    return landed.record.remote_path
