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
