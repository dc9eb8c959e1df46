"""Hypothesis: arbitrary and mutated bytes make the X12 readers raise only X12ParseError; random bills round-trip."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef, Source, VendorCredit
from qbo_sftp_assets.formats.errors import X12ParseError
from qbo_sftp_assets.formats.x12 import (
    Parties,
    acknowledge_x12,
    iter_segment_batches,
    iter_x12_documents,
    read_997,
    read_x12,
    write_810,
)
from qbo_sftp_assets_tests.paths import TEST_DATA

SAMPLE = (TEST_DATA / "x12" / "invoices_810.edi").read_bytes()
AS_OF = dt.datetime(2026, 11, 25, 12, 30, tzinfo=dt.UTC)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def exercise_every_reader(data: bytes) -> None:
    """Run each reader; anything but X12ParseError escapes and fails the test."""
    for run in (
        lambda: list(iter_segment_batches(io.BytesIO(data), chunk_size=64)),
        lambda: read_x12(data),
        lambda: list(iter_x12_documents(io.BytesIO(data))),
        lambda: read_997(data),
        lambda: acknowledge_x12(data, control_numbers=InMemoryControlNumbers(), as_of=AS_OF),
    ):
        with contextlib.suppress(X12ParseError):
            run()


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_x12_parse_error(data: bytes) -> None:
    exercise_every_reader(data)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_a_valid_isa_raise_only_x12_parse_error(tail: bytes) -> None:
    exercise_every_reader(SAMPLE[:106] + tail)


@st.composite
def mutated_sample(draw: st.DrawFn) -> bytes:
    data = bytearray(SAMPLE)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["replace", "delete", "insert", "duplicate"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "replace":
            data[at] = draw(st.sampled_from(list(b"*~>:^|!\r\n0A9- .\xe9\x00")))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            start = draw(st.integers(0, len(data) - 1))
            data[at:at] = data[start : start + draw(st.integers(1, 60))]
        if not data:
            break
    return bytes(data)


@FUZZ
@given(mutated_sample())
def test_mutated_valid_files_raise_only_x12_parse_error_or_read(data: bytes) -> None:
    exercise_every_reader(data)


@FUZZ
@given(mutated_sample())
def test_a_read_mutated_file_is_acknowledged_with_counts_that_add_up(data: bytes) -> None:
    try:
        result, acknowledgment = read_x12(data)
    except X12ParseError:
        return
    for interchange in acknowledgment.interchanges:
        for group in interchange.groups:
            assert group.received == len(group.sets)
            assert group.accepted == sum(1 for s in group.sets if s.status != "R")
    assert all(isinstance(doc, Bill) for doc in result.documents)


SAFE_TEXT = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/#&.", min_size=1, max_size=20
)


@st.composite
def bills(draw: st.DrawFn) -> Bill:
    lines = []
    for _ in range(draw(st.integers(1, 5))):
        quantity = Decimal(draw(st.integers(1, 10_000))).scaleb(-draw(st.integers(0, 3)))
        price = Decimal(draw(st.integers(0, 10_000_000))).scaleb(-2)
        amount = (quantity * price).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        lines.append(Line(amount, draw(SAFE_TEXT), quantity, price, draw(SAFE_TEXT), unit="EA"))
    for kind in draw(st.lists(st.sampled_from(["charge", "allowance"]), max_size=2)):
        amount = Decimal(draw(st.integers(1, 100_000))).scaleb(-2)
        lines.append(Line(-amount if kind == "allowance" else amount, draw(SAFE_TEXT), item="D240", kind=kind))
    date = draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)))
    kind = draw(st.sampled_from([Bill, VendorCredit]))
    document = kind(
        vendor=PartyRef(draw(SAFE_TEXT), draw(SAFE_TEXT)),
        number=draw(SAFE_TEXT),
        date=date,
        lines=tuple(lines),
        currency=draw(st.sampled_from([None, "USD", "EUR"])),
        po_number=draw(st.none() | SAFE_TEXT),
    )
    total = document.lines_total
    return kind(**{**document.__dict__, "total": total})


@settings(max_examples=100, deadline=None)
@given(st.lists(bills(), min_size=1, max_size=4))
def test_random_bills_round_trip(documents: list[Bill]) -> None:
    data = write_810(
        documents,
        parties=Parties("ZZ", "US", "ZZ", "THEM"),
        control_numbers=InMemoryControlNumbers(),
        as_of=AS_OF,
    )
    result, _ = read_x12(data)
    assert result.errors == []
    read = [
        type(doc)(
            **{
                **doc.__dict__,
                "source": Source(),
                "lines": tuple(type(line)(**{**line.__dict__, "source": Source()}) for line in doc.lines),
            }
        )
        for doc in result.documents
    ]
    assert read == documents


@FUZZ
@given(mutated_sample())
# Found by this test: a four-digit ISA12 was echoed into our reply, which our own reader then refused.
@example(SAMPLE.replace(b"*U*00401*", b"*U*0401*", 1))
def test_our_acknowledgment_of_any_mutated_file_is_itself_well_formed(data: bytes) -> None:
    try:
        reply = acknowledge_x12(data, control_numbers=InMemoryControlNumbers(), as_of=AS_OF)
    except X12ParseError:
        return
    if reply:
        result, acknowledgment = read_x12(reply)
        assert result.errors == []
        assert all(interchange.is_acknowledgment for interchange in acknowledgment.interchanges)
