"""`partner_acknowledged`: a per-feed check on `outbound_files` that the partner's 997s came back in time.

It first lands any 997s waiting in the partner's ack folder (matched to our deliveries by GS06/ST02,
recorded per set), then fails when a delivery has waited longer than the partner's `ack.sla_hours`
(the table names the file, its control numbers and how late it is) or when a set was rejected and its
record not sent again since (the table names the set, the record and the AK3/AK4 errors). It never
blocks: the files are already at the partner. A CSV feed expects no 997 and always passes.
"""

import datetime as dt
from typing import Any

import dagster as dg

from qbo_sftp_assets.defs.partitions import split_feed_key
from qbo_sftp_assets.defs.resources import LEDGER_POOL, ConfigFileResource, LedgerResource, SftpResource
from qbo_sftp_assets.pipeline.partner_acks import AckReport, LandedAckFile, ack_report, land_partner_acks

CHECK_NAME = "partner_acknowledged"
OUTBOUND_FILES = dg.AssetKey("outbound_files")

OVERDUE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("remote_path", "string"),
        dg.TableColumn("control_numbers", "string"),
        dg.TableColumn("delivered_at", "string"),
        dg.TableColumn("late_by", "string"),
    ]
)
REJECTED_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("remote_path", "string"),
        dg.TableColumn("control_number", "string"),
        dg.TableColumn("record", "string"),
        dg.TableColumn("codes", "string"),
        dg.TableColumn("errors", "string"),
    ]
)


def outbound_checks(feeds: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset=OUTBOUND_FILES,
        name=CHECK_NAME,
        partitions_def=feeds,
        blocking=False,
        pool=LEDGER_POOL,
        description="The partner acknowledged every X12 file of this feed within its SLA and rejected no "
        "set; the tables name overdue files (control numbers, lateness) and rejected sets (AK3/AK4 errors).",
    )
    def partner_acknowledged(
        context: dg.AssetCheckExecutionContext,
        qbo_sftp_config: ConfigFileResource,
        ledger: LedgerResource,
        sftp: SftpResource,
    ) -> dg.AssetCheckResult:
        key = context.op_execution_context.partition_key
        partner_name, feed_name = split_feed_key(key)
        config = qbo_sftp_config.load()
        partner = config.partner(partner_name)
        if partner.outbound[feed_name].format != "x12_810":
            return dg.AssetCheckResult(passed=True, description="a CSV feed: the partner sends no 997")
        with sftp.partner(partner_name) as files:
            landed = land_partner_acks(files, ledger.ledger(), partner_name, partner)
        report = ack_report(
            ledger.ledger(), partner_name, feed_name, partner.ack.sla_hours, now=dt.datetime.now(dt.UTC)
        )
        return ack_check_result(report, landed)

    return [partner_acknowledged]


def ack_check_result(report: AckReport, landed: list[LandedAckFile]) -> dg.AssetCheckResult:
    problems = []
    if report.overdue:
        problems.append(f"{len(report.overdue)} file(s) unacknowledged after {report.sla_hours:g} h")
    if report.rejected:
        problems.append(f"{len(report.rejected)} set(s) rejected")
    metadata: dict[str, Any] = {
        "awaiting": report.awaiting,
        "overdue": len(report.overdue),
        "rejected_sets": len(report.rejected),
        "ack_statuses": dg.MetadataValue.json(report.statuses),
        "acks_landed": dg.MetadataValue.json(
            [
                {
                    "file": f.remote_path,
                    "deliveries": {str(k): v for k, v in f.deliveries.items()},
                    "unmatched": f.unmatched,
                    "errors": f.errors,
                    "already_recorded": f.already_recorded,
                }
                for f in landed
            ]
        ),
    }
    if report.overdue:
        metadata["overdue_files"] = dg.MetadataValue.table(
            records=[dg.TableRecord(row) for row in report.overdue], schema=OVERDUE_SCHEMA
        )
    if report.rejected:
        metadata["rejected_sets_detail"] = dg.MetadataValue.table(
            records=[dg.TableRecord(row) for row in report.rejected], schema=REJECTED_SCHEMA
        )
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or f"every file acknowledged in time ({report.awaiting} awaiting, not late)",
        metadata=metadata,
    )
