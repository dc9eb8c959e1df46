"""Application acks after posting: the CSV ack, the X12 824 and the EDIFACT APERAK say what QuickBooks holds.

Exact bytes for small cases, the outside readers (pyx12, pydifact) reading them, and our own readers
reading them back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from decimal import Decimal

import pytest
from pydifact.parser import Parser
from pyx12.x12file import X12Reader

from qbo_sftp_assets.config import EdifactIdentity, X12Identity
from qbo_sftp_assets.formats.control_numbers import InMemoryControlNumbers
from qbo_sftp_assets.formats.edifact import build_aperak, read_aperak, read_edifact
from qbo_sftp_assets.formats.errors import ParseError
from qbo_sftp_assets.formats.flat_ack import ACK_COLUMNS, build_posting_ack
from qbo_sftp_assets.formats.outcomes import DocumentOutcome, FileStatus, OutcomeStatus, file_status
from qbo_sftp_assets.formats.x12 import build_824, iter_segments, read_824, read_x12
from qbo_sftp_assets.formats.x12.advice_824 import split_message

AS_OF = dt.datetime(2026, 1, 5, 10, 30, tzinfo=dt.UTC)
UNMAPPED = "account '6999' is not mapped: add it to mapping.accounts or create it in QuickBooks, then replay"
OUTCOMES = [
    DocumentOutcome(
        0, "bill", "INV-1", OutcomeStatus.POSTED, "V1", "Acme", Decimal("10.50"), line=2, segment=4,
        transaction_set="0001", group="7", qbo_entity="Bill", qbo_id="145",
    ),
    DocumentOutcome(
        1, "bill", "INV-2", OutcomeStatus.REJECTED, "V1", "Acme", Decimal("20.00"), line=5, segment=12,
        transaction_set="0002", group="7", code="unmapped_account", reason=UNMAPPED,
    ),
    DocumentOutcome(
        2, "vendor_credit", "CM-3", OutcomeStatus.DUPLICATE, "V2", "Böhm", Decimal("3.00"), line=8, segment=20,
        transaction_set="0003", group="7", qbo_entity="VendorCredit", qbo_id="99",
        reason="already posted from bills-0104.csv",
    ),
    DocumentOutcome(
        3, "bill", "INV-4", OutcomeStatus.SKIPPED, "V2", "Böhm", Decimal("7.00"), line=9, segment=28,
        transaction_set="0004", group="7", code="6140", qbo_entity="Bill", qbo_id="150",
        reason="already in QuickBooks with other amounts; policy on_existing: skip",
    ),
]  # fmt: skip


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


# --- one file status --------------------------------------------------------------------------------


def test_file_status_is_worked_out_in_one_place_for_outcomes_and_parse_verdicts() -> None:
    assert file_status(OUTCOMES) is FileStatus.PARTIAL
    assert file_status(OUTCOMES[:1] + OUTCOMES[2:3]) is FileStatus.ACCEPTED
    assert file_status(OUTCOMES[1:2] + OUTCOMES[3:]) is FileStatus.REJECTED
    assert file_status([True, False]) is FileStatus.PARTIAL and file_status([]) is FileStatus.ACCEPTED
    assert file_status([True], file_rejected=True) is FileStatus.REJECTED


# --- the CSV ack after posting ------------------------------------------------------------------------


def test_posting_ack_names_each_documents_fate_and_its_quickbooks_record() -> None:
    ack = build_posting_ack(
        reversed(OUTCOMES),  # written in file order whatever order the outcomes come in
        file_name="bills.csv",
        sha256="ab" * 32,
        control_number=7,
        created_at=AS_OF,
        read_errors=[ParseError("amount is not a number", file="bills.csv", line=11, element="amount")],
    )
    table = rows(ack.content)
    assert list(table[0]) == list(ACK_COLUMNS)
    assert [(r["record"], r["status"], r["document_number"], r["qbo_entity"], r["qbo_id"]) for r in table] == [
        ("FILE", "", "", "", ""),
        ("DOCUMENT", "posted", "INV-1", "Bill", "145"),
        ("DOCUMENT", "rejected", "INV-2", "", ""),
        ("DOCUMENT", "duplicate", "CM-3", "VendorCredit", "99"),
        ("DOCUMENT", "skipped", "INV-4", "Bill", "150"),
        ("ERROR", "rejected", "", "", ""),
        ("END", "partial", "", "", ""),
    ]
    assert {r["revision"] for r in table} == {"1"}
    assert (table[2]["error_code"], table[2]["error_message"], table[2]["error_line"]) == (
        "unmapped_account",
        UNMAPPED,
        "5",
    )
    assert table[3]["error_message"] == "already posted from bills-0104.csv" and table[3]["error_line"] == ""
    assert (table[5]["error_line"], table[5]["error_field"]) == ("11", "amount")
    assert (table[6]["accepted"], table[6]["rejected"], table[6]["rows"]) == ("2", "2", "7")
    assert (ack.status, ack.accepted, ack.rejected) == (FileStatus.PARTIAL, 2, 2)
    assert ack.content.splitlines()[1] == (
        b"FILE,7,2026-01-05T10:30:00Z,bills.csv," + b"ab" * 32 + b",,,,,,,,,,,,,,,,,1,"
    )


def test_a_replay_is_a_new_revision_and_a_resent_file_is_a_duplicate_naming_the_earlier_one() -> None:
    replayed = [
        o if o.status is not OutcomeStatus.REJECTED else DocumentOutcome(
            1, "bill", "INV-2", OutcomeStatus.POSTED, qbo_entity="Bill", qbo_id="151", line=5
        )
        for o in OUTCOMES[:3]
    ]  # fmt: skip
    second = build_posting_ack(
        replayed, file_name="bills.csv", sha256="ab" * 32, control_number=8, created_at=AS_OF, revision=2
    )
    assert second.status is FileStatus.ACCEPTED and {r["revision"] for r in rows(second.content)} == {"2"}
    resent = [
        DocumentOutcome(o.record_index, o.document_type, o.document_number, OutcomeStatus.DUPLICATE,
                        qbo_entity=o.qbo_entity, qbo_id=o.qbo_id)
        for o in replayed
    ]  # fmt: skip
    duplicate = build_posting_ack(
        resent, file_name="bills-again.csv", sha256="cd" * 32, control_number=9, created_at=AS_OF,
        duplicate_of="bills.csv",
    )  # fmt: skip
    table = rows(duplicate.content)
    assert duplicate.status is FileStatus.DUPLICATE
    assert (table[0]["duplicate_of"], table[-1]["duplicate_of"], table[-1]["status"]) == (
        "bills.csv",
        "bills.csv",
        "duplicate",
    )
    assert [r["qbo_id"] for r in table[1:-1]] == ["145", "151", "99"]
    with pytest.raises(ValueError, match="revision"):
        build_posting_ack([], file_name="x", sha256="", control_number=1, created_at=AS_OF, revision=0)


# --- X12 824 -----------------------------------------------------------------------------------------

PARTNER_X12 = X12Identity(our_id="QBOBUYER", partner_id="ACMESUPPLY")
EXPECTED_824 = (
    "ISA*00*          *00*          *ZZ*QBOBUYER       *ZZ*ACMESUPPLY     *260105*1030*U*00401*000000005*0*P*:~"
    "GS*AG*QBOBUYER*ACMESUPPLY*20260105*1030*5*X*004010~"
    "ST*824*0005~"
    "BGN*00*bills.x12*20260105*1030~"
    "OTI*TR*IV*INV-2*****7*0002*810~"
    "TED*024*account '6999' is not mapped add it to mapping.accounts or~"
    "NTE**create it in QuickBooks, then replay~"
    "OTI*TE*IV*INV-4*****7*0004*810~"
    "TED*006*already in QuickBooks with other amounts; policy on_existing~"
    "NTE**skip~"
    "SE*9*0005~"
    "GE*1*5~"
    "IEA*1*000000005~"
)


def test_824_reports_the_invoices_not_posted_exactly() -> None:
    data = build_824(
        OUTCOMES, parties=PARTNER_X12, control_numbers=InMemoryControlNumbers(5), as_of=AS_OF, reference="bills.x12"
    )
    assert data.decode() == EXPECTED_824


def test_824_is_read_by_pyx12_and_by_our_envelope_reader_and_tokenizer() -> None:
    data = build_824(
        OUTCOMES, parties=PARTNER_X12, control_numbers=InMemoryControlNumbers(5), as_of=AS_OF, reference="bills.x12",
        revision=2, line_breaks=True,
    )  # fmt: skip
    reader = X12Reader(io.StringIO(data.decode()))
    segment_ids, errors = [], []
    for segment in reader:
        segment_ids.append(segment.get_seg_id())
        errors.extend(reader.pop_errors())
    assert errors == [] and segment_ids[:4] == ["ISA", "GS", "ST", "BGN"] and segment_ids.count("OTI") == 2
    # Our reader checks the envelope (counts, control numbers) and knows the 824 is not an invoice.
    result, acknowledgment = read_x12(data, file="advice.x12")
    (interchange,) = acknowledgment.interchanges
    assert interchange.codes == [] and interchange.groups[0].codes == []
    (set_ack,) = interchange.groups[0].sets
    assert (set_ack.set_id, set_ack.segment_errors, set_ack.segment_count) == ("824", [], 9)
    assert result.documents == []
    entries = read_824(elements for _position, elements, _delimiters in iter_segments(io.BytesIO(data)))
    assert [(e.code, e.reference, e.group, e.transaction_set, e.set_id) for e in entries] == [
        ("TR", "INV-2", "7", "0002", "810"),
        ("TE", "INV-4", "7", "0004", "810"),
    ]
    assert entries[0].errors == (("024", UNMAPPED.replace(":", "")),)
    assert b"BGN*05*bills.x12" in data  # a later revision replaces the first advice


def test_824_owes_nothing_when_every_document_was_posted_and_names_all_when_asked() -> None:
    posted = [OUTCOMES[0], OUTCOMES[2]]
    common = {"parties": PARTNER_X12, "as_of": AS_OF, "reference": "f"}
    assert build_824(posted, control_numbers=InMemoryControlNumbers(), **common) == b""
    everything = build_824(posted, control_numbers=InMemoryControlNumbers(), include_accepted=True, **common)
    assert b"OTI*TA*IV*INV-1*****7*0001*810~OTI*TA*IV*CM-3" in everything and b"TED" not in everything


def test_ted_text_is_cut_at_a_word_within_60_and_the_rest_goes_to_notes() -> None:
    head, notes = split_message("word " * 100)
    assert len(head) <= 60 and head.endswith("word") and all(len(n) <= 80 for n in notes)
    assert len(notes) == 5 and notes[-1].endswith("...")
    assert split_message("x" * 70) == ("x" * 60, ["x" * 10])
    assert split_message("short") == ("short", [])


# --- EDIFACT APERAK ----------------------------------------------------------------------------------

PARTNER_EDIFACT = EdifactIdentity(our_id="QBOBUYER", our_qualifier="14", partner_id="ACME", partner_qualifier="14")
EXPECTED_APERAK = (
    "UNA:+.? '"
    "UNB+UNOC:3+QBOBUYER:14+ACME:14+260105:1030+500'"
    "UNH+1+APERAK:D:96A:UN'BGM+12E::9+inv.edi-1+27'DTM+137:202601051030:203'"
    "RFF+ACW:0002'RFF+IV:INV-2'ERC+REJECTED::92'"
    "FTX+AAO+++account ?'6999?' is not mapped?: add it to mapping.accounts or create it in QuickBooks, then replay'"
    "UNT+8+1'"
    "UNH+2+APERAK:D:96A:UN'BGM+12E::9+inv.edi-2+27'DTM+137:202601051030:203'"
    "RFF+ACW:0004'RFF+IV:INV-4'ERC+6140::92'"
    "FTX+AAO+++already in QuickBooks with other amounts; policy on_existing?: skip'"
    "UNT+8+2'"
    "UNZ+2+500'"
)


def test_aperak_reports_each_invoice_not_posted_exactly() -> None:
    data = build_aperak(
        OUTCOMES, identity=PARTNER_EDIFACT, control_numbers=InMemoryControlNumbers(500), as_of=AS_OF,
        reference="inv.edi",
    )  # fmt: skip
    assert data.decode("latin-1") == EXPECTED_APERAK


def test_aperak_is_parsed_by_pydifact_and_read_back_by_our_readers() -> None:
    data = build_aperak(
        OUTCOMES, identity=PARTNER_EDIFACT, control_numbers=InMemoryControlNumbers(500), as_of=AS_OF,
        reference="inv.edi",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = [(s.tag, s.elements) for s in Parser().parse(data.decode("latin-1"))]
    assert ("ERC", [["REJECTED", "", "92"]]) in parsed and ("RFF", [["IV", "INV-4"]]) in parsed
    assert [tag for tag, _ in parsed].count("UNH") == 2
    result = read_edifact(data, file="aperak.edi")
    (interchange,) = result.interchanges
    assert interchange.issues == [] and interchange.is_acknowledgment and result.documents == []
    assert all(m.issues == [] for m in interchange.messages)
    reports = read_aperak(data)
    assert [(r.message_reference, r.document_number, r.errors[0][0]) for r in reports] == [
        ("0002", "INV-2", "REJECTED"),
        ("0004", "INV-4", "6140"),
    ]
    assert reports[0].errors[0][1] == UNMAPPED


def test_aperak_follows_the_partners_syntax_level_and_owes_nothing_when_all_posted() -> None:
    unoa = PARTNER_EDIFACT.model_copy(update={"syntax": "UNOA"})
    data = build_aperak(
        OUTCOMES[3:], identity=unoa, control_numbers=InMemoryControlNumbers(), as_of=AS_OF, reference="x",
        error_codes={"6140": "DUPDOC"},
    )  # fmt: skip
    text = data.decode("latin-1")
    assert "UNB+UNOA:3" in text and "ERC+DUPDOC::92'" in text
    assert "FTX+AAO+++ALREADY IN QUICKBOOKS WITH OTHER AMOUNTS; POLICY ON EXISTING?: SKIP'" in text
    assert read_aperak(data)[0].document_number == "INV-4"
    assert (
        build_aperak(OUTCOMES[:1], identity=unoa, control_numbers=InMemoryControlNumbers(), as_of=AS_OF, reference="x")
        == b""
    )


def test_an_edifact_identity_takes_every_syntax_level_the_reader_decodes_and_aperak_encodes_in_it() -> None:
    from typing import get_args

    from qbo_sftp_assets.formats.edifact.tokenizer import SYNTAX_ENCODINGS
    from qbo_sftp_assets.formats.identities import EdifactSyntax

    assert set(get_args(EdifactSyntax)) == set(SYNTAX_ENCODINGS)
    for level in ("UNOD", "UNOK", "UNOW", "UNOY"):
        assert EdifactIdentity(our_id="US", partner_id="THEM", syntax=level).syntax == level
    identity = PARTNER_EDIFACT.model_copy(update={"syntax": "UNOW"})
    rejected = DocumentOutcome(0, "bill", "F-1", OutcomeStatus.REJECTED, reason="vendor Müller not mapped")
    data = build_aperak(
        [rejected], identity=identity, control_numbers=InMemoryControlNumbers(7), as_of=AS_OF, reference="f.edi"
    )
    text = data.decode("utf-8")  # UNOW is UTF-8 on the wire, not Latin-1
    assert "UNB+UNOW:3+" in text and "Müller" in text
