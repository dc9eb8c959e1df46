"""Secrets stay out of errors and DEBUG logs in every encoding: raw, URL-encoded, and base64 (Basic)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from qbo_sftp_assets.embedded import connect_company, embedded_environment
from qbo_sftp_assets.qbo.oauth import Endpoints, OAuthClient, OAuthError
from qbo_sftp_assets.qbo.redaction import basic_credential, redact, secret_encodings

CLIENT_ID = "app-id-1234"
CLIENT_SECRET = "s3cret/with+odd=chars&more"
REFRESH_TOKEN = "RT1-refresh/token+value=="


class EchoingTokenEndpoint(BaseHTTPRequestHandler):
    """A broken token endpoint on loopback that quotes the whole request back in its error."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        echo = f"{self.headers.get('authorization')} {body} {self.path}"
        payload = json.dumps({"error": f"invalid_request {echo}", "error_description": echo}).encode()
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echoing_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingTokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def every_encoding_of_every_secret() -> set[str]:
    secrets = {CLIENT_SECRET, REFRESH_TOKEN, basic_credential(CLIENT_ID, CLIENT_SECRET)}
    return {encoded for secret in secrets for encoded in secret_encodings(secret)}


def test_an_echoing_token_endpoint_cannot_put_a_secret_in_the_error_text(echoing_endpoint: str):
    endpoints = Endpoints(f"{echoing_endpoint}/a", f"{echoing_endpoint}/token", f"{echoing_endpoint}/r", "http://api")
    oauth = OAuthClient(CLIENT_ID, CLIENT_SECRET, endpoints)
    with pytest.raises(OAuthError) as caught:
        oauth.refresh(REFRESH_TOKEN)
    texts = "\n".join([str(caught.value), repr(caught.value), caught.value.error, caught.value.description])
    assert "grant_type" in texts  # the echo really came back...
    assert [s for s in every_encoding_of_every_secret() if s in texts] == []  # ...without a secret in it
    assert "Basic ***" in texts


def test_redact_masks_name_tagged_credentials_in_urls_and_headers():
    text = "GET /callback?code=AB12cd&state=xyz&realmId=1 [(b'authorization', b'Bearer eyJ.abc-def')]"
    cleaned = redact(text)
    assert "AB12cd" not in cleaned and "eyJ.abc-def" not in cleaned
    assert "state=xyz" in cleaned and "realmId=1" in cleaned


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("uvicorn", "qbo_sftp_assets.sandbox")):
            self.texts.append(record.getMessage())


@pytest.fixture
def debug_logs() -> Any:
    handler = Collect()
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(saved)


def test_connecting_the_embedded_company_at_debug_logs_no_authorization_code(tmp_path: Path, debug_logs: Collect):
    with embedded_environment(tmp_path) as env:
        codes_before = set(env.qbo.state.tokens.codes)
        record = connect_company(env)
        with env.qbo.state.lock:
            codes = set(env.qbo.state.tokens.codes) - codes_before
    haystack = "\n".join(debug_logs.texts)
    assert "location" in haystack.lower()  # httpcore's trace of the redirect was captured
    secrets = {*codes, record.access_token, record.refresh_token}
    assert secrets
    assert [s[:6] for s in secrets for e in secret_encodings(s) if e in haystack] == []
