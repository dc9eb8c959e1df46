"""The code location loads with and without a config file; the config adds sensors and schedules, not assets."""

import dagster as dg

from qbo_sftp_assets.config import CONFIG_PATH_ENV
from qbo_sftp_assets.definitions import defs

ASSETS = {
    "qbo_vendors",
    "qbo_customers",
    "qbo_accounts",
    "qbo_classes",
    "qbo_departments",
    "qbo_items",
    "qbo_terms",
    "qbo_bills",
    "qbo_invoices",
    "qbo_webhook_changes",
    "qbo_connection",
    "outbound_files",
    "landed_inbound_file",
    "parsed_inbound_documents",
    "validated_postings",
    "qbo_postings",
    "inbound_ack",
}


def test_definitions_load_without_a_config_file_with_every_asset_and_no_automation(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_PATH_ENV, str(tmp_path / "absent.yaml"))
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    graph = definitions.resolve_asset_graph()
    assert {key.path[-1] for key in graph.get_all_asset_keys()} == ASSETS
    assert {"qbo_sftp_config", "ledger", "qbo", "sftp", "file_partitions_io_manager"} <= set(definitions.resources)
    assert not list(definitions.sensors or []) and not list(definitions.schedules or [])
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {"quickbooks", "outbound", "inbound"}


def test_qbo_resource_holds_no_secret_values(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_PATH_ENV, str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("QBO_CLIENT_SECRET", "s3cret-value")
    assert "s3cret-value" not in repr(defs().resources["qbo"])
