"""Our client against Intuit's real sandbox company; runs only when QBO_* credentials are in the environment.

Needs QBO_CLIENT_ID, QBO_CLIENT_SECRET (a development app's keys), QBO_REFRESH_TOKEN (from a completed
consent for a sandbox company) and QBO_REALM_ID. The rotated refresh token lives only in a temporary
store, and this file never prints or logs it.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qbo_sftp_assets.config import Company
from qbo_sftp_assets.qbo.client import QboClient
from qbo_sftp_assets.qbo.tokens import TokenRecord, TokenStore

REQUIRED = ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REFRESH_TOKEN", "QBO_REALM_ID")

pytestmark = [
    pytest.mark.intuit,
    pytest.mark.skipif(
        not all(os.environ.get(name) for name in REQUIRED),
        reason=f"set {', '.join(REQUIRED)} to run against Intuit's sandbox",
    ),
]


@pytest.fixture(scope="module")
def intuit_client(tmp_path_factory: pytest.TempPathFactory) -> QboClient:
    realm_id = os.environ["QBO_REALM_ID"]
    store = TokenStore(Path(tmp_path_factory.mktemp("intuit")) / "tokens.json")
    long_ago = datetime.now(UTC) - timedelta(days=1)
    # Only the refresh token is known: an already-expired access token makes the first call refresh.
    store.put(
        TokenRecord(
            realm_id=realm_id,
            access_token="",
            refresh_token=os.environ["QBO_REFRESH_TOKEN"],
            access_expires_at=long_ago,
            refresh_expires_at=None,
            obtained_at=long_ago - timedelta(hours=1),
        )
    )
    company = Company(realm_id=realm_id, environment="sandbox")
    client = QboClient(
        company, store, os.environ["QBO_CLIENT_ID"], os.environ["QBO_CLIENT_SECRET"], company_name="intuit"
    )
    yield client
    client.close()


def test_company_info_and_preferences(intuit_client: QboClient) -> None:
    assert intuit_client.company_info()["CompanyName"]
    assert intuit_client.preferences()


def test_query_paging_and_count(intuit_client: QboClient) -> None:
    total = intuit_client.count("Account")
    rows = list(intuit_client.query("SELECT * FROM Account ORDERBY Id", page_size=10))
    assert len(rows) == total > 0


def test_create_update_and_cdc(intuit_client: QboClient) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    klass = intuit_client.create(
        "Class", {"Name": f"qbo-sftp test {uuid.uuid4().hex[:8]}"}, request_id=str(uuid.uuid4())
    )
    again = intuit_client.update("Class", klass["Id"], {"Active": False}, request_id=str(uuid.uuid4()))
    assert again["Active"] is False
    changes = intuit_client.cdc(["Class"], since)
    assert klass["Id"] in {c["Id"] for c in changes.changed["Class"]}
