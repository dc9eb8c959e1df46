"""Inbound files: the SFTP sensor asks for one run over many files, each file keeps its partition, check and ack."""

import warnings

import dagster as dg
import pytest
import yaml

from qbo_sftp_assets import mapping
from qbo_sftp_assets.defs.inbound.checks import CHECK_NAME, PROCESSED_CHECK_NAME
from qbo_sftp_assets.defs.inbound.sensors import (
    MAX_FILES_PER_RUN,
    RANGE_END,
    RANGE_START,
    InboundCursor,
    inbound_sensor_name,
    run_sizes,
)
from qbo_sftp_assets.defs.partitions import INBOUND_FILES
from qbo_sftp_assets.embedded import COMPANY
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets_tests.fixtures_defs import DefsEnvironment, defs_environment

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

INBOUND = ["landed_inbound_file", "parsed_inbound_documents", "validated_postings", "qbo_postings", "inbound_ack"]
HEADER = b"Vendor ID,Vendor,Invoice Number,Invoice Date,Due Date,Account,Description,Amount,Class\r\n"
GOOD = HEADER + b"100871,Precision Machining Partners,PMP-1001,2026-11-18,2026-12-18,5100,Brackets,612.40,WELD\r\n"
MIXED = (
    HEADER
    + b"100871,Precision Machining Partners,PMP-1002,2026-11-18,2026-12-18,5100,Flanges,100.00,WELD\r\n"
    + b"204455,Buckeye Industrial Gases,BIG-2002,2026-11-19,2026-12-19,5250,Argon,45.00,WELD\r\n"
)

DOC_NUMBERS = "('PMP-1001', 'PMP-1002', 'BIG-2002')"


def _test_partners(raw: dict) -> None:
    raw["partners"]["great_lakes_steel"]["readiness"] = {"policy": "stable", "min_age_seconds": 0}
    # The test files carry a Class column (the demo's sample has none): the ERP's WELD is QBO's Welding.
    raw["partners"]["legacy_erp"]["mapping"]["classes"] = {"table": {"WELD": "Welding"}}


@pytest.fixture(scope="module")
def defs_env(tmp_path_factory) -> DefsEnvironment:
    with defs_environment(tmp_path_factory.mktemp("inbound"), edit=_test_partners) as env:
        with dg.build_resources(env.resources) as resources, resources.qbo.client(COMPANY) as client:
            mapping.refresh_reference(client, resources.ledger.ledger(), client.realm_id)
        yield env


def tick(defs_env: DefsEnvironment, partner: str, cursor: str | None = None) -> dg.SensorResult:
    sensor = defs_env.definitions.resolve_sensor_def(inbound_sensor_name(partner))
    with dg.build_sensor_context(
        instance=defs_env.instance, cursor=cursor, resources=defs_env.resources, definitions=defs_env.definitions
    ) as context:
        return sensor(context)


def apply_partition_requests(defs_env: DefsEnvironment, result: dg.SensorResult) -> None:
    for request in result.dynamic_partitions_requests or []:
        defs_env.instance.add_dynamic_partitions(INBOUND_FILES, list(request.partition_keys))


