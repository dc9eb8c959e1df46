"""The sandbox's OAuth endpoints behave like Intuit's: consent, code exchange, daily rotation, expiry, revoke."""

from __future__ import annotations

import httpx

from qbo_sftp_assets.sandbox.qbo_server import SECOND_REALM_ID
from qbo_sftp_assets_tests.fixtures_qbo import ACCOUNTING_SCOPE, TEST_REDIRECT_URI, authorize_over_http

CLIENT_AUTH = ("sandbox-client-id", "sandbox-client-secret")


def refresh(base_url: str, refresh_token: str, auth=CLIENT_AUTH) -> httpx.Response:
    return httpx.post(
        f"{base_url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=auth,
        headers={"Accept": "application/json"},
    )


def consent_params(**overrides) -> dict:
    params = {
        "client_id": "sandbox-client-id",
        "redirect_uri": TEST_REDIRECT_URI,
        "response_type": "code",
        "scope": ACCOUNTING_SCOPE,
        "state": "s-123",
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def test_consent_redirects_with_code_state_and_first_realm(qbo_sandbox):
    response = httpx.get(f"{qbo_sandbox.base_url}/connect/oauth2", params=consent_params())
    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith(TEST_REDIRECT_URI + "?")
    assert location.params["state"] == "s-123"
    assert location.params["realmId"] == "9130357992221046"
    assert location.params["code"]


def test_consent_picks_the_realm_asked_for(qbo_sandbox):
    response = httpx.get(f"{qbo_sandbox.base_url}/connect/oauth2", params=consent_params(realm=SECOND_REALM_ID))
    assert httpx.URL(response.headers["location"]).params["realmId"] == SECOND_REALM_ID


def test_consent_rejects_bad_client_scope_and_response_type(qbo_sandbox):
    url = f"{qbo_sandbox.base_url}/connect/oauth2"
    assert httpx.get(url, params=consent_params(client_id="other")).status_code == 400
    assert httpx.get(url, params=consent_params(redirect_uri=None)).status_code == 400
    bad_scope = httpx.URL(httpx.get(url, params=consent_params(scope="openid")).headers["location"])
    assert bad_scope.params["error"] == "invalid_scope"
    assert bad_scope.params["state"] == "s-123"
    bad_type = httpx.URL(httpx.get(url, params=consent_params(response_type="token")).headers["location"])
    assert bad_type.params["error"] == "unsupported_response_type"


def test_code_exchange_returns_intuit_token_fields_and_code_is_single_use(qbo_sandbox):
    response = httpx.get(f"{qbo_sandbox.base_url}/connect/oauth2", params=consent_params())
    code = httpx.URL(response.headers["location"]).params["code"]
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": TEST_REDIRECT_URI}
    url = f"{qbo_sandbox.base_url}/oauth2/v1/tokens/bearer"
    first = httpx.post(url, data=body, auth=CLIENT_AUTH)
    assert first.status_code == 200
    tokens = first.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["x_refresh_token_expires_in"] == 100 * 24 * 3600
    assert tokens["access_token"] and tokens["refresh_token"]
    assert first.headers["intuit_tid"]
    again = httpx.post(url, data=body, auth=CLIENT_AUTH)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}


