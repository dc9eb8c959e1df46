"""Decimals parsed once per distinct text: amounts, quantities and prices repeat within a file."""

from __future__ import annotations

from decimal import Decimal


class DecimalCache:
    """`Decimal(text)` for texts a reader has already checked, kept for the next time that text comes.

    Decimals are immutable, so one object can stand in every document. Each format keeps its own
    cache, because what counts as a valid number differs between them. Bounded: it empties when full.
    """

    def __init__(self, kept: int = 4096) -> None:
        self._by_text: dict[str, Decimal] = {}
        self._kept = kept
        # The lookup hot loops bind once: a miss returns None.
        self.get = self._by_text.get

    def add(self, text: str) -> Decimal:
        """`Decimal(text)`, remembered; `text` must already be known to be a plain number."""
        if len(self._by_text) >= self._kept:
            self._by_text.clear()
        number = self._by_text[text] = Decimal(text)
        return number


# --- the one number rule -------------------------------------------------------------------------------
# Every reader (CSV, fixed-width, X12, EDIFACT) takes a number as: ASCII digits 0-9 with at most one
# decimal mark and at least one digit, at most MAX_DIGITS digits in all (EDIFACT's n..18 and X12's
# widest numeric element), no exponent, no NaN or Infinity, no spaces or digit groups inside (CSV
# layouts strip their declared thousands separator first). At most one sign, in the notation of the
# format: a leading minus in X12 and EDIFACT; in CSV a leading - or +, a trailing -, or accounting
# parentheses `(5.00)`, never two of them (`(-5)` is refused); in fixed-width what the field's
# `signed` says. The README's formats section states the same.
MAX_DIGITS = 18


def unsigned_number(body: str, mark: str = ".") -> Decimal | None:
    """`body` (no sign) as a Decimal under the number rule, None when it breaks it."""
    whole, _, fraction = body.partition(mark)
    digits = whole + fraction
    if not digits or len(digits) > MAX_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return Decimal(f"{whole or '0'}.{fraction}" if mark in body else whole)
