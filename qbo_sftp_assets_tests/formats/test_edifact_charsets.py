"""EDIFACT syntax levels UNOA-UNOK, UNOW and UNOY: text decoded by the level the UNB declares, a character
outside it refused with CONTRL code 21 at its segment and element, and pydifact agreeing on the segments
of the decoded text."""

from __future__ import annotations

import datetime as dt
import warnings
from decimal import Decimal

import pytest
from pydifact.parser import Parser

from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Bill, Line, PartyRef
from qbo_sftp_assets.formats.edifact import SegmentReader, build_contrl, read_edifact, write_invoic

AS_OF = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)


def interchange(syntax: str, supplier: str, item: str) -> str:
    """One INVOIC written for this test, naming the supplier and describing the item in their script."""
    body = [
        "UNH+1+INVOIC:D:96A:UN",
        "BGM+380+INV-77+9",
        "DTM+137:20240701:102",
        f"NAD+SU+SUP1::92++{supplier}",
        "LIN+1++ART-1:SA",
        f"IMD+F++:::{item}",
        "MOA+203:10.00",
        "UNS+S",
    ]
    body.append(f"UNT+{len(body) + 1}+1")
    return f"UNB+{syntax}:3+SUP1:14+OURCO:14+240701:1200+X1'" + "".join(s + "'" for s in body) + "UNZ+1+X1'"


# Level, encoding, and a supplier name and item only that level's repertoire holds (with ASCII).
LEVELS = [
    ("UNOD", "iso8859_2", "Łódzkie Młyny Sp. z o.o.", "Mąka żytnia"),
    ("UNOE", "iso8859_5", "ООО Северный Хлеб", "Мука ржаная"),
    ("UNOF", "iso8859_7", "Αρτοποιία Κρήτης ΑΕ", "Αλεύρι σίκαλης"),
    ("UNOG", "iso8859_3", "Ħobż Malti Ltd", "Dqiq tas-segala ġdid"),
    ("UNOK", "iso8859_9", "Değirmen Unları AŞ", "Çavdar unu"),
    ("UNOW", "utf-8", "北京面粉有限公司 / Ölmühle", "黑麦粉 🌾"),
    ("UNOY", "utf-8", "Мельница Œuvre 製粉", "Roggenmehl №1"),
]


@pytest.mark.parametrize(("syntax", "encoding", "supplier", "item"), LEVELS)
def test_each_level_decodes_its_own_characters(syntax, encoding, supplier, item):
    result = read_edifact(interchange(syntax, supplier, item).encode(encoding))
    assert result.ok, result.errors
    [bill] = result.documents
    assert (bill.vendor.name, bill.lines[0].description) == (supplier, item)
    assert result.envelopes[0]["syntax"] == f"{syntax}:3"


@pytest.mark.parametrize(("syntax", "encoding", "supplier", "item"), LEVELS)
def test_pydifact_reads_the_decoded_text_into_the_segments_we_read(syntax, encoding, supplier, item):
    text = interchange(syntax, supplier, item)
    ours = [(s.tag, s.elements) for s in SegmentReader.from_bytes(text.encode(encoding))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [
            (s.tag, [[e] if isinstance(e, str) else list(e) for e in s.elements])
            for s in Parser().parse(text)
            if s.tag != "UNA"
        ]
    assert ours == theirs


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 64])
def test_utf8_sequences_cut_by_chunk_boundaries_still_decode(chunk_size):
    data = interchange("UNOW", "北京面粉有限公司", "黑麦粉 🌾").encode("utf-8")
    whole = [(s.tag, s.elements) for s in SegmentReader.from_bytes(data)]
    assert [(s.tag, s.elements) for s in SegmentReader.from_bytes(data, chunk_size=chunk_size)] == whole


@pytest.mark.parametrize(
    ("syntax", "encoding", "supplier", "outsider"),
    [
        ("UNOE", "iso8859_5", "ООО Северный Хлеб", b"\x85"),  # a C1 control: no ISO 8859 level has it
        ("UNOD", "iso8859_2", "Łódzkie Młyny", b"\x7f"),  # DEL
        ("UNOF", "iso8859_7", "Αρτοποιία Κρήτης", b"\xae"),  # a byte ISO 8859-7 leaves undefined
        ("UNOW", "utf-8", "北京面粉", "\u0085".encode()),  # NEL, a control character in UTF-8 too
    ],
)
def test_a_character_outside_the_declared_level_gets_code_21_at_its_element(syntax, encoding, supplier, outsider):
    data = interchange(syntax, supplier, "Mehl").encode(encoding).replace(b"Mehl", b"Me" + outsider + b"hl")
    result = read_edifact(data, file="x.edi")
    assert result.documents == []
    assert [(e.segment, e.element, e.code) for e in result.errors] == [(7, "IMD element 3", "21")]
    contrl = build_contrl(result.interchanges[0], counter=InMemoryControlNumbers(start=8), as_of=AS_OF)
    assert b"UCM+1+INVOIC:D:96A:UN+4'UCS+6'UCD+21+3:4'" in contrl


def test_bytes_that_are_not_utf8_under_unow_get_code_21():
    data = (
        interchange("UNOW", "Ölmühle", "Mehl").encode("utf-8").replace("Ölmühle".encode(), "Ölmühle".encode("latin-1"))
    )
    result = read_edifact(data)
    assert [(e.element, e.code) for e in result.errors] == [("NAD element 4", "21")]


def test_a_level_we_do_not_read_is_refused_with_code_2():
    result = read_edifact(interchange("UNOX", "ACME", "FLOUR").encode("ascii"))
    assert [(e.element, e.code) for e in result.errors] == [("UNB element 1", "2")]


@pytest.mark.parametrize(("syntax", "encoding", "supplier", "item"), [LEVELS[1], LEVELS[5]])
def test_written_in_a_level_then_read_back(syntax, encoding, supplier, item):
    bill = Bill(
        vendor=PartyRef("SUP1", supplier),
        number="INV-9",
        date=dt.date(2024, 7, 1),
        lines=(Line(Decimal("10.00"), description=item),),
    )
    data = write_invoic([bill], sender="SUP1", recipient="OURCO", reference="W1", as_of=AS_OF, syntax_id=syntax)
    assert supplier.encode(encoding) in data
    [read] = read_edifact(data).documents
    assert (read.vendor, read.lines[0].description) == (bill.vendor, item)


def test_the_contrl_of_a_utf8_interchange_is_itself_utf8():
    data = interchange("UNOW", "Ölmühle", "Mehl").encode("utf-8").replace(b"SUP1:14", "SÜP1:14".encode())
    [report] = read_edifact(data).interchanges
    contrl = build_contrl(report, counter=InMemoryControlNumbers(start=8), as_of=AS_OF)
    assert contrl.startswith(b"UNA:+.? 'UNB+UNOW:3+OURCO:14+") and "SÜP1".encode() in contrl
    contrl.decode("utf-8")
