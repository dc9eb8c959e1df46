"""INVOIC (D.96A) messages: one message's segments into a Bill or VendorCredit, and documents back into
an INVOIC interchange (for partners' test files, round-trip tests and benchmarks).

The document date is a DTM of the message level (after BGM, before the first segment group), by
preference DTM 137 (document/message date, what the D96A-D01B INVOIC guides name), then DTM 3
(invoice date/time), then DTM 182 (issue date); failing those, a DTM 137 placed later in the heading,
as some senders do. DTM 3 or 182 inside a group (after RFF, NAD...) dates that group's reference, not
the invoice. A date value must have exactly the length of its format (2379): 102 CCYYMMDD, 101 YYMMDD,
203 CCYYMMDDHHMM, 204 CCYYMMDDHHMMSS, 205 CCYYMMDDHHMM±HHMM.

A summary TAX group without its MOA 124 (the MOA is conditional there) takes its amount from the
summary: zero when its rate is 0 or its category exempt (E, Z, O); else the summary's total tax
(MOA 176, or a MOA 124 outside any group) less the other TAX groups' amounts. Several such groups
share that remainder as one tax line. Only when there is no summary tax amount to take it from is
the message refused; the invoice total is then checked against the lines as always.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any, BinaryIO

from qbo_sftp_assets.formats.decimals import MAX_DIGITS, DecimalCache, unsigned_number
from qbo_sftp_assets.formats.documents import (
    Bill,
    Line,
    PartyRef,
    Source,
    VendorCredit,
    bill_from,
    line_from,
    source_at,
)
from qbo_sftp_assets.formats.edifact.envelope import (
    INVALID_VALUE,
    MISSING,
    NOT_SUPPORTED_IN_POSITION,
    TOO_MANY_REPETITIONS,
    VALUE_NOT_SUPPORTED,
    SyntaxIssue,
)
from qbo_sftp_assets.formats.edifact.tokenizer import (
    DEFAULT_SERVICE_CHARACTERS,
    SYNTAX_ENCODINGS,
    Segment,
    ServiceCharacters,
    invalid_characters,
    is_digits,
    trim_empty,
)

BILL_CODES = frozenset({"380", "383", "384"})  # commercial invoice, debit note, corrected invoice
CREDIT_CODES = frozenset({"381"})  # credit note
DOCUMENT_DATE = "137"
# Document date qualifiers in order of preference (module docstring).
DOCUMENT_DATES = (DOCUMENT_DATE, "3", "182")
# Heading segments of the message level itself; any other one opens a segment group.
_MESSAGE_LEVEL_TAGS = frozenset({"BGM", "DTM", "PAI", "ALI", "IMD", "FTX"})
# What D.96A INVOIC's summary section holds after UNS: CNT, the MOA / TAX / ALC groups and their
# RFF, DTM and ALI. BGM comes right after UNH; UNS comes once.
_SUMMARY_TAGS = frozenset({"CNT", "MOA", "RFF", "DTM", "TAX", "ALC", "ALI"})
# The heading section's order before the first LIN: each tag's place, and the tags a group opened
# by a segment may hold after it (SG1 RFF+DTM, SG2 NAD+LOC/FII/RFF/DOC/CTA/COM, SG6 TAX+MOA/LOC,
# SG7 CUX+DTM, SG8 PAT+DTM/PCD/MOA, SG15 ALC+ALI/DTM/QTY/PCD/MOA/TAX/RTE). A tag with no place here
# (TDT, LOC outside a group, ...) is not checked.
_HEADING_ORDER = {
    "BGM": 1, "DTM": 2, "PAI": 3, "ALI": 4, "IMD": 5, "FTX": 6, "RFF": 7, "NAD": 8, "TAX": 9, "CUX": 10,
    "PAT": 11, "TDT": 12, "TOD": 13, "PAC": 14, "ALC": 15, "RCS": 16,
}  # fmt: skip
_GROUP_MEMBERS = {
    7: frozenset({"DTM"}),
    8: frozenset({"LOC", "FII", "RFF", "DOC", "CTA", "COM", "DTM"}),
    9: frozenset({"MOA", "LOC"}),
    10: frozenset({"DTM"}),
    11: frozenset({"DTM", "PCD", "MOA"}),
    15: frozenset({"ALI", "DTM", "QTY", "PCD", "MOA", "TAX", "RTE"}),
}
ZERO_TAX_CATEGORIES = frozenset({"E", "Z", "O"})  # exempt, zero-rated, outside the scope of tax
DUE_DATES = ("13", "140")  # terms net due date, payment due date
INVOICE_TOTALS = ("77", "86", "39")  # invoice amount, message total, invoice total: first present wins
LINE_AMOUNT = "203"
LINE_ITEMS_TOTAL = "79"
TAX_AMOUNT = "124"
TAX_AMOUNTS = frozenset({TAX_AMOUNT})
TOTAL_TAX = "176"
ALLOWANCE_CHARGE_AMOUNTS = frozenset({"8", "23", "131", "204"})
VENDOR_QUALIFIERS = ("SU", "SE", "II")  # supplier, seller, invoice issuer: first present wins
_CENT = Decimal("0.01")
_TAX_DESCRIPTION = re.compile(r"^([A-Z]{1,3})(?: (\d+(?:\.\d+)?)%)?$")
# Each date/time format (2379) as written out, by its length; no format given means 102.
_DATE_FORMATS = {
    "102": "CCYYMMDD",
    "": "CCYYMMDD",
    "101": "YYMMDD",
    "203": "CCYYMMDDHHMM",
    "204": "CCYYMMDDHHMMSS",
    "205": "CCYYMMDDHHMM+HHMM",
}
_NUMBERS = DecimalCache()


@dataclass(slots=True)
class _LineDraft:
    segment: Segment
    position: int
    item: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    net_price: Decimal | None = None
    gross_price: Decimal | None = None
    amount: Decimal | None = None
    amount_given: bool = False  # a MOA 203 was there (and reported if it was not a number)
    unit: str | None = None  # QTY 6411 measure unit, e.g. PCE


@dataclass
class _SummaryDraft:
    kind: str  # "tax", "charge", "allowance"
    segment: Segment
    position: int
    description: str | None
    amount: Decimal | None = None
    zero_rated: bool = False  # a TAX at rate 0 or of an exempt category


@dataclass(slots=True)
class InvoicMessageReader:
    """Reads one INVOIC message (its segments from UNH up to, not including, UNT).

    Like X12's 810 reader: `read` walks the segments, reading the detail section's own segments
    (MOA, QTY, PRI, IMD, PIA of the current line: most of a large file) inline, and hands every
    other segment, once its place in the message is checked, to the handler for its tag
    (`_HEADING_HANDLERS` before UNS, `_SUMMARY_HANDLERS` after). The handlers fill the fields below;
    `_finish` checks what must be there and builds the document.
    """

    body: list[Segment]
    file: str = ""
    interchange: str | None = None
    group: str | None = None
    issues: list[SyntaxIssue] = field(default_factory=list)
    parties: dict[str, PartyRef] = field(default_factory=dict)
    # The message's own Source (UNH position and references); its lines copy it at their segment.
    source: Source = field(init=False, repr=False)
    # What the handlers have read so far.
    bgm: tuple[Segment, int] | None = field(default=None, init=False, repr=False)
    # The best document-date DTM so far: (rank, segment, position, its composite).
    dated: tuple[int, Segment, int, list[str]] | None = field(default=None, init=False, repr=False)
    due_date: dt.date | None = field(default=None, init=False, repr=False)
    message_level: bool = field(default=True, init=False, repr=False)  # no segment group opened yet
    terms: str | None = field(default=None, init=False, repr=False)
    net_days: int | None = field(default=None, init=False, repr=False)
    currency: str | None = field(default=None, init=False, repr=False)
    memo: str | None = field(default=None, init=False, repr=False)
    po_number: str | None = field(default=None, init=False, repr=False)
    lines: list[_LineDraft] = field(default_factory=list, init=False, repr=False)
    current: _LineDraft | None = field(default=None, init=False, repr=False)  # the line being read
    summary: list[_SummaryDraft] = field(default_factory=list, init=False, repr=False)
    summary_group: _SummaryDraft | None = field(default=None, init=False, repr=False)  # the open TAX/ALC
    totals: dict[str, tuple[Decimal, Segment, int]] = field(default_factory=dict, init=False, repr=False)
    in_summary: bool = field(default=False, init=False, repr=False)
    heading_rank: int = field(default=0, init=False, repr=False)
    heading_tag: str = field(default="UNH", init=False, repr=False)

    def issue(
        self,
        code: str,
        text: str,
        seg: Segment | None,
        position: int,
        *,
        element: int | None = None,
        component: int | None = None,
        name: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.issues.append(
            SyntaxIssue(
                code,
                text,
                seg.tag if seg is not None else (name or "").split(" ")[0],
                segment=self.body[0].number + position - 1 if seg is None else seg.number,
                position=position,
                element=element,
                component=component,
                name=name,
                expected=expected,
            )
        )

    def decimal(self, raw: str, seg: Segment, position: int, element: int, component: int, name: str) -> Decimal | None:
        """`raw` as a Decimal (either decimal mark), None when empty; an issue (0085 12) when not a number."""
        cached = _NUMBERS.get(raw)
        if cached is not None:
            return cached
        if len(raw) <= MAX_DIGITS and raw.isascii() and raw.replace(".", "", 1).isdigit():
            return _NUMBERS.add(raw)  # the common case
        if raw == "":
            return None
        # The one number rule (`decimals.unsigned_number`), with either decimal mark.
        unsigned = raw[1:] if raw[:1] == "-" else raw
        value = unsigned_number(unsigned, "," if "," in unsigned else ".")
        if value is not None and raw[:1] == "-":
            value = -value
        if value is None:
            self.issue(
                INVALID_VALUE,
                f"{raw!r} is not a number",
                seg,
                position,
                element=element + 1,
                component=component + 1,
                name=name,
                expected=f"digits with an optional decimal mark, {MAX_DIGITS} at most",
            )
            return None
        return value

    def date(self, seg: Segment, position: int, dtm: list[str]) -> dt.date | None:
        value = dtm[1] if len(dtm) > 1 else ""
        fmt = dtm[2] if len(dtm) > 2 else ""
        pattern = _DATE_FORMATS.get(fmt)
        if pattern is None:
            self.issue(
                VALUE_NOT_SUPPORTED,
                f"date format {fmt!r} is not supported",
                seg,
                position,
                element=1,
                component=3,
                name="DTM 2379",
                expected="102 (CCYYMMDD), 203, 204, 205 or 101",
            )
            return None
        date = _read_date(value, pattern)
        if date is None:
            # A value longer than its format says is refused too: 12 digits under 102 may be a
            # CCYYMMDDHHMM meant as 203, or a typing error; the sender must say which.
            self.issue(
                INVALID_VALUE,
                f"{value!r} is not a date in format {fmt or '102'} ({pattern})",
                seg,
                position,
                element=1,
                component=2,
                name=f"DTM {dtm[0]} 2380",
                expected=pattern,
            )
        return date

    def read(self) -> Bill | None:
        """The document, or None when the message has errors (then in `issues`)."""
        body = self.body
        unh = body[0]
        self.source = Source(
            file=self.file,
            segment=unh.number,
            interchange=self.interchange,
            group=self.group,
            transaction_set=unh.get(0),
        )
        heading_handlers = _HEADING_HANDLERS
        summary_handlers = _SUMMARY_HANDLERS
        decimal = self.decimal
        cached_decimal = _NUMBERS.get
        current: _LineDraft | None = None  # `self.current`, kept in a local for the detail section
        for position, seg in enumerate(islice(body, 1, None), start=2):
            tag = seg.tag
            if current is not None:
                # Inside the detail section: the hot path of a large file.
                if tag == "MOA":
                    moa = seg.composite(0)
                    if len(moa) > 1 and moa[0] == LINE_AMOUNT:
                        # An empty amount is no amount: the line needs QTY and PRI then, or is refused.
                        current.amount_given = moa[1] != ""
                        current.amount = cached_decimal(moa[1]) or decimal(moa[1], seg, position, 0, 1, "MOA 203 5004")
                    continue
                if tag == "QTY":
                    qty = seg.composite(0)
                    if len(qty) > 1 and qty[0] == "47":
                        current.quantity = cached_decimal(qty[1]) or decimal(qty[1], seg, position, 0, 1, "QTY 47 6060")
                        current.unit = qty[2] if len(qty) > 2 and qty[2] else None
                    continue
                if tag == "PRI":
                    pri = seg.composite(0)
                    if len(pri) > 1:
                        if pri[0] == "AAA":
                            current.net_price = cached_decimal(pri[1]) or decimal(
                                pri[1], seg, position, 0, 1, "PRI AAA 5118"
                            )
                        elif pri[0] == "AAB":
                            current.gross_price = decimal(pri[1], seg, position, 0, 1, "PRI AAB 5118")
                    continue
                if tag == "IMD":
                    if current.description is None:
                        current.description = " ".join(filter(None, seg.composite(2)[3:5])) or None
                    continue
                if tag == "PIA":
                    if current.item is None:
                        current.item = seg.get(1, 0) or None
                    continue
                if tag == "LIN":
                    # The next line: in the detail section its place needs no check (`_in_place`).
                    current = _LineDraft(seg, position, item=seg.get(2, 0) or None)
                    self.lines.append(current)
                    continue
                if tag != "UNS" and tag != "CNT":
                    continue  # line-level DTM, NAD, TAX, ALC... do not describe the document
            if not self._in_place(seg, position, tag):
                continue
            handler = (summary_handlers if self.in_summary else heading_handlers).get(tag)
            if handler is not None:
                handler(self, seg, position)
                current = self.current
        self.current = current
        return self._finish()

    def _in_place(self, seg: Segment, position: int, tag: str) -> bool:
        """Whether the segment may stand where it is (an issue when not); follows the heading's order."""
        if self.in_summary:
            if tag in _SUMMARY_TAGS:
                return True
            self.issue(NOT_SUPPORTED_IN_POSITION, f"{tag[:20]} cannot come after UNS", seg, position, name=tag[:20])
            return False
        if tag == "CNT":
            self.issue(NOT_SUPPORTED_IN_POSITION, "CNT cannot come before UNS", seg, position, name="CNT")
            return False
        if tag == "BGM" and (position != 2 or self.bgm is not None):
            code = TOO_MANY_REPETITIONS if self.bgm is not None else NOT_SUPPORTED_IN_POSITION
            self.issue(code, "BGM must come once, right after UNH", seg, position, name="BGM")
            return False
        if not self.lines:
            rank = _HEADING_ORDER.get(tag)
            if rank is not None:
                heading_rank = self.heading_rank
                if rank < heading_rank and tag not in _GROUP_MEMBERS.get(heading_rank, ()):
                    self.issue(
                        NOT_SUPPORTED_IN_POSITION,
                        f"{tag} is out of the heading's order (after {self.heading_tag})",
                        seg,
                        position,
                        name=tag,
                        expected="BGM, DTM, PAI, FTX, RFF, NAD, TAX, CUX, PAT ... before the first LIN",
                    )
                    return False
                if rank > heading_rank:
                    self.heading_rank, self.heading_tag = rank, tag
        if self.message_level and tag not in _MESSAGE_LEVEL_TAGS:
            self.message_level = False
        return True

    # -- the heading section (before UNS) --------------------------------------------------------------

    def _bgm(self, seg: Segment, position: int) -> None:
        self.bgm = (seg, position)

    def _dtm(self, seg: Segment, position: int) -> None:
        dtm = seg.composite(0)
        qualifier = dtm[0] if dtm else ""
        if qualifier in DOCUMENT_DATES:
            rank = _document_date_rank(qualifier, self.message_level)
            if rank is not None and (self.dated is None or rank < self.dated[0]):
                self.dated = (rank, seg, position, dtm)
        elif qualifier in DUE_DATES and self.due_date is None:
            self.due_date = self.date(seg, position, dtm)

    def _nad(self, seg: Segment, position: int) -> None:
        qualifier = seg.get(0, 0)
        name = " ".join(filter(None, seg.composite(3))) or " ".join(filter(None, seg.composite(2)))
        self.parties.setdefault(qualifier, PartyRef(id=seg.get(1, 0) or None, name=name or None))

    def _cux(self, seg: Segment, position: int) -> None:
        if self.currency is None:
            self.currency = seg.get(0, 1) or None

    def _pat(self, seg: Segment, position: int) -> None:
        description = " ".join(c for c in seg.composite(1)[3:5] if c)
        self.terms = self.terms or description or None
        count = seg.get(2, 3)
        if is_digits(count) and seg.get(2, 2) in ("D", ""):
            self.net_days = int(count)
            self.terms = self.terms or f"Net {self.net_days}"

    def _rff(self, seg: Segment, position: int) -> None:
        if seg.get(0, 0) == "ON" and self.po_number is None:
            self.po_number = seg.get(0, 1) or None

    def _ftx(self, seg: Segment, position: int) -> None:
        if self.memo is None:
            self.memo = "".join(seg.composite(3)) or None

    def _lin(self, seg: Segment, position: int) -> None:
        self.current = _LineDraft(seg, position, item=seg.get(2, 0) or None)
        self.lines.append(self.current)

    def _uns(self, seg: Segment, position: int) -> None:
        self.in_summary = True
        self.current = None

    # -- the summary section (after UNS) ---------------------------------------------------------------

    def _summary_moa(self, seg: Segment, position: int) -> None:
        moa = seg.composite(0)
        qualifier = moa[0] if moa else ""
        amount = self.decimal(moa[1] if len(moa) > 1 else "", seg, position, 0, 1, f"MOA {qualifier} 5004")
        if amount is None:
            return
        group = self.summary_group
        wanted = TAX_AMOUNTS if group is not None and group.kind == "tax" else ALLOWANCE_CHARGE_AMOUNTS
        if group is not None and qualifier in wanted:
            group.amount = amount
        elif qualifier not in self.totals:
            self.totals[qualifier] = (amount, seg, position)

    def _summary_tax(self, seg: Segment, position: int) -> None:
        rate = seg.get(4, 3)
        kind = seg.get(1, 0) or "TAX"
        group = _SummaryDraft("tax", seg, position, f"{kind} {rate}%" if rate else kind)
        group.zero_rated = seg.get(5, 0) in ZERO_TAX_CATEGORIES or _is_zero(rate)
        self.summary_group = group
        self.summary.append(group)

    def _summary_alc(self, seg: Segment, position: int) -> None:
        kind = "allowance" if seg.get(0) == "A" else "charge"
        group = _SummaryDraft(kind, seg, position, seg.get(4, 3) or seg.get(4, 0) or None)
        self.summary_group = group
        self.summary.append(group)

    # -- after the last segment ------------------------------------------------------------------------

    def _finish(self) -> Bill | None:
        """The document once every segment is read, or None with the issues of what is missing or wrong."""
        heading = self._check_heading()
        if heading is None:
            return None
        doc_code, number, doc_date = heading
        built_lines = [self._build_line(draft) for draft in self.lines]
        summary = _fill_missing_tax(self.summary, self.totals)
        for draft in summary:
            if draft.amount is None:
                self.issue(
                    MISSING,
                    f"{draft.segment.tag} has no amount",
                    draft.segment,
                    draft.position,
                    name=f"{draft.segment.tag} MOA",
                    expected="MOA 124 in the group, or a summary MOA 176" if draft.kind == "tax" else "MOA 8",
                )
        if self.issues:
            return None
        assert doc_date is not None
        item_lines = [line for line in built_lines if line is not None]
        all_lines, total = self._lines_and_total(item_lines, summary)
        if self.issues:
            return None
        due_date = self.due_date
        if due_date is None and self.net_days is not None:
            due_date = doc_date + dt.timedelta(days=self.net_days)
        parties = self.parties
        vendor = next((parties[q] for q in VENDOR_QUALIFIERS if q in parties), PartyRef())
        return bill_from(
            VendorCredit if doc_code in CREDIT_CODES else Bill,
            {
                "vendor": vendor,
                "number": number,
                "date": doc_date,
                "lines": all_lines,
                "due_date": due_date,
                "terms": self.terms,
                "currency": self.currency,
                "memo": self.memo,
                "total": total,
                "po_number": self.po_number,
                "source": self.source,
            },
        )

    def _check_heading(self) -> tuple[str, str, dt.date | None] | None:
        """BGM's document code and number and the document date, with an issue for each that is
        missing or not supported; None when there is no BGM at all."""
        if self.bgm is None:
            self.issue(MISSING, "BGM segment is missing", None, 2, name="BGM", expected="BGM after UNH")
            return None
        bgm_seg, bgm_position = self.bgm
        doc_code, number = bgm_seg.get(0, 0), bgm_seg.get(1, 0)
        if doc_code not in BILL_CODES | CREDIT_CODES:
            self.issue(
                VALUE_NOT_SUPPORTED,
                f"document name code {doc_code!r} is not an invoice or credit note",
                bgm_seg,
                bgm_position,
                element=1,
                component=1,
                name="BGM 1001",
                expected="380 invoice, 381 credit note, 383 debit note or 384 corrected invoice",
            )
        if not number:
            self.issue(
                MISSING,
                "document number is missing",
                bgm_seg,
                bgm_position,
                element=2,
                component=1,
                name="BGM 1004",
                expected="the invoice number",
            )
        doc_date: dt.date | None = None
        if self.dated is None:
            self.issue(
                MISSING,
                "document date (DTM 137, 3 or 182) is missing",
                None,
                bgm_position + 1,
                name="DTM 137",
                expected="DTM+137:CCYYMMDD:102",
            )
        else:
            _, date_seg, date_position, dtm = self.dated
            doc_date = self.date(date_seg, date_position, dtm)
        if not self.in_summary:
            end_position = len(self.body) + 1
            self.issue(MISSING, "UNS summary separator is missing", None, end_position, name="UNS", expected="UNS+S")
        return doc_code, number, doc_date

    def _lines_and_total(
        self, item_lines: list[Line], summary: list[_SummaryDraft]
    ) -> tuple[tuple[Line, ...], Decimal | None]:
        """Item, tax and charge lines in that order, and the stated invoice total, each stated total
        checked against the lines (an issue when it differs)."""
        source = self.source
        totals = self.totals
        tax_lines = [self._summary_line(draft, source) for draft in summary if draft.kind == "tax"]
        other_lines = [self._summary_line(draft, source) for draft in summary if draft.kind != "tax"]
        if not tax_lines and TOTAL_TAX in totals:
            amount, seg, _ = totals[TOTAL_TAX]
            tax_lines.append(
                line_from(
                    {"amount": amount, "description": "TAX", "kind": "tax", "source": source_at(source, seg.number)}
                )
            )
        all_lines = (*item_lines, *tax_lines, *other_lines)
        items_total = sum((line.amount for line in item_lines), Decimal(0))
        if LINE_ITEMS_TOTAL in totals:
            stated, seg, position = totals[LINE_ITEMS_TOTAL]
            if stated != items_total:
                self._total_mismatch("79", "total line items", stated, items_total, seg, position)
        for qualifier in INVOICE_TOTALS:
            if qualifier in totals:
                total, seg, position = totals[qualifier]
                computed = sum((line.amount for line in all_lines), Decimal(0))
                if total != computed:
                    self._total_mismatch(qualifier, "invoice total", total, computed, seg, position)
                return all_lines, total
        return all_lines, None

    def _total_mismatch(
        self, qualifier: str, label: str, stated: Decimal, computed: Decimal, seg: Segment, position: int
    ) -> None:
        self.issue(
            INVALID_VALUE,
            f"MOA {qualifier} {label} {stated} does not equal the sum of the lines {computed}",
            seg,
            position,
            element=1,
            component=2,
            name=f"MOA {qualifier} 5004",
            expected=str(computed),
        )

    def _build_line(self, draft: _LineDraft) -> Line | None:
        price = draft.net_price if draft.net_price is not None else draft.gross_price
        amount = draft.amount
        if amount is None:
            if draft.amount_given:
                return None
            if draft.quantity is None or price is None:
                self.issue(
                    MISSING,
                    f"line {draft.segment.get(0) or draft.position} has no amount (MOA 203)",
                    draft.segment,
                    draft.position,
                    name="MOA 203",
                    expected="MOA+203:amount, or QTY 47 with PRI AAA",
                )
                return None
            amount = (draft.quantity * price).quantize(_CENT)
        return line_from(
            {
                "amount": amount,
                "description": draft.description,
                "quantity": draft.quantity,
                "unit_price": price,
                "item": draft.item,
                "unit": draft.unit,
                "source": source_at(self.source, draft.segment.number),
            }
        )

    def _summary_line(self, draft: _SummaryDraft, source: Source) -> Line:
        assert draft.amount is not None
        amount = -abs(draft.amount) if draft.kind == "allowance" else draft.amount
        return line_from(
            {
                "amount": amount,
                "description": draft.description,
                "kind": draft.kind,
                "source": source_at(source, draft.segment.number),
            }
        )


