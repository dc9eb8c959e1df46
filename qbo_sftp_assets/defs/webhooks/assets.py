"""`qbo_webhook_changes`: a company's spooled webhook events applied to its snapshot rows in the ledger.

The sensor reads the spool (`webhooks.spool_backend`) but must not write DuckDB (one writer at a time,
and a sensor tick is not a run), so the fetch-and-write happens here, in a run in the ledger pool. The
step reads every event after the ledger's own spool cursor, so it is idempotent and a run started by
hand does the same.
"""

from typing import Any

import dagster as dg

from qbo_sftp_assets.defs.resources import LEDGER_POOL, ConfigFileResource, LedgerResource, QboResource
from qbo_sftp_assets.pipeline.change_events import AppliedEvents, apply_change_events
from qbo_sftp_assets.webhooks import spool_for

ASSET_NAME = "qbo_webhook_changes"
GROUP = "quickbooks"

CHANGES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("entity", "string"),
        dg.TableColumn("rewritten", "string"),
        dg.TableColumn("deleted", "string"),
    ]
)


def webhook_change_assets(companies: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        name=ASSET_NAME,
        group_name=GROUP,
        partitions_def=companies,
        pool=LEDGER_POOL,
        kinds={"quickbooks", "duckdb"},
        description="The entities QuickBooks' webhooks said changed, read again in full (one query per "
        "entity type) and written to the company's snapshot rows; deletions become tombstones.",
    )
    def qbo_webhook_changes(
        context: dg.AssetExecutionContext, qbo_sftp_config: ConfigFileResource, qbo: QboResource, ledger: LedgerResource
    ) -> dg.MaterializeResult:
        company = context.partition_key
        config = qbo_sftp_config.load()
        realm_id = config.company(company).realm_id
        with qbo.client(company) as client:
            applied = apply_change_events(client, ledger.ledger(), spool_for(config), realm_id)
        return dg.MaterializeResult(metadata=applied_metadata(applied))

    return [qbo_webhook_changes]


def applied_metadata(applied: AppliedEvents) -> dict[str, Any]:
    return {
        "dagster/row_count": sum(len(c.written) + len(c.deleted) for c in applied.entities.values()),
        "realm_id": applied.realm_id,
        "events": applied.events,
        "events_ignored": applied.ignored,
        "queries": applied.queries,
        "spool_cursor": applied.cursor or "",
        "note": applied.note or "",
        "changes": dg.MetadataValue.table(
            records=[
                dg.TableRecord({"entity": entity, "rewritten": ", ".join(c.written), "deleted": ", ".join(c.deleted)})
                for entity, c in sorted(applied.entities.items())
            ],
            schema=CHANGES_SCHEMA,
        ),
    }
