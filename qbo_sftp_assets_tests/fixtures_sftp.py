"""Fixtures for the sftp tests."""
