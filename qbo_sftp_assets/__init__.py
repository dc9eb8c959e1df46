"""QuickBooks Online and SFTP kept in sync by a Dagster code location."""
