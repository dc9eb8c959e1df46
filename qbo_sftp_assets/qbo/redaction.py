"""Secrets kept out of error texts and logs, in every encoding a request or a redirect can carry them.

An OAuth endpoint may echo the request (the Basic header is base64 of `client_id:client_secret`, a
form field is URL-encoded), and httpcore's DEBUG trace prints response headers such as a consent
redirect's `Location: ...?code=...`. Both pass through here before a person can read them.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

# Values that are secret by their name wherever they appear: query strings, form bodies, headers.
_NAMED_SECRET = re.compile(r"(?i)\b(code|refresh_token|access_token|client_secret|id_token)=([^&\s'\"<>]+)")
_AUTHORIZATION = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+")

# The loggers whose records can quote HTTP traffic verbatim.
HTTP_LOGGERS = ("httpx", "httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy")


def secret_encodings(value: str) -> set[str]:
    """`value` as it may appear on the wire: raw, URL-encoded (both flavours) and base64."""
    if not value:
        return set()
    return {value, quote(value, safe=""), quote_plus(value), base64.b64encode(value.encode()).decode("ascii")}


def basic_credential(client_id: str, client_secret: str) -> str:
    """The base64 text of an HTTP Basic header for the app's credentials."""
    return base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each given secret (in every encoding) and every name-tagged credential masked."""
    for secret in sorted({e for s in secrets for e in secret_encodings(s)}, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _NAMED_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)
    return _AUTHORIZATION.sub(lambda m: f"{m.group(1)} {MASK}", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with `redact` before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = RedactingFilter()


def guard_http_logs() -> None:
    """Attach the filter to the HTTP libraries' loggers once; a filter on a logger sees its own records."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
