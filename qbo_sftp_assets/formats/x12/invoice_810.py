"""X12 810 invoice: reading a set into a Bill / VendorCredit, and writing invoices and bills for partners.

Mapping per edi.md §2: BIG, N1 (SE/VN/SU/RI/RE), CUR, ITD/DTM terms and due date, IT1 + PID lines,
SAC charges and allowances, TDS total (implied 2 decimals) checked against the lines.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from qbo_sftp_assets.formats.control_numbers import ControlNumbers
from qbo_sftp_assets.formats.decimals import DecimalCache
from qbo_sftp_assets.formats.documents import (
    LINE_DEFAULTS,
    Bill,
    Invoice,
    Line,
    PartyRef,
    Source,
    VendorCredit,
    bill_from,
    line_from,
    source_at,
)
from qbo_sftp_assets.formats.x12.envelope import ElementError, SegmentError, element
from qbo_sftp_assets.formats.x12.outbound import (
    DEFAULT_DELIMITERS,
    GroupSpec,
    Parties,
    SegmentWriter,
    X12WriteError,
    as_parties,
    group_version,
    write_interchange,
)
from qbo_sftp_assets.formats.x12.tokenizer import Delimiters

VENDOR_ENTITY_CODES = ("SE", "VN", "SU", "RI", "RE")
CREDIT_TRANSACTION_TYPES = frozenset({"CR"})
# Preference among IT1 product-id qualifiers for the line's item code.
ITEM_QUALIFIERS = ("VN", "VP", "BP", "IN", "UP", "UA")
DUE_DATE_QUALIFIER = "814"
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


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
    """An X12 R number (optional minus, digits, optional decimal point), None otherwise."""
    number = _R_NUMBERS.get(value)
    if number is not None:
        return number
    # Optional minus, then digits with at most one decimal point (at least one digit): what
    # `-?(\d+\.?\d*|\.\d+)` matches, in string methods. Decimal() alone would also take "1e5" or "NaN".
    digits = value[1:] if value[:1] == "-" else value
    if len(value) > 20 or not digits.isascii() or not digits.replace(".", "", 1).isdigit():
        return None
    return _R_NUMBERS.add(value)


def parse_n2(value: str) -> tuple[Decimal | None, bool]:
    """An N2 amount (implied 2 decimals): (amount, True if sent with an explicit decimal point)."""
    if "." in value:
        return parse_decimal(value), True
    digits = value[1:] if value[:1] == "-" else value
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None, False
    return Decimal(value).scaleb(-2), False


class Invoice810Reader:
    """Reads the body of one 810 set into a Bill or VendorCredit (the `SetHandler` of an IN group)."""

    def __init__(self, source: Source, *, total_tolerance: Decimal = Decimal(0)) -> None:
        self.source = source
        self.total_tolerance = total_tolerance
        self.errors: list[SegmentError] = []
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
        self.tds_position: tuple[int, int] | None = None
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
            elements.append(ElementError(element_position, code, reference, data or None))
        self.errors.append(
            SegmentError(segment_id, position, segment_code, message, file_position, elements, fatal, expected)
        )

    def read(self, body: list[list[str]], first_position: int) -> tuple[Bill | None, list[SegmentError]]:
        """Read the segments between ST and SE (the first at file position `first_position`)."""
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
        new = object.__new__
        store = object.__setattr__
        pending = self.pending
        in_detail = self.in_detail
        for offset, elements in enumerate(body):
            segment_id = elements[0]
            if segment_id == "IT1":
                if pending is not None:
                    line = new(Line)
                    store(line, "__dict__", pending)
                    append_line(line)
                    pending = None
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
                # Line and Source are built as one dict store each, as documents.from_fields does.
                source_fields = new_source_fields()
                source_fields["segment"] = first_position + offset
                source = new(Source)
                store(source, "__dict__", source_fields)
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

    def _source(self, file_position: int) -> Source:
        return source_at(self.source, file_position)

    def _flush_item(self) -> None:
        pending = self.pending
        if pending is not None:
            line = object.__new__(Line)
            object.__setattr__(line, "__dict__", pending)
            self.lines.append(line)
            self.pending = None

    def _big(self, elements: list[str], position: int, file_position: int) -> None:
        if self.seen_big:
            self._fail("BIG", position, file_position, "BIG appears more than once", segment_code="5")
            return
        self.seen_big = True
        raw_date = element(elements, 1)
        self.date = parse_date(raw_date)
        if self.date is None:
            self._fail(
                "BIG",
                position,
                file_position,
                f"BIG01 invoice date {raw_date!r} is not a CCYYMMDD date",
                element_position=1,
                reference="373",
                code="8" if raw_date else "1",
                data=raw_date,
            )
        self.number = element(elements, 2) or None
        if self.number is None:
            self._fail(
                "BIG",
                position,
                file_position,
                "BIG02 invoice number is missing",
                element_position=2,
                reference="76",
            )
        self.po_number = element(elements, 4) or None
        self.transaction_type = element(elements, 7)

    def _nte(self, elements: list[str], position: int, file_position: int) -> None:
        if not self.in_detail and self.memo is None:
            self.memo = element(elements, 2) or None

    def _cur(self, elements: list[str], position: int, file_position: int) -> None:
        if self.in_detail or self.currency is not None:
            return
        currency = element(elements, 2)
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            self._fail(
                "CUR",
                position,
                file_position,
                f"CUR02 currency {currency!r} is not a 3-letter code",
                element_position=2,
                reference="100",
                code="7" if currency else "1",
                data=currency,
            )
            return
        self.currency = currency.upper()

    def _n1(self, elements: list[str], position: int, file_position: int) -> None:
        if self.in_detail:
            return
        entity = element(elements, 1)
        if entity not in self.parties:
            self.parties[entity] = PartyRef(id=element(elements, 4) or None, name=element(elements, 2) or None)

    def _itd(self, elements: list[str], position: int, file_position: int) -> None:
        if self.in_detail:
            return
        raw_due = element(elements, 6)
        if raw_due:
            self.due_date = parse_date(raw_due)
            if self.due_date is None:
                self._fail(
                    "ITD",
                    position,
                    file_position,
                    f"ITD06 net due date {raw_due!r} is not a CCYYMMDD date",
                    element_position=6,
                    reference="446",
                    code="8",
                    data=raw_due,
                )
        raw_days = element(elements, 7)
        if raw_days:
            if raw_days.isascii() and raw_days.isdigit() and len(raw_days) <= 3:
                self.net_days = int(raw_days)
            else:
                self._fail(
                    "ITD",
                    position,
                    file_position,
                    f"ITD07 net days {raw_days!r} is not a number",
                    element_position=7,
                    reference="386",
                    code="6",
                    data=raw_days,
                )
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
        if indicator not in ("A", "C"):
            self._fail(
                "SAC",
                position,
                file_position,
                f"SAC01 {indicator!r} is neither A (allowance) nor C (charge)",
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
        self.lines.append(
            line_from(
                {
                    "amount": -amount if allowance else amount,
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
        self.in_detail = True
        total = self._n2_element("TDS", elements, 1, "total", position, file_position, missing_code="1")
        if total is None:
            return
        self.total = total
        self.tds_position = (position, file_position)

    def _has_fatal(self) -> bool:
        return any(error.fatal for error in self.errors)

    def finish(self) -> tuple[Bill | None, list[SegmentError]]:
        self._flush_item()
        end = self.last_position + 1
        if not self.seen_big:
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
                self._fail(
                    "TDS",
                    position,
                    file_position,
                    f"TDS01 total {self.total} does not equal the lines' sum {lines_total}",
                    segment_code="8",
                    expected=f"TDS01 = {_cents(lines_total)} (items + charges - allowances, in cents)",
                )
        if self._has_fatal() or self.date is None:
            return None, self.errors
        vendor = _NO_PARTY
        for code in VENDOR_ENTITY_CODES:
            if code in self.parties:
                vendor = self.parties[code]
                break
        due_date = self.due_date
        if due_date is None and self.net_days is not None:
            due_date = self.date + dt.timedelta(days=self.net_days)
        if due_date is None:
            due_date = self.dtm_due_date
        kind = VendorCredit if self.transaction_type in CREDIT_TRANSACTION_TYPES else Bill
        document = bill_from(
            kind,
            {
                "vendor": vendor,
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
            },
        )
        return document, self.errors


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


def render_810_body(document: Bill, writer: SegmentWriter, *, seller: PartyRef | None = None) -> list[str]:
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
        if seller is not None:
            add(_party(writer, "SE", seller))
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
        if line.kind in ("charge", "allowance"):
            indicator = "A" if line.kind == "allowance" else "C"
            code = writer.clean(line.item or "", 4) or "ZZZZ"
            description = writer.clean(line.description or "", 80)
            add(writer.render("SAC", indicator, code, "", "", _cents(abs(line.amount)), *[""] * 9, description))
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
    documents: Sequence[Bill],
    *,
    parties: Parties | object,
    control_numbers: ControlNumbers,
    as_of: dt.datetime,
    seller: PartyRef | None = None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = False,
) -> bytes:
    """One interchange (ISA/GS*IN/ST*810…/GE/IEA) holding one 810 per document.

    `parties` is a `Parties` or a `config.X12Identity` (we send, the partner receives). `seller`
    fills N1*SE on Invoices (the customer goes in N1*BT); Bills and VendorCredits put their vendor in
    N1*SE. Deterministic given `control_numbers` and `as_of`.
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
