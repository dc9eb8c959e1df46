"""How an inbound 810 maps onto a Bill or VendorCredit, and how a broken set is rejected while others parse."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.documents import Bill, PartyRef, VendorCredit
from qbo_sftp_assets.formats.x12 import acknowledge_x12, iter_x12_documents, read_x12
from qbo_sftp_assets_tests.paths import TEST_DATA

SAMPLE = (TEST_DATA / "x12" / "invoices_810.edi").read_text()
AS_OF = dt.datetime(2026, 11, 25, 12, 30, tzinfo=dt.UTC)


def one_set(*body: str) -> bytes:
    """An interchange with one 810 set holding `body` between ST and SE."""
    segments = [
        "ISA*00*          *00*          *ZZ*ACMESUPPLY     *ZZ*OURCOMPANY     *261120*0930*U*00401*000000101*0*P*>",
        "GS*IN*ACMESUPPLY*OURCOMPANY*20261120*0930*101*X*004010",
        "ST*810*0001",
        *body,
        f"SE*{len(body) + 2}*0001",
        "GE*1*101",
        "IEA*1*000000101",
    ]
    return ("~\n".join(segments) + "~\n").encode()


def ack_body(data: bytes) -> list[str]:
    segments = acknowledge_x12(data, control_numbers=InMemoryControlNumbers(), as_of=AS_OF).decode().split("~")
    return segments[4:-4]


def test_sample_maps_every_field() -> None:
    result, _ = read_x12(SAMPLE.encode(), file="acme.x12")
    first, second = result.documents
    assert isinstance(first, Bill) and not isinstance(first, VendorCredit)
    assert first.vendor == PartyRef("ACME01", "Acme Supply Co")
    assert (first.number, first.date, first.po_number, first.currency) == (
        "INV-1001",
        dt.date(2026, 11, 18),
        "PO-55",
        "USD",
    )
    assert (first.terms, first.due_date, first.total) == ("2% 10 Net 30", dt.date(2026, 12, 18), Decimal("152.75"))
    assert [(line.kind, line.item, line.quantity, line.unit, line.unit_price, line.amount) for line in first.lines] == [
        ("item", "WID-1", Decimal(10), "EA", Decimal("12.50"), Decimal("125.00")),
        ("item", "GAD-2", Decimal(3), "CA", Decimal("4.25"), Decimal("12.75")),
        ("charge", "D240", None, None, None, Decimal("15.00")),
    ]
    assert first.lines[0].description == "Blue widget"
    assert first.lines[1].source.segment == 11 and first.lines[1].source.transaction_set == "0001"
    assert second.vendor == PartyRef("ACME01", "Acme Supply Co")
    assert result.as_dict()["documents"][0]["source"] == {
        "file": "acme.x12",
        "segment": 3,
        "interchange": "000000101",
        "group": "101",
        "transaction_set": "0001",
    }


def test_envelopes_describe_interchange_group_and_sets_for_inspect() -> None:
    result, _ = read_x12(SAMPLE.encode())
    [interchange] = result.envelopes
    assert interchange["type"] == "interchange" and interchange["date"] == "2026-11-20T09:30"
    assert interchange["sender"] == {"qualifier": "ZZ", "id": "ACMESUPPLY"}
    [group] = interchange["groups"]
    assert (group["functional_id"], group["control_number"], group["status"]) == ("IN", "101", "A")
    assert [(s["control_number"], s["status"], s["segment"]) for s in group["sets"]] == [
        ("0001", "A", 3),
        ("0002", "A", 16),
    ]


def test_credit_memo_becomes_a_vendor_credit_with_dtm_due_date_and_remit_to_vendor() -> None:
    data = one_set(
        "BIG*20261118*CM-1*****CR",
        "N1*BT*Our Company",
        "N1*RI*Acme Remit*1*0123456789",
        "DTM*814*20261201",
        "IT1**2*EA*5**UP*012345678905*VP*P-1",
        "PID*F****Returned",
        "SAC*A*C310***100",
        "TDS*900",
    )
    [credit] = read_x12(data)[0].documents
    assert isinstance(credit, VendorCredit)
    assert credit.vendor == PartyRef("0123456789", "Acme Remit")
    assert credit.due_date == dt.date(2026, 12, 1)
    assert [(line.item, line.amount, line.kind) for line in credit.lines] == [
        ("P-1", Decimal("10.00"), "item"),
        ("C310", Decimal("-1.00"), "allowance"),
    ]


def test_missing_big_and_tds_reject_the_set_with_mandatory_segment_codes() -> None:
    data = one_set("N1*SE*Acme", "IT1*1*1*EA*5")
    assert ack_body(data) == ["AK2*810*0001", "AK3*BIG*2**3", "AK3*TDS*4**3", "AK5*R*5", "AK9*R*1*1*0"]
    result, _ = read_x12(data)
    assert result.documents == [] and [e.element for e in result.errors] == ["BIG", "TDS"]


def test_bad_numbers_name_element_reference_and_data() -> None:
    data = one_set("BIG*20261118*X", "CUR*SE*12", "IT1*1*two*EA*5", "SAC*Q*D240***5", "TDS*500")
    assert ack_body(data) == [
        "AK2*810*0001",
        "AK3*CUR*3**8",
        "AK4*2*100*7*12",
        "AK3*IT1*4**8",
        "AK4*2*358*6*two",
        "AK3*SAC*5**8",
        "AK4*1*248*7*Q",
        "AK5*R*5",
        "AK9*R*1*1*0",
    ]
    errors = read_x12(data, file="f.x12")[0].errors
    assert str(errors[1]) == (
        "f.x12:segment 6: IT102: IT102 quantity 'two' is not a number "
        "(expected a number with only digits, sign and decimal point)"
    )
    assert [(e.element, e.code) for e in errors] == [("CUR02", "7"), ("IT102", "6"), ("SAC01", "7")]


def test_n2_amounts_that_are_not_numbers_or_missing_reject_the_set() -> None:
    data = one_set("BIG*20261118*X", "IT1*1*1*EA*5", "SAC*C*D240***1x", "SAC*A*C310", "TDS")
    assert ack_body(data) == [
        "AK2*810*0001",
        "AK3*SAC*4**8",
        "AK4*5*610*6*1x",
        "AK3*SAC*5**8",
        "AK4*5*610*2",
        "AK3*TDS*6**8",
        "AK4*1*610*1",
        "AK5*R*5",
        "AK9*R*1*1*0",
    ]
    errors = read_x12(data, file="f.x12")[0].errors
    assert [(e.element, e.code) for e in errors] == [("SAC05", "6"), ("SAC05", "2"), ("TDS01", "1")]
    assert "SAC05 amount '1x' is not an N2 number" in str(errors[0])


def test_an_n2_amount_with_a_decimal_point_is_read_as_written_and_warned_about() -> None:
    data = one_set("BIG*20261118*X", "N1*SE*Acme", "IT1*1*1*EA*5", "SAC*C*D240***1.50", "TDS*6.50")
    assert ack_body(data) == [
        "AK2*810*0001",
        "AK3*SAC*5**8",
        "AK4*5*610*6*1.50",
        "AK3*TDS*6**8",
        "AK4*1*610*6*6.50",
        "AK5*E",
        "AK9*E*1*1*1",
    ]
    (bill,) = read_x12(data)[0].documents
    assert (bill.total, bill.lines[1].amount) == (Decimal("6.50"), Decimal("1.50"))


def test_a_malformed_segment_id_inside_a_set_gets_ak3_code_1() -> None:
    text = SAMPLE.replace("PID*F****Blue widget~", "PID*F****Blue widget~~x y*1~").replace("SE*13*0001", "SE*15*0001")
    assert ack_body(text.encode())[:5] == ["AK2*810*0001", "AK3**9**1", "AK3*x y*10**1", "AK5*R*5", "AK2*810*0002"]


def test_unsupported_set_is_rejected_and_the_810_beside_it_still_parses() -> None:
    text = SAMPLE.replace("ST*810*0002", "ST*850*0002")
    result, _ = read_x12(text.encode())
    assert [doc.number for doc in result.documents] == ["INV-1001"]
    assert ack_body(text.encode())[2:4] == ["AK2*850*0002", "AK5*R*1"]


def test_missing_se_is_reported_at_the_next_st_and_the_next_set_parses() -> None:
    text = SAMPLE.replace("SE*13*0001~\n", "")
    result, _ = read_x12(text.encode())
    assert [doc.number for doc in result.documents] == ["INV-1002"]
    assert [(e.segment, e.element, e.code) for e in result.errors] == [(15, "SE", "2")]
    assert ack_body(text.encode()) == ["AK2*810*0001", "AK5*R*2", "AK2*810*0002", "AK5*A", "AK9*P*2*2*1"]


def test_streaming_iterator_yields_the_same_documents() -> None:
    streamed = list(
        iter_x12_documents(
            io.BytesIO((SAMPLE * 3).encode().replace(b"IEA*1*000000101~\nISA", b"IEA*1*000000101~ISA")), file="s.x12"
        )
    )
    assert [doc.number for doc in streamed] == ["INV-1001", "INV-1002"] * 3
    assert streamed[0] == read_x12(SAMPLE.encode(), file="s.x12")[0].documents[0]


def test_streaming_iterator_reports_the_errors_of_the_sets_it_skips() -> None:
    errors: list = []
    text = SAMPLE.replace("SE*13*0001", "SE*12*0001")
    streamed = list(iter_x12_documents(io.BytesIO(text.encode()), file="s.x12", errors=errors))
    assert [doc.number for doc in streamed] == ["INV-1002"]
    assert [(e.file, e.segment, e.element, e.code) for e in errors] == [("s.x12", 15, "SE01", "4")]


def test_lines_built_on_the_fast_path_equal_lines_built_normally() -> None:
    from qbo_sftp_assets.formats.documents import Line, Source, line_from, source_at

    source = Source(file="f", segment=3, interchange="1", group="2", transaction_set="0001")
    fast = line_from({"amount": Decimal("1.50"), "item": "X", "source": source_at(source, 9)})
    normal = Line(Decimal("1.50"), item="X", source=Source("f", None, 9, "1", "2", "0001"))
    assert fast == normal and hash(fast.source) == hash(normal.source) and fast.as_dict() == normal.as_dict()


def test_bills_built_on_the_fast_path_equal_bills_built_normally() -> None:
    import dataclasses

    # The reader fills a VendorCredit from Bill's field template: that holds while it adds no field.
    assert dataclasses.fields(VendorCredit) == dataclasses.fields(Bill)
    credit = one_set("BIG*20261118*CM-1*****CR", "N1*RI*Acme*1*0123456789", "IT1**2*EA*5", "TDS*1000")
    documents = read_x12(SAMPLE.encode(), file="acme.x12")[0].documents + read_x12(credit)[0].documents
    for document in documents:
        values = {field.name: getattr(document, field.name) for field in dataclasses.fields(document)}
        rebuilt = type(document)(**values)
        assert document == rebuilt and hash(document) == hash(rebuilt) and document.as_dict() == rebuilt.as_dict()
    assert {type(document) for document in documents} == {Bill, VendorCredit}


def test_reading_leaves_the_garbage_collector_as_it_was() -> None:
    import gc

    assert gc.isenabled()
    read_x12(SAMPLE.encode())
    list(iter_x12_documents(io.BytesIO(SAMPLE.encode())))
    assert gc.isenabled()


def test_a_whole_file_read_hands_its_documents_to_the_oldest_gc_generation() -> None:
    import gc

    result, _ = read_x12(SAMPLE.encode())
    oldest = {id(obj) for obj in gc.get_objects(generation=2)}
    assert all(id(document) in oldest and id(document.lines[0]) in oldest for document in result.documents)
    assert gc.get_freeze_count() == 0


def test_reading_leaves_objects_frozen_by_someone_else_frozen() -> None:
    import gc

    # A sentinel, not the frozen count: other threads may free frozen objects meanwhile, which lowers the count.
    sentinel = [object()]
    gc.freeze()
    try:
        result, _ = read_x12(SAMPLE.encode())
        still_frozen = not any(tracked is sentinel for tracked in gc.get_objects())
        assert still_frozen and len(result.documents) == 2
    finally:
        gc.unfreeze()
    assert any(tracked is sentinel for tracked in gc.get_objects())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.-+eE _NaInf١", max_size=8))
def test_r_numbers_are_exactly_what_the_x12_r_type_allows(text: str) -> None:
    from qbo_sftp_assets.formats.x12.invoice_810 import parse_decimal

    allowed = re.fullmatch(r"-?(?:\d+\.?\d*|\.\d+)", text, re.ASCII) is not None
    assert (parse_decimal(text) is not None) == allowed
    if allowed:
        assert parse_decimal(text) == Decimal(text)
