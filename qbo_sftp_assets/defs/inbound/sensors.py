"""An SFTP sensor per partner: lists the inbound folder, adds a partition per ready file, asks for few runs.

It only lists (never downloads), at the partner's `poll_interval`. Its cursor holds the readiness
state (the previous listing, for the `stable` policy), the files already requested (so a file waiting
in the run queue is not asked for again) and the resume attempts per file. New files go out in runs
of contiguous partitions (the range tags of a single-run backfill; sizes from `run_sizes`), at most
MAX_FILES_PER_TICK per tick, each run keyed by its files' names, sizes and mtimes.

A file left in processing/ while none of the partner's runs is active was left by a crashed run: it is
requested again under a new run key (up to MAX_RESUME_ATTEMPTS), and the landing step finishes it.
The sensor never opens the ledger.
"""

import hashlib
import json
from dataclasses import dataclass, field

import dagster as dg

from qbo_sftp_assets.config import Config, Partner
from qbo_sftp_assets.defs.jobs import AssetJob
from qbo_sftp_assets.defs.partitions import INBOUND_FILES, inbound_file_key, inbound_files
from qbo_sftp_assets.defs.resources import REALM_TAG, SftpResource
from qbo_sftp_assets.defs.sensor_timing import minimum_interval
from qbo_sftp_assets.sftp import PartnerFiles, ReadinessTracker, RemoteFile

MAX_FILES_PER_RUN = 500
MAX_FILES_PER_TICK = 1000
MAX_RESUME_ATTEMPTS = 3
PARTNER_TAG = "qbo_sftp/partner"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def inbound_sensor_name(partner: str) -> str:
    return f"sftp_inbound_{partner}"


@dataclass
class InboundCursor:
    """The sensor's memory between ticks; small JSON."""

    snapshot: dict[str, list[int]] = field(default_factory=dict)
    requested: dict[str, list[int]] = field(default_factory=dict)
    resumes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> "InboundCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data.get("snapshot", {}), data.get("requested", {}), data.get("resumes", {}))

    def dump(self) -> str:
        return json.dumps(
            {"snapshot": self.snapshot, "requested": self.requested, "resumes": self.resumes}, sort_keys=True
        )


def sftp_inbound_sensors(config: Config | None, job: AssetJob) -> list[dg.SensorDefinition]:
    if config is None:
        return []
    return [
        _inbound_sensor(name, partner, config.company(partner.company).realm_id, job)
        for name, partner in sorted(config.partners.items())
        if partner.inbound
    ]


def _identity(entry: RemoteFile) -> str:
    return f"{entry.name}:{entry.size}:{entry.mtime}"


def _run_key(partner: str, entries: list[RemoteFile], prefix: str = "") -> str:
    if len(entries) == 1:
        return f"{prefix}{partner}/{_identity(entries[0])}"
    digest = hashlib.sha256("\n".join(_identity(e) for e in entries).encode()).hexdigest()[:16]
    return f"{prefix}{partner}/{entries[0].name}..{entries[-1].name}:{len(entries)}:{digest}"


def _inbound_sensor(partner_name: str, partner: Partner, realm_id: str, job: AssetJob) -> dg.SensorDefinition:
    tags = {REALM_TAG: realm_id, PARTNER_TAG: partner_name}

    @dg.sensor(
        name=inbound_sensor_name(partner_name),
        description=f"Lists {partner_name}'s inbound folder every {partner.poll_interval:g} s and processes "
        f"ready files ({partner.readiness.policy} readiness).",
        minimum_interval_seconds=minimum_interval(partner.poll_interval),
        default_status=dg.DefaultSensorStatus.RUNNING,
        job=job,
    )
    def inbound_sensor(context: dg.SensorEvaluationContext, sftp: SftpResource) -> dg.SensorResult:
        cursor = InboundCursor.parse(context.cursor)
        active = _partner_runs_active(context.instance, partner_name)
        # An unreachable server fails the tick (red in the UI, cursor kept) rather than skipping quietly.
        with sftp.partner(partner_name) as files:
            listing = files.list_folder("inbound")
            tracker = ReadinessTracker(partner.readiness, cursor.snapshot)
            ready = tracker.ready(listing)
            stranded = [] if active else _listed(files, "processing")
        return plan_tick(context.instance, partner_name, tags, cursor, tracker.snapshot, listing, ready, stranded)

    return inbound_sensor


