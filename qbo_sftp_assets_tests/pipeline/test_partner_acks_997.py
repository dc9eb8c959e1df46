"""Partners' 997s for our outbound 810s, over real SFTP: a 997 rejecting one set marks exactly that set
(and the delivery partially accepted, with the AK3/AK4 detail), the feed's check fails naming it, the
ledger command shows it; a delivery without a 997 past the partner's SLA fails the check as overdue."""

import datetime as dt
import json
import time
import warnings
from typing import Any

import dagster as dg
import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.defs.jobs import OUTBOUND_JOB
from qbo_sftp_assets.defs.outbound.checks import CHECK_NAME
from qbo_sftp_assets.defs.outbound.sensors import partner_ack_sensor_name
from qbo_sftp_assets.formats.x12.writer import GroupSpec, Parties, write_interchange
from qbo_sftp_assets.ledger import Ledger
from qbo_sftp_assets_tests.fixtures_defs import DefsEnvironment, defs_environment

warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

SLA_HOURS = 0.001  # 3.6 s


def two_x12_feeds(raw: dict[str, Any]) -> None:
    raw["partners"]["acme_tractor"]["outbound"]["bill_810s"] = {"entities": ["bills"], "format": "x12_810"}
    steel = raw["partners"]["great_lakes_steel"]
    steel["outbound"] = {"invoice_810s": {"entities": ["invoices"], "format": "x12_810"}}
    steel["ack"] = {"sla_hours": SLA_HOURS}


@pytest.fixture(scope="module")
def defs_env(tmp_path_factory) -> DefsEnvironment:
    with defs_environment(tmp_path_factory.mktemp("partner_acks"), two_x12_feeds) as env:
        yield env


class Counter:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def next(self, kind: str) -> int:
        self.values[kind] = self.values.get(kind, 0) + 1
        return self.values[kind]


def partner_997(group: int, verdicts: list[tuple[str, list[str]]]) -> bytes:
    """The partner's 997 for our group `group`: per set (ST02, its AK3/AK4/AK5 segments)."""
    body = [f"AK1*IN*{group}"]
    for number, segments in verdicts:
        body += [f"AK2*810*{number}", *segments]
    accepted = sum(1 for _, segments in verdicts if segments[-1] == "AK5*A")
    overall = "A" if accepted == len(verdicts) else ("R" if accepted == 0 else "P")
    body.append(f"AK9*{overall}*{len(verdicts)}*{len(verdicts)}*{accepted}")
    parties = Parties("ZZ", "ACMETRACTOR", "ZZ", "NORTHWINDFAB")
    return write_interchange(
        parties,
        [GroupSpec("FA", "004010", [["997", *body]])],
        control_numbers=Counter(),
        as_of=dt.datetime.now(dt.UTC),
    )


def run_check(env: DefsEnvironment, key: str) -> dg.AssetCheckEvaluation:
    """A check-only run of the feed's partition, as the partner-ack sensor requests it."""
    check = dg.AssetCheckKey(dg.AssetKey("outbound_files"), CHECK_NAME)
    job = env.definitions.resolve_job_def(OUTBOUND_JOB).get_subset(asset_selection=set(), asset_check_selection={check})
    result = job.execute_in_process(instance=env.instance, partition_key=key)
    assert not result.get_asset_materialization_events()
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_a_997_rejecting_one_set_marks_exactly_that_set(defs_env, capsys):
    result = defs_env.materialize("outbound_files", partition_key="acme_tractor/bill_810s")
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    numbers = metadata["control_numbers"].value
    sets = sorted(numbers["sets"])
    assert len(sets) >= 2
    rejected_number, rejected_record = sets[1], numbers["sets"][sets[1]]
    ack = partner_997(
        numbers["GS06"],
        [
            (number, ["AK3*IT1*6**8", "AK4*2*234*7*XX", "AK5*R*5"] if number == rejected_number else ["AK5*A"])
            for number in sets
        ],
    )
    folder = defs_env.env.sftp.root / "acme_tractor" / "acks_in"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ack_0001.997").write_bytes(ack)

    sensor = defs_env.definitions.resolve_sensor_def(partner_ack_sensor_name("acme_tractor"))
    with dg.build_sensor_context(
        instance=defs_env.instance, definitions=defs_env.definitions, resources=defs_env.resources
    ) as context:
        # evaluate_tick resolves each request against the job as the daemon does (partition tags, checks).
        requests = sensor.evaluate_tick(context).run_requests
    # One check run per X12 feed of the partner: a 997 may answer any of them.
    assert sorted(r.partition_key for r in requests) == ["acme_tractor/bill_810s", "acme_tractor/weekly_invoices"]
    assert all(r.asset_check_keys and r.asset_selection == [] for r in requests)
    evaluation = run_check(defs_env, "acme_tractor/bill_810s")
    assert not evaluation.passed
    [row] = evaluation.metadata["rejected_sets_detail"].value.records
    assert row.data["record"] == rejected_record
    assert row.data["control_number"].endswith(f"/{numbers['GS06']}/{rejected_number}")
    assert "segment IT1 at 6: code 8" in row.data["errors"] and "element 2: code 7" in row.data["errors"]
    assert not list(folder.glob("*.997")) and (folder / "archive" / "ack_0001.997").exists()

    ledger = Ledger(defs_env.config.ledger.path)
    [delivery] = ledger.outbound_deliveries(partner="acme_tractor", feed="bill_810s")
    assert delivery.ack_status == "partially_accepted" and delivery.acked_at is not None
    verdicts = {
        a["control_number"].rsplit("/", 1)[1]: a["status"]
        for a in ledger.received_acknowledgments("acme_tractor", [delivery.sha256])
        if a["control_number"].count("/") == 2
    }
    assert verdicts == {n: "rejected" if n == rejected_number else "accepted" for n in sets}
    detail = json.loads(
        ledger.query(
            "SELECT detail FROM acknowledgments WHERE direction = 'received' AND control_number LIKE ?",
            [f"%/{rejected_number}"],
        )[0][0]
    )
    assert detail["codes"] == ["5"] and detail["record"] == rejected_record

    # The same 997 dropped again is not recorded twice.
    (folder / "ack_0001.997").write_bytes(ack)
    again = run_check(defs_env, "acme_tractor/bill_810s")
    assert again.metadata["acks_landed"].value[0]["already_recorded"] is True

    assert main(["ledger", "--path", str(defs_env.config.ledger.path)]) == 0
    out = capsys.readouterr().out
    line = next(text for text in out.splitlines() if delivery.remote_path in text)
    assert "partially_accepted" in line and f"{len(sets) - 1} ok, 1 rejected" in line and rejected_number in line


def test_an_overdue_acknowledgment_fails_the_feeds_check(defs_env):
    result = defs_env.materialize("outbound_files", partition_key="great_lakes_steel/invoice_810s")
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    [first] = result.get_asset_check_evaluations()
    assert first.passed  # just delivered: not late yet
    time.sleep(SLA_HOURS * 3600 + 0.5)
    evaluation = run_check(defs_env, "great_lakes_steel/invoice_810s")
    assert not evaluation.passed and "unacknowledged after" in evaluation.description
    [row] = evaluation.metadata["overdue_files"].value.records
    assert row.data["remote_path"] == metadata["remote_path"].value
    assert f"ISA13={metadata['control_numbers'].value['ISA13']}" in row.data["control_numbers"]
    assert row.data["late_by"].startswith("0h 0m")
