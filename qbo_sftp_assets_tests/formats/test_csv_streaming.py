"""Readers stream: documents come out while the file is still being read, never the whole file at once."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from qbo_sftp_assets.formats import csv_format, fixed_width
from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef

BILLS = builtin_layouts()["bills_csv"]
LEGACY = builtin_layouts()["legacy_bills_fixed"]


class LineOnlyStream(io.RawIOBase):
    """A binary stream that records how far it was read and refuses unbounded reads."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        assert size is not None and size > 0, "the reader must bound each read"
        chunk = self.inner.readline(size)
        self.largest_read = max(self.largest_read, len(chunk))
        return chunk

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the reader must read line by line")

    @property
    def position(self) -> int:
        return self.inner.tell()


def many_bills(count: int) -> list[Bill]:
    return [
        Bill(
            vendor=PartyRef(f"V{i % 7}", "Vendor"),
            number=f"N{i}",
            date=dt.date(2026, 1, 5),
            lines=(Line(Decimal(i) / 100, account="6000"), Line(Decimal(i + 1) / 100, account="6100")),
        )
        for i in range(count)
    ]


def test_csv_yields_the_first_document_after_reading_a_few_lines():
    data = csv_format.render_csv(many_bills(1500), BILLS)
    stream = LineOnlyStream(data)
    documents = csv_format.iter_documents(stream, BILLS, name="big.csv")
    first = next(documents)
    assert first.number == "N0"
    assert stream.position < 2_000 < len(data) // 50
    assert sum(1 for _ in documents) == 1499
    assert stream.largest_read < 300


def test_fixed_width_yields_the_first_document_after_reading_a_few_records():
    data = fixed_width.render_fixed_width(many_bills(1500), LEGACY)
    stream = LineOnlyStream(data)
    documents = fixed_width.iter_documents(stream, LEGACY, name="big.txt")
    first = next(documents)
    assert first.number == "N0"
    assert stream.position < 1_000 < len(data) // 50
    assert sum(1 for _ in documents) == 1499
