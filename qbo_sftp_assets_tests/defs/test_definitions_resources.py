"""The code location's resources reach the embedded QBO and SFTP servers, reading the config once per run."""

import dagster as dg
import pytest
import yaml

from qbo_sftp_assets import config as config_module
from qbo_sftp_assets.definitions import defs
from qbo_sftp_assets.defs.inbound.sensors import inbound_sensor_name
from qbo_sftp_assets.defs.outbound.schedules import schedule_name
from qbo_sftp_assets.defs.outbound.sensors import partner_ack_sensor_name
from qbo_sftp_assets.defs.qbo_snapshots.health import HEALTH_SENSOR
from qbo_sftp_assets.defs.qbo_snapshots.sensors import cdc_sensor_name
from qbo_sftp_assets.defs.sensor_timing import minimum_interval
from qbo_sftp_assets.defs.webhooks.sensors import webhook_sensor_name
from qbo_sftp_assets.embedded import COMPANY, connect_company, embedded_environment, environment_variables
from qbo_sftp_assets.qbo.client import MissingCredentials


def test_resources_reach_qbo_sftp_and_the_ledger(tmp_path):
    with embedded_environment(tmp_path / "env") as env, environment_variables(env.environ):
        connect_company(env)
        with dg.build_resources(defs().resources) as resources:
            assert resources.ledger.ledger().migrate() >= 1
            with resources.qbo.client() as qbo:
                assert qbo.count("Vendor") == 6
            with resources.sftp.partner("great_lakes_steel") as files:
                uploaded = files.upload(b"hello", "probe.txt", kind="outbound")
                assert uploaded.remote_path == "great_lakes_steel/outbound/probe.txt"
    assert (tmp_path / "env" / "sftp" / "great_lakes_steel" / "outbound" / "probe.txt").read_bytes() == b"hello"


def test_the_config_builds_a_sensor_per_partner_and_company_and_a_schedule_per_feed(tmp_path):
    with embedded_environment(tmp_path / "env") as env, environment_variables(env.environ):
        definitions = defs()
        sensors = {sensor.name: sensor for sensor in definitions.sensors}
        assert set(sensors) == {
            inbound_sensor_name("great_lakes_steel"),
            inbound_sensor_name("legacy_erp"),
            cdc_sensor_name(COMPANY),
            webhook_sensor_name(COMPANY),
            partner_ack_sensor_name("acme_tractor"),
            HEALTH_SENSOR,
        }
        assert all(sensor.default_status == dg.DefaultSensorStatus.RUNNING for sensor in sensors.values())
        poll = env.config().partner("legacy_erp").poll_interval
        assert sensors[inbound_sensor_name("legacy_erp")].minimum_interval_seconds == minimum_interval(poll)
        assert {s.name for s in definitions.schedules} == {
            schedule_name("acme_tractor", "weekly_invoices"),
            schedule_name("legacy_erp", "vendor_list"),
        }


def test_the_config_file_is_read_once_per_resource_build(tmp_path, monkeypatch):
    with embedded_environment(tmp_path / "env") as env, environment_variables(env.environ):
        reads = []
        original = config_module.parse_config
        monkeypatch.setattr(config_module, "parse_config", lambda *a, **k: reads.append(1) or original(*a, **k))
        with dg.build_resources(defs().resources) as resources:
            reads.clear()
            resources.ledger.ledger()
            resources.qbo.credential_env_names()
            resources.sftp.partner_config("legacy_erp")
            assert len(reads) == 1


def test_app_credentials_come_from_the_variables_the_company_names(tmp_path, monkeypatch):
    with embedded_environment(tmp_path / "env") as env, environment_variables(env.environ):
        raw = yaml.safe_load(env.config_path.read_text())
        raw["companies"][COMPANY]["client_id_env"] = "NORTHWIND_QBO_ID"
        raw["companies"][COMPANY]["client_secret_env"] = "NORTHWIND_QBO_SECRET"
        env.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        monkeypatch.delenv("NORTHWIND_QBO_ID", raising=False)
        with dg.build_resources(defs().resources) as resources:
            with pytest.raises(MissingCredentials, match="NORTHWIND_QBO_ID"):
                resources.qbo.client(COMPANY)
            monkeypatch.setenv("NORTHWIND_QBO_ID", env.qbo.settings.client_id)
            monkeypatch.setenv("NORTHWIND_QBO_SECRET", env.qbo.settings.client_secret)
            connect_company(env)
            with resources.qbo.client(COMPANY) as qbo:
                assert qbo.count("Vendor") == 6