# The handler of each segment tag the reader reads, before UNS and after it; other tags are checked
# for their place and otherwise not read.
_HEADING_HANDLERS: dict[str, Callable[[InvoicMessageReader, Segment, int], None]] = {
    "BGM": InvoicMessageReader._bgm,
    "DTM": InvoicMessageReader._dtm,
    "NAD": InvoicMessageReader._nad,
    "CUX": InvoicMessageReader._cux,
    "PAT": InvoicMessageReader._pat,
    "RFF": InvoicMessageReader._rff,
    "FTX": InvoicMessageReader._ftx,
    "LIN": InvoicMessageReader._lin,
    "UNS": InvoicMessageReader._uns,
}
_SUMMARY_HANDLERS: dict[str, Callable[[InvoicMessageReader, Segment, int], None]] = {
    "MOA": InvoicMessageReader._summary_moa,
    "TAX": InvoicMessageReader._summary_tax,
    "ALC": InvoicMessageReader._summary_alc,
}


def _document_date_rank(qualifier: str, message_level: bool) -> int | None:
    """A document-date DTM's rank (lower is preferred); None when it dates something else."""
    if message_level:
        return DOCUMENT_DATES.index(qualifier)
    return len(DOCUMENT_DATES) if qualifier == DOCUMENT_DATE else None


