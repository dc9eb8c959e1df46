"""deploy/ on paper, checked against the code: the Helm values, the compose file, the receiver manifest and
the server qbo_sftp.yaml name the same image, code location, commands, env vars and config keys as the
package (a config test; no cluster, no Docker)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from qbo_sftp_assets.cli import build_parser
from qbo_sftp_assets.cli.webhook_commands import serve_command
from qbo_sftp_assets.config import CONFIG_PATH_ENV, Company, PostgresSettings, load_config
from qbo_sftp_assets.dagster_dev import CODE_LOCATION, POSTGRES_INSTANCE_YAML, POSTGRES_URL_ENV
from qbo_sftp_assets.defs.resources import REALM_TAG
from qbo_sftp_assets_tests.paths import REPOSITORY

ROOT = REPOSITORY
DEPLOY = ROOT / "deploy"
DEFINITIONS_MODULE = "qbo_sftp_assets.definitions"
CONFIG_MOUNT = "/etc/qbo-sftp/qbo_sftp.yaml"
DAGSTER_SERVICES = ("user_code", "webserver", "daemon")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


@pytest.fixture(scope="module")
def image() -> str:
    """The image every deploy file runs: this package, tagged with its version."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return f"qbo-sftp-assets:{version}"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml(DEPLOY / "docker-compose.yaml")


@pytest.fixture(scope="module")
def helm() -> dict[str, Any]:
    return _yaml(DEPLOY / "helm" / "values.yaml")


