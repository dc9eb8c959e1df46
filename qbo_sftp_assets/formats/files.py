"""Any supported file, read or acknowledged in one call: the dispatch the CLI and the pipeline share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar

from qbo_sftp_assets.errors import UserFacingError
from qbo_sftp_assets.formats import csv_format, fixed_width, flat_ack
from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.detect import FormatName
from qbo_sftp_assets.formats.edifact import build_contrls, read_edifact
from qbo_sftp_assets.formats.errors import EdifactParseError, ParseError, X12ParseError
from qbo_sftp_assets.formats.flat_documents import FlatItem, collect
from qbo_sftp_assets.formats.layouts import CsvLayout, FixedWidthLayout, Layout
from qbo_sftp_assets.formats.results import ReadResult
from qbo_sftp_assets.formats.x12 import X12Acknowledgment, X12DelimiterError, build_acknowledgments, read_x12
from qbo_sftp_assets.formats.x12.ta1 import interchange_from_bad_header

AckKind = Literal["x12", "contrl", "csv"]
_SomeLayout = TypeVar("_SomeLayout", CsvLayout, FixedWidthLayout)


class LayoutRequired(UserFacingError):
    """A CSV or fixed-width file was given without a layout of its kind."""


class Unacknowledgeable(UserFacingError):
    """The file is so broken that its envelope names nobody to acknowledge."""

    exit_code = 2


@dataclass(frozen=True)
class Acknowledged:
    """A file read and answered: the documents and errors, and the acknowledgment bytes it gets.

    `ack` is empty when none is owed (a file holding only acknowledgments); `ack_kind` says what it is.
    """

    result: ReadResult
    ack: bytes
    ack_kind: AckKind

    @property
    def accepted(self) -> bool:
        return self.result.ok


def read_file(
    path: Path, file_format: FormatName, layout: Layout | None, *, name: str, our_ids: Collection[str] = ()
) -> ReadResult:
    """Read a file in any supported format; a file that cannot be read at all is one error.

    `our_ids` are our X12 interchange / group ids: an 810 we sent reads as our Invoices (`read_x12`).
    """
    try:
        if file_format == "csv":
            return csv_format.read_csv(path, _layout(CsvLayout, "csv", layout), name=name)
        if file_format == "fixed":
            return fixed_width.read_fixed_width(path, _layout(FixedWidthLayout, "fixed", layout), name=name)
        if file_format == "x12":
            return read_x12(path, file=name, our_ids=our_ids)[0]
        return read_edifact(path, file=name)
    except ParseError as error:
        return ReadResult(format=file_format, errors=[error])


def acknowledge_file(
    path: Path,
    file_format: FormatName,
    layout: Layout | None,
    *,
    name: str,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
) -> Acknowledged:
    """Read the file once and build its acknowledgment: 997/TA1, CONTRL, or the flat-file CSV ack."""
    if file_format in ("csv", "fixed"):
        return _flat(path, file_format, layout, name=name, control_numbers=control_numbers, as_of=as_of)
    if file_format == "x12":
        return _x12(path, name=name, control_numbers=control_numbers, as_of=as_of)
    return _edifact(path, name=name, control_numbers=control_numbers, as_of=as_of)


def _flat(
    path: Path,
    file_format: FormatName,
    layout: Layout | None,
    *,
    name: str,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
) -> Acknowledged:
    reader = (
        partial(csv_format.iter_documents, path, _layout(CsvLayout, "csv", layout), name=name)
        if file_format == "csv"
        else partial(fixed_width.iter_documents, path, _layout(FixedWidthLayout, "fixed", layout), name=name)
    )
    items: list[FlatItem] = []
    fatal: ParseError | None = None
    try:
        items.extend(reader())
    except ParseError as error:
        fatal = error  # the file is rejected whole; the ack still names what was read before
    result = collect(file_format, items) if fatal is None else ReadResult(format=file_format, errors=[fatal])
    ack = flat_ack.build_flat_ack(
        flat_ack.ack_entries(items),
        file_name=name,
        sha256=flat_ack.file_sha256(path),
        control_number=control_numbers.next("ACK"),
        created_at=as_of,
        fatal=fatal,
    )
    return Acknowledged(result, ack.content, "csv")


def _x12(path: Path, *, name: str, control_numbers: ControlNumbers, as_of: dt.datetime) -> Acknowledged:
    try:
        result, acknowledgment = read_x12(path, file=name)
    except X12DelimiterError as error:
        # The first ISA is unreadable: answer with a TA1 when its header still names the parties.
        bad = interchange_from_bad_header(error)
        if bad is None:
            raise Unacknowledgeable(f"{error.render()}; not even a TA1 can answer it") from None
        result = ReadResult(format="x12", errors=[error])
        acknowledgment = X12Acknowledgment(file=name, interchanges=[bad])
    except X12ParseError as error:
        raise Unacknowledgeable(f"{error.render()}; not even a TA1 can answer it") from None
    ack = build_acknowledgments(acknowledgment, control_numbers=control_numbers, as_of=as_of)
    return Acknowledged(result, ack, "x12")


def _edifact(path: Path, *, name: str, control_numbers: ControlNumbers, as_of: dt.datetime) -> Acknowledged:
    try:
        result = read_edifact(path, file=name)
        # A UNB that names no sender leaves nobody to address the CONTRL to: that raises here too.
        contrls = build_contrls(result.interchanges, counter=control_numbers, as_of=as_of)
    except EdifactParseError as error:
        raise Unacknowledgeable(f"{error.render()}; no CONTRL can answer it") from None
    return Acknowledged(result, b"".join(contrl for _, contrl in contrls), "contrl")


def _layout(kind: type[_SomeLayout], name: str, layout: Layout | None) -> _SomeLayout:
    if isinstance(layout, kind):
        return layout
    if layout is None:
        raise LayoutRequired(f"a {name} file needs a layout")
    raise LayoutRequired(f"the layout is a {layout.kind} layout, not {name}")