def test_code_exchange_needs_matching_redirect_uri_and_client_auth(qbo_sandbox):
    response = httpx.get(f"{qbo_sandbox.base_url}/connect/oauth2", params=consent_params())
    code = httpx.URL(response.headers["location"]).params["code"]
    url = f"{qbo_sandbox.base_url}/oauth2/v1/tokens/bearer"
    wrong_secret = httpx.post(
        url,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": TEST_REDIRECT_URI},
        auth=("sandbox-client-id", "wrong"),
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    wrong_redirect = httpx.post(
        url,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:1/other"},
        auth=CLIENT_AUTH,
    )
    assert wrong_redirect.json() == {"error": "invalid_grant"}


DAY = 24 * 3600


def test_within_a_day_refresh_returns_the_same_refresh_token_as_intuit_does(qbo_sandbox):
    tokens = authorize_over_http(qbo_sandbox)
    first = refresh(qbo_sandbox.base_url, tokens["refresh_token"])
    assert first.status_code == 200
    assert first.json()["refresh_token"] == tokens["refresh_token"]
    assert first.json()["access_token"] != tokens["access_token"]
    qbo_sandbox.state.advance_clock(23 * 3600)
    # One stored token serves many clients for a day (python-quickbooks' suite relies on it).
    again = refresh(qbo_sandbox.base_url, tokens["refresh_token"])
    assert again.json()["refresh_token"] == tokens["refresh_token"]
    # The remaining life shrinks while the same token is reused (intuit/oauth-jsclient#74).
    assert again.json()["x_refresh_token_expires_in"] <= 100 * DAY - 23 * 3600
    assert qbo_sandbox.state.token_refreshes() == 2


def test_after_24_to_26_hours_refresh_rotates_and_the_old_token_dies(qbo_sandbox):
    tokens = authorize_over_http(qbo_sandbox)
    qbo_sandbox.state.advance_clock(26 * 3600 + 1)
    rotated = refresh(qbo_sandbox.base_url, tokens["refresh_token"]).json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["x_refresh_token_expires_in"] == 100 * DAY
    stale = refresh(qbo_sandbox.base_url, tokens["refresh_token"])
    assert stale.status_code == 400
    assert stale.json() == {"error": "invalid_grant"}
    # The new token is itself reused for the next day.
    assert refresh(qbo_sandbox.base_url, rotated["refresh_token"]).json()["refresh_token"] == rotated["refresh_token"]


def test_every_refresh_rotation_is_an_explicit_harsher_setting(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(refresh_token_rotation="every_refresh")
    tokens = authorize_over_http(sandbox)
    first = refresh(sandbox.base_url, tokens["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != tokens["refresh_token"]
    stale = refresh(sandbox.base_url, tokens["refresh_token"])
    assert stale.status_code == 400
    assert stale.json() == {"error": "invalid_grant"}
    assert refresh(sandbox.base_url, rotated).status_code == 200
    assert sandbox.state.token_refreshes() == 2


def test_with_a_grace_period_the_replaced_token_answers_with_the_current_one(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(refresh_token_grace=DAY)
    tokens = authorize_over_http(sandbox)
    sandbox.state.advance_clock(26 * 3600 + 1)
    current = refresh(sandbox.base_url, tokens["refresh_token"]).json()["refresh_token"]
    late = refresh(sandbox.base_url, tokens["refresh_token"])
    assert late.status_code == 200
    assert late.json()["refresh_token"] == current
    sandbox.state.advance_clock(DAY + 1)
    assert refresh(sandbox.base_url, tokens["refresh_token"]).json() == {"error": "invalid_grant"}


def test_previous_refresh_token_works_during_grace_then_fails(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(refresh_token_grace=60, refresh_token_rotation="every_refresh")
    tokens = authorize_over_http(sandbox)
    assert refresh(sandbox.base_url, tokens["refresh_token"]).status_code == 200
    assert refresh(sandbox.base_url, tokens["refresh_token"]).status_code == 200
    sandbox.state.advance_clock(61)
    late = refresh(sandbox.base_url, tokens["refresh_token"])
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


def test_refresh_token_expires_after_its_lifetime(qbo_sandbox):
    tokens = authorize_over_http(qbo_sandbox)
    qbo_sandbox.state.advance_clock(100 * 24 * 3600 + 1)
    assert refresh(qbo_sandbox.base_url, tokens["refresh_token"]).json() == {"error": "invalid_grant"}


def test_expired_access_token_gets_401_fault_3200(qbo_sandbox_factory):
    sandbox = qbo_sandbox_factory(access_token_lifetime=30)
    tokens = authorize_over_http(sandbox)
    url = f"{sandbox.base_url}/v3/company/{tokens['realmId']}/companyinfo/{tokens['realmId']}"
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"}
    assert httpx.get(url, headers=headers).status_code == 200
    sandbox.state.advance_clock(31)
    expired = httpx.get(url, headers=headers)
    assert expired.status_code == 401
    error = expired.json()["fault"]["error"][0]
    assert error["code"] == "3200"
    assert error["message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert expired.json()["fault"]["type"] == "AUTHENTICATION"
    assert tokens["access_token"] not in expired.text


def test_token_of_another_realm_is_refused_with_403_fault_3100(qbo_sandbox):
    tokens = authorize_over_http(qbo_sandbox)
    url = f"{qbo_sandbox.base_url}/v3/company/{SECOND_REALM_ID}/preferences"
    response = httpx.get(url, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 403
    assert response.json()["fault"]["error"][0]["code"] == "3100"


def test_revoke_ends_the_connection(qbo_sandbox):
    tokens = authorize_over_http(qbo_sandbox)
    revoked = httpx.post(
        f"{qbo_sandbox.base_url}/oauth2/v1/tokens/revoke", json={"token": tokens["refresh_token"]}, auth=CLIENT_AUTH
    )
    assert revoked.status_code == 200
    assert refresh(qbo_sandbox.base_url, tokens["refresh_token"]).json() == {"error": "invalid_grant"}
    api = httpx.get(
        f"{qbo_sandbox.base_url}/v3/company/{tokens['realmId']}/preferences",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert api.status_code == 401


def test_discovery_document_names_local_endpoints(qbo_sandbox):
    document = httpx.get(qbo_sandbox.discovery_url).json()
    assert document["token_endpoint"] == f"{qbo_sandbox.base_url}/oauth2/v1/tokens/bearer"
    assert document["authorization_endpoint"] == f"{qbo_sandbox.base_url}/connect/oauth2"


def test_secrets_and_tokens_stay_out_of_reprs(qbo_sandbox):
    tokens = authorize_over_http(qbo_sandbox)
    shown = repr(qbo_sandbox) + repr(qbo_sandbox.state.tokens)
    assert "sandbox-client-secret" not in shown and "sandbox-verifier" not in shown
    assert tokens["access_token"] not in shown and tokens["refresh_token"] not in shown
