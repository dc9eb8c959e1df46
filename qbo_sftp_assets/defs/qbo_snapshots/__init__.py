"""QuickBooks snapshots: an asset per entity, partitioned by company, refreshed by a CDC sensor per company."""
