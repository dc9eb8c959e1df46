"""Inbound files in batches: each step over many files at once, one file's failure kept to that file.

The asset graph's inbound steps each handle every file of a run together (one SFTP session per
partner, one validation run, one `post_files` per company). What concerns one file — its download
broke, nobody can be acknowledged for it, its ledger row was refused, its partner left the config —
becomes that file's `FileFailure` and the other files go on. What concerns the whole run — the company
must be reconnected, QuickBooks stayed unreachable, the ledger stayed locked, the SFTP session failed —
is raised, so the step fails and its files are resumed by the next run.

Every function takes and returns `{key: value}` (the key is the caller's name for the file); a value
is the step's result, None when the file has nothing for this step (a duplicate, no rule, no file),
or the `FileFailure` of the step that failed it, carried through to the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import mimetypes
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from qbo_sftp_assets.config import Config, ConfigError
from qbo_sftp_assets.formats import DocumentOutcome, LayoutRequired, OutcomeStatus, Unacknowledgeable
from qbo_sftp_assets.ledger import Ledger, LedgerBusy, LedgerError, LedgerTooNew
from qbo_sftp_assets.mapping import PostingPlan, ReferenceData, plan_postings
from qbo_sftp_assets.pipeline import inbound as inbound_steps
from qbo_sftp_assets.pipeline.inbound import FiledFile, LandedFile, ParsedFile
from qbo_sftp_assets.pipeline.posting import FilePostings, post_files
from qbo_sftp_assets.qbo import QboAmountError, QboClient, QboError
from qbo_sftp_assets.sftp import (
    FileChangedSinceDownloadError,
    PartnerFiles,
    RemoteFileError,
    UnsafeRemoteNameError,
    remote_path,
)
from qbo_sftp_assets.validation import ValidatedPostings, validate_plans

logger = logging.getLogger(__name__)

OpenPartner = Callable[[str], contextlib.AbstractContextManager[PartnerFiles]]
OpenClient = Callable[[str], contextlib.AbstractContextManager[QboClient]]

# Errors about one file. LedgerBusy and LedgerTooNew are LedgerErrors about the whole ledger: never caught.
_RUN_WIDE = (LedgerBusy, LedgerTooNew)
READING_ERRORS = (Unacknowledgeable, LayoutRequired, LedgerError, ConfigError)
MAPPING_ERRORS = (LedgerError, ConfigError)
POSTING_ERRORS = (LedgerError, ConfigError, QboAmountError)
FILING_ERRORS = (RemoteFileError, UnsafeRemoteNameError, LedgerError, ConfigError)


@dataclass(frozen=True)
class FileFailure:
    """Why one file stopped at `step`, and where it lies now.

    `filed_to` is the remote path when the file was moved out of processing/ (to error/); None means it
    is still in processing/ (or inbound/), so the next run — the sensor's resume or a replay — picks it up.
    """

    step: str
    reason: str
    landed: LandedFile | None = None
    permanent: bool = False  # retrying cannot help (nobody to acknowledge): file it to error/
    filed_to: str | None = None

    @property
    def where(self) -> str:
        if self.filed_to:
            return f"moved to {self.filed_to}"
        return "left in processing/ for the next run (the sensor resumes it, or re-materialize its partition)"


def _failure(step: str, error: Exception, landed: LandedFile | None = None, *, permanent: bool = False) -> FileFailure:
    if isinstance(error, _RUN_WIDE):
        raise error
    return FileFailure(step, f"{type(error).__name__}: {error}", landed, permanent)


def landing_dir(config: Config) -> Path:
    """Local copies of landed files sit next to the ledger."""
    return Path(config.ledger.path).parent / "landed"


def _by_partner(files: Mapping[str, tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, (partner, name) in files.items():
        grouped[partner].append((key, name))
    return grouped


def land_files(
    open_partner: OpenPartner, files: Mapping[str, tuple[str, str]], ledger: Ledger, local_dir: Path
) -> dict[str, LandedFile | FileFailure | None]:
    """Claim and download each `{key: (partner, file name)}`, one SFTP session per partner, the
    downloads of a partner's files in flight together.

    None: the file is in neither inbound/ nor processing/ (filed already, or removed).
    """
    landed: dict[str, LandedFile | FileFailure | None] = {}
    for partner, names in _by_partner(files).items():
        # One ledger connection for the step: opening it costs ~50 ms, and every file makes several calls.
        with open_partner(partner) as session, ledger.session():
            landings = inbound_steps.land_many(session, partner, [name for _key, name in names], ledger, local_dir)
        for (key, _name), landing in zip(names, landings, strict=True):
            landed[key] = landing.landed if landing.error is None else _failure("landing", landing.error)
    return landed


def read_files(
    landed: Mapping[str, LandedFile | FileFailure | None], config: Config, ledger: Ledger, *, as_of: dt.datetime
) -> dict[str, ParsedFile | FileFailure | None]:
    """Read every landed file once: documents, errors, syntax ack, and whether it repeats an earlier file."""
    parsed: dict[str, ParsedFile | FileFailure | None] = {}
    with ledger.session():
        for key, file in landed.items():
            if not isinstance(file, LandedFile):
                parsed[key] = file
                continue
            try:
                parsed[key] = inbound_steps.read_landed_file(file, config, ledger, as_of=as_of)
            except Unacknowledgeable as error:
                parsed[key] = _failure("reading", error, file, permanent=True)
            except READING_ERRORS as error:
                parsed[key] = _failure("reading", error, file)
        read = [file.landed.record.id for file in parsed.values() if isinstance(file, ParsedFile)]
        ledger.set_inbound_stages(read, "read")
    return parsed


def postable(parsed: ParsedFile | FileFailure | None) -> bool:
    """A file whose documents go on to mapping: read by a rule, and not a repeat of an earlier file."""
    return isinstance(parsed, ParsedFile) and parsed.result is not None and parsed.duplicate_of is None


def validate_files(
    parsed: Mapping[str, ParsedFile | FileFailure | None], config: Config, ledger: Ledger
) -> dict[str, ValidatedPostings | FileFailure | None]:
    """Map each postable file's documents to QuickBooks postings, then validate all files in one run.

    Mapping reads each company's reference rows once; `validate_plans` runs pandera once for every file.
    """
    results: dict[str, ValidatedPostings | FileFailure | None] = {}
    references: dict[str, ReferenceData] = {}
    plans: dict[str, PostingPlan] = {}
    for key, file in parsed.items():
        if isinstance(file, FileFailure) or not postable(file):
            results[key] = file if isinstance(file, FileFailure) else None
            continue
        assert isinstance(file, ParsedFile) and file.result is not None
        try:
            partner = config.partner(file.landed.partner)
            realm_id = config.company(partner.company).realm_id
            if realm_id not in references:
                references[realm_id] = ReferenceData.load(ledger, realm_id)
            plans[key] = plan_postings(
                file.result.documents,
                partner_name=file.landed.partner,
                partner=partner,
                reference=references[realm_id],
                file_name=file.landed.name,
                file_sha256=file.landed.sha256,
            )
        except MAPPING_ERRORS as error:
            results[key] = _failure("mapping", error, file.landed)
    validated = validate_plans(list(plans.values())) if plans else []
    results.update(zip(plans, validated, strict=True))
    return {key: results[key] for key in parsed}


def post_validated_files(
    open_client: OpenClient,
    parsed: Mapping[str, ParsedFile | FileFailure | None],
    validated: Mapping[str, ValidatedPostings | FileFailure | None],
    config: Config,
    ledger: Ledger,
) -> dict[str, list[DocumentOutcome] | FileFailure | None]:
    """Post every file's valid documents, one `post_files` per company so batches fill across files.

    When a company's call fails for a reason that concerns one file, each of its files is posted
    alone (posting is idempotent: what the first call posted is found in the ledger, not posted again),
    so only the file at fault fails. ReconnectTheCompany and PostingInterrupted are raised.
    """
    outcomes: dict[str, list[DocumentOutcome] | FileFailure | None] = {}
    by_company: dict[str, list[tuple[str, FilePostings]]] = defaultdict(list)
    for key, result in validated.items():
        file = parsed.get(key)
        if not isinstance(result, ValidatedPostings) or not isinstance(file, ParsedFile):
            outcomes[key] = result if isinstance(result, FileFailure) else None
            continue
        try:
            partner = config.partner(file.landed.partner)
            realm_id = config.company(partner.company).realm_id
        except ConfigError as error:
            outcomes[key] = _failure("posting", error, file.landed)
            continue
        file_postings = FilePostings(
            partner=file.landed.partner,
            realm_id=realm_id,
            file_name=file.landed.name,
            file_sha256=file.landed.sha256,
            validated=result,
            documents=file.result.documents if file.result is not None else (),
        )
        by_company[partner.company].append((key, file_postings))
    policies = {name: partner.posting for name, partner in config.partners.items()}
    for company, entries in by_company.items():
        with open_client(company) as client:
            try:
                by_sha = post_files(client, ledger, [fp for _key, fp in entries], policies=policies)
            except POSTING_ERRORS as error:
                if isinstance(error, _RUN_WIDE):
                    raise
                by_sha = {}
                for key, file_postings in entries:
                    try:
                        by_sha.update(post_files(client, ledger, [file_postings], policies=policies))
                    except POSTING_ERRORS as file_error:
                        outcomes[key] = _failure("posting", file_error, _landed(parsed.get(key)))
            for key, file_postings in entries:
                if key not in outcomes:
                    outcomes[key] = by_sha.get(file_postings.file_sha256, [])
                file = parsed[key]
                if isinstance(file, ParsedFile) and config.partner(file.landed.partner).posting.attach_source:
                    attach_source_file(client, file.landed, outcomes[key])
    return {key: outcomes[key] for key in validated}


def attach_source_file(
    client: QboClient, landed: LandedFile, outcomes: list[DocumentOutcome] | FileFailure | None
) -> None:
    """Attach the partner's original file to each record it created, for a bookkeeper to open in QBO.

    One Attachable per file and set of records; its requestid is derived from both, so a retried run
    attaches nothing twice and a replay that posted more records attaches the file to those too. A
    refused upload is logged, not a failed file: the records are posted and the ledger traces them.
    """
    if not isinstance(outcomes, list):
        return
    created = sorted(
        (o.qbo_entity, o.qbo_id)
        for o in outcomes
        if o.status is OutcomeStatus.POSTED and o.qbo_entity is not None and o.qbo_id is not None
    )
    if not created:
        return
    records = hashlib.sha256(repr(created).encode()).hexdigest()
    request_id = f"att-{landed.sha256[:20]}-{records[:20]}"
    content_type = mimetypes.guess_type(landed.name)[0] or "text/plain"
    try:
        client.upload_attachment(
            landed.name,
            landed.local_path.read_bytes(),
            content_type=content_type,
            attach_to=created,
            request_id=request_id,
        )
    except QboError as error:
        logger.warning("%s: the source file was not attached in QuickBooks: %s", landed.name, error)


def _landed(file: ParsedFile | FileFailure | None) -> LandedFile | None:
    return file.landed if file is not None else None


def acknowledge_files(
    open_partner: OpenPartner,
    parsed: Mapping[str, ParsedFile | FileFailure | None],
    outcomes: Mapping[str, list[DocumentOutcome] | FileFailure | None],
    config: Config,
    ledger: Ledger,
    *,
    as_of: dt.datetime,
) -> dict[str, FiledFile | FileFailure | None]:
    """Send each file's acks and file it to archive/ or error/, one SFTP session per partner.

    A file that failed earlier is filed to error/ when retrying cannot help (nobody to acknowledge),
    and otherwise left in processing/ for the next run. A file another run has taken over since this
    one landed it (it resumed the file from processing/) is left to that run: None, as for no file.
    """
    filed: dict[str, FiledFile | FileFailure | None] = {}
    present: dict[str, tuple[str, str]] = {}
    for key in outcomes:
        where = _partner_and_name(parsed.get(key))
        if where is None:  # nothing landed: no file, or its landing failed
            upstream = parsed.get(key)
            filed[key] = upstream if isinstance(upstream, FileFailure) else None
        else:
            present[key] = where
    for partner, names in _by_partner(present).items():
        with open_partner(partner) as session, ledger.session():
            for key, name in names:
                if _taken_over(_landed(parsed[key]), ledger):
                    logger.info("%s/%s: taken over by another run, which acknowledges and files it", partner, name)
                    filed[key] = None
                    continue
                filed[key] = _acknowledge_one(session, parsed[key], outcomes[key], config, ledger, as_of)
    return {key: filed[key] for key in outcomes}


def _taken_over(landed: LandedFile | None, ledger: Ledger) -> bool:
    """Whether another landing holds the file now: a run that resumed it from processing/ after this one
    landed it, or one that filed it meanwhile. Asked just before the file is answered, so that the
    window in which two runs could both answer it is one file's ack, not a whole step."""
    if landed is None or landed.landing is None:
        return False  # landed before landings were named: nothing to compare
    holder = ledger.inbound_landings([landed.record.id]).get(landed.record.id)
    return holder is not None and holder != landed.landing


