"""Dagster wiring for the ledger."""
