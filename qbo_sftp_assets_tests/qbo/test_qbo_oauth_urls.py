"""OAuth pieces that need no server: endpoints per environment, the consent URL, state checking."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from qbo_sftp_assets.config import Company
from qbo_sftp_assets.qbo.oauth import (
    ACCOUNTING_SCOPE,
    ConsentError,
    Endpoints,
    OAuthClient,
    check_callback,
    new_state,
)


def test_intuit_environments_use_intuits_urls() -> None:
    sandbox = Endpoints.for_company(Company(realm_id="1", environment="sandbox"))
    production = Endpoints.for_company(Company(realm_id="1", environment="production"))
    assert sandbox.authorize_url == "https://appcenter.intuit.com/connect/oauth2"
    assert sandbox.token_url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert sandbox.revoke_url == "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    assert sandbox.api_base == "https://sandbox-quickbooks.api.intuit.com"
    assert production.api_base == "https://quickbooks.api.intuit.com"
    assert production.token_url == sandbox.token_url


def test_local_environment_uses_the_base_url_for_everything() -> None:
    local = Endpoints.for_company(Company(realm_id="1", environment="local", base_url="http://127.0.0.1:9/"))
    assert local.authorize_url == "http://127.0.0.1:9/connect/oauth2"
    assert local.token_url == "http://127.0.0.1:9/oauth2/v1/tokens/bearer"
    assert local.revoke_url == "http://127.0.0.1:9/oauth2/v1/tokens/revoke"
    assert local.api_base == "http://127.0.0.1:9"


def test_consent_url_carries_scope_state_and_redirect() -> None:
    client = OAuthClient("the-id", "the-secret", Endpoints.for_company(Company(realm_id="1")))
    state = new_state()
    url = client.consent_url("http://127.0.0.1:8765/callback", state)
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert params == {
        "client_id": "the-id",
        "response_type": "code",
        "scope": ACCOUNTING_SCOPE,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "state": state,
    }
    assert "the-secret" not in url and "the-secret" not in repr(client)
    assert new_state() != state and len(state) >= 32


def test_callback_state_is_checked() -> None:
    result = check_callback({"code": "the-code-xyz", "realmId": "42", "state": "s1"}, "s1")
    assert result.realm_id == "42" and "the-code-xyz" not in repr(result)
    with pytest.raises(ConsentError, match="different `state`"):
        check_callback({"code": "c", "realmId": "42", "state": "forged"}, "s1")
    with pytest.raises(ConsentError, match="did not grant access: access_denied"):
        check_callback({"error": "access_denied", "state": "s1"}, "s1")
    with pytest.raises(ConsentError, match="lacks"):
        check_callback({"state": "s1", "realmId": "42"}, "s1")