def _read_date(value: str, pattern: str) -> dt.date | None:
    """The date of a DTM value written exactly as `pattern` (a `_DATE_FORMATS` value), else None."""
    zoned = pattern.endswith("+HHMM")
    digits = value[:12] + value[13:] if zoned else value
    if len(value) != len(pattern) or not is_digits(digits) or (zoned and value[12] not in "+-"):
        return None
    try:
        if pattern.startswith("YY"):
            date = dt.date(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]))
        else:
            date = dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        if len(pattern) > 8:
            dt.time(int(value[8:10]), int(value[10:12]), int(value[12:14]) if pattern.endswith("SS") else 0)
    except ValueError:
        return None
    return date


def _is_zero(rate: str) -> bool:
    """A TAX rate (5278) that reads as zero, in either decimal mark."""
    digits = rate.replace(",", ".", 1).replace(".", "", 1)
    return bool(digits) and is_digits(digits) and int(digits) == 0


def _fill_missing_tax(
    summary: list[_SummaryDraft], totals: dict[str, tuple[Decimal, Segment, int]]
) -> list[_SummaryDraft]:
    """The summary groups, each TAX without a MOA given the amount the summary implies (module
    docstring); those that cannot be given one keep None, for the caller to refuse."""
    missing = [draft for draft in summary if draft.kind == "tax" and draft.amount is None]
    for draft in missing:
        if draft.zero_rated:
            draft.amount = Decimal(0)
    missing = [draft for draft in missing if draft.amount is None]
    stated = totals.get(TOTAL_TAX) or totals.get(TAX_AMOUNT)
    if not missing or stated is None:
        return summary
    known = sum((d.amount for d in summary if d.kind == "tax" and d.amount is not None), Decimal(0))
    remainder = stated[0] - known
    if remainder < 0:
        return summary  # the other groups already exceed the stated total: nothing to reconcile with
    first, *others = missing
    first.amount = remainder
    if others:
        first.description = " + ".join(d.description or "TAX" for d in missing)
        return [draft for draft in summary if not any(draft is other for other in others)]
    return summary


