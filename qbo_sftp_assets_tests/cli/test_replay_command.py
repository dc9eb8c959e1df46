"""`qbo-sftp replay PARTNER/FILE` re-applies a fixed mapping to one file and posts only what was missing."""

import dagster as dg
import pytest

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.dagster_dev import free_port, prepare_dagster_home
from qbo_sftp_assets.definitions import build_definitions
from qbo_sftp_assets.demo import (
    UNMAPPED_ACCOUNT,
    UNMAPPED_ACCOUNT_FIX,
    add_account_mapping,
    drop_inbound_files,
    sample_inbound_files,
)
from qbo_sftp_assets.embedded import connect_company, embedded_environment, environment_variables
from qbo_sftp_assets.in_process_daemon import InProcessDaemon
from qbo_sftp_assets.ledger import Ledger

FILE = "legacy_erp/AP_20261123.csv"


def posted(ledger: Ledger) -> dict[str, int]:
    rows = ledger.query("SELECT doc_number, count(*) FROM postings WHERE qbo_id IS NOT NULL GROUP BY doc_number")
    return dict(rows)


def test_replay_without_a_webserver_materializes_the_file_again_on_dagster_home(tmp_path, monkeypatch, capsys):
    with embedded_environment(tmp_path / "embedded") as env, environment_variables(env.environ):
        connect_company(env)
        config = env.config()
        home = prepare_dagster_home(tmp_path / "dagster_home")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            daemon = InProcessDaemon(build_definitions(config), instance, say=lambda line: None)
            daemon.tick_sensor("qbo_cdc_northwind")
            drop_inbound_files(config, {"legacy_erp": sample_inbound_files()["legacy_erp"]})
            [outcome] = daemon.tick_sensor("sftp_inbound_legacy_erp")
            evaluations = outcome.result.get_asset_check_evaluations()
            assert [e.passed for e in evaluations if e.check_name == "postings_valid"] == [False]
        ledger = Ledger(config.ledger.path)
        assert posted(ledger) == {"BIG-55120": 1, "FD-9931": 1}

        add_account_mapping(env.config_path, "legacy_erp", UNMAPPED_ACCOUNT, UNMAPPED_ACCOUNT_FIX)
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        nobody = f"http://127.0.0.1:{free_port()}"
        assert main(["replay", FILE, "--url", nobody]) == 0
        assert f"replaying {FILE} from validated_postings on DAGSTER_HOME={home}" in capsys.readouterr().out

        assert posted(ledger) == {"BIG-55120": 1, "FD-9931": 1, "MFL-7710": 1}
        acks = sorted(p.name for p in (env.sftp.root / "legacy_erp" / "acks").iterdir())
        # The first ack, and a second revision after the replay.
        assert len(acks) == 2 and acks[0] == "AP_20261123.csv.ack.csv" and "r2" in acks[1]
        with dg.DagsterInstance.from_config(str(home)) as instance:
            [check] = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey("validated_postings"), "postings_valid"), limit=1
            )
            assert check.partition == FILE and check.status.value == "SUCCEEDED"


@pytest.mark.parametrize("key", ["no-slash", "/file-only"])
def test_replay_refuses_a_key_that_is_not_partner_slash_file(key, capsys):
    assert main(["replay", key]) != 0
    assert "PARTNER/FILE" in capsys.readouterr().err
