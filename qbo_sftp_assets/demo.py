"""The demo behind `make demo`: the code location's own assets, sensors and schedules, run in this process.

On the embedded sandboxes it connects the QBO company, lets each company's CDC sensor refresh the
snapshots, fires each outbound feed's schedule, drops the partners' sample files and lets the SFTP
sensors take them in (land, read, map, validate, post, acknowledge, file), then fixes the one unmapped
GL code and replays that file, and has a partner resend a file that must not post twice. The runs go
to a real Dagster instance folder, so the UI opens on the same results afterwards.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.dagster_dev import prepare_dagster_home
from qbo_sftp_assets.definitions import build_definitions
from qbo_sftp_assets.defs.partitions import INBOUND_FILES
from qbo_sftp_assets.embedded import COMPANY, connect_company, embedded_environment, environment_variables
from qbo_sftp_assets.formats import Bill, InMemoryControlNumbers, Line, PartyRef
from qbo_sftp_assets.formats.x12 import Parties, write_810
from qbo_sftp_assets.in_process_daemon import InProcessDaemon, RunOutcome
from qbo_sftp_assets.ledger import Ledger, ledger_for
from qbo_sftp_assets.qbo import qbo_client_for
from qbo_sftp_assets.sftp import partner_files

# A fixed clock for what the partners send, so the demo's partner files are the same every run.
PARTNER_CLOCK = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
REPLAY_ASSETS = ("validated_postings", "qbo_postings", "inbound_ack")
RESENT = ("great_lakes_steel", "GLS-20261123-A.edi", "GLS-20261123-A-resend.edi")


def great_lakes_invoices(
    control_number: int = 4410, numbers: tuple[str, str] = ("GLS-2026-1101", "GLS-2026-1102")
) -> bytes:
    """An X12 810 as Great Lakes Steel would send it: two invoices for steel and freight."""
    vendor = PartyRef(id="100234", name="Great Lakes Steel Supply")
    bills = [
        Bill(
            vendor=vendor,
            number=numbers[0],
            date=dt.date(2026, 11, 20),
            due_date=dt.date(2026, 12, 20),
            po_number="PO-7781",
            lines=(
                Line(Decimal("3150.00"), "A36 plate 1/4in", Decimal(30), Decimal("105.00"), item="A36-025"),
                Line(Decimal("420.00"), "Freight", kind="charge"),
            ),
        ),
        Bill(
            vendor=vendor,
            number=numbers[1],
            date=dt.date(2026, 11, 21),
            due_date=dt.date(2026, 12, 21),
            lines=(Line(Decimal("1880.00"), "Square tube 2x2", Decimal(40), Decimal("47.00"), item="SQT-2X2"),),
        ),
    ]
    parties = Parties(
        sender_qualifier="ZZ", sender_id="GREATLAKES", receiver_qualifier="ZZ", receiver_id="NORTHWINDFAB"
    )
    return write_810(
        bills, parties=parties, control_numbers=InMemoryControlNumbers(control_number), as_of=PARTNER_CLOCK
    )


def with_wrong_total(x12: bytes) -> bytes:
    """The same interchange with the first TDS total off by $10.00, as a partner's bug would make it."""
    return re.sub(rb"TDS\*(\d+)", lambda m: b"TDS*" + str(int(m.group(1)) + 1000).encode(), x12, count=1)


# Vendors and GL codes from the sandbox company's seed data; GL 5250 is not mapped on purpose (the
# embedded config leaves it out), so Midwest Freight's bill is rejected until the mapping names it.
LEGACY_AP_CSV = (
    b"Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount\r\n"
    b"204455,Buckeye Industrial Gases,BIG-55120,2026-11-18,2026-12-18,6150,Argon cylinders,612.40\r\n"
    b"204455,Buckeye Industrial Gases,BIG-55120,2026-11-18,2026-12-18,5200,Delivery,45.00\r\n"
    b"558812,Fastenal Dayton,FD-9931,2026-11-19,2026-12-19,5000,Hex bolts M12,318.75\r\n"
    b"300019,Midwest Freight Lines,MFL-7710,2026-11-20,2026-12-20,5250,Expedited freight,880.00\r\n"
)
# The GL code the sample CSV uses that the embedded mapping leaves out, and what fixes it.
UNMAPPED_ACCOUNT = "5250"
UNMAPPED_ACCOUNT_FIX = "Freight In"


