"""JSON in and out the way QBO does it: money parsed as Decimal, written back as JSON numbers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def decimal_as_number(value: Any) -> float:
    """`json.dumps` hook: Decimals become JSON numbers (whole amounts print as `100.0`, as QBO's do)."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """Compact JSON; the encoder calls the hook only for Decimals, so the body is never copied to convert it."""
    return json.dumps(value, separators=(",", ":"), default=decimal_as_number).encode()


def to_decimal(value: Any) -> Decimal | None:
    """A money or quantity value as sent by a client (number or numeric string); None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("boolean is not an amount")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return Decimal(value.strip())
    raise ValueError(f"not an amount: {type(value).__name__}")