@pytest.fixture(scope="module")
def receiver_container() -> dict[str, Any]:
    [deployment] = [d for d in _documents(DEPLOY / "k8s" / "webhook-receiver.yaml") if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture(scope="module")
def server_config():
    return load_config(DEPLOY / "qbo_sftp.yaml")


def _required_env(config) -> set[str]:
    """Every variable the server config makes a process read: our database, each company's app secrets."""
    names = {config.postgres.url_env, CONFIG_PATH_ENV}
    for company in config.companies.values():
        names |= {company.client_id_env, company.client_secret_env}
        if company.webhook_verifier_env:
            names.add(company.webhook_verifier_env)
    return names


def test_the_server_config_loads_and_keeps_all_our_state_in_postgres(server_config):
    assert server_config.ledger.backend == "postgres"
    assert server_config.tokens.backend == "postgres"
    assert server_config.limiter_backend == "postgres"
    assert server_config.spool_backend == "postgres"
    # The deploy files name the variables the code reads by default, so the defaults stay true.
    assert server_config.postgres.url_env == PostgresSettings().url_env
    defaults = Company(realm_id="1")
    for company in server_config.companies.values():
        assert (company.client_id_env, company.client_secret_env) == (
            defaults.client_id_env,
            defaults.client_secret_env,
        )
        assert company.webhook_verifier_env  # the receiver verifies every company's signatures


def test_compose_runs_every_part_from_the_package_image_with_the_env_the_code_reads(compose, image, server_config):
    services = compose["services"]
    assert set(services) == {"postgres", *DAGSTER_SERVICES, "receiver"}
    for name in (*DAGSTER_SERVICES, "receiver"):
        assert services[name]["image"] == image, name
        assert any(volume.endswith(f":{CONFIG_MOUNT}:ro") for volume in services[name]["volumes"]), name
    assert services["user_code"]["build"]["dockerfile"] == "deploy/Dockerfile"
    code_server = services["user_code"]["command"]
    assert code_server[:3] == ["dagster", "code-server", "start"] and code_server[-2:] == ["-m", DEFINITIONS_MODULE]

    required = _required_env(server_config)
    for name in DAGSTER_SERVICES:
        environment = services[name]["environment"]
        assert required | {POSTGRES_URL_ENV, "DAGSTER_HOME"} <= set(environment), name
        assert environment[CONFIG_PATH_ENV] == CONFIG_MOUNT
        # Dagster's storage needs the psycopg2 driver in the scheme; our backends take the libpq URL.
        assert environment[POSTGRES_URL_ENV].startswith("postgresql+psycopg2://")
        assert environment[server_config.postgres.url_env].startswith("postgresql://")
    # The receiver gets the config, the verifiers and its spool's database, nothing that opens QBO, no volume
    # but the config: the spool is in PostgreSQL.
    receiver = services["receiver"]
    verifiers = {c.webhook_verifier_env for c in server_config.companies.values()}
    assert set(receiver["environment"]) == {CONFIG_PATH_ENV, server_config.postgres.url_env, *verifiers}
    assert (
        receiver["environment"][server_config.postgres.url_env]
        == (services["user_code"]["environment"][server_config.postgres.url_env])
    )
    assert receiver["volumes"] == [f"./qbo_sftp.yaml:{CONFIG_MOUNT}:ro"]
    assert "postgres" in receiver["depends_on"]


def test_compose_webserver_and_daemon_load_the_code_location_from_the_user_code_server(compose):
    workspace = _yaml(DEPLOY / "workspace.yaml")
    [location] = workspace["load_from"]
    server = location["grpc_server"]
    assert server["location_name"] == CODE_LOCATION and server["host"] == "user_code"
    code_server = compose["services"]["user_code"]["command"]
    assert code_server[code_server.index("-p") + 1] == str(server["port"])
    for name in ("webserver", "daemon"):
        command = compose["services"][name]["command"]
        assert command[command.index("-w") + 1] == "/opt/dagster/app/deploy/workspace.yaml", name
    # The local workspace names the same module the servers load.
    assert _yaml(ROOT / "workspace.yaml")["load_from"][0]["python_module"]["module_name"] == DEFINITIONS_MODULE


def test_the_image_carries_the_postgres_instance_and_the_k8s_launcher_of_our_dagster_release():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in dockerfile
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [postgres_pin] = [d for d in dependencies if d.startswith("dagster-postgres==")]
    assert f'"dagster-k8s=={postgres_pin.split("==")[1]}"' in dockerfile
    instance = _yaml(POSTGRES_INSTANCE_YAML)
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        assert instance[storage]["config"]["postgres_url"]["env"] == POSTGRES_URL_ENV, storage


def test_the_receiver_command_is_the_cli_serve_command_on_the_port_it_exposes(compose, receiver_container):
    receiver = compose["services"]["receiver"]
    for command, ports in (
        (receiver["command"], [port.split(":")[-1] for port in receiver["ports"]]),
        (receiver_container["command"], [str(port["containerPort"]) for port in receiver_container["ports"]]),
    ):
        assert command[:3] == ["qbo-sftp", "webhooks", "serve"]
        args = build_parser().parse_args(command[1:])
        assert args.handler is serve_command and args.host == "0.0.0.0"
        assert ports == [str(args.port)]


def test_the_k8s_receiver_runs_the_package_image_with_the_verifier_and_the_spools_database(
    receiver_container, image, server_config
):
    assert receiver_container["image"] == image
    env = {item["name"]: item for item in receiver_container["env"]}
    verifiers = {c.webhook_verifier_env for c in server_config.companies.values()}
    url_env = server_config.postgres.url_env
    assert set(env) == {CONFIG_PATH_ENV, url_env, *verifiers}
    assert env[CONFIG_PATH_ENV]["value"] == CONFIG_MOUNT
    secret = _documents(DEPLOY / "k8s" / "secret.example.yaml")[0]
    for name in (url_env, *verifiers):
        reference = env[name]["valueFrom"]["secretKeyRef"]
        assert reference["name"] == secret["metadata"]["name"] and reference["key"] in secret["stringData"]
    # The spool is in PostgreSQL: only the config is mounted, so replicas run on any node.
    assert {m["mountPath"] for m in receiver_container["volumeMounts"]} == {str(Path(CONFIG_MOUNT).parent)}
    [deployment] = [d for d in _documents(DEPLOY / "k8s" / "webhook-receiver.yaml") if d["kind"] == "Deployment"]
    assert "affinity" not in deployment["spec"]["template"]["spec"] and deployment["spec"]["replicas"] >= 2


def test_every_volume_claim_the_helm_values_mount_is_defined_in_deploy_k8s(helm):
    claims = {
        document["metadata"]["name"]
        for path in (DEPLOY / "k8s").glob("*.yaml")
        for document in _documents(path)
        if document["kind"] == "PersistentVolumeClaim"
    }
    [deployment] = helm["dagster-user-deployments"]["deployments"]
    mounted = {v["persistentVolumeClaim"]["claimName"] for v in deployment["volumes"] if "persistentVolumeClaim" in v}
    assert mounted and mounted <= claims


def test_helm_values_deploy_the_code_location_with_the_k8s_run_launcher_and_our_queue(helm, image, server_config):
    [deployment] = helm["dagster-user-deployments"]["deployments"]
    assert f"{deployment['image']['repository']}:{deployment['image']['tag']}" == image
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", DEFINITIONS_MODULE]
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    assert helm["postgresql"]["enabled"] is True
    # Webserver and daemon load our run coordinator class, so they run the same image.
    for part in ("dagsterWebserver", "dagsterDaemon"):
        assert f"{helm[part]['image']['repository']}:{helm[part]['image']['tag']}" == image, part

    instance = _yaml(POSTGRES_INSTANCE_YAML)
    coordinator = helm["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]
    assert (coordinator["module"], coordinator["class"]) == (
        instance["run_coordinator"]["module"],
        instance["run_coordinator"]["class"],
    )
    assert (
        coordinator["config"]["dequeue_interval_seconds"]
        == instance["run_coordinator"]["config"]["dequeue_interval_seconds"]
    )
    runs = instance["concurrency"]["runs"]
    assert coordinator["config"]["max_concurrent_runs"] == runs["max_concurrent_runs"]
    assert coordinator["config"]["tag_concurrency_limits"] == runs["tag_concurrency_limits"]
    assert runs["tag_concurrency_limits"][0]["key"] == REALM_TAG
    sensors = helm["dagsterDaemon"]["sensors"]
    assert (sensors["useThreads"], sensors["numWorkers"], sensors["numSubmitWorkers"]) == (
        instance["sensors"]["use_threads"],
        instance["sensors"]["num_workers"],
        instance["sensors"]["num_submit_workers"],
    )

    # Every process that opens the config gets its path and the secret holding what it names.
    secrets = {d["metadata"]["name"]: d for d in _documents(DEPLOY / "k8s" / "secret.example.yaml")}
    for part in (deployment, helm["dagsterWebserver"], helm["dagsterDaemon"]):
        assert {"name": CONFIG_PATH_ENV, "value": CONFIG_MOUNT} in part["env"]
        [secret] = part["envSecrets"]
        assert _required_env(server_config) - {CONFIG_PATH_ENV} <= set(secrets[secret["name"]]["stringData"])
        assert any(m["mountPath"] == str(Path(CONFIG_MOUNT).parent) for m in part["volumeMounts"])
    launcher = helm["runLauncher"]["config"]["k8sRunLauncher"]
    assert f"{CONFIG_PATH_ENV}={CONFIG_MOUNT}" in launcher["envVars"]
    assert launcher["envSecrets"] == deployment["envSecrets"]
    assert "postgresql-password" in secrets["dagster-postgresql-secret"]["stringData"]


def test_every_env_var_the_deploy_files_set_is_one_the_code_or_config_reads(compose, server_config):
    """No stale names: a variable set in a deploy file that nothing reads is a typo or a leftover."""
    known = _required_env(server_config) | {POSTGRES_URL_ENV, "DAGSTER_HOME"}
    for name in (*DAGSTER_SERVICES, "receiver"):
        assert set(compose["services"][name]["environment"]) <= known, name
    secret = _documents(DEPLOY / "k8s" / "secret.example.yaml")[0]
    assert set(secret["stringData"]) <= known
    interpolated = set(re.findall(r"\$\{(\w+)", (DEPLOY / "docker-compose.yaml").read_text()))
    assert interpolated <= known | {"POSTGRES_PASSWORD"}
