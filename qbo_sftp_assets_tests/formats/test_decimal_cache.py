"""The readers' Decimal cache: one object per distinct text, and a bound on what it keeps."""

from __future__ import annotations

from decimal import Decimal

from qbo_sftp_assets.formats.decimals import DecimalCache


def test_a_text_seen_again_gives_the_same_decimal() -> None:
    cache = DecimalCache()
    first = cache.add("12.50")
    assert first == Decimal("12.50") and str(first) == "12.50"
    assert cache.get("12.50") is first and cache.get("12.5") is None


def test_a_full_cache_starts_over_instead_of_growing() -> None:
    cache = DecimalCache(kept=2)
    cache.add("1")
    cache.add("2")
    cache.add("3")
    assert cache.get("1") is None and cache.get("2") is None and cache.get("3") == Decimal(3)