def test_sensor_batches_new_files_into_one_run_and_each_file_keeps_its_check_and_ack(defs_env):
    defs_env.drop("legacy_erp", "AP_0001_good.csv", GOOD)
    defs_env.drop("legacy_erp", "AP_0002_mixed.csv", MIXED)
    result = tick(defs_env, "legacy_erp")
    keys = ["legacy_erp/AP_0001_good.csv", "legacy_erp/AP_0002_mixed.csv"]
    [add] = result.dynamic_partitions_requests
    assert list(add.partition_keys) == keys
    [run] = result.run_requests
    assert (run.tags[RANGE_START], run.tags[RANGE_END]) == tuple(keys)
    assert run.tags["qbo/realm_id"] == defs_env.config.company(COMPANY).realm_id
    assert run.run_key.startswith("legacy_erp/AP_0001_good.csv..AP_0002_mixed.csv:2:")
    assert set(InboundCursor.parse(result.cursor).requested) == {"AP_0001_good.csv", "AP_0002_mixed.csv"}
    # Until the run claims them, later ticks do not ask again.
    assert not tick(defs_env, "legacy_erp", result.cursor).run_requests

    apply_partition_requests(defs_env, result)
    outcome = defs_env.materialize(*INBOUND, tags=run.tags)
    assert outcome.success
    materialized = {(e.asset_key.path[-1], e.partition) for e in outcome.get_asset_materialization_events()}
    assert materialized == {(name, key) for name in INBOUND for key in keys}

    evaluations = {e.partition: e for e in outcome.get_asset_check_evaluations() if e.check_name == CHECK_NAME}
    assert evaluations[keys[0]].passed
    bad = evaluations[keys[1]]
    assert not bad.passed and bad.severity == dg.AssetCheckSeverity.ERROR
    [row] = [record.data for record in bad.metadata["failure_table"].value.records]
    assert row["document_number"] == "BIG-2002" and row["value"] == "5250" and row["fix"]

    posted = {
        e.partition: e.materialization.metadata
        for e in outcome.get_asset_materialization_events()
        if e.asset_key.path[-1] == "qbo_postings"
    }
    assert posted[keys[0]]["posted"].value == 1 and posted[keys[1]]["posted"].value == 1
    assert posted[keys[1]]["rejected"].value == 1
    acks = defs_env.sftp_folder("legacy_erp", "acks")
    assert b"BIG-2002" in (acks / "AP_0002_mixed.csv.ack.csv").read_bytes()
    assert not list(defs_env.sftp_folder("legacy_erp", "processing").iterdir())
    with dg.build_resources(defs_env.resources) as resources, resources.qbo.client(COMPANY) as client:
        bills = [bill["DocNumber"] for bill in client.query(f"SELECT * FROM Bill WHERE DocNumber IN {DOC_NUMBERS}")]
    assert sorted(bills) == ["PMP-1001", "PMP-1002"]

    # The replay: after the mapping learns GL 5250, re-materializing the file's validated_postings and
    # what follows posts only the missing document.
    raw = yaml.safe_load(defs_env.env.config_path.read_text())
    raw["partners"]["legacy_erp"]["mapping"]["accounts"]["table"]["5250"] = "Freight In"
    defs_env.env.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    replay = defs_env.materialize(
        *INBOUND, selection=["validated_postings", "qbo_postings", "inbound_ack"], partition_key=keys[1]
    )
    assert replay.success
    [evaluation] = [e for e in replay.get_asset_check_evaluations() if e.check_name == CHECK_NAME]
    assert evaluation.passed and evaluation.partition == keys[1]
    [again] = [e for e in replay.get_asset_materialization_events() if e.asset_key.path[-1] == "qbo_postings"]
    assert again.materialization.metadata["rejected"].value == 0
    with dg.build_resources(defs_env.resources) as resources, resources.qbo.client(COMPANY) as client:
        bills = [bill["DocNumber"] for bill in client.query(f"SELECT * FROM Bill WHERE DocNumber IN {DOC_NUMBERS}")]
    assert sorted(bills) == ["BIG-2002", "PMP-1001", "PMP-1002"]
    ledger = Ledger(defs_env.config.ledger.path)
    assert ledger.query("SELECT count(*) FROM postings WHERE doc_number = 'PMP-1002'")[0][0] == 1


def test_stable_readiness_needs_two_equal_listings_kept_in_the_cursor(defs_env):
    defs_env.drop("great_lakes_steel", "GLS-1.edi", b"ISA*00*not really x12~")
    first = tick(defs_env, "great_lakes_steel")
    assert not first.run_requests and "GLS-1.edi" in InboundCursor.parse(first.cursor).snapshot
    second = tick(defs_env, "great_lakes_steel", first.cursor)
    [run] = second.run_requests
    assert run.partition_key == "great_lakes_steel/GLS-1.edi"
    size = len(b"ISA*00*not really x12~")
    assert run.run_key.startswith(f"great_lakes_steel/GLS-1.edi:{size}:")


def test_a_file_left_in_processing_by_a_crashed_run_is_requested_again_under_a_new_key(defs_env):
    processing = defs_env.sftp_folder("great_lakes_steel", "processing")
    processing.mkdir(parents=True, exist_ok=True)
    (processing / "GLS-crashed.edi").write_bytes(b"ISA*crashed~")
    first = tick(defs_env, "great_lakes_steel")
    resumes = [r for r in first.run_requests if r.partition_key == "great_lakes_steel/GLS-crashed.edi"]
    assert [r.run_key.split(":")[0] for r in resumes] == ["resume1"]
    second = tick(defs_env, "great_lakes_steel", first.cursor)
    [retry] = [r for r in second.run_requests if r.partition_key == "great_lakes_steel/GLS-crashed.edi"]
    assert retry.run_key != resumes[0].run_key

    # While one of the partner's runs is active, a file in processing/ is that run's, not stranded.
    run = defs_env.instance.create_run_for_job(
        dg.GraphDefinition(name="placeholder").to_job(),
        tags={"qbo_sftp/partner": "great_lakes_steel"},
        status=dg.DagsterRunStatus.STARTED,
    )
    try:
        busy = tick(defs_env, "great_lakes_steel")
        assert not [r for r in busy.run_requests if r.partition_key == "great_lakes_steel/GLS-crashed.edi"]
    finally:
        defs_env.instance.report_run_canceled(run)
        (processing / "GLS-crashed.edi").unlink()