def _partner_and_name(file: ParsedFile | FileFailure | None) -> tuple[str, str] | None:
    landed = _landed(file)
    return None if landed is None else (landed.partner, landed.name)


def _acknowledge_one(
    session: PartnerFiles,
    file: ParsedFile | FileFailure | None,
    outcome: list[DocumentOutcome] | FileFailure | None,
    config: Config,
    ledger: Ledger,
    as_of: dt.datetime,
) -> FiledFile | FileFailure:
    failure = file if isinstance(file, FileFailure) else outcome if isinstance(outcome, FileFailure) else None
    try:
        if failure is not None:
            return _file_failed(session, failure, ledger)
        assert isinstance(file, ParsedFile) and not isinstance(outcome, FileFailure)  # failures filed above
        return inbound_steps.acknowledge_and_file(session, file, outcome, config, ledger, as_of=as_of)
    except FileChangedSinceDownloadError as error:
        changed = _failure("filing", error, _landed(file))
        return FileFailure(changed.step, changed.reason, changed.landed, filed_to=error.moved_to)
    except FILING_ERRORS as error:
        return _failure("filing", error, _landed(file))


def _file_failed(session: PartnerFiles, failure: FileFailure, ledger: Ledger) -> FileFailure:
    """A file no run can answer goes to error/ with the reason in the ledger; any other stays in processing/."""
    landed = failure.landed
    if not failure.permanent or landed is None:
        return failure
    if session.exists(remote_path(session.folder("processing"), landed.name)) is None:
        return failure  # filed already by an earlier run
    final = session.move(landed.name, "processing", "error")
    detail = f"{failure.step} failed: {failure.reason}; no acknowledgment can be sent"
    ledger.set_inbound_status(landed.record.id, "error", detail, remote_path=final, stage="filed")
    return FileFailure(failure.step, failure.reason, landed, failure.permanent, filed_to=final)
