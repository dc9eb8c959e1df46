"""`outbound_files`: one partition per partner feed (`partner/feed`), rendered and delivered over SFTP.

A run tagged `qbo_sftp/trigger: change` (the webhook and CDC sensors) sends what changed since the
feed's last delivery, and nothing when nothing did; any other run sends what the feed's `select` says.
"""

import datetime as dt
from typing import Any

import dagster as dg

from qbo_sftp_assets.config import Config
from qbo_sftp_assets.defs.outbound.triggers import TRIGGER_TAG
from qbo_sftp_assets.defs.partitions import feeds_by_company, split_feed_key
from qbo_sftp_assets.defs.qbo_snapshots.assets import KEY_OF_ENTITY
from qbo_sftp_assets.defs.resources import (
    LEDGER_POOL,
    ConfigFileResource,
    LedgerResource,
    QboResource,
    SftpResource,
)
from qbo_sftp_assets.defs.webhooks.assets import ASSET_NAME as WEBHOOK_CHANGES
from qbo_sftp_assets.pipeline.outbound import FeedRun, Trigger, send_feed
from qbo_sftp_assets.pipeline.snapshots import FEED_ENTITIES

GROUP = "outbound"
# A schedule stamps its run with the tick's time, so a retried run names and numbers its files the same.
AS_OF_TAG = "qbo_sftp/as_of"

DELIVERY_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("remote_path", "string"),
        dg.TableColumn("records", "int"),
        dg.TableColumn("sha256", "string"),
        dg.TableColumn("control_numbers", "string"),
        dg.TableColumn("carried", "string"),
    ]
)


def outbound_assets(config: Config | None, feeds: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    # Each feed partition follows its company's snapshots of the entities feeds render.
    by_company = feeds_by_company(config)
    deps = [
        dg.AssetDep(KEY_OF_ENTITY[entity], partition_mapping=dg.StaticPartitionMapping(by_company))
        for entity in sorted(set(FEED_ENTITIES.values()))
    ]
    deps.append(dg.AssetDep(WEBHOOK_CHANGES, partition_mapping=dg.StaticPartitionMapping(by_company)))

    @dg.asset(
        name="outbound_files",
        group_name=GROUP,
        partitions_def=feeds,
        deps=deps,
        pool=LEDGER_POOL,
        kinds={"sftp", "csv", "x12"},
        description="A partner feed's files: QuickBooks data rendered as CSV or X12 810 and deposited "
        "atomically in the partner's outbound folder.",
    )
    def outbound_files(
        context: dg.AssetExecutionContext,
        qbo_sftp_config: ConfigFileResource,
        qbo: QboResource,
        ledger: LedgerResource,
        sftp: SftpResource,
    ) -> dg.MaterializeResult:
        partner_name, feed_name = split_feed_key(context.partition_key)
        config = qbo_sftp_config.load()
        tag = context.run.tags.get(AS_OF_TAG)
        as_of = dt.datetime.fromisoformat(tag) if tag else dt.datetime.now(dt.UTC)
        trigger: Trigger = "change" if context.run.tags.get(TRIGGER_TAG) == "change" else "schedule"
        with qbo.client(config.partner(partner_name).company) as client, sftp.partner(partner_name) as files:
            run = send_feed(
                client, ledger.ledger(), files, config, partner_name, feed_name, as_of=as_of, trigger=trigger
            )
        for reason in run.skipped:
            context.log.warning(f"not sent: {reason}")
        return dg.MaterializeResult(metadata=delivery_metadata(run, as_of))

    return [outbound_files]


def delivery_metadata(run: FeedRun, as_of: dt.datetime) -> dict[str, Any]:
    deliveries = run.deliveries
    metadata: dict[str, Any] = {
        "dagster/row_count": sum(d.record_count for d in deliveries),
        "files": len(deliveries),
        "as_of": as_of.isoformat(),
        "trigger": run.trigger,
        "selection": run.selection,
        "skipped": dg.MetadataValue.md("\n".join(f"- {r}" for r in run.skipped) or "nothing"),
        "deliveries": dg.MetadataValue.table(
            records=[
                dg.TableRecord(
                    {
                        "remote_path": d.remote_path,
                        "records": d.record_count,
                        "sha256": d.sha256,
                        "control_numbers": ", ".join(
                            f"{k}={v}" for k, v in (d.control_numbers or {}).items() if k != "sets"
                        ),
                        "carried": ", ".join(f"{key}@{version}" for key, version in sorted(d.entity_versions.items())),
                    }
                )
                for d in deliveries
            ],
            schema=DELIVERY_SCHEMA,
        ),
    }
    if len(deliveries) == 1:
        (only,) = deliveries
        metadata["remote_path"] = only.remote_path
        metadata["sha256"] = only.sha256
        if only.control_numbers:
            metadata["control_numbers"] = dg.MetadataValue.json(only.control_numbers)
    return metadata
