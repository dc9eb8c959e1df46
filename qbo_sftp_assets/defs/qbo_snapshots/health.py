"""Each company's QuickBooks connection in the UI: a check per company on the `qbo_connection` asset.

The `qbo_connection_health` sensor reads the token store every minute (no call to QuickBooks) and
records a check evaluation whenever a company's state changes, so the asset's Checks tab shows, per
company, whether it is connected or which `qbo-sftp connect COMPANY` to run. The checks can also be
executed from the UI at any time. `qbo_connection` stands for the token store's record of the
companies; it is observed, never materialized.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.resources import ConfigFileResource
from qbo_sftp_assets.defs.sensor_timing import minimum_interval
from qbo_sftp_assets.pipeline.connection_health import ConnectionHealth, connection_health

CONNECTION_ASSET = dg.AssetKey("qbo_connection")
HEALTH_SENSOR = "qbo_connection_health"
HEALTH_INTERVAL_SECONDS = 60

qbo_connection = dg.AssetSpec(
    CONNECTION_ASSET,
    group_name="quickbooks",
    kinds={"quickbooks"},
    description="The OAuth connection of each configured QuickBooks company, as the token store holds it. "
    "A failed check names the company to reconnect and the command that does it.",
)


def connected_check_name(company: str) -> str:
    return "connected_" + re.sub(r"\W", "_", company)


def health_evaluation(health: ConnectionHealth) -> dg.AssetCheckEvaluation:
    metadata: dict[str, Any] = {"state": health.state, "realm_id": health.realm_id}
    if health.refresh_expires_at is not None:
        metadata["refresh_expires_at"] = health.refresh_expires_at.isoformat()
    if health.access_expires_at is not None:
        metadata["access_expires_at"] = health.access_expires_at.isoformat()
    return dg.AssetCheckEvaluation(
        asset_key=CONNECTION_ASSET,
        check_name=connected_check_name(health.company),
        passed=health.state == "connected",
        # Expiring soon still works: a warning; anything that stops posting is an error.
        severity=dg.AssetCheckSeverity.WARN if health.state == "expiring" else dg.AssetCheckSeverity.ERROR,
        description=f"{health.company}: {health.detail}",
        metadata=metadata,
    )


def health_definitions(config: Config | None) -> dg.Definitions:
    """The connection asset, and with a config a check per company and the sensor that evaluates them."""
    if config is None or not config.companies:
        return dg.Definitions(assets=[qbo_connection])
    specs = [
        dg.AssetCheckSpec(
            connected_check_name(company),
            asset=CONNECTION_ASSET,
            description=f"QuickBooks company {company!r} is connected (the token store holds a usable refresh "
            f"token); fails with `qbo-sftp connect {company}` when it must be reconnected.",
        )
        for company in sorted(config.companies)
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name="qbo_connection_checks")
    def connection_checks(
        context: dg.AssetCheckExecutionContext, qbo_sftp_config: ConfigFileResource
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {key.name for key in context.selected_asset_check_keys}
        for health in connection_health(qbo_sftp_config.load()):
            evaluation = health_evaluation(health)
            if evaluation.check_name in selected:
                yield dg.AssetCheckResult(
                    asset_key=CONNECTION_ASSET,
                    check_name=evaluation.check_name,
                    passed=evaluation.passed,
                    severity=evaluation.severity,
                    description=evaluation.description,
                    metadata=evaluation.metadata,
                )

    @dg.sensor(
        name=HEALTH_SENSOR,
        description="Reads the token store every minute and records each company's connection check "
        "when it changes (a reconnect needed shows as a failed check on qbo_connection).",
        minimum_interval_seconds=minimum_interval(HEALTH_INTERVAL_SECONDS),
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def connection_health_sensor(
        context: dg.SensorEvaluationContext, qbo_sftp_config: ConfigFileResource
    ) -> dg.SensorResult:
        last: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        states = {health.company: health for health in connection_health(qbo_sftp_config.load())}
        changed = [health for company, health in states.items() if last.get(company) != health.state]
        cursor = json.dumps({company: health.state for company, health in states.items()}, sort_keys=True)
        if not changed:
            return dg.SensorResult(skip_reason="no company's connection changed", cursor=cursor)
        return dg.SensorResult(asset_events=[health_evaluation(health) for health in changed], cursor=cursor)

    return dg.Definitions(assets=[qbo_connection], asset_checks=[connection_checks], sensors=[connection_health_sensor])
