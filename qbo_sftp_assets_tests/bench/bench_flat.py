"""CSV and fixed-width readers against the Python floor on the same bytes: `csv.reader` / bare line slicing.

Size: BENCH_FLAT_MB (default 10) megabytes per file, generated in memory; figures are ratios.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time
from decimal import Decimal

from qbo_sftp_assets.formats import csv_format, fixed_width
from qbo_sftp_assets.formats.builtin_layouts import builtin_layouts
from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef


def _bills(count: int) -> list[Bill]:
    return [
        Bill(
            vendor=PartyRef(f"V{i % 97:04d}", f"Vendor {i % 97}"),
            number=f"INV-{i:08d}",
            date=dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
            currency="USD",
            lines=tuple(
                Line(Decimal(i % 10_000 + n) / 100, f"Line {n} of {i}", Decimal(n + 1), account="6000")
                for n in range(3)
            ),
        )
        for i in range(count)
    ]


def _render_size(render, megabytes: float) -> bytes:
    """A file of about `megabytes`, every document distinct (so none is rejected as non-adjacent)."""
    sample = render(_bills(500))
    return render(_bills(max(1, int(500 * megabytes * 1_000_000 / len(sample)))))


def _timed(action) -> tuple[float, int]:
    """CPU seconds of one call, and what it counted: CPU time, because the two cores are shared."""
    started = time.process_time()
    count = action()
    return time.process_time() - started, count


def _csv_floor(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")))


def _fixed_floor(data: bytes) -> int:
    count = 0
    for raw in io.BytesIO(data):
        line = raw.decode("cp1252")
        _ = (line[0], line[1:11], line[41:50], line[61:72])
        count += 1
    return count


def run() -> None:
    megabytes = float(os.environ.get("BENCH_FLAT_MB", "10"))
    layouts = builtin_layouts()
    bills_csv, legacy = layouts["bills_csv"], layouts["legacy_bills_fixed"]

    csv_data = _render_size(lambda bills: csv_format.render_csv(bills, bills_csv), megabytes)
    floor_s, rows = _timed(lambda: _csv_floor(csv_data))
    ours_s, documents = _timed(lambda: sum(1 for _ in csv_format.iter_documents(io.BytesIO(csv_data), bills_csv)))
    print(f"   csv: {len(csv_data) / 1e6:.1f} MB, {rows} rows, {documents} documents")
    print(f"   csv: our read into Bills {ours_s:.2f} s vs csv.reader alone {floor_s:.2f} s")
    print(f"   csv: ratio (floor / ours, 1.0 = as fast as bare tokenizing) = {floor_s / ours_s:.2f}")

    fixed_data = _render_size(lambda bills: fixed_width.render_fixed_width(bills, legacy), megabytes)
    floor_s, records = _timed(lambda: _fixed_floor(fixed_data))
    ours_s, documents = _timed(lambda: sum(1 for _ in fixed_width.iter_documents(io.BytesIO(fixed_data), legacy)))
    print(f"   fixed: {len(fixed_data) / 1e6:.1f} MB, {records} records, {documents} documents")
    print(f"   fixed: our read into Bills {ours_s:.2f} s vs bare decode + slicing {floor_s:.2f} s")
    print(f"   fixed: ratio (floor / ours) = {floor_s / ours_s:.2f}")