# -- writer -------------------------------------------------------------------------------------------


def _number(value: Decimal, chars: ServiceCharacters) -> str:
    text = format(value, "f")
    return text.replace(".", chars.decimal) if chars.decimal != "." else text


def _segment(chars: ServiceCharacters, tag: str, *elements: str | Iterable[str]) -> str:
    """A segment from already-escaped values; a tuple or list is a composite. Trailing empties are cut."""
    rendered = [v if isinstance(v, str) else chars.component.join(trim_empty(v)) for v in elements]
    while rendered and rendered[-1] == "":
        rendered.pop()
    return chars.element.join([tag, *rendered]) + chars.terminator


def _line_rank(line: Line) -> int:
    return {"item": 0, "tax": 1}.get(line.kind, 2)


def render_invoic_message(
    document: Bill, reference: str, chars: ServiceCharacters = DEFAULT_SERVICE_CHARACTERS
) -> list[str]:
    """The segments (UNH..UNT) of one INVOIC message for `document`, in D.96A order.

    Item lines become LIN groups; "tax" lines summary TAX + MOA 124; "charge" / "allowance" lines
    summary ALC + MOA 8 (an allowance is negative in the document, positive in the file).
    """
    esc = chars.escape
    s = _segment
    out = [
        s(chars, "UNH", esc(reference), ("INVOIC", "D", "96A", "UN")),
        s(chars, "BGM", "381" if isinstance(document, VendorCredit) else "380", esc(document.number or ""), "9"),
        s(chars, "DTM", (DOCUMENT_DATE, document.date.strftime("%Y%m%d"), "102")),
    ]
    if document.due_date is not None:
        out.append(s(chars, "DTM", ("13", document.due_date.strftime("%Y%m%d"), "102")))
    if document.memo:
        out.append(s(chars, "FTX", "AAI", "", "", esc(document.memo)))
    if document.po_number:
        out.append(s(chars, "RFF", ("ON", esc(document.po_number))))
    vendor = document.vendor
    out.append(s(chars, "NAD", "SU", (esc(vendor.id or ""), "", "92" if vendor.id else ""), "", esc(vendor.name or "")))
    if document.currency:
        out.append(s(chars, "CUX", ("2", esc(document.currency), "4")))
    if document.terms:
        out.append(s(chars, "PAT", "1", ("", "", "", esc(document.terms))))
    lines = sorted(document.lines, key=_line_rank)
    items = [line for line in lines if line.kind == "item"]
    for number, line in enumerate(items, start=1):
        out.append(s(chars, "LIN", str(number), "", (esc(line.item), "SA") if line.item else ""))
        if line.description:
            out.append(s(chars, "IMD", "F", "", ("", "", "", esc(line.description))))
        if line.quantity is not None:
            out.append(s(chars, "QTY", ("47", _number(line.quantity, chars), esc(line.unit or ""))))
        out.append(s(chars, "MOA", (LINE_AMOUNT, _number(line.amount, chars))))
        if line.unit_price is not None:
            out.append(s(chars, "PRI", ("AAA", _number(line.unit_price, chars))))
    out.append(s(chars, "UNS", "S"))
    out.append(s(chars, "MOA", (LINE_ITEMS_TOTAL, _number(sum((i.amount for i in items), Decimal(0)), chars))))
    if document.total is not None:
        out.append(s(chars, "MOA", ("77", _number(document.total, chars))))
    for line in lines:
        if line.kind == "tax":
            match = _TAX_DESCRIPTION.match(line.description or "")
            kind, rate = (match.group(1), match.group(2) or "") if match else ("VAT", "")
            out.append(s(chars, "TAX", "7", kind, "", "", ("", "", "", rate)))
            out.append(s(chars, "MOA", ("124", _number(line.amount, chars))))
        elif line.kind in ("charge", "allowance"):
            code = "A" if line.kind == "allowance" else "C"
            out.append(s(chars, "ALC", code, "", "", "", ("", "", "", esc(line.description or ""))))
            out.append(s(chars, "MOA", ("8", _number(abs(line.amount), chars))))
        elif line.kind != "item":
            raise ValueError(f"document {document.number!r}: a line of kind {line.kind!r} has no INVOIC form")
    out.append(s(chars, "UNT", str(len(out) + 1), esc(reference)))
    return out


