"""The in-memory control-number counter: one sequence per kind, wrapping as the ledger's does."""

from __future__ import annotations

import pytest

from qbo_sftp_assets.formats.control_numbers import CONTROL_NUMBER_MAXIMUM, InMemoryControlNumbers


def test_each_kind_counts_on_its_own_from_the_start() -> None:
    numbers = InMemoryControlNumbers(41)
    drawn = [numbers.next(kind) for kind in ("ISA13", "ISA13", "UNB", "ISA13")]
    assert drawn == [41, 42, 41, 43]


def test_a_kind_wraps_to_one_after_nine_nines() -> None:
    numbers = InMemoryControlNumbers(CONTROL_NUMBER_MAXIMUM)
    assert [numbers.next("GS06"), numbers.next("GS06")] == [999_999_999, 1]


@pytest.mark.parametrize("start", [0, -1, CONTROL_NUMBER_MAXIMUM + 1])
def test_a_start_outside_the_nine_digits_is_refused(start: int) -> None:
    with pytest.raises(ValueError, match=r"control number must be 1\.\.999999999"):
        InMemoryControlNumbers(start)
