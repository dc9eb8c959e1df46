"""JSON in and out the way QBO does it: money parsed as Decimal, written back as exact JSON numbers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def decimal_text(value: Decimal) -> str:
    """A Decimal as a JSON number with exactly its digits, printed like QBO prints amounts.

    QBO writes `4590.0` and `218.4`: trailing fraction zeros dropped, at least one decimal kept.
    The text is built from the digits, never through float, so 9999999999999.99 stays .99.
    """
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        return text + "0" if text.endswith(".") else text
    return text + ".0"


def dumps(value: Any) -> bytes:
    """Compact JSON whose Decimals are exact numbers (json.dumps can only print them through float)."""
    parts: list[str] = []
    _write(value, parts.append)
    return "".join(parts).encode()


def _write(value: Any, emit: Callable[[str], None]) -> None:
    if isinstance(value, Decimal):
        emit(decimal_text(value))
    elif isinstance(value, Mapping):
        emit("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                emit(",")
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            emit(json.dumps(key))
            emit(":")
            _write(item, emit)
        emit("}")
    elif isinstance(value, (list, tuple)):
        emit("[")
        for index, item in enumerate(value):
            if index:
                emit(",")
            _write(item, emit)
        emit("]")
    else:
        # str, int, float, bool, None: the standard encoder (it refuses NaN only with allow_nan=False).
        emit(json.dumps(value, allow_nan=False))


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
