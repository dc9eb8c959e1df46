"""Mapping between QBO entities and the neutral documents, in both directions; no Dagster here."""
