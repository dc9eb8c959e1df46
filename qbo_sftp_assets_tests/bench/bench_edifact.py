"""EDIFACT INVOIC: our full parse into Bills vs pydifact's parse of the same generated file (goal ≥ 10×).

Size in MB from `BENCH_EDIFACT_MB` (default 25); pydifact's share is timed on the same file in the same run.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path

from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef, VendorCredit
from qbo_sftp_assets.formats.edifact import SegmentReader, iter_edifact_documents, write_invoic, write_invoic_to

_AS_OF = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)


def _documents(count: int):
    """Invoices with 3–7 lines each, a credit note every tenth, names with service characters."""
    for n in range(count):
        lines = tuple(
            Line(
                amount=Decimal(q * (100 + k)) / 100 * 3,
                description=f"Item {k} of invoice {n}",
                quantity=Decimal(q),
                unit_price=Decimal(100 + k) / 100 * 3,
                item=f"SKU{k:05d}",
            )
            for k, q in enumerate(range(1, 3 + n % 5), start=1)
        )
        kind = VendorCredit if n % 10 == 9 else Bill
        name = "O'Brien + Sons" if n % 7 == 0 else f"Vendor {n % 97}"
        yield kind(
            vendor=PartyRef(id=f"V{n % 97:04d}", name=name),
            number=f"INV{n:08d}",
            date=dt.date(2026, 1, 1 + n % 28),
            due_date=dt.date(2026, 2, 1 + n % 28),
            currency="EUR",
            lines=lines,
            total=sum((line.amount for line in lines), Decimal(0)),
        )


def generate(path: Path, megabytes: float) -> tuple[int, int]:
    """Write an INVOIC interchange of at least `megabytes` MB; returns (bytes, messages)."""
    sample = len(
        write_invoic(_documents(200), sender="PARTNER", recipient="US", reference="1", as_of=_AS_OF, newline=True)
    )
    count = int(megabytes * 1_000_000 / (sample / 200)) + 1
    with path.open("wb") as stream:
        size = write_invoic_to(
            stream, _documents(count), sender="PARTNER", recipient="US", reference="1", as_of=_AS_OF, newline=True
        )
    return size, count


def _time(fn) -> tuple[float, object]:
    """CPU seconds of one call, and its result: CPU time, because the two cores are shared."""
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def run() -> None:
    megabytes = float(os.environ.get("BENCH_EDIFACT_MB", "25"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "invoic.edi"
        size, count = generate(path, megabytes)
        print(f"   file: {size / 1e6:.1f} MB, {count} INVOIC messages")

        def ours() -> int:
            reader = iter_edifact_documents(path)
            parsed = sum(1 for _ in reader.documents())
            if reader.errors or parsed != count:
                raise RuntimeError(f"our parse disagrees: {parsed} documents, {reader.errors[:3]}")
            return parsed

        def tokenize() -> int:
            with path.open("rb") as stream:
                return sum(len(batch) for batch in SegmentReader(stream).batches())

        def floor() -> int:
            # The Python floor: split into segments and elements, nothing else.
            total = 0
            with path.open("rb") as stream:
                for chunk in iter(lambda: stream.read(4 << 20), b""):
                    for raw in chunk.split(b"'"):
                        raw.split(b"+")
                        total += 1
            return total

        def theirs() -> int:
            from pydifact.segmentcollection import Interchange

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                interchange = Interchange.from_str(path.read_text(encoding="latin-1"))
                return sum(1 for _ in interchange.get_messages())

        # Ours is cheap to repeat, pydifact is not: best of three for ours (timeit's rule: the minimum
        # is the figure least disturbed by other processes on a shared machine), one run for pydifact.
        runs = [_time(ours)[0] for _ in range(3)]
        ours_s = min(runs)
        tok_s, segments = min(_time(tokenize) for _ in range(2))
        floor_s = min(_time(floor)[0] for _ in range(2))
        print(
            f"   ours, full parse into Bills: {ours_s:.2f} s ({size / 1e6 / ours_s:.1f} MB/s); "
            f"runs {', '.join(f'{r:.2f}' for r in runs)} s"
        )
        print(f"   ours, tokenizer only: {tok_s:.2f} s ({segments} segments); bytes.split floor {floor_s:.2f} s")
        theirs_s, messages = _time(theirs)
        if messages != count:
            raise RuntimeError(f"pydifact saw {messages} messages, expected {count}")
        print(f"   pydifact Interchange.from_str + get_messages: {theirs_s:.2f} s ({size / 1e6 / theirs_s:.2f} MB/s)")
        print(f"   ratio ours vs pydifact: {theirs_s / ours_s:.1f}x faster (goal >= 10x; CPU time)")
        print(f"   ratio tokenizer vs floor: {floor_s / tok_s:.2f} of the floor")
