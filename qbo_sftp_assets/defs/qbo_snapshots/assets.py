"""One snapshot asset per QBO entity, one partition per company; the rows live in the ledger."""

from typing import Any

import dagster as dg

from qbo_sftp_assets.defs.resources import LEDGER_POOL, ConfigFileResource, LedgerResource, QboResource
from qbo_sftp_assets.pipeline.snapshots import SNAPSHOT_ENTITIES, SnapshotSummary, refresh_snapshot

GROUP = "quickbooks"
SNAPSHOT_KEYS = [dg.AssetKey(name) for name in SNAPSHOT_ENTITIES]
ENTITY_OF_KEY = {dg.AssetKey(name): entity for name, entity in SNAPSHOT_ENTITIES.items()}
KEY_OF_ENTITY = {entity: key for key, entity in ENTITY_OF_KEY.items()}

PREVIEW_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("id", "string"),
        dg.TableColumn("name", "string"),
        dg.TableColumn("sync_token", "string"),
        dg.TableColumn("last_updated", "string"),
    ]
)


def snapshot_assets(companies: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [_snapshot_asset(name, entity, companies) for name, entity in SNAPSHOT_ENTITIES.items()]


def _snapshot_asset(name: str, entity: str, companies: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name=GROUP,
        partitions_def=companies,
        pool=LEDGER_POOL,
        kinds={"quickbooks", "duckdb"},
        description=f"Every {entity} of the company, refreshed from QuickBooks into the ledger "
        "(a full read the first time, changes since the last refresh after that).",
    )
    def snapshot(
        context: dg.AssetExecutionContext, qbo_sftp_config: ConfigFileResource, qbo: QboResource, ledger: LedgerResource
    ) -> dg.MaterializeResult:
        company = context.partition_key
        realm_id = qbo_sftp_config.load().company(company).realm_id
        with qbo.client(company) as client:
            summary = refresh_snapshot(client, ledger.ledger(), realm_id, entity)
        return dg.MaterializeResult(metadata=snapshot_metadata(summary))

    return snapshot


def snapshot_metadata(summary: SnapshotSummary) -> dict[str, Any]:
    refresh = summary.refresh
    metadata: dict[str, Any] = {
        "dagster/row_count": summary.active,
        "realm_id": summary.realm_id,
        "entity": summary.entity,
        "active": summary.active,
        "inactive": summary.inactive,
        "deleted": summary.deleted,
        "preview": dg.MetadataValue.table(
            records=[dg.TableRecord(row) for row in summary.preview], schema=PREVIEW_SCHEMA
        ),
    }
    refreshed = refresh.entities.get(summary.entity) if refresh is not None else None
    if refreshed is not None:
        metadata["refresh_mode"] = refreshed.mode
        metadata["rows_written"] = refreshed.written
        metadata["rows_deleted"] = refreshed.deleted
        if refreshed.reason:
            metadata["refresh_reason"] = refreshed.reason
        if refreshed.watermark:
            metadata["watermark"] = refreshed.watermark
    return metadata