def run_demo(workdir: Path) -> int:
    if workdir.exists():
        shutil.rmtree(workdir)  # every run starts from the same empty state (the sandbox starts afresh too)
    with embedded_environment(workdir) as env, environment_variables(env.environ):
        config = env.config()
        home = prepare_dagster_home(workdir / "dagster_home")
        print(f"QBO sandbox   {env.qbo.base_url}  (companies {', '.join(env.qbo.realm_ids)})")
        print(f"SFTP server   127.0.0.1:{env.sftp.port}  host key {env.sftp.fingerprint}  root {env.sftp.root}")
        print(f"config        {env.config_path}\nDagster home  {home}\n")
        record = connect_company(env)
        print(f"1. Connected QBO company {COMPANY!r} (realm {record.realm_id}) over OAuth; tokens stored 0600.")
        with warnings.catch_warnings():
            # Beta/preview notices about backfill policies and partitioned checks, not about the demo.
            warnings.simplefilter("ignore", dg.BetaWarning)
            warnings.simplefilter("ignore", dg.PreviewWarning)
            definitions = build_definitions(config)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            daemon = InProcessDaemon(definitions, instance, say=print)
            _run_steps(daemon, env.config_path, config)
        print(
            "\nThe same definitions run under the daemon with `make dev` (UI on http://127.0.0.1:3000, sensors\n"
            "and schedules running). To browse this demo's own runs, materializations and check tables:\n"
            f"  DAGSTER_HOME={home} QBO_SFTP_CONFIG={env.config_path} \\\n"
            "    .venv/bin/dagster-webserver -w workspace.yaml   (history only: the demo's sandboxes have stopped)"
        )
    return 0


def _run_steps(daemon: InProcessDaemon, config_path: Path, config: Config) -> None:
    ledger = ledger_for(config)
    print("2. Each company's CDC sensor sees no watermark yet and refreshes every QuickBooks snapshot:")
    for name in [n for n in daemon.sensor_names() if n.startswith("qbo_cdc_")]:
        for outcome in daemon.tick_sensor(name):
            _report(outcome)

    print("3. Each outbound feed's schedule fires (as at its next tick) and renders the feed:")
    now = dt.datetime.now(dt.UTC)
    for name in daemon.schedule_names():
        for outcome in daemon.tick_schedule(name, now):
            _report(outcome)

    print("4. Partners drop files into their inbound folders:")
    drops = sample_inbound_files()
    drop_inbound_files(config, drops, say=print)
    print("5. Each partner's SFTP sensor adds one partition per ready file and asks for one run over them:")
    inbound_sensors = [n for n in daemon.sensor_names() if n.startswith("sftp_inbound_")]
    for name in inbound_sensors:
        for outcome in daemon.tick_sensor(name):
            _report(outcome)
    _summarize(daemon.instance)

    partner = "legacy_erp"
    file_name = next(name for name, _content in drops[partner])
    print(
        f"\n6. Fix the mapping: GL {UNMAPPED_ACCOUNT} -> {UNMAPPED_ACCOUNT_FIX!r} for {partner}, then replay its file"
    )
    print(f"   (in the UI: select the partition {partner}/{file_name} of validated_postings and")
    print(f"   its downstream assets, Materialize selected; or `qbo-sftp replay {partner}/{file_name}`):")
    add_account_mapping(config_path, partner, UNMAPPED_ACCOUNT, UNMAPPED_ACCOUNT_FIX)
    before = _posted_count(ledger)
    _report(daemon.materialize(REPLAY_ASSETS, f"{partner}/{file_name}"))
    print(f"   {_posted_count(ledger) - before} more document(s) posted; the others were already in QuickBooks.")
    _summarize(daemon.instance, partitions=[f"{partner}/{file_name}"])

    resender, original, resent = RESENT
    print(f"\n7. {resender} resends {original} under a new name ({resent}):")
    bills_before = _bill_count(config)
    drop_inbound_files(config, {resender: [(resent, dict(drops[resender])[original])]}, say=print)
    for name in inbound_sensors:
        for outcome in daemon.tick_sensor(name):
            _report(outcome)
    print(f"   QuickBooks bills before {bills_before}, after {_bill_count(config)}: nothing posted twice.")
    _summarize(daemon.instance, partitions=[f"{resender}/{resent}"])


def sample_inbound_files() -> dict[str, list[tuple[str, bytes]]]:
    """What the demo's partners drop into their inbound folders: a good 810, a broken one, a CSV with an unmapped GL."""
    # B is its own interchange with two other invoices, the first with a total off by $10.00.
    broken = with_wrong_total(great_lakes_invoices(4411, ("GLS-2026-1103", "GLS-2026-1104")))
    return {
        "great_lakes_steel": [("GLS-20261123-A.edi", great_lakes_invoices()), ("GLS-20261123-B.edi", broken)],
        "legacy_erp": [("AP_20261123.csv", LEGACY_AP_CSV)],
    }


