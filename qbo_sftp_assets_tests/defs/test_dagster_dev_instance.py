"""The instance `qbo-sftp dev` runs on: queued runs per realm, threaded sensors, the ledger pool at 1."""

import dagster as dg
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator

from qbo_sftp_assets.dagster_dev import INSTANCE_YAML, LEDGER_POOL, prepare_dagster_home


def test_dev_home_gets_the_queued_coordinator_threaded_sensors_and_the_ledger_pool_limit(tmp_path):
    home = prepare_dagster_home(tmp_path / "home")
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML.read_text()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        assert coordinator.dequeue_interval_seconds == 1
        queue = instance.get_concurrency_config().run_queue_config
        assert [(limit["key"], limit["limit"], limit["value"]) for limit in queue.tag_concurrency_limits] == [
            ("qbo/realm_id", 1, {"applyLimitPerUniqueValue": True})
        ]
        sensors = instance.get_settings("sensors")
        assert sensors == {"use_threads": True, "num_workers": 4, "num_submit_workers": 4}
        assert instance.event_log_storage.get_concurrency_info(LEDGER_POOL).slot_count == 1
    # The "Join the Dagster community" dialog would cover the first page a newcomer opens.
    assert (home / ".nux" / "nux.yaml").exists()


def test_preparing_again_keeps_the_limit_and_leaves_a_users_own_dagster_yaml_alone(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    own = {"telemetry": {"enabled": False}, "run_monitoring": {"enabled": True}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(own))
    prepare_dagster_home(home)
    prepare_dagster_home(home)
    assert yaml.safe_load((home / "dagster.yaml").read_text()) == own
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(LEDGER_POOL).slot_count == 1
