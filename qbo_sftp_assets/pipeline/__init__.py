"""The pipeline steps as plain functions over clients and the ledger; no Dagster here."""
