"""Dagster wiring, one folder per domain: assets, checks, sensors, schedules and resources."""
