"""X12 810 invoice: reading a set into a Bill / VendorCredit, and writing invoices and bills for partners.

Mapping per docs/edi-rules.md §2: BIG, N1, CUR, ITD/DTM terms and due date, IT1 + PID lines, SAC charges and
allowances, TDS total (implied 2 decimals) checked against the lines.

The vendor is the first of N1*SE (selling party), VN (vendor), SU (supplier) and RI (remit-to, where
many retail guides put the vendor's own name and id). N1*RE is never the vendor: it is the party that
receives the remittance, often a bank or a factor. A set with none of the four is valid X12, so its
997 accepts it, but its bill is withheld with a `VendorMissingError`: posting must not guess who billed.

Direction: an 810 is a bill to us unless its interchange was sent by us. The reader is told our ids
(`read_x12(our_ids=...)`); when ISA06 or GS02 is one of them, N1*SE is us and each set is an Invoice
to the N1*BT (else N1*BY) customer, and one with neither is withheld with a `CustomerMissingError`.
Our outbound 810s always carry both N1*SE (us) and N1*BT (the customer).

Allowances and charges (SAC) become lines of their own, signed by SAC01; SAC01 = N ("no allowance or
charge") is an informational line of amount zero. TDS01 is the invoice total after all of them: the
IT1 extensions, the SACs inside each IT1 loop (which adjust their line), and the summary SACs that
follow TDS. A TDS01 that does not add up gets AK3 code 8 with the AK4 naming TDS01.

Segments must come in the 810's order (header with BIG before the others, IT1 loops, TDS and the
summary, CTT last): one out of its place gets AK304 code 7 and rejects the set, as a translator does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, TypeVar

from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.decimals import MAX_DIGITS, DecimalCache, unsigned_number
from qbo_sftp_assets.formats.documents import (
    LINE_DEFAULTS,
    Bill,
    Invoice,
    Line,
    PartyRef,
    Source,
    Transaction,
    VendorCredit,
    bill_from,
    from_fields,
    invoice_from,
    line_from,
    source_at,
)
from qbo_sftp_assets.formats.errors import CustomerMissingError, VendorMissingError
from qbo_sftp_assets.formats.identities import X12Identity
from qbo_sftp_assets.formats.x12 import codes
from qbo_sftp_assets.formats.x12.envelope import ElementIssue, SegmentIssue, element
from qbo_sftp_assets.formats.x12.tokenizer import Delimiters
from qbo_sftp_assets.formats.x12.writer import (
    DEFAULT_DELIMITERS,
    GroupSpec,
    Parties,
    SegmentWriter,
    X12WriteError,
    as_parties,
    group_version,
    write_interchange,
)

VENDOR_ENTITY_CODES = ("SE", "VN", "SU", "RI")  # first present wins; RE (remittance) never
CUSTOMER_ENTITY_CODES = ("BT", "BY")  # of our own invoices: bill-to, else buyer
REMITTANCE_ENTITY_CODE = "RE"
NO_ALLOWANCE_OR_CHARGE = "N"
# AK403 for a TDS01 that does not add up: no code names a sum, 7 (invalid value) is the nearest.
TOTAL_MISMATCH_CODE = "7"
CREDIT_TRANSACTION_TYPES = frozenset({"CR"})
# Preference among IT1 product-id qualifiers for the line's item code.
ITEM_QUALIFIERS = ("VN", "VP", "BP", "IN", "UP", "UA")
DUE_DATE_QUALIFIER = "814"
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


# Segment order of the 810 (004010, docs/edi-rules.md §2.1). The header's segments by position; BIG is first and
# an N1 loop holds N2-N4, REF, PER and DMG after its N1. IT1 loops may hold most segments, never
# these header-only ones. After TDS only the summary's segments, CTT last.
HEADER_ORDER = {
    "BIG": 1, "NTE": 2, "CUR": 3, "REF": 4, "YNQ": 5, "PER": 6,
    "N1": 7, "N2": 7, "N3": 7, "N4": 7, "DMG": 7,
    "ITD": 8, "DTM": 9, "FOB": 10, "PID": 11, "MEA": 12, "PWK": 13, "PKG": 14, "L7": 15, "BAL": 16,
    "INC": 17, "PAM": 18, "LM": 19, "LQ": 19, "N9": 20, "MSG": 20, "V1": 21, "FA1": 22, "FA2": 22,
}  # fmt: skip
N1_LOOP_RANK = HEADER_ORDER["N1"]
N1_LOOP_MEMBERS = frozenset({"REF", "PER"})
HEADER_ONLY_SEGMENTS = frozenset({"BIG", "FOB", "BAL", "INC"})
SUMMARY_SEGMENTS = frozenset({"TXI", "CAD", "AMT", "SAC", "ISS", "PID", "CTT"})
SUMMARY_ONLY_SEGMENTS = frozenset({"TDS", "AMT", "ISS", "CTT"})

_NO_PARTY = PartyRef()
_R_NUMBERS = DecimalCache()
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}", re.ASCII)


def _preferred_item(elements: list[str]) -> str | None:
    """The IT1 product id to use as the item: by ITEM_QUALIFIERS preference, else the first one."""
    ids: dict[str, str] = {}
    for index in range(6, min(len(elements), 26), 2):
        qualifier, value = elements[index], element(elements, index + 1)
        if qualifier and value and qualifier not in ids:
            ids[qualifier] = value
    return next((ids[q] for q in ITEM_QUALIFIERS if q in ids), next(iter(ids.values()), None))


def parse_date(value: str) -> dt.date | None:
    """CCYYMMDD → date, None when not a valid date."""
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def parse_decimal(value: str) -> Decimal | None:
    """An X12 R number under the one number rule (`decimals.unsigned_number`): an optional leading
    minus, digits with at most one decimal point, 18 digits at most; None otherwise."""
    number = _R_NUMBERS.get(value)
    if number is not None:
        return number
    # Decimal() alone would also take "1e5" or "NaN"; the rule's check is in string methods.
    digits = value[1:] if value[:1] == "-" else value
    if unsigned_number(digits) is None:
        return None
    return _R_NUMBERS.add(value)


def parse_n2(value: str) -> tuple[Decimal | None, bool]:
    """An N2 amount (implied 2 decimals): (amount, True if sent with an explicit decimal point)."""
    if "." in value:
        return parse_decimal(value), True
    digits = value[1:] if value[:1] == "-" else value
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > MAX_DIGITS:
        return None, False
    return Decimal(value).scaleb(-2), False


_Value = TypeVar("_Value")


@dataclass(frozen=True)
class ElementRule(Generic[_Value]):
    """One element check of the 810 header: where the element is, what it must be, and the AK4 it
    gets when it is not (`bad_code`; a required one left empty gets code 1)."""

    segment_id: str
    index: int
    reference: str  # the X12 data element number, AK402
    what: str
    parse: Callable[[str], _Value | None]  # the value, or None when the text breaks the rule
    expected: str
    bad_code: str
    required: bool = False


def _currency(text: str) -> str | None:
    return text.upper() if len(text) == 3 and text.isascii() and text.isalpha() else None


def _net_days(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


BIG01_DATE = ElementRule(
    "BIG", 1, "373", "invoice date", parse_date, "a CCYYMMDD date", codes.ELEMENT_INVALID_DATE, required=True
)
BIG02_NUMBER = ElementRule[str]("BIG", 2, "76", "invoice number", lambda t: t, "text", "", required=True)
CUR02_CURRENCY = ElementRule(
    "CUR", 2, "100", "currency", _currency, "a 3-letter code", codes.ELEMENT_INVALID_CODE, required=True
)
ITD06_DUE_DATE = ElementRule("ITD", 6, "446", "net due date", parse_date, "a CCYYMMDD date", codes.ELEMENT_INVALID_DATE)
ITD07_NET_DAYS = ElementRule("ITD", 7, "386", "net days", _net_days, "a number", codes.ELEMENT_INVALID_CHARACTER)


class Invoice810Reader:
    """Reads the body of one 810 set into a Bill or VendorCredit (the `SetHandler` of an IN group).

    With `seller_is_us` (the interchange was sent by one of our ids) the set is one of our own
    invoices: an Invoice to the N1*BT (else N1*BY) customer, whose N1*SE is us.
    """

    def __init__(self, source: Source, *, total_tolerance: Decimal = Decimal(0), seller_is_us: bool = False) -> None:
        self.source = source
        self.seller_is_us = seller_is_us
        self.total_tolerance = total_tolerance
        self.errors: list[SegmentIssue] = []
        self.date: dt.date | None = None
        self.number: str | None = None
        self.po_number: str | None = None
        self.transaction_type = ""
        self.seen_big = False
        self.memo: str | None = None
        self.currency: str | None = None
        self.parties: dict[str, PartyRef] = {}
        self.terms: str | None = None
        self.due_date: dt.date | None = None
        self.net_days: int | None = None
        self.dtm_due_date: dt.date | None = None
        self.lines: list[Line] = []
        self.pending: dict[str, object] | None = None
        self.in_detail = False
        self.total: Decimal | None = None
        self.raw_total = ""
        self.tds_position: tuple[int, int] | None = None
        self.in_summary = False
        self.line_level_adjustments = Decimal(0)  # the SACs inside IT1 loops, for a clearer mismatch
        self.header_rank = 0  # the highest HEADER_ORDER seen so far
        self.after_ctt = False
        self.last_position = 1

    def _fail(
        self,
        segment_id: str,
        position: int,
        file_position: int,
        message: str,
        *,
        element_position: int | None = None,
        reference: str | None = None,
        code: str = "1",
        data: str | None = None,
        segment_code: str = "8",
        fatal: bool = True,
        expected: str | None = None,
    ) -> None:
        elements = []
        if element_position is not None:
            elements.append(ElementIssue(element_position, code, reference, data or None))
        self.errors.append(
            SegmentIssue(segment_id, position, segment_code, message, file_position, elements, fatal, expected)
        )

    def read(
        self, body: list[list[str]], first_position: int
    ) -> tuple[Transaction | VendorMissingError | CustomerMissingError | None, list[SegmentIssue]]:
        """Read the segments between ST and SE (the first at file position `first_position`); the
        document, or the error withholding a sound set that names no party, or None when rejected."""
        # IT1 and PID are nearly every segment of a large invoice, so both are read right here with
        # locals (methods and templates bound once per set), without a call per segment. `pending`
        # (the last IT1's Line fields, waiting for its PID) and `in_detail` are synced with their
        # attributes around the other readers, the only ones that look at them.
        readers = _SEGMENT_READERS
        append_line = self.lines.append
        new_source_fields = self.source.__dict__.copy
        new_line_fields = LINE_DEFAULTS.copy
        cached_decimal = _R_NUMBERS.get
        cent = _CENT
        build = from_fields
        pending = self.pending
        in_detail = self.in_detail
        for offset, elements in enumerate(body):
            segment_id = elements[0]
            if segment_id == "IT1":
                if pending is not None:
                    append_line(build(Line, pending))
                    pending = None
                if self.in_summary:
                    self._out_of_sequence("IT1", offset + 2, first_position + offset)
                    continue
                in_detail = True
                count = len(elements)
                raw_quantity = elements[2] if count > 2 else ""
                raw_price = elements[4] if count > 4 else ""
                quantity = cached_decimal(raw_quantity) or parse_decimal(raw_quantity)
                price = cached_decimal(raw_price) or parse_decimal(raw_price)
                if quantity is None or price is None:
                    self._it1_errors(offset + 2, first_position + offset, raw_quantity, quantity, raw_price, price)
                    continue
                if count == 8 and elements[6]:
                    item = elements[7] or None
                elif count > 7:
                    item = _preferred_item(elements)
                else:
                    item = None
                source_fields = new_source_fields()
                source_fields["segment"] = first_position + offset
                source = build(Source, source_fields)
                pending = new_line_fields()
                pending["amount"] = (quantity * price).quantize(cent, ROUND_HALF_UP)
                pending["quantity"] = quantity
                pending["unit_price"] = price
                pending["unit"] = (elements[3] or None) if count > 3 else None
                pending["item"] = item
                pending["source"] = source
            elif segment_id == "PID":
                if (
                    pending is not None
                    and pending["description"] is None
                    and len(elements) > 5
                    and elements[1] in ("F", "X")
                ):
                    pending["description"] = elements[5] or None
            else:
                if not self._in_sequence(segment_id, in_detail):
                    self.in_detail = in_detail
                    self._out_of_sequence(segment_id, offset + 2, first_position + offset)
                    continue
                reader = readers.get(segment_id)
                if reader is not None:
                    self.pending = pending
                    self.in_detail = in_detail
                    reader(self, elements, offset + 2, first_position + offset)
                    pending = self.pending
                    in_detail = self.in_detail
                elif _SEGMENT_ID.fullmatch(segment_id) is None:
                    self._fail(
                        segment_id[:3],
                        offset + 2,
                        first_position + offset,
                        f"segment id {segment_id[:20]!r} is not a valid X12 segment id",
                        segment_code="1",
                        expected="2 or 3 upper-case letters and digits",
                    )
        self.pending = pending
        self.in_detail = in_detail
        self.last_position = len(body) + 1
        return self.finish()

    def _in_sequence(self, segment_id: str, in_detail: bool) -> bool:
        """Whether a segment (other than IT1 / PID) may come here, by the 810's tables (docs/edi-rules.md §2.1):
        the header in its order (BIG before the others), then IT1 loops, then TDS and the summary, CTT last."""
        if self.after_ctt:
            return False
        if self.in_summary:
            if segment_id == "CTT":
                self.after_ctt = True
            return segment_id in SUMMARY_SEGMENTS
        if in_detail:
            return segment_id not in HEADER_ONLY_SEGMENTS and (
                segment_id not in SUMMARY_ONLY_SEGMENTS or segment_id == "TDS"
            )
        rank = HEADER_ORDER.get(segment_id)
        if rank is None:
            return segment_id not in SUMMARY_ONLY_SEGMENTS or segment_id == "TDS"
        if rank < self.header_rank and not (self.header_rank == N1_LOOP_RANK and segment_id in N1_LOOP_MEMBERS):
            return False
        self.header_rank = max(rank, self.header_rank)
        return True

    def _out_of_sequence(self, segment_id: str, position: int, file_position: int) -> None:
        area = "after TDS" if self.in_summary else "in an IT1 loop" if self.in_detail else "in the header there"
        self._fail(
            segment_id,
            position,
            file_position,
            f"{segment_id} cannot come {area}: segment not in its place in the 810",
            segment_code=codes.SEGMENT_OUT_OF_SEQUENCE,
            expected="the 810's segment order: BIG, header (N1 loops, ITD, DTM), IT1 loops, TDS, summary, CTT",
        )

    def _source(self, file_position: int) -> Source:
        return source_at(self.source, file_position)

    def _flush_item(self) -> None:
        pending = self.pending
        if pending is not None:
            self.lines.append(from_fields(Line, pending))
            self.pending = None

    def _checked(
        self, elements: list[str], rule: ElementRule[_Value], position: int, file_position: int
    ) -> _Value | None:
        """The element `rule` names, parsed; None (with its AK3/AK4) when it breaks the rule. An
        optional element left empty is None without an error."""
        raw = element(elements, rule.index)
        value = rule.parse(raw) if raw else None
        if value is None and (raw or rule.required):
            name = f"{rule.segment_id}{rule.index:02d}"
            problem = f"{raw!r} is not {rule.expected}" if raw else "is missing"
            self._fail(
                rule.segment_id,
                position,
                file_position,
                f"{name} {rule.what} {problem}",
                element_position=rule.index,
                reference=rule.reference,
                code=rule.bad_code if raw else codes.ELEMENT_MANDATORY_MISSING,
                data=raw,
            )
        return value

    def _big(self, elements: list[str], position: int, file_position: int) -> None:
        if self.seen_big:
            self._fail(
                "BIG",
                position,
                file_position,
                "BIG appears more than once",
                segment_code=codes.SEGMENT_EXCEEDS_MAXIMUM_USE,
            )
            return
        self.seen_big = True
        self.date = self._checked(elements, BIG01_DATE, position, file_position)
        self.number = self._checked(elements, BIG02_NUMBER, position, file_position)
        self.po_number = element(elements, 4) or None
        self.transaction_type = element(elements, 7)

    def _nte(self, elements: list[str], position: int, file_position: int) -> None:
        if not self.in_detail and self.memo is None:
            self.memo = element(elements, 2) or None

    def _cur(self, elements: list[str], position: int, file_position: int) -> None:
        if self.in_detail or self.currency is not None:
            return
        self.currency = self._checked(elements, CUR02_CURRENCY, position, file_position)

    def _n1(self, elements: list[str], position: int, file_position: int) -> None:
        if self.in_detail:
            return
        entity = element(elements, 1)
        if entity not in self.parties:
            self.parties[entity] = PartyRef(id=element(elements, 4) or None, name=element(elements, 2) or None)

    def _itd(self, elements: list[str], position: int, file_position: int) -> None:
        if self.in_detail:
            return
        due_date = self._checked(elements, ITD06_DUE_DATE, position, file_position)
        if due_date is not None or element(elements, 6):
            self.due_date = due_date
        net_days = self._checked(elements, ITD07_NET_DAYS, position, file_position)
        if net_days is not None:
            self.net_days = net_days
        text = element(elements, 12)
        if text:
            self.terms = text
        elif self.net_days is not None:
            discount, discount_days = element(elements, 3), element(elements, 5)
            prefix = f"{discount}% {discount_days} " if discount and discount_days else ""
            self.terms = f"{prefix}Net {self.net_days}"

    def _dtm(self, elements: list[str], position: int, file_position: int) -> None:
        if not self.in_detail and element(elements, 1) == DUE_DATE_QUALIFIER:
            self.dtm_due_date = parse_date(element(elements, 2))

    def _it1_errors(
        self,
        position: int,
        file_position: int,
        raw_quantity: str,
        quantity: Decimal | None,
        raw_price: str,
        price: Decimal | None,
    ) -> None:
        for value, raw, index, reference, name in (
            (quantity, raw_quantity, 2, "358", "quantity"),
            (price, raw_price, 4, "212", "unit price"),
        ):
            if value is None:
                self._fail(
                    "IT1",
                    position,
                    file_position,
                    f"IT10{index} {name} {raw!r} is not a number",
                    element_position=index,
                    reference=reference,
                    code="6" if raw else "2",
                    data=raw,
                )

    def _sac(self, elements: list[str], position: int, file_position: int) -> None:
        self._flush_item()
        indicator = element(elements, 1)
        if indicator == NO_ALLOWANCE_OR_CHARGE:
            # A listed code of element 248: the segment informs (a code, a description) and moves no money.
            self.lines.append(
                line_from(
                    {
                        "amount": Decimal(0),
                        "description": element(elements, 15) or None,
                        "item": element(elements, 2) or None,
                        "kind": "information",
                        "source": self._source(file_position),
                    }
                )
            )
            return
        if indicator not in ("A", "C"):
            self._fail(
                "SAC",
                position,
                file_position,
                f"SAC01 {indicator!r} is neither A (allowance), C (charge) nor N (no allowance or charge)",
                element_position=1,
                reference="248",
                code="7" if indicator else "1",
                data=indicator,
            )
            return
        # SAC05 is required once SAC01 says allowance or charge (AK403 2 when it is missing).
        amount = self._n2_element("SAC", elements, 5, "amount", position, file_position, missing_code="2")
        if amount is None:
            return
        allowance = indicator == "A"
        signed = -amount if allowance else amount
        if self.in_detail and not self.in_summary:
            self.line_level_adjustments += signed
        self.lines.append(
            line_from(
                {
                    "amount": signed,
                    "description": element(elements, 15) or None,
                    "item": element(elements, 2) or None,
                    "kind": "allowance" if allowance else "charge",
                    "source": self._source(file_position),
                }
            )
        )

    def _n2_element(
        self,
        segment_id: str,
        elements: list[str],
        index: int,
        what: str,
        position: int,
        file_position: int,
        *,
        missing_code: str,
    ) -> Decimal | None:
        """Element `index` as an N2 amount (implied 2 decimals); None, with an AK4 error, when it is not
        one. A decimal point is read as written but warned about: the set is still accepted."""
        raw = element(elements, index)
        amount, explicit = parse_n2(raw)
        name = f"{segment_id}{index:02d}"
        if amount is None:
            self._fail(
                segment_id,
                position,
                file_position,
                f"{name} {what} {raw!r} is not an N2 number",
                element_position=index,
                reference="610",
                code="6" if raw else missing_code,
                data=raw,
            )
        elif explicit:
            self._fail(
                segment_id,
                position,
                file_position,
                f"{name} {raw!r} has a decimal point in an N2 (implied decimals) amount",
                element_position=index,
                reference="610",
                code="6",
                data=raw,
                fatal=False,
            )
        return amount

    def _tds(self, elements: list[str], position: int, file_position: int) -> None:
        self._flush_item()
        if self.in_summary:
            self._fail(
                "TDS",
                position,
                file_position,
                "TDS appears more than once",
                segment_code=codes.SEGMENT_EXCEEDS_MAXIMUM_USE,
            )
            return
        self.in_detail = True
        self.in_summary = True
        total = self._n2_element("TDS", elements, 1, "total", position, file_position, missing_code="1")
        if total is None:
            return
        self.total = total
        self.raw_total = element(elements, 1)
        self.tds_position = (position, file_position)

    def _has_fatal(self) -> bool:
        return any(error.fatal for error in self.errors)

    def finish(self) -> tuple[Transaction | VendorMissingError | CustomerMissingError | None, list[SegmentIssue]]:
        self._flush_item()
        end = self.last_position + 1
        if not self.seen_big and not any(e.segment_id == "BIG" for e in self.errors):
            self._fail("BIG", 2, self.source.segment or 0, "mandatory BIG segment is missing", segment_code="3")
        if self.tds_position is None and not any(e.segment_id == "TDS" for e in self.errors):
            self._fail(
                "TDS", end, (self.source.segment or 0) + end - 1, "mandatory TDS segment is missing", segment_code="3"
            )
        # The lines of a set with errors are incomplete, so its total is not compared.
        if self.total is not None and self.tds_position is not None and not self._has_fatal():
            lines_total = sum([line.amount for line in self.lines], Decimal(0))
            if abs(self.total - lines_total) > self.total_tolerance:
                position, file_position = self.tds_position
                message = f"TDS01 total {self.total} does not equal the lines' sum {lines_total}"
                if self.line_level_adjustments and self.total == lines_total - self.line_level_adjustments:
                    message += " (it leaves out the SACs inside the IT1 loops, which TDS01 includes)"
                self._fail(
                    "TDS",
                    position,
                    file_position,
                    message,
                    element_position=1,
                    reference="610",
                    code=TOTAL_MISMATCH_CODE,
                    data=self.raw_total,
                    segment_code="8",
                    expected=f"TDS01 = {_cents(lines_total)} (items + charges - allowances, in cents)",
                )
        if self._has_fatal() or self.date is None:
            return None, self.errors
        due_date = self.due_date
        if due_date is None and self.net_days is not None:
            due_date = self.date + dt.timedelta(days=self.net_days)
        if due_date is None:
            due_date = self.dtm_due_date
        codes = CUSTOMER_ENTITY_CODES if self.seller_is_us else VENDOR_ENTITY_CODES
        party = next((self.parties[code] for code in codes if code in self.parties), _NO_PARTY)
        fields: dict[str, Any] = {
            "number": self.number,
            "date": self.date,
            "lines": tuple(self.lines),
            "due_date": due_date,
            "terms": self.terms,
            "currency": self.currency,
            "memo": self.memo,
            "total": self.total,
            "po_number": self.po_number,
            "source": self.source,
        }
        document: Transaction
        if self.seller_is_us:
            fields["customer"] = party
            document = invoice_from(fields)
        else:
            fields["vendor"] = party
            document = bill_from(VendorCredit if self.transaction_type in CREDIT_TRANSACTION_TYPES else Bill, fields)
        if party is _NO_PARTY:
            return self._party_missing(document), self.errors
        return document, self.errors

    def _party_missing(self, document: Transaction) -> VendorMissingError | CustomerMissingError:
        source = self.source
        if self.seller_is_us:
            return CustomerMissingError(
                f"our invoice {self.number!r} names no customer; it is withheld",
                document=document,
                format_name="x12",
                file=source.file,
                segment=source.segment,
                element="N1",
                expected="N1*BT (or N1*BY) with the customer's name or id",
            )
        remittance = ""
        if REMITTANCE_ENTITY_CODE in self.parties:
            remittance = " (N1*RE names who receives the payment, not who billed)"
        return VendorMissingError(
            f"invoice {self.number!r} names no seller party{remittance}; the bill is withheld",
            document=document,
            format_name="x12",
            file=source.file,
            segment=source.segment,
            element="N1",
            expected="N1*SE, N1*VN, N1*SU or N1*RI with the vendor's name or id",
        )


_SEGMENT_READERS = {
    "BIG": Invoice810Reader._big,
    "NTE": Invoice810Reader._nte,
    "CUR": Invoice810Reader._cur,
    "N1": Invoice810Reader._n1,
    "ITD": Invoice810Reader._itd,
    "DTM": Invoice810Reader._dtm,
    "SAC": Invoice810Reader._sac,
    "TDS": Invoice810Reader._tds,
}


# --- writing -------------------------------------------------------------------------------------


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _cents(amount: Decimal) -> str:
    return str(int((amount * _HUNDRED).to_integral_value(rounding=ROUND_HALF_UP)))


def _required(writer: SegmentWriter, value: str | None, longest: int, what: str) -> str:
    text = writer.clean(value or "")
    if not text:
        raise X12WriteError(f"{what} is required in an 810")
    if len(text) > longest:
        raise X12WriteError(f"{what} {text!r} is longer than {longest} characters")
    return text


def _party(writer: SegmentWriter, entity: str, party: PartyRef) -> str:
    name = writer.clean(party.name or "", 60)
    identifier = writer.clean(party.id or "", 80)
    return writer.render("N1", entity, name, "92" if identifier else "", identifier)


def seller_party(identity: X12Identity, company: str) -> PartyRef:
    """Us, as the selling party (N1*SE) of our own invoices to a partner: the id we send in ISA06
    and our name from the identity, else the company's configured name."""
    return PartyRef(id=identity.our_id, name=identity.our_name or company)