def _listed(files: PartnerFiles, kind: str) -> list[RemoteFile]:
    folder = files.folder(kind)
    if files.exists(folder) is None:
        return []
    return [entry for entry in files.list_folder(kind) if entry.is_file and not entry.name.startswith(".")]


def _partner_runs_active(instance: dg.DagsterInstance, partner_name: str) -> bool:
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={PARTNER_TAG: partner_name}, statuses=ACTIVE_STATUSES), limit=1
    )
    return bool(records)


def run_sizes(count: int) -> list[int]:
    """How many of a tick's `count` new files each run takes, in order: up to MAX_FILES_PER_RUN.

    Each run costs a process start of a few seconds and a company's runs go one at a time, so few big
    runs beat many small ones; a run is queued once Dagster has written its planned events (five per
    file, about 35 ms a file), which is why the instance submits runs on one thread (dagster.yaml).
    """
    return [min(MAX_FILES_PER_RUN, count - start) for start in range(0, count, MAX_FILES_PER_RUN)]


def plan_tick(
    instance: dg.DagsterInstance,
    partner_name: str,
    tags: dict[str, str],
    cursor: InboundCursor,
    snapshot: dict[str, list[int]],
    listing: list[RemoteFile],
    ready: list[RemoteFile],
    stranded: list[RemoteFile],
) -> dg.SensorResult:
    """The tick's partitions and runs, from what was listed; pure apart from reading the instance."""
    listed = {entry.name for entry in listing}
    requested = {name: ident for name, ident in cursor.requested.items() if name in listed}
    fresh = [e for e in ready if requested.get(e.name) != [e.size, e.mtime]][:MAX_FILES_PER_TICK]

    new_keys: list[str] = []
    new_entries: list[RemoteFile] = []
    runs: list[dg.RunRequest] = []
    for entry in fresh:
        key = inbound_file_key(partner_name, entry.name)
        if instance.has_dynamic_partition(INBOUND_FILES, key):
            # A name seen before (a re-sent file): its partition is not contiguous with the new ones.
            runs.append(dg.RunRequest(run_key=_run_key(partner_name, [entry]), partition_key=key, tags=tags))
        else:
            new_keys.append(key)
            new_entries.append(entry)
        requested[entry.name] = [entry.size, entry.mtime]
    start = 0
    for size in run_sizes(len(new_entries)):
        chunk, keys = new_entries[start : start + size], new_keys[start : start + size]
        start += size
        if len(chunk) == 1:
            runs.append(dg.RunRequest(run_key=_run_key(partner_name, chunk), partition_key=keys[0], tags=tags))
        else:
            range_tags = {**tags, RANGE_START: keys[0], RANGE_END: keys[-1]}
            runs.append(dg.RunRequest(run_key=_run_key(partner_name, chunk), tags=range_tags))

    resumes = {name: n for name, n in cursor.resumes.items() if name in {e.name for e in stranded}}
    stranded_keys = []
    for entry in stranded:
        attempt = resumes.get(entry.name, 0) + 1
        if attempt > MAX_RESUME_ATTEMPTS:
            continue
        resumes[entry.name] = attempt
        key = inbound_file_key(partner_name, entry.name)
        stranded_keys.append(key)
        runs.append(
            dg.RunRequest(
                run_key=_run_key(partner_name, [entry], prefix=f"resume{attempt}:"),
                partition_key=key,
                tags={**tags, "qbo_sftp/resume": str(attempt)},
            )
        )
    add = new_keys + [k for k in stranded_keys if not instance.has_dynamic_partition(INBOUND_FILES, k)]
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[inbound_files.build_add_request(add)] if add else None,
        cursor=InboundCursor(snapshot, requested, resumes).dump(),
        skip_reason=None if runs else f"{partner_name}: {len(listing)} listed, none newly ready",
    )