def iter_invoic(
    documents: Iterable[Bill],
    *,
    sender: str,
    recipient: str,
    reference: str,
    as_of: dt.datetime,
    sender_qualifier: str = "14",
    recipient_qualifier: str = "14",
    syntax_id: str = "UNOC",
    syntax_version: str = "3",
    chars: ServiceCharacters = DEFAULT_SERVICE_CHARACTERS,
    una: bool = True,
    newline: bool = False,
) -> Iterator[bytes]:
    """Render one interchange holding an INVOIC per document, as encoded chunks (one per message)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    encoding = SYNTAX_ENCODINGS.get(syntax_id)
    if encoding is None:
        raise ValueError(f"syntax identifier {syntax_id!r} is not supported ({', '.join(SYNTAX_ENCODINGS)})")
    invalid = invalid_characters(syntax_id, chars.separators)
    assert invalid is not None
    esc = chars.escape
    stamp = as_of.astimezone(dt.UTC)
    date = stamp.strftime("%Y%m%d" if syntax_version == "4" else "%y%m%d")
    joiner = "\n" if newline else ""
    head = [chars.una()] if una or chars != DEFAULT_SERVICE_CHARACTERS else []
    head.append(
        _segment(
            chars,
            "UNB",
            (syntax_id, syntax_version),
            (esc(sender), sender_qualifier),
            (esc(recipient), recipient_qualifier),
            (date, stamp.strftime("%H%M")),
            esc(reference),
        )
    )
    yield (joiner.join(head) + joiner).encode(encoding)
    count = 0
    for count, document in enumerate(documents, start=1):
        segments = render_invoic_message(document, str(count), chars)
        found = invalid.search("".join(segments))
        if found is not None:
            raise ValueError(f"document {document.number!r} has a character outside {syntax_id}: {found.group()!r}")
        yield (joiner.join(segments) + joiner).encode(encoding)
    yield (_segment(chars, "UNZ", str(count), esc(reference)) + joiner).encode(encoding)


def write_invoic(documents: Iterable[Bill], **options: Any) -> bytes:
    """The whole interchange as bytes; keyword options as for `iter_invoic`."""
    return b"".join(iter_invoic(documents, **options))


def write_invoic_to(stream: BinaryIO, documents: Iterable[Bill], **options: Any) -> int:
    """Stream the interchange into a binary file (bounded memory); returns the bytes written."""
    written = 0
    for chunk in iter_invoic(documents, **options):
        written += stream.write(chunk)
    return written