def test_one_broken_file_fails_alone_and_the_other_files_of_the_run_are_posted_and_filed(defs_env):
    good = b"100871,Precision Machining Partners,PMP-1003,2026-11-18,2026-12-18,5100,Brackets,75.00,WELD\r\n"
    defs_env.drop("legacy_erp", "AP_0003_good.csv", HEADER + good)
    # Nobody to acknowledge: reading this one file raises Unacknowledgeable.
    defs_env.drop("great_lakes_steel", "GLS-unreadable.edi", b"ISA*00*not really x12~")
    keys = ["legacy_erp/AP_0003_good.csv", "great_lakes_steel/GLS-unreadable.edi"]
    defs_env.instance.add_dynamic_partitions(INBOUND_FILES, keys)

    outcome = defs_env.materialize(*INBOUND, tags={RANGE_START: keys[0], RANGE_END: keys[-1]})
    assert outcome.success
    processed = {e.partition: e for e in outcome.get_asset_check_evaluations() if e.check_name == PROCESSED_CHECK_NAME}
    assert processed[keys[0]].passed
    broken = processed[keys[1]]
    assert not broken.passed and broken.metadata["failed_step"].value == "reading"
    assert "Unacknowledgeable" in broken.metadata["reason"].value and "error/GLS-unreadable.edi" in broken.description
    parsed = {
        e.partition: e.materialization.metadata
        for e in outcome.get_asset_materialization_events()
        if e.asset_key.path[-1] == "parsed_inbound_documents"
    }
    assert parsed[keys[1]]["status"].value == "failed at reading"
    assert parsed[keys[0]]["documents"].value == 1

    # The good file went all the way; the unreadable one is in error/ with the reason in the ledger.
    assert (defs_env.sftp_folder("legacy_erp", "acks") / "AP_0003_good.csv.ack.csv").exists()
    assert (defs_env.sftp_folder("legacy_erp", "archive") / "AP_0003_good.csv").exists()
    assert (defs_env.sftp_folder("great_lakes_steel", "error") / "GLS-unreadable.edi").exists()
    assert not (defs_env.sftp_folder("great_lakes_steel", "processing") / "GLS-unreadable.edi").exists()
    ledger = Ledger(defs_env.config.ledger.path)
    [(status, detail)] = ledger.query(
        "SELECT status, detail FROM inbound_files WHERE remote_path LIKE '%/error/GLS-unreadable.edi'"
    )
    assert status == "error" and "Unacknowledgeable" in detail
    with dg.build_resources(defs_env.resources) as resources, resources.qbo.client(COMPANY) as client:
        assert len(list(client.query("SELECT * FROM Bill WHERE DocNumber = 'PMP-1003'"))) == 1


def test_an_amount_quickbooks_cannot_take_is_rejected_in_validation_and_the_other_files_are_posted(defs_env):
    # 16 digits before the point: the readers take up to 18 digits, QuickBooks at most 15. Validation names
    # it with a fix, so the file is answered and filed instead of stopping at posting.
    huge = (
        b"100871,Precision Machining Partners,PMP-4002,2026-11-18,2026-12-18,5100,Ingots,1234567890123456.00,WELD\r\n"
    )
    fine = b"100871,Precision Machining Partners,PMP-4001,2026-11-18,2026-12-18,5100,Brackets,30.00,WELD\r\n"
    defs_env.drop("legacy_erp", "AP_4001_fine.csv", HEADER + fine)
    defs_env.drop("legacy_erp", "AP_4002_huge.csv", HEADER + huge)
    keys = ["legacy_erp/AP_4001_fine.csv", "legacy_erp/AP_4002_huge.csv"]
    defs_env.instance.add_dynamic_partitions(INBOUND_FILES, keys)

    outcome = defs_env.materialize(*INBOUND, tags={RANGE_START: keys[0], RANGE_END: keys[-1]})
    assert outcome.success
    checks = {(e.check_name, e.partition): e for e in outcome.get_asset_check_evaluations()}
    assert checks[(PROCESSED_CHECK_NAME, keys[0])].passed
    assert checks[(PROCESSED_CHECK_NAME, keys[1])].passed  # processed: answered and filed
    invalid = checks[("postings_valid", keys[1])]
    assert not invalid.passed
    table = str(invalid.metadata["failure_table"].value)
    assert "amount_within_limit" in table and "at most 15 digits" in table
    assert (defs_env.sftp_folder("legacy_erp", "archive") / "AP_4001_fine.csv").exists()
    assert (defs_env.sftp_folder("legacy_erp", "error") / "AP_4002_huge.csv").exists()
    with dg.build_resources(defs_env.resources) as resources, resources.qbo.client(COMPANY) as client:
        bills = [b["DocNumber"] for b in client.query("SELECT * FROM Bill WHERE DocNumber IN ('PMP-4001', 'PMP-4002')")]
    assert bills == ["PMP-4001"]


def test_a_large_tick_goes_out_in_few_big_runs():
    assert run_sizes(0) == []
    assert run_sizes(2) == [2]
    assert run_sizes(MAX_FILES_PER_RUN) == [MAX_FILES_PER_RUN]
    assert run_sizes(1001) == [MAX_FILES_PER_RUN, MAX_FILES_PER_RUN, 1]
