"""Reading X12 files: 810s into documents with the structure to acknowledge them, and partners' 997s."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import BinaryIO

from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.documents import Bill, FileDocument, Invoice, Source, Transaction
from qbo_sftp_assets.formats.errors import ParseError, X12ParseError
from qbo_sftp_assets.formats.gc_pause import cyclic_gc_paused
from qbo_sftp_assets.formats.results import ReadResult
from qbo_sftp_assets.formats.x12.ack_997 import Ack997Reader, AckResult, build_acknowledgments, ta1_result
from qbo_sftp_assets.formats.x12.envelope import (
    EnvelopeParser,
    GroupReport,
    HandlerFactory,
    InterchangeReport,
    SetHandler,
    SetReport,
    X12Acknowledgment,
)
from qbo_sftp_assets.formats.x12.invoice_810 import Invoice810Reader
from qbo_sftp_assets.formats.x12.ta1 import interchange_from_bad_header
from qbo_sftp_assets.formats.x12.tokenizer import X12DelimiterError, iter_segment_batches

X12Source = bytes | str | os.PathLike[str] | BinaryIO


def _handler_factory(total_tolerance: Decimal, our_ids: Collection[str] = ()) -> HandlerFactory:
    ours = frozenset(our_ids)

    def make(
        interchange: InterchangeReport, group: GroupReport, set_ack: SetReport, source: Source
    ) -> SetHandler | None:
        if set_ack.set_id == "810" and group.functional_id == "IN":
            seller_is_us = interchange.sender_id in ours or group.sender in ours
            return Invoice810Reader(source, total_tolerance=total_tolerance, seller_is_us=seller_is_us)
        if set_ack.set_id in ("997", "999") and group.functional_id == "FA":
            return Ack997Reader(source)
        return None

    return make


@contextmanager
def _open(source: X12Source) -> Iterator[BinaryIO]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source


def _file_name(source: X12Source, file: str) -> str:
    if file:
        return file
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return getattr(source, "name", "") if not isinstance(source, bytes) else ""


def _parse(source: X12Source, file: str, total_tolerance: Decimal, our_ids: Collection[str] = ()) -> EnvelopeParser:
    """Parse a whole file. A broken ISA after the first interchange is recorded, not raised."""
    parser = EnvelopeParser(file=file, factory=_handler_factory(total_tolerance, our_ids))
    with _open(source) as stream:
        try:
            parser.feed_all(iter_segment_batches(stream, file=file))
        except X12DelimiterError as error:
            if not parser.acknowledgment.interchanges:
                raise
            parser.close()
            parser.errors.append(error)
            bad = interchange_from_bad_header(error)
            if bad is not None:
                parser.acknowledgment.interchanges.append(bad)
        except X12ParseError as error:
            if not parser.acknowledgment.interchanges:
                raise
            parser.close()
            parser.errors.append(error)
    return parser


def read_x12(
    source: X12Source, *, file: str = "", total_tolerance: Decimal = Decimal(0), our_ids: Collection[str] = ()
) -> tuple[ReadResult, X12Acknowledgment]:
    """Read every interchange of an X12 file: 810 sets become Bills / VendorCredits.

    An interchange sent by one of `our_ids` (ISA06 or GS02, e.g. `X12Identity.our_ids()`) holds our
    own invoices: its 810s become Invoices to their N1*BT customers (see `invoice_810`).

    Returns the `ReadResult` (documents of accepted sets whose group and interchange were not
    rejected; envelopes as dicts; every error with its segment position) and the
    `X12Acknowledgment` to pass to `build_acknowledgments`. Raises `X12ParseError` only when the file
    cannot be read at all (not X12, or the first ISA's delimiters are invalid).
    """
    name = _file_name(source, file)
    # The pause also covers building the result, so that it goes to the oldest generation with the
    # documents instead of setting off a collection of the youngest one, where they all still are.
    with cyclic_gc_paused(promote_survivors=True):
        parser = _parse(source, name, total_tolerance, our_ids)
        documents: list[FileDocument] = [
            completed.result
            for completed in parser.completed
            if isinstance(completed.result, Bill | Invoice)
            and not completed.group.codes
            and completed.interchange.status != "R"
        ]
        result = ReadResult(
            format="x12",
            documents=documents,
            envelopes=[interchange.as_dict() for interchange in parser.acknowledgment.interchanges],
            errors=list(parser.errors),
        )
    return result, parser.acknowledgment


def iter_x12_documents(
    stream: BinaryIO,
    *,
    file: str = "",
    total_tolerance: Decimal = Decimal(0),
    errors: list[ParseError] | None = None,
    our_ids: Collection[str] = (),
) -> Iterator[Transaction]:
    """Stream the Bills / VendorCredits (Invoices, for `our_ids`) of a file of any size, each as soon
    as its SE validates.

    Rejected sets are not yielded; their errors are appended to `errors` as they are found (pass a
    list to see them). Memory stays bounded: no per-set record is kept. Group and interchange
    trailers are checked after their sets were yielded; use `read_x12` when a broken GE/IEA must
    withhold its documents. `our_ids` as for `read_x12`.
    """
    name = str(file or getattr(stream, "name", "") or "")
    parser = EnvelopeParser(file=name, factory=_handler_factory(total_tolerance, our_ids), retain=False)
    batches = iter_segment_batches(stream, file=name)
    while True:
        # The GC pause covers tokenizing and parsing one batch, never the caller's code between yields.
        with cyclic_gc_paused():
            batch = next(batches, None)
            if batch is None:
                parser.close()
            else:
                parser.feed(batch)
            ready = [completed.result for completed in parser.completed if isinstance(completed.result, Bill | Invoice)]
            parser.completed.clear()
            if errors is not None:
                errors.extend(parser.errors)
            parser.errors.clear()
        yield from ready
        if batch is None:
            return


def read_997(source: X12Source, *, file: str = "") -> tuple[list[AckResult], list[ParseError]]:
    """What a partner's 997s / 999s (and TA1s) in this file say about our interchanges, groups and sets.

    Returns the results and the errors found on the way: a 997 set that is itself malformed (say, a
    wrong SE01) gives no results, only errors, so a caller can tell "not acknowledged" from "unreadable".
    """
    name = _file_name(source, file)
    with cyclic_gc_paused(promote_survivors=True):
        parser = _parse(source, name, Decimal(0))
    results: list[AckResult] = []
    for elements, position, interchange in parser.inbound_ta1s:
        results.append(ta1_result(elements, position, name, interchange.control_number))
    for completed in parser.completed:
        if isinstance(completed.result, list):
            results.extend(completed.result)
    return results, list(parser.errors)


def acknowledge_x12(
    source: X12Source,
    *,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
    file: str = "",
    line_breaks: bool = False,
) -> bytes:
    """The 997s / TA1s a file gets (empty when none is owed), even when its first ISA is unreadable."""
    name = _file_name(source, file)
    try:
        _, acknowledgment = read_x12(source, file=name)
    except X12DelimiterError as error:
        bad = interchange_from_bad_header(error)
        if bad is None:
            raise
        acknowledgment = X12Acknowledgment(file=name, interchanges=[bad])
    return build_acknowledgments(acknowledgment, control_numbers=control_numbers, as_of=as_of, line_breaks=line_breaks)
