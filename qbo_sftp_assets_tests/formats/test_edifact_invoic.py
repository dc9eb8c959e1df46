"""INVOIC D.96A into Bills and VendorCredits: the fields of real-looking files, the errors of bad ones
(with position and 0085 code), write-then-read round trips, and streaming with bounded memory."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef, Source, VendorCredit
from qbo_sftp_assets.formats.edifact import (
    ServiceCharacters,
    iter_edifact_documents,
    read_edifact,
    write_invoic,
    write_invoic_to,
)
from qbo_sftp_assets_tests.paths import TEST_DATA

DATA = TEST_DATA / "edifact"
AS_OF = dt.datetime(2024, 3, 15, 10, 30, tzinfo=dt.UTC)


def one_message(*segments: str, syntax: str = "UNOC") -> bytes:
    body = ["UNH+1+INVOIC:D:96A:UN", *segments]
    body.append(f"UNT+{len(body) + 1}+1")
    text = f"UNB+{syntax}:3+S:14+R:14+240315:1030+9'" + "".join(s + "'" for s in body) + "UNZ+1+9'"
    return text.encode("latin-1")


MINIMAL = ["BGM+380+A1+9", "DTM+137:20240315:102", "LIN+1", "MOA+203:5.00", "UNS+S"]


def test_sample_invoice_fields():
    result = read_edifact(DATA / "invoic_d96a.edi")
    assert result.ok and result.format == "edifact"
    first, second = result.documents
    assert isinstance(first, Bill) and not isinstance(first, VendorCredit)
    assert first.vendor == PartyRef(id="5412345000013", name="Brasserie Dupont + Fils S.A.")
    assert (first.number, first.date, first.currency, first.po_number) == (
        "INV-2024-0042",
        dt.date(2024, 3, 15),
        "EUR",
        "PO-7781",
    )
    # PAT 5:3:D:30 = 30 days after the invoice date, with no DTM 13.
    assert (first.terms, first.due_date) == ("Net 30", dt.date(2024, 4, 14))
    assert first.memo == "Delivery to dock 3: ring bell"
    assert [
        (line.kind, line.item, line.description, line.quantity, line.unit_price, line.amount) for line in first.lines
    ] == [
        ("item", "5412345000102", "Saison Dupont 75cl", Decimal(24), Decimal("2.99"), Decimal("71.76")),
        ("item", "5412345000119", "Moinette blonde 33cl", Decimal(48), Decimal("1.30"), Decimal("62.40")),
        ("tax", None, "VAT 21%", None, None, Decimal("28.17")),
    ]
    assert first.total == Decimal("162.33") == first.lines_total
    assert [line.unit for line in first.lines] == ["PCE", None, None]
    assert first.source == Source(
        file=str(DATA / "invoic_d96a.edi"), segment=3, interchange="INT00042", transaction_set="M1"
    )
    assert first.lines[1].source.segment == 21
    # DTM 203 (CCYYMMDDHHMM); DTM 13 due date; a line amount computed from QTY x PRI when MOA 203 is absent.
    assert (second.date, second.due_date, second.lines[0].amount) == (
        dt.date(2024, 3, 16),
        dt.date(2024, 4, 15),
        Decimal("27.00"),
    )
    assert second.lines[0].description == "Verre ? 25cl"
    (envelope,) = result.envelopes
    assert envelope["reference"] == "INT00042" and envelope["ack_requested"] is True
    assert envelope["messages"][0]["buyer"] == {"id": "4012345000016", "name": "Müller Getränke GmbH"}


def test_credit_note_with_exotic_una_and_a_charge():
    (credit,) = read_edifact(DATA / "invoic_exotic_una.edi").documents
    assert isinstance(credit, VendorCredit) and credit.as_dict()["type"] == "vendor_credit"
    assert credit.number == "CN=77~A" and credit.vendor.name == "Acme*Co=Ltd~ ?"
    assert credit.date == dt.date(1999, 10, 6)  # CCYYMMDDHHMM under format 203
    assert [(line.kind, line.amount) for line in credit.lines] == [
        ("item", Decimal("40.00")),
        ("charge", Decimal("5.00")),
    ]
    assert credit.total == Decimal("45.00") and credit.currency == "GBP"


def test_two_files_concatenated_are_two_interchanges():
    data = (DATA / "invoic_exotic_una.edi").read_bytes() + (DATA / "invoic_d96a.edi").read_bytes()
    result = read_edifact(data, file="both.edi")
    assert result.ok
    assert [(d.source.interchange, d.number) for d in result.documents] == [
        ("CTRL-7", "CN=77~A"),
        ("INT00042", "INV-2024-0042"),
        ("INT00042", "INV-2024-0043"),
    ]


def errors_of(*segments: str) -> list[tuple[int | None, str | None, str | None]]:
    result = read_edifact(one_message(*segments), file="m.edi")
    assert result.documents == []
    return [(e.segment, e.element, e.code) for e in result.errors]


def test_content_errors_name_segment_element_and_code():
    assert errors_of("DTM+137:20240315:102", "UNS+S") == [(3, "BGM", "13")]
    assert errors_of("BGM+220+A1+9", "DTM+137:20240315:102", "UNS+S") == [(3, "BGM 1001", "14")]
    assert errors_of("BGM+380++9", "DTM+137:20240315:102", "UNS+S") == [(3, "BGM 1004", "13")]
    assert errors_of("BGM+380+A1+9", "UNS+S") == [(4, "DTM 137", "13")]
    assert errors_of("BGM+380+A1+9", "DTM+137:20240231:102", "UNS+S") == [(4, "DTM 137 2380", "12")]
    assert errors_of("BGM+380+A1+9", "DTM+137:20240315:999", "UNS+S") == [(4, "DTM 2379", "14")]
    assert errors_of(*MINIMAL[:3], "MOA+203:1E5", "UNS+S") == [(6, "MOA 203 5004", "12")]
    assert errors_of(*MINIMAL[:3], "MOA+203:²", "UNS+S") == [(6, "MOA 203 5004", "12")]
    assert errors_of(*MINIMAL[:3], "QTY+47:2", "UNS+S") == [(5, "MOA 203", "13")]
    assert errors_of(*MINIMAL[:4]) == [(7, "UNS", "13")]
    assert errors_of(*MINIMAL, "MOA+77:6.00") == [(8, "MOA 77 5004", "12")]


def test_an_error_message_says_what_was_expected():
    result = read_edifact(one_message(*MINIMAL, "MOA+77:6.00"), file="m.edi")
    assert str(result.errors[0]) == (
        "m.edi:segment 8: MOA 77 5004: interchange 9 message 1: MOA 77 invoice total 6.00 does not equal "
        "the sum of the lines 5.00 (expected 5.00)"
    )


def test_segments_out_of_their_place_are_refused():
    # A NAD after UNS, a CNT before it, a BGM that is not right after UNH, a second UNS.
    assert errors_of(*MINIMAL, "NAD+SU+LATE") == [(8, "NAD", "15")]
    assert errors_of(*MINIMAL[:4], "CNT+2:1", "UNS+S") == [(7, "CNT", "15")]
    assert errors_of("DTM+137:20240315:102", *MINIMAL) == [(4, "BGM", "15"), (3, "BGM", "13")]
    assert errors_of(*MINIMAL, "UNS+S") == [(8, "UNS", "15")]


def test_line_level_dates_and_parties_do_not_describe_the_document():
    data = one_message(*MINIMAL[:3], "DTM+35:20991231:102", "NAD+SU+OTHER", *MINIMAL[3:])
    result = read_edifact(data)
    # Only line-level NADs: no seller for the document, so it is withheld with its bill as read.
    assert result.documents == [] and [type(e).__name__ for e in result.errors] == ["VendorMissingError"]
    bill = result.errors[0].document
    assert bill.date == dt.date(2024, 3, 15) and bill.vendor == PartyRef()


# -- round trips --------------------------------------------------------------------------------------

# UNOC's repertoire: ISO 8859-1 graphic characters.
_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF).filter(lambda c: not "\x7f" <= c <= "\x9f"), max_size=24
)
_UPPER = st.text(st.sampled_from("ABCXYZ0189 .,-()/='+:?!\"%&*;<>"), min_size=1, max_size=16)
_MONEY = st.decimals(min_value=Decimal("-9999.99"), max_value=Decimal("99999.99"), places=2, allow_nan=False)
_DATES = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2089, 12, 31))


def _optional(strategy):
    return st.none() | strategy


def _nonblank(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # A name or description read back from several components is joined with spaces, and an empty
    # component is no value, so round trips use values that survive that.
    return text.map(str.strip).filter(bool)


@st.composite
def documents(draw, text=_TEXT):
    items = draw(
        st.lists(
            st.builds(
                Line,
                amount=_MONEY,
                description=_optional(_nonblank(text)),
                quantity=_optional(st.decimals(min_value=0, max_value=1000, places=3)),
                unit_price=_optional(st.decimals(min_value=0, max_value=1000, places=4)),
                item=_optional(_nonblank(text)),
                unit=_optional(st.sampled_from(["PCE", "KGM", "EA"])),
            ).map(lambda line: line if line.quantity is not None else replace(line, unit=None)),  # unit sits in QTY
            max_size=4,
        )
    )
    extras = draw(
        st.lists(
            st.one_of(
                st.builds(
                    Line,
                    amount=_MONEY,
                    kind=st.just("tax"),
                    description=st.sampled_from(["VAT", "VAT 19%", "GST 7.5%"]),
                ),
                st.builds(Line, amount=_MONEY.map(abs), kind=st.just("charge"), description=_nonblank(text)),
                st.builds(
                    Line, amount=_MONEY.map(lambda d: -abs(d)), kind=st.just("allowance"), description=_nonblank(text)
                ),
            ),
            max_size=3,
        )
    )
    extras.sort(key=lambda line: 0 if line.kind == "tax" else 1)
    lines = tuple(items + extras)
    kind = draw(st.sampled_from([Bill, VendorCredit]))
    return kind(
        # A seller by id, name or both: an INVOIC naming none is withheld (VendorMissingError).
        vendor=draw(
            st.one_of(
                st.builds(PartyRef, id=_nonblank(text), name=_optional(_nonblank(text))),
                st.builds(PartyRef, name=_nonblank(text)),
            )
        ),
        number=draw(_nonblank(text)),
        date=draw(_DATES),
        lines=lines,
        due_date=draw(_optional(_DATES)),
        terms=draw(_optional(_nonblank(text))),
        currency=draw(_optional(st.sampled_from(["EUR", "USD", "GBP"]))),
        memo=draw(_optional(_nonblank(text))),
        total=draw(st.sampled_from([None, sum((line.amount for line in lines), Decimal(0))])),
        po_number=draw(_optional(_nonblank(text))),
    )


def _without_source(document: Bill) -> dict:
    data = document.as_dict()
    data.pop("source")
    return data


_CHARS = st.sampled_from(
    [ServiceCharacters(), ServiceCharacters("=", "*", ",", "!", " ", "~"), ServiceCharacters(*":+.? '")]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(documents(), min_size=1, max_size=4), _CHARS, st.booleans())
def test_write_then_read_gives_the_same_documents(docs, chars, newline):
    data = write_invoic(
        docs, sender="PARTNER", recipient="US", reference="IC1", as_of=AS_OF, chars=chars, newline=newline
    )
    result = read_edifact(data, file="rt.edi")
    assert result.errors == []
    assert [_without_source(d) for d in result.documents] == [_without_source(d) for d in docs]
    assert [type(d) for d in result.documents] == [type(d) for d in docs]
    assert [d.source.transaction_set for d in result.documents] == [str(n) for n in range(1, len(docs) + 1)]


@settings(max_examples=25, deadline=None)
@given(st.lists(documents(text=_UPPER), min_size=1, max_size=2))
def test_round_trip_in_unoa(docs):
    data = write_invoic(docs, sender="PARTNER", recipient="US", reference="IC1", as_of=AS_OF, syntax_id="UNOA")
    result = read_edifact(data)
    assert result.errors == []
    assert [_without_source(d) for d in result.documents] == [_without_source(d) for d in docs]


def test_writer_refuses_characters_outside_the_syntax_level():
    bill = Bill(vendor=PartyRef(name="Müller"), number="1", date=dt.date(2024, 1, 1), lines=())
    try:
        write_invoic([bill], sender="S", recipient="R", reference="1", as_of=AS_OF, syntax_id="UNOB")
    except ValueError as exc:
        assert "outside UNOB" in str(exc)
    else:
        raise AssertionError("a UNOB interchange cannot carry ü")


def _peak_parsing(path: Path, count: int) -> int:
    reader = iter_edifact_documents(path, keep_messages=False, chunk_size=4096)
    tracemalloc.start()
    try:
        parsed = sum(1 for _ in reader.documents())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parsed == count and reader.errors == []
    assert reader.interchanges[0].messages == [] and reader.interchanges[0].message_count == count
    return peak


def test_streaming_memory_does_not_grow_with_the_file(tmp_path):
    line = Line(
        amount=Decimal("10.00"), description="A widget", quantity=Decimal(1), unit_price=Decimal("10.00"), item="W"
    )
    sizes, peaks = [], []
    for count in (400, 1600):
        docs = (
            Bill(vendor=PartyRef(id="V", name="ACME"), number=str(n), date=dt.date(2024, 1, 1), lines=(line,) * 4)
            for n in range(count)
        )
        path = tmp_path / f"{count}.edi"
        with path.open("wb") as stream:
            sizes.append(write_invoic_to(stream, docs, sender="S", recipient="R", reference="1", as_of=AS_OF))
        peaks.append(_peak_parsing(path, count))
    assert peaks[1] < peaks[0] * 1.3, f"peaks {peaks} for files of {sizes} bytes"
    assert peaks[1] < sizes[1] / 2
