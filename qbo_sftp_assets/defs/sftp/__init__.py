"""Dagster wiring for the SFTP partners."""
