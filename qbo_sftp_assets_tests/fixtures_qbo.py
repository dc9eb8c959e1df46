"""Fixtures for the qbo tests."""
