"""The fast constructors the readers use (`documents.from_fields` / `line_from` / `bill_from` /
`invoice_from` / `source_at`, `edifact.tokenizer.Segment._plain`) build the same objects as the normal ones, and stop
being allowed the day a class gets `slots=True` or a `__post_init__` that they would skip."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from qbo_sftp_assets.formats import documents
from qbo_sftp_assets.formats.documents import (
    BILL_DEFAULTS,
    INVOICE_DEFAULTS,
    LINE_DEFAULTS,
    SOURCE_DEFAULTS,
    Bill,
    Invoice,
    Line,
    PartyRef,
    Source,
    VendorCredit,
    bill_from,
    from_fields,
    invoice_from,
    line_from,
    source_at,
    source_at_line,
)
from qbo_sftp_assets.formats.edifact.tokenizer import DEFAULT_SERVICE_CHARACTERS, Segment

SOURCE = Source(file="f.x12", segment=3, interchange="1", group="2", transaction_set="0001")
LINE_VALUES = {"amount": Decimal("12.50"), "quantity": Decimal(5), "unit_price": Decimal("2.50"), "unit": "EA"}
BILL_VALUES = {
    "vendor": PartyRef("V1", "Acme"),
    "number": "INV-1",
    "date": dt.date(2026, 1, 5),
    "lines": (Line(Decimal(1)),),
    "total": Decimal(1),
    "source": SOURCE,
}


def same(fast: object, normal: object) -> None:
    assert fast == normal and type(fast) is type(normal) and fast.__dict__ == normal.__dict__


def test_fast_document_constructors_build_what_the_normal_ones_build() -> None:
    same(line_from({**LINE_VALUES, "source": SOURCE}), Line(**LINE_VALUES, source=SOURCE))
    same(from_fields(Line, {**LINE_DEFAULTS, **LINE_VALUES}), Line(**LINE_VALUES))
    same(from_fields(Source, {**SOURCE_DEFAULTS, "file": "a"}), Source(file="a"))
    same(source_at(SOURCE, 9), dataclasses.replace(SOURCE, segment=9))
    same(source_at_line(Source(file="a.csv", line=2), 7), Source(file="a.csv", line=7))
    for kind in (Bill, VendorCredit):
        same(bill_from(kind, BILL_VALUES), kind(**BILL_VALUES))
    assert bill_from(Bill, BILL_VALUES).__dict__.keys() == BILL_DEFAULTS.keys()
    invoice_values = {"customer": BILL_VALUES["vendor"], **{k: v for k, v in BILL_VALUES.items() if k != "vendor"}}
    same(invoice_from(invoice_values), Invoice(**invoice_values))
    assert invoice_from(invoice_values).__dict__.keys() == INVOICE_DEFAULTS.keys()


@pytest.mark.parametrize("cls", [Line, Source, Bill, VendorCredit, Invoice])
def test_the_fast_path_is_still_allowed_for_the_document_classes(cls: type) -> None:
    # from_fields stores a whole __dict__: a slotted class has none, and __post_init__ would be skipped.
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "__slots__" not in cls.__dict__, f"{cls.__name__} has slots: documents.from_fields cannot build it"
    assert not hasattr(cls, "__post_init__"), f"{cls.__name__}.__post_init__ would be skipped by from_fields"
    assert set(documents.__dict__) >= {"from_fields", "line_from", "bill_from", "invoice_from", "source_at"}


def slots_of(segment: Segment) -> dict[str, object]:
    # Reading every slot fails (AttributeError) if _plain forgot one that __init__ sets.
    return {name: getattr(segment, name) for name in Segment.__slots__}


def test_segment_plain_builds_what_init_builds() -> None:
    chars = DEFAULT_SERVICE_CHARACTERS
    fast = Segment._plain("MOA", 12, "203:5.00", chars)
    assert slots_of(fast) == slots_of(Segment("MOA", None, 12, "203:5.00", chars))
    assert fast == Segment("MOA", [["203", "5.00"]], 12) and fast.get(0, 1) == "5.00"
    assert slots_of(Segment._plain("UNS", 3, None, chars)) == slots_of(Segment("UNS", [], 3))


def test_segment_plain_is_in_step_with_init() -> None:
    # A slot added to Segment must be set by both; __init__'s parameters are what _plain mirrors.
    assert set(Segment.__slots__) == {"_chars", "_elements", "_rest", "invalid", "number", "tag"}
    assert Segment.__init__.__code__.co_varnames[1:6] == ("tag", "elements", "number", "rest", "chars")
