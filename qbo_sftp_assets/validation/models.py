"""pandera models for one file's postings: a header row per document and a row per line, money in cents.

Every check is named; `validate.py` turns each name into a reviewer's column, value and fix.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

DOC_NUMBER_LIMIT = 21
DESCRIPTION_LIMIT = 4000
# QBO takes amounts of at most 15 digits ("Max 15 digits in 10.5 format", Intuit's Bill reference);
# with cents that is 13 digits before the decimal point. Larger numbers are refused here, with a
# fix, instead of failing the whole file when the client refuses to send them.
AMOUNT_LIMIT_CENTS = 10**15 - 1
# QBO takes dates in these years; anything else is a misread date, not a real one.
EARLIEST_DATE = pd.Timestamp("1900-01-01")
LATEST_DATE = pd.Timestamp("2099-12-31")
POSTED_ENTITIES = ("Bill", "VendorCredit", "JournalEntry")


class HeaderSchema(pa.DataFrameModel):
    """One row per document of the file (or of several files, told apart by `file_sha256`)."""

    file_sha256: Series[str]
    record_index: Series[int] = pa.Field(ge=0)
    document_key: Series[str]
    document_number: Series[str] = pa.Field(nullable=True)
    entity_type: Series[str] = pa.Field(isin=POSTED_ENTITIES)
    source_location: Series[str]
    vendor_value: Series[str] = pa.Field(nullable=True)
    vendor_id: Series[str] = pa.Field(nullable=True)
    txn_date: Series[pa.DateTime] = pa.Field(nullable=True)
    due_date: Series[pa.DateTime] = pa.Field(nullable=True)
    currency: Series[str] = pa.Field(nullable=True)
    home_currency: Series[str] = pa.Field(nullable=True)
    multicurrency_enabled: Series[bool]
    book_close_date: Series[pa.DateTime] = pa.Field(nullable=True)
    stated_total_cents: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    lines_total_cents: Series[int]
    debit_cents: Series[int]
    credit_cents: Series[int]
    line_count: Series[int]
    doc_number_length: Series[int]

    class Config:
        strict = True

    @pa.check("doc_number_length", name="doc_number_length")
    def _doc_number_fits(cls, length: Series[int]) -> pd.Series[bool]:
        return length <= DOC_NUMBER_LIMIT

    @pa.check("txn_date", name="date_real")
    def _date_real(cls, date: Series[pa.DateTime]) -> pd.Series[bool]:
        return date.notna() & (date >= EARLIEST_DATE) & (date <= LATEST_DATE)

    @pa.dataframe_check(name="has_lines")
    def _has_lines(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return df["line_count"] > 0

    @pa.dataframe_check(name="lines_sum_to_total")
    def _lines_sum_to_total(cls, df: pd.DataFrame) -> pd.Series[bool]:
        stated = df["stated_total_cents"]
        return (stated.isna() | (stated == df["lines_total_cents"])).fillna(True).astype(bool)

    @pa.dataframe_check(name="total_positive")
    def _total_positive(cls, df: pd.DataFrame) -> pd.Series[bool]:
        # A bill whose lines net to zero or less is a credit: it must come as a credit memo (VendorCredit).
        payable = df["entity_type"].isin(("Bill", "VendorCredit"))
        return ~payable | (df["lines_total_cents"] > 0) | (df["line_count"] == 0)

    @pa.dataframe_check(name="journal_balances")
    def _journal_balances(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return (df["entity_type"] != "JournalEntry") | (df["debit_cents"] == df["credit_cents"])

    @pa.dataframe_check(name="after_book_close")
    def _after_book_close(cls, df: pd.DataFrame) -> pd.Series[bool]:
        closed = df["book_close_date"]
        return (closed.isna() | df["txn_date"].isna() | (df["txn_date"] > closed)).astype(bool)

    @pa.dataframe_check(name="currency_allowed")
    def _currency_allowed(cls, df: pd.DataFrame) -> pd.Series[bool]:
        home = df["home_currency"]
        same = df["currency"].isna() | (home.notna() & (df["currency"] == home))
        return (same | df["multicurrency_enabled"]).astype(bool)

    @pa.dataframe_check(name="unique_vendor_number")
    def _unique_vendor_number(cls, df: pd.DataFrame) -> pd.Series[bool]:
        # Scoped to one file: several files are validated in one frame (see validate_plans).
        numbered = df["document_number"].notna() & (df["entity_type"] != "JournalEntry")
        vendor = df["vendor_id"].fillna(df["vendor_value"]).fillna("")
        key = df["file_sha256"] + "\x1f" + vendor.astype(str) + "\x1f" + df["document_number"].fillna("").astype(str)
        return ~(numbered & key.where(numbered).duplicated(keep=False))


class LineSchema(pa.DataFrameModel):
    """One row per line of every document of the file."""

    file_sha256: Series[str]
    record_index: Series[int] = pa.Field(ge=0)
    document_number: Series[str] = pa.Field(nullable=True)
    line: Series[int] = pa.Field(ge=1)
    source_location: Series[str]
    entity_type: Series[str] = pa.Field(isin=POSTED_ENTITIES)
    kind: Series[str]
    amount_cents: Series[int]
    posting_type: Series[str] = pa.Field(nullable=True, isin=("Debit", "Credit"))
    account_value: Series[str] = pa.Field(nullable=True)
    account_id: Series[str] = pa.Field(nullable=True)
    item_value: Series[str] = pa.Field(nullable=True)
    item_id: Series[str] = pa.Field(nullable=True)
    class_value: Series[str] = pa.Field(nullable=True)
    class_id: Series[str] = pa.Field(nullable=True)
    description_length: Series[int]

    class Config:
        strict = True

    @pa.check("description_length", name="description_length")
    def _description_fits(cls, length: Series[int]) -> pd.Series[bool]:
        return length <= DESCRIPTION_LIMIT

    @pa.check("amount_cents", name="amount_within_limit")
    def _amount_within_limit(cls, cents: Series[int]) -> pd.Series[bool]:
        return cents.abs() <= AMOUNT_LIMIT_CENTS

    @pa.dataframe_check(name="amount_valid")
    def _amount_valid(cls, df: pd.DataFrame) -> pd.Series[bool]:
        # Bill and credit lines are positive; an allowance reduces a bill, so it is the one negative line.
        allowance = df["kind"] == "allowance"
        return (allowance & (df["amount_cents"] != 0)) | (~allowance & (df["amount_cents"] > 0))

    @pa.dataframe_check(name="reference_resolved")
    def _reference_resolved(cls, df: pd.DataFrame) -> pd.Series[bool]:
        return df["account_id"].notna() | df["item_id"].notna()
