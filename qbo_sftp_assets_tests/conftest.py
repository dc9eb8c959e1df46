"""Shared pytest wiring: each domain keeps its fixtures in its own `fixtures_*.py` module."""

pytest_plugins = [
    "qbo_sftp_assets_tests.fixtures_qbo",
    "qbo_sftp_assets_tests.fixtures_sftp",
    "qbo_sftp_assets_tests.fixtures_ledger",
    "qbo_sftp_assets_tests.fixtures_qbo_client",
    "qbo_sftp_assets_tests.fixtures_posting",
]
