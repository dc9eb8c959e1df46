"""The webhook tests' spool backends: the SQLite file and the PostgreSQL spool, one parameter each."""

from __future__ import annotations

import pytest

SPOOL_BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=SPOOL_BACKENDS)
def spool_url(request: pytest.FixtureRequest) -> str | None:
    """None for the SQLite spool file, else a fresh PostgreSQL database (the cluster starts only for that one)."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return None
