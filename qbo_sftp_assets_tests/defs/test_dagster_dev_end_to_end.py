"""Under a real `dagster dev` (webserver + daemon): files dropped on the SFTP server end as bills and acks.

Nobody launches anything: the CDC sensor refreshes the snapshots, the SFTP sensors find the files,
the daemon runs them, and a file a crashed run left in processing/ is finished exactly once. Then
`qbo-sftp replay` re-applies a fixed mapping through the running webserver.
"""

from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.demo import (
    UNMAPPED_ACCOUNT,
    UNMAPPED_ACCOUNT_FIX,
    add_account_mapping,
    drop_inbound_files,
    great_lakes_invoices,
    sample_inbound_files,
)
from qbo_sftp_assets.embedded import COMPANY, environment_variables
from qbo_sftp_assets.qbo.client import qbo_client_for
from qbo_sftp_assets_tests.dagster_dev_session import dagster_dev_session

# A file a run had claimed into processing/ when it crashed, before anything was recorded.
STRANDED = "GLS-20261124-C.edi"
EXPECTED_BILLS = {
    "GLS-2026-1101",
    "GLS-2026-1102",
    "GLS-2026-1104",  # B's other invoice is refused by the 997 (wrong total)
    "GLS-2026-1105",
    "GLS-2026-1106",
    "BIG-55120",
    "FD-9931",  # MFL-7710 waits for its GL code's mapping
}


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


@pytest.mark.slow
@pytest.mark.timeout(480)  # a real dagster dev: ~2 min on 2 idle cores, more on a busy machine
def test_the_daemon_posts_dropped_files_acknowledges_them_and_finishes_a_stranded_one_once(tmp_path):
    with dagster_dev_session(tmp_path) as session:
        config = session.env.config()
        session.wait_for("the first snapshots", lambda: session.materialized_partitions("qbo_vendors"), timeout=120)

        root = session.env.sftp.root
        steel, erp = root / "great_lakes_steel", root / "legacy_erp"
        (steel / "processing" / STRANDED).write_bytes(great_lakes_invoices(4412, ("GLS-2026-1105", "GLS-2026-1106")))
        drop_inbound_files(config, sample_inbound_files())

        expected_acks = {
            steel: ["GLS-20261123-A.edi.997", "GLS-20261123-B.edi.997", f"{STRANDED}.997"],
            erp: ["AP_20261123.csv.ack.csv"],
        }

        def all_filed() -> bool:
            return all(
                files_in(partner / "acks") == acks and not files_in(partner / "inbound")
                and not files_in(partner / "processing")
                for partner, acks in expected_acks.items()
            )  # fmt: skip

        session.wait_for("every file acknowledged and filed", all_filed, timeout=150)

        with environment_variables(session.env.environ), qbo_client_for(config, COMPANY) as qbo:
            numbers = Counter(bill.get("DocNumber") for bill in qbo.query("SELECT * FROM Bill"))
        assert {number: numbers[number] for number in EXPECTED_BILLS} == dict.fromkeys(EXPECTED_BILLS, 1)
        assert numbers["MFL-7710"] == 0
        assert files_in(steel / "archive") == ["GLS-20261123-A.edi", STRANDED]
        assert files_in(steel / "error") == ["GLS-20261123-B.edi"]
        assert files_in(erp / "error") == ["AP_20261123.csv"]
        assert b"AK9*A*2*2*2" in (steel / "acks" / f"{STRANDED}.997").read_bytes()

        with dg.DagsterInstance.from_config(str(session.dev.home)) as instance:
            steel_runs = dg.RunsFilter(tags={"dagster/sensor_name": "sftp_inbound_great_lakes_steel"})

            def runs_finished() -> bool:
                # The last file is filed a moment before its run records the end of its last step.
                return all(run.is_finished for run in instance.get_runs(steel_runs))

            session.wait_for("the sensor's runs to finish", runs_finished, timeout=60)
            runs = instance.get_runs(steel_runs)
            assert runs and [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * len(runs)
            # A few runs over many files, not one per file (each file keeps its own partition).
            assert len(runs) <= 3
            assert set(instance.get_dynamic_partitions("inbound_files")) >= {
                f"great_lakes_steel/{STRANDED}",
                "legacy_erp/AP_20261123.csv",
            }

        # The mapping fixed, `qbo-sftp replay` launches the file's partition on the running instance
        # (what "Materialize selected" does in the UI): only the missing bill is posted.
        add_account_mapping(session.env.config_path, "legacy_erp", UNMAPPED_ACCOUNT, UNMAPPED_ACCOUNT_FIX)
        assert main(["replay", "legacy_erp/AP_20261123.csv", "--url", session.dev.url, "--timeout", "120"]) == 0
        with environment_variables(session.env.environ), qbo_client_for(config, COMPANY) as qbo:
            after = Counter(bill.get("DocNumber") for bill in qbo.query("SELECT * FROM Bill"))
        assert after - numbers == Counter({"MFL-7710": 1})
