"""Shared pytest wiring: each domain keeps its fixtures in its own `fixtures_*.py` module."""

import os

from hypothesis import settings

pytest_plugins = [
    "qbo_sftp_assets_tests.fixtures_qbo",
    "qbo_sftp_assets_tests.fixtures_sftp",
    "qbo_sftp_assets_tests.fixtures_ledger",
    "qbo_sftp_assets_tests.fixtures_qbo_client",
    "qbo_sftp_assets_tests.fixtures_posting",
    "qbo_sftp_assets_tests.fixtures_postgres",
]

# `make test` must give the same verdict on every run of the same commit (and not time out on a busy
# machine), so hypothesis draws its examples from a fixed seed there, without a deadline; `make fuzz`
# (HYPOTHESIS_PROFILE=explore) draws new ones each time and prints a blob that reproduces any find.
settings.register_profile("repeatable", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