def drop_inbound_files(
    config: Config, drops: dict[str, list[tuple[str, bytes]]], *, say: Callable[[str], None] | None = None
) -> None:
    """Upload each file into its partner's inbound folder, as the partner would (temporary name, then rename)."""
    for partner_name, dropped in drops.items():
        with partner_files(partner_name, config.partner(partner_name)) as files:
            for name, content in dropped:
                files.upload(content, name, kind="inbound")
                if say:
                    say(f"   {partner_name} sent {name} ({len(content)} bytes)")


def add_account_mapping(config_path: Path, partner: str, code: str, account: str) -> None:
    """Add `code: account` to the partner's GL table in the config file, as a person fixing the mapping would."""
    document = yaml.safe_load(config_path.read_text())
    mapping = document["partners"][partner].setdefault("mapping", {})
    accounts = mapping.setdefault("accounts", {})
    accounts.setdefault("table", {})[code] = account
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))


def _report(outcome: RunOutcome) -> None:
    """One line per run, then the partitions it covered and any failed check with its first rows."""
    verdict = "succeeded" if outcome.success else "FAILED"
    partitions = ", ".join(outcome.partitions) or "-"
    print(f"   run {outcome.result.run_id[:8]} ({outcome.origin}) {verdict}: {partitions}")
    for materialization in _materializations(outcome):
        count = materialization.metadata.get("dagster/row_count")
        where = f"[{materialization.partition}]" if materialization.partition else ""
        rows = f": {count.value} row(s)" if count is not None else ""
        print(f"      {materialization.asset_key.to_user_string()}{where}{rows}")
    for evaluation in outcome.failed_checks():
        partition = f" [{evaluation.partition}]" if getattr(evaluation, "partition", None) else ""
        print(f"      check {evaluation.check_name}{partition} FAILED")
        for row in _table_rows(evaluation.metadata)[:5]:
            print(
                f"        ! {row.get('document_number')} line {row.get('line')}: {row.get('column')} "
                f"{row.get('value')!r}: {row.get('check')}; fix: {row.get('fix')}"
            )
    if not outcome.success and not outcome.failed_checks():
        for event in outcome.result.all_events:
            error = event.step_failure_data.error if event.is_step_failure else None
            if error is not None:
                while error.cause is not None:  # the user code's own exception, not Dagster's wrapper
                    error = error.cause
                print(f"      ! {event.step_key}: {error.message.strip()}")


def _materializations(outcome: RunOutcome) -> list[dg.AssetMaterialization]:
    return [e.step_materialization_data.materialization for e in outcome.result.get_asset_materialization_events()]


def _table_rows(metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    for value in metadata.values():
        if isinstance(value, dg.TableMetadataValue):
            return [dict(record.data) for record in value.records]
    return []


def _posted_count(ledger: Ledger) -> int:
    return ledger.query("SELECT count(*) FROM postings WHERE qbo_id IS NOT NULL")[0][0]


def _bill_count(config: Config) -> int:
    with qbo_client_for(config, COMPANY) as qbo:
        return qbo.count("Bill")


def _summarize(instance: dg.DagsterInstance, *, partitions: list[str] | None = None) -> None:
    """Each inbound file as its latest materializations in the instance show it (what the UI shows)."""
    print("   Summary:")
    totals: Counter[str] = Counter()
    for key in partitions or instance.get_dynamic_partitions(INBOUND_FILES):
        filed = _latest_metadata(instance, "inbound_ack", key)
        parsed = _latest_metadata(instance, "parsed_inbound_documents", key)
        status = _text(filed.get("status")) or "not filed"
        totals[f"file {status}"] += 1
        print(f"   {key}: {status} -> {_text(filed.get('filed_at'))}")
        if "duplicate_of" in parsed:
            print(f"      a re-send: {_text(parsed['duplicate_of'])}; answered again, nothing posted")
        for error in _text(parsed.get("errors")).splitlines():
            totals["syntax error"] += 1
            print(f"      syntax: {error.removeprefix('- ')}")
        for row in _table_rows(_latest_metadata(instance, "qbo_postings", key)):
            totals[row["status"]] += 1
            posted = f"QBO {row['qbo_entity']} Id {row['qbo_id']}" if row.get("qbo_id") else ""
            print(f"      {row['document'] or '?'}: {row['status']} {posted or row.get('reason', '')}".rstrip())
        for ack in dict.fromkeys(_text(filed[name]) for name in ("ack_path", "application_ack_path") if name in filed):
            totals["ack sent"] += 1
            print(f"      ack -> {ack}")
    print("   Totals: " + ", ".join(f"{count} {what}" for what, count in sorted(totals.items())))


def _latest_metadata(instance: dg.DagsterInstance, asset: str, partition: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1, ascending=False
    ).records
    if not records:
        return {}
    materialization = records[0].asset_materialization
    return {} if materialization is None else dict(materialization.metadata)


def _text(value: object) -> str:
    return str(getattr(value, "value", value) or "")
