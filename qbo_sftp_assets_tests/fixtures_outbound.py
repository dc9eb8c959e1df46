"""Change-driven outbound on the embedded sandboxes: feeds that follow changes, a real webhook receiver,
signed CloudEvents posted to it over HTTP, and the sensors' run requests carried out in process."""

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import httpx

from qbo_sftp_assets.defs.webhooks.sensors import webhook_sensor_name
from qbo_sftp_assets.embedded import COMPANY
from qbo_sftp_assets.qbo.webhooks import signature_for
from qbo_sftp_assets.webhooks import ReceiverSettings, RunningReceiver, start_receiver
from qbo_sftp_assets_tests.fixtures_defs import DefsEnvironment, defs_environment
from qbo_sftp_assets_tests.fixtures_qbo import sandbox_api_client

VERIFIER = "verifier-for-outbound-tests"
DEBOUNCE = 1.0


def change_feeds(workdir: Path) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        raw["webhooks"] = {"spool_path": str(workdir / "webhooks.sqlite")}
        raw["partners"]["legacy_erp"]["outbound"]["bill_changes"] = {
            "entities": ["bills"],
            "format": "csv",
            "trigger": "on_change",
            "debounce_seconds": DEBOUNCE,
            "bom": False,
        }
        raw["partners"]["acme_tractor"]["outbound"]["bill_810s"] = {
            "entities": ["bills"],
            "format": "x12_810",
            "trigger": "on_change",
            "debounce_seconds": DEBOUNCE,
            "x12_deleted": "cancel",
        }

    return edit


@contextmanager
def outbound_environment(workdir: Path) -> Iterator[tuple[DefsEnvironment, RunningReceiver]]:
    with defs_environment(workdir, change_feeds(workdir)) as env:
        settings = ReceiverSettings(
            spool_path=Path(env.config.webhooks.spool_path), verifiers={env.config.company(COMPANY).realm_id: VERIFIER}
        )
        with start_receiver(settings) as receiver:
            yield env, receiver


def post_events(receiver: RunningReceiver, realm_id: str, changes: list[tuple[str, str, str]]) -> None:
    """Intuit's CloudEvents delivery for `(entity, id, verb)` changes, signed, over HTTP."""
    body = json.dumps(
        [
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "intuit.tests",
                "type": f"qbo.{entity.lower()}.{verb}.v1",
                "datacontenttype": "application/json",
                "time": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
                "intuitentityid": qbo_id,
                "intuitaccountid": realm_id,
                "data": {},
            }
            for entity, qbo_id, verb in changes
        ]
    ).encode()
    response = httpx.post(
        receiver.webhook_url,
        content=body,
        headers={"intuit-signature": signature_for(body, VERIFIER), "content-type": "application/cloudevents+json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def sandbox_api(env: DefsEnvironment) -> httpx.Client:
    return sandbox_api_client(env.env.qbo, env.config.company(COMPANY).realm_id)


def update_bill(api: httpx.Client, bill_id: str, note: str) -> dict[str, Any]:
    bill = api.get(f"/bill/{bill_id}").json()["Bill"]
    return api.post(
        "/bill", json={"Id": bill_id, "SyncToken": bill["SyncToken"], "sparse": True, "PrivateNote": note}
    ).json()["Bill"]


def tick_webhook_sensor(env: DefsEnvironment, cursor: str | None) -> dg.SensorResult:
    sensor = env.definitions.resolve_sensor_def(webhook_sensor_name(COMPANY))
    with dg.build_sensor_context(
        instance=env.instance, cursor=cursor, definitions=env.definitions, resources=env.resources
    ) as context:
        return sensor(context)


def tick_sensor(env: DefsEnvironment, name: str, cursor: str | None) -> dg.SensorResult:
    sensor = env.definitions.resolve_sensor_def(name)
    with dg.build_sensor_context(
        instance=env.instance, cursor=cursor, definitions=env.definitions, resources=env.resources
    ) as context:
        return sensor(context)


def run_request(env: DefsEnvironment, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """What the daemon would launch for a sensor's request, in process."""
    names = [key.path[-1] for key in request.asset_selection or []] or ["outbound_files"]
    return env.materialize(*names, partition_key=request.partition_key, tags=dict(request.tags))
