"""Dagster wiring for QuickBooks Online."""
