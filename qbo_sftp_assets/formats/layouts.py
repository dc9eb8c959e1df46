"""Layouts that drive the CSV and fixed-width readers and writers, as named in the configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

DocumentKind = Literal["bill", "vendor_credit", "journal_entry", "invoice"]
Encoding = Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"]
LineTerminator = Literal["\r\n", "\n"]

# Longest physical line a reader accepts; a longer one means a wrong format or a missing newline, and
# the cap is what keeps memory bounded on a file without newlines.
DEFAULT_MAX_LINE_BYTES = 1_048_576


# Neutral fields whose fixed-width type is not free: money and quantities are numbers, dates dates,
# codes and names text (an account "000600" read as a number would lose its zeros).
_TEXT_FIELDS = (
    "document_type", "vendor_id", "vendor_name", "number", "terms", "currency", "memo", "po_number", "account",
    "item", "description", "class", "customer", "entity", "entity_id", "entity_type", "kind",
)  # fmt: skip
_FIXED_FIELD_TYPES = {
    **dict.fromkeys(_TEXT_FIELDS, "text"),
    **dict.fromkeys(("amount", "quantity", "unit_price", "debit", "credit", "total"), "number"),
    **dict.fromkeys(("record_count", "document_count", "control_total"), "number"),
    **dict.fromkeys(("date", "due_date"), "date"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvLayout(_Strict):
    """A delimited file: which column holds which field, how lines group into documents.

    `columns` maps a neutral field name (vendor_id, vendor_name, number, date, due_date, terms,
    currency, memo, po_number, total, account, item, description, quantity, unit_price, amount, class,
    customer, debit, credit, entity, entity_id, entity_type, document_type) to the header names that
    may carry it, first match wins, compared case-insensitively and ignoring spaces, `_` and `-`. The
    field's own name always matches too. Without a header (`has_header: false`) the names are
    1-based column numbers ("3").

    `document_types` maps values of the document_type column (case-insensitive) to a document kind,
    on top of the built-in words (bill, credit, credit memo, vendor_credit, invoice, journal_entry...).
    Rows of one document must be adjacent; a document key that reappears within the last
    `non_adjacent_window` documents is rejected (see csv_format). `write_columns` lists the fields
    the writer writes, in order (default: every field of the document kind, in a fixed order).
    """

    kind: Literal["csv"] = "csv"
    document: DocumentKind = "bill"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    encoding: Encoding = "utf-8-sig"
    has_header: bool = True
    date_format: str = "%Y-%m-%d"
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal["", ",", ".", " ", "'"] = ""
    columns: dict[str, list[str]] = Field(default_factory=dict)
    group_by: list[str] = Field(default_factory=lambda: ["vendor_id", "vendor_name", "number"])
    document_types: dict[str, DocumentKind] = Field(default_factory=dict)
    formula_escape: bool = True
    line_terminator: LineTerminator = "\r\n"
    write_columns: list[str] | None = None
    non_adjacent_window: int = Field(default=10_000, ge=0)
    max_line_bytes: int = Field(default=DEFAULT_MAX_LINE_BYTES, ge=80)

    # Field validators rather than a model validator: the config's error messages name a layout by its
    # model (the union tag), which a model validator would rename to "function-after[...]".
    @field_validator("thousands_separator")
    @classmethod
    def _separators_differ(cls, value: str, info: ValidationInfo) -> str:
        if value and value == info.data.get("decimal_separator"):
            raise ValueError("thousands_separator and decimal_separator must differ")
        return value

    @field_validator("quotechar")
    @classmethod
    def _delimiter_is_not_a_quote(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("delimiter"):
            raise ValueError("quotechar must differ from delimiter")
        return value

    @field_validator("delimiter")
    @classmethod
    def _delimiter_is_not_a_line_break(cls, value: str) -> str:
        if value in ("\r", "\n"):
            raise ValueError("delimiter cannot be a line break")
        return value


class FixedField(_Strict):
    """One field of a fixed-width record: 1-based start column and length, as legacy specs print them.

    Numbers are right-justified digits (zero- or space-filled) with `implied_decimals` after an
    invisible point; `signed` says where the sign is: a leading or trailing `+`/`-` character inside
    the field, or overpunched into the last digit (COBOL zoned decimal: `{`, `A`-`I` positive, `}`,
    `J`-`R` negative). A date of all zeros or spaces is empty.
    """

    name: str
    start: int = Field(ge=1)
    length: int = Field(ge=1)
    type: Literal["text", "number", "date"] = "text"
    implied_decimals: int = Field(default=0, ge=0, le=6)
    signed: Literal["none", "leading", "trailing", "overpunch"] = "none"
    date_format: str = "%Y%m%d"
    required: bool = False

    @property
    def end(self) -> int:
        """1-based inclusive last column."""
        return self.start + self.length - 1


class FixedRecord(_Strict):
    """A record type: the code in the record-type columns, its role, and its fields.

    `file_header` is an optional first record for the whole file; each `header` starts a document and
    the `detail` records after it are its lines; the `trailer` ends the file. `length`, when set, is
    the record's full length: a longer line is an error (a shorter one is padded with spaces, since
    editors strip trailing blanks).
    """

    role: Literal["file_header", "header", "detail", "trailer"]
    fields: list[FixedField]
    length: int | None = Field(default=None, ge=1)


class FixedWidthLayout(_Strict):
    """A fixed-width file: where the record type sits, and the layout of each record type.

    The trailer may carry `record_count` (detail records, or all records when
    `count_includes_all` is true), `document_count` and `control_total` (sum of the detail field
    named by `control_total_of`); each is checked against what was read. Without a `header` record
    type, consecutive detail records group into documents by `group_by`, as in CSV.
    """

    kind: Literal["fixed"] = "fixed"
    document: DocumentKind = "bill"
    encoding: Encoding = "cp1252"
    record_type_start: int = Field(default=1, ge=1)
    record_type_length: int = Field(default=1, ge=1)
    records: dict[str, FixedRecord]
    count_includes_all: bool = False
    control_total_of: str = "amount"
    group_by: list[str] = Field(default_factory=lambda: ["vendor_id", "vendor_name", "number"])
    document_types: dict[str, DocumentKind] = Field(default_factory=dict)
    line_terminator: LineTerminator = "\r\n"
    non_adjacent_window: int = Field(default=10_000, ge=0)
    max_line_bytes: int = Field(default=DEFAULT_MAX_LINE_BYTES, ge=80)

    @field_validator("records")
    @classmethod
    def _records_make_sense(cls, records: dict[str, FixedRecord], info: ValidationInfo) -> dict[str, FixedRecord]:
        roles = [record.role for record in records.values()]
        for role in ("file_header", "header", "trailer"):
            if roles.count(role) > 1:
                raise ValueError(f"only one record type may have role {role!r}")
        if "detail" not in roles:
            raise ValueError("a fixed-width layout needs a record type with role 'detail'")
        code_length = info.data.get("record_type_length", 1)
        for code, record in records.items():
            if len(code) != code_length:
                raise ValueError(f"record type code {code!r} is not {code_length} characters (record_type_length)")
            for item in record.fields:
                wanted = _FIXED_FIELD_TYPES.get(item.name)
                if wanted and item.type != wanted:
                    raise ValueError(f"record {code!r} field {item.name!r} must have type {wanted!r}")
            names = [f.name for f in record.fields]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"record {code!r} names fields more than once: {', '.join(duplicates)}")
        return records

    def record_with_role(self, role: str) -> tuple[str, FixedRecord] | None:
        for code, record in self.records.items():
            if record.role == role:
                return code, record
        return None


Layout = CsvLayout | FixedWidthLayout