def render_810_body(document: Transaction, writer: SegmentWriter, *, seller: PartyRef | None = None) -> list[str]:
    """The segments of one 810 between ST and SE for a Bill, VendorCredit or Invoice."""
    segments: list[str] = []
    add = segments.append
    number = _required(writer, document.number, 22, "invoice number (BIG02)")
    credit = "CR" if isinstance(document, VendorCredit) else ""
    add(
        writer.render(
            "BIG",
            document.date.strftime("%Y%m%d"),
            number,
            "",
            writer.clean(document.po_number or "", 22),
            "",
            "",
            credit,
        )
    )
    if document.memo:
        add(writer.render("NTE", "GEN", writer.clean(document.memo, 80)))
    if document.currency:
        add(writer.render("CUR", "SE", writer.clean(document.currency, 3)))
    if isinstance(document, Invoice):
        # Our invoice: we are the selling party, the customer is billed. A reader (ours or the
        # partner's) that finds no N1*SE cannot tell who billed, so both are required.
        if seller is None or not (seller.id or seller.name):
            raise X12WriteError(f"invoice {document.number!r}: an outbound 810 needs the seller (us) for N1*SE")
        add(_party(writer, "SE", seller))
        if document.customer.id or document.customer.name:
            # Only a cancellation of an invoice we never saw whole can lack its customer.
            add(_party(writer, "BT", document.customer))
    else:
        add(_party(writer, "SE", document.vendor))
    if document.terms or document.due_date:
        net_days = ""
        if document.terms and document.due_date:
            net_days = str(max((document.due_date - document.date).days, 0))
        due = document.due_date.strftime("%Y%m%d") if document.due_date else ""
        terms = writer.clean(document.terms or "", 80)
        add(writer.render("ITD", "01", "3", "", "", "", due, net_days, "", "", "", "", terms))
    add(writer.render("DTM", "003", document.date.strftime("%Y%m%d")))
    item_lines = 0
    for line in document.lines:
        if line.kind in ("charge", "allowance", "information"):
            indicator = {"allowance": "A", "charge": "C"}.get(line.kind, NO_ALLOWANCE_OR_CHARGE)
            code = writer.clean(line.item or "", 4) or "ZZZZ"
            description = writer.clean(line.description or "", 80)
            amount = "" if indicator == NO_ALLOWANCE_OR_CHARGE else _cents(abs(line.amount))
            add(writer.render("SAC", indicator, code, "", "", amount, *[""] * 9, description))
            continue
        item_lines += 1
        quantity = line.quantity if line.quantity is not None else Decimal(1)
        price = line.unit_price if line.unit_price is not None else line.amount
        item = writer.clean(line.item or "")
        if len(item) > 48:
            raise X12WriteError(f"item id {item!r} is longer than 48 characters")
        add(
            writer.render(
                "IT1",
                str(item_lines),
                _plain(quantity),
                writer.clean(line.unit or "EA", 2) or "EA",
                _plain(price),
                "",
                "VN" if item else "",
                item,
            )
        )
        if line.description:
            add(writer.render("PID", "F", "", "", "", writer.clean(line.description, 80)))
    total = document.total if document.total is not None else document.lines_total
    add(writer.render("TDS", _cents(total)))
    add(writer.render("CTT", str(item_lines)))
    return segments


def write_810(
    documents: Sequence[Transaction],
    *,
    parties: Parties | X12Identity,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
    seller: PartyRef | None = None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = False,
) -> bytes:
    """One interchange (ISA/GS*IN/ST*810…/GE/IEA) holding one 810 per document.

    `parties` is a `Parties` or the partner's `X12Identity` (we send, the partner receives). `seller`
    (us, see `seller_party`) fills N1*SE on Invoices and is required for them; the customer goes in
    N1*BT. Bills and VendorCredits put their vendor in N1*SE. Deterministic given `control_numbers`
    and `as_of`.
    """
    envelope = as_parties(parties)
    writer = SegmentWriter(delimiters, line_breaks=line_breaks)
    sets = [["810", *render_810_body(document, writer, seller=seller)] for document in documents]
    return write_interchange(
        envelope,
        [GroupSpec("IN", group_version(envelope.version), sets)],
        control_numbers=control_numbers,
        as_of=as_of,
        delimiters=delimiters,
        line_breaks=line_breaks,
    )
