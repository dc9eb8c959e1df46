"""Validate one file's posting plan: pandera over its headers and lines, mapping failures beside them,
all in ONE failure table a reviewer can act on. A document with any failure is not posted."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from qbo_sftp_assets.mapping import FAILURE_COLUMNS, HeaderFacts, LineFacts, PostingDraft, PostingPlan, ReferenceData
from qbo_sftp_assets.validation.models import DESCRIPTION_LIMIT, DOC_NUMBER_LIMIT, HeaderSchema, LineSchema

HEADER_COLUMNS = tuple(HeaderSchema.to_schema().columns)
LINE_COLUMNS = tuple(LineSchema.to_schema().columns)
_DATE_COLUMNS = ("txn_date", "due_date", "book_close_date")


@dataclass(frozen=True)
class ValidatedPostings:
    """What may be posted from one file, and why the rest may not."""

    valid: list[PostingDraft]
    failures: pd.DataFrame
    headers: pd.DataFrame
    lines: pd.DataFrame

    @property
    def rejected_record_indexes(self) -> set[int]:
        return {int(i) for i in self.failures["record_index"].dropna()}

    def failures_for(self, record_index: int) -> pd.DataFrame:
        return self.failures[self.failures["record_index"] == record_index]

    def reasons(self, record_index: int) -> list[str]:
        """One sentence per failure of a document, e.g. for an application acknowledgment."""
        return [
            f"{row['source_location']}: {row['column']} {row['value']!r}: {row['fix']}"
            if row["value"] is not None
            else f"{row['source_location']}: {row['column']}: {row['fix']}"
            for row in self.failures_for(record_index).to_dict("records")
        ]


def validate_plan(plan: PostingPlan, reference: ReferenceData | None = None) -> ValidatedPostings:
    """Every failure of the file, mapping's and pandera's, lazily; `valid` holds the drafts without one.

    `reference` is accepted for the contract's signature; the facts validation needs from it (home
    currency, multicurrency, books-closing date) were copied into the plan's headers by mapping.
    """
    return validate_plans([plan], reference)[0]


def validate_plans(plans: Sequence[PostingPlan], reference: ReferenceData | None = None) -> list[ValidatedPostings]:
    """`validate_plan` for several files at once, in the order given, with the same failure tables.

    One pandera run over all the files' rows: pandera's cost is mostly per run (a few hundred ms for
    the two models), so validating twenty files together costs about what one file does.
    """
    del reference
    unique = list({plan.file_sha256: plan for plan in plans}.values())  # the same bytes twice: validated once
    headers = header_frame([facts for plan in unique for facts in plan.headers], _shas(unique, "headers"))
    lines = line_frame([facts for plan in unique for facts in plan.lines], _shas(unique, "lines"))
    by_file: dict[str, list[dict[str, Any]]] = {
        plan.file_sha256: [failure.as_dict() for failure in plan.failures] for plan in unique
    }
    shared: list[dict[str, Any]] = []
    for model, frame, rules in ((HeaderSchema, headers, _HEADER_RULES), (LineSchema, lines, _LINE_RULES)):
        for sha, row in _pandera_failures(model, frame, rules):
            if sha is None:
                shared.append(row)
            else:
                by_file[sha].append(row)
    results: dict[str, ValidatedPostings] = {}
    header_start = line_start = 0
    for plan in unique:
        header_end, line_end = header_start + len(plan.headers), line_start + len(plan.lines)
        failures = _failure_table(by_file[plan.file_sha256] + shared)
        rejected = {int(i) for i in failures["record_index"].dropna()}
        results[plan.file_sha256] = ValidatedPostings(
            valid=[draft for draft in plan.drafts if draft.record_index not in rejected],
            failures=failures,
            headers=_rows(headers, header_start, header_end),
            lines=_rows(lines, line_start, line_end),
        )
        header_start, line_start = header_end, line_end
    return [results[plan.file_sha256] for plan in plans]


def _shas(plans: Sequence[PostingPlan], facts: str) -> list[str]:
    return [plan.file_sha256 for plan in plans for _ in getattr(plan, facts)]


def _rows(frame: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    # One file's rows are contiguous in the combined frame; numbered from 0 as if validated alone.
    if start == 0 and end == len(frame):
        return frame
    rows = frame.iloc[start:end]
    rows.index = pd.RangeIndex(end - start)  # a new index on the slice; its columns are not copied
    return rows


_HEADER_FIELDS = tuple(f.name for f in dataclasses.fields(HeaderFacts))
_LINE_FIELDS = tuple(f.name for f in dataclasses.fields(LineFacts))
_HEADER_TEXT = tuple(name for name, c in HeaderSchema.to_schema().columns.items() if str(c.dtype) == "str")
_LINE_TEXT = tuple(name for name, c in LineSchema.to_schema().columns.items() if str(c.dtype) == "str")


def header_frame(facts: Sequence[HeaderFacts], file_sha256s: Sequence[str] | None = None) -> pd.DataFrame:
    """The header frame HeaderSchema checks; `file_sha256s` names each row's file (empty when not given)."""
    data: dict[str, Any] = {name: [getattr(f, name) for f in facts] for name in _HEADER_FIELDS}
    data["file_sha256"] = list(file_sha256s) if file_sha256s is not None else [""] * len(facts)
    data["doc_number_length"] = [len(number or "") for number in data["document_number"]]
    frame = pd.DataFrame(data, columns=list(HEADER_COLUMNS))
    for column in _DATE_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], errors="coerce")
    frame["stated_total_cents"] = frame["stated_total_cents"].astype("Int64")
    frame["multicurrency_enabled"] = frame["multicurrency_enabled"].astype(bool)
    for column in (
        "record_index",
        "lines_total_cents",
        "debit_cents",
        "credit_cents",
        "line_count",
        "doc_number_length",
    ):
        frame[column] = frame[column].astype("int64")
    return _text_columns(frame, _HEADER_TEXT)


def line_frame(facts: Sequence[LineFacts], file_sha256s: Sequence[str] | None = None) -> pd.DataFrame:
    """The line frame LineSchema checks; `file_sha256s` names each row's file (empty when not given)."""
    data: dict[str, Any] = {name: [getattr(f, name) for f in facts] for name in _LINE_FIELDS}
    data["file_sha256"] = list(file_sha256s) if file_sha256s is not None else [""] * len(facts)
    frame = pd.DataFrame(data, columns=list(LINE_COLUMNS))
    for column in ("record_index", "line", "amount_cents", "description_length"):
        frame[column] = frame[column].astype("int64")
    return _text_columns(frame, _LINE_TEXT)


def _text_columns(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    # Text columns stay `object` with None for missing, as the models declare (str, nullable).
    for name in names:
        column = frame[name].astype(object)  # a copy, so blanking its missing values leaves `frame` alone
        column[column.isna()] = None
        frame[name] = column
    return frame.copy()  # one block per dtype again, so slicing out one file's rows stays cheap


# --- pandera's failure cases, in a reviewer's words ------------------------------------------------

# check name -> (column shown, value shown from the row, fix text from the row)
Rule = tuple[str, Callable[[Mapping[str, Any]], Any], Callable[[Mapping[str, Any]], str]]


def _cents_text(cents: Any) -> str:
    if cents is None or pd.isna(cents):
        return "none"
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}{cents // 100}.{cents % 100:02d}"


_HEADER_RULES: dict[str, Rule] = {
    "doc_number_length": (
        "DocNumber",
        lambda r: r["document_number"],
        lambda r: (
            f"QuickBooks keeps at most {DOC_NUMBER_LIMIT} characters of a document number and this one has "
            f"{r['doc_number_length']}; it is never cut, so the partner must send a shorter number"
        ),
    ),
    "date_real": (
        "TxnDate",
        lambda r: r["txn_date"],
        lambda r: "the document date is missing or not a real date (1900-2099); fix the partner's file",
    ),
    "has_lines": ("Line", lambda r: r["line_count"], lambda r: "the document has no lines; fix the partner's file"),
    "lines_sum_to_total": (
        "total",
        lambda r: _cents_text(r["stated_total_cents"]),
        lambda r: (
            f"the lines add up to {_cents_text(r['lines_total_cents'])} but the document states "
            f"{_cents_text(r['stated_total_cents'])}; the partner must correct the lines or the total"
        ),
    ),
    "total_positive": (
        "total",
        lambda r: _cents_text(r["lines_total_cents"]),
        lambda r: (
            "a bill must total more than zero; a credit comes as a credit memo (posted as a VendorCredit), "
            "so the partner must send it as one"
        ),
    ),
    "journal_balances": (
        "debits/credits",
        lambda r: f"{_cents_text(r['debit_cents'])} / {_cents_text(r['credit_cents'])}",
        lambda r: "the journal entry does not balance: debits must equal credits to the cent; fix the partner's file",
    ),
    "after_book_close": (
        "TxnDate",
        lambda r: r["txn_date"],
        lambda r: (
            f"the books are closed through {_date_text(r['book_close_date'])}; post in an open period "
            "(the partner re-dates the document) or reopen the period in QuickBooks"
        ),
    ),
    "currency_allowed": (
        "currency",
        lambda r: r["currency"],
        lambda r: (
            f"the company keeps its books in {r['home_currency'] or 'an unknown home currency'} only "
            "(MultiCurrencyEnabled is off); turn on multicurrency in QuickBooks or have the partner invoice in "
            f"{r['home_currency'] or 'the home currency'}"
        ),
    ),
    "unique_vendor_number": (
        "DocNumber",
        lambda r: r["document_number"],
        lambda r: (
            f"vendor {r['vendor_value']!r} has document number {r['document_number']!r} more than once "
            "in this file; the partner must number each document once"
        ),
    ),
}

_LINE_RULES: dict[str, Rule] = {
    "amount_within_limit": (
        "amount",
        lambda r: _cents_text(r["amount_cents"]),
        lambda r: (
            "QuickBooks takes amounts of at most 15 digits (13 before the decimal point); the partner "
            "must split or correct the amount"
        ),
    ),
    "description_length": (
        "Description",
        lambda r: r["description_length"],
        lambda r: f"a line description may hold {DESCRIPTION_LIMIT} characters; the partner must shorten it",
    ),
    "amount_valid": (
        "amount",
        lambda r: _cents_text(r["amount_cents"]),
        lambda r: (
            "a journal line amount must be positive (its side says debit or credit); fix the partner's file"
            if r["entity_type"] == "JournalEntry"
            else "bill and credit lines must be positive (an allowance line may reduce the bill); a credit comes "
            "as a credit memo, posted as a VendorCredit"
        ),
    ),
    "reference_resolved": (
        "account",
        lambda r: r["account_value"] or r["item_value"],
        lambda r: (
            f"the line resolves to no QuickBooks account or item; add {r['account_value'] or r['item_value']!r} "
            "to mapping.accounts.table or create it in QuickBooks"
        ),
    ),
}


def _date_text(value: Any) -> str:
    return "?" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _pandera_failures(
    model: type[pa.DataFrameModel], frame: pd.DataFrame, rules: Mapping[str, Rule]
) -> list[tuple[str | None, dict[str, Any]]]:
    """pandera's failure cases as (file sha256, failure row); None for a fault that belongs to no one row."""
    try:
        model.validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return []
    rows: list[tuple[str | None, dict[str, Any]]] = []
    seen: set[tuple[str, Any]] = set()
    for case in sorted(cases.to_dict("records"), key=_case_order(rules)):
        check = str(case["check"])
        index = case["index"]
        if (check, index) in seen:
            continue  # a frame-wide check reports each column of a failing row; the row is one failure
        seen.add((check, index))
        if index is None or pd.isna(index) or check not in rules:
            rows.append((None, _schema_problem(model, case)))
            continue
        record = frame.loc[index].to_dict()
        column, value, fix = rules[check]
        shown = value(record)
        if isinstance(shown, pd.Timestamp):
            shown = shown.date().isoformat()
        row = {
            "record_index": int(record["record_index"]),
            "document_number": record["document_number"],
            "line": int(record["line"]) if "line" in record else None,
            "source_location": record["source_location"],
            "column": column,
            "value": None if shown is None or (not isinstance(shown, str) and pd.isna(shown)) else str(shown),
            "check": check,
            "fix": fix(record),
        }
        rows.append((record["file_sha256"], row))
    return rows


def _case_order(rules: Mapping[str, Rule]) -> Callable[[Mapping[str, Any]], tuple[int, int, int]]:
    """Cases in the models' check order, then by row: pandera's own order is an unstable sort, so a
    document's failures would otherwise come in an order that depends on the other rows validated."""
    rank = {check: position for position, check in enumerate(rules)}

    def key(case: Mapping[str, Any]) -> tuple[int, int, int]:
        index = case["index"]
        missing = index is None or pd.isna(index)
        return (rank.get(str(case["check"]), len(rank)), int(missing), 0 if missing else int(index))

    return key


def _schema_problem(model: type[pa.DataFrameModel], case: Mapping[str, Any]) -> dict[str, Any]:
    # A column of the wrong type or a built-in check: a fault in the mapping code, shown rather than hidden.
    return {
        "record_index": None,
        "document_number": None,
        "line": None,
        "source_location": "",
        "column": str(case.get("column")),
        "value": None if case.get("failure_case") is None else str(case.get("failure_case")),
        "check": str(case["check"]),
        "fix": f"{model.__name__} rejected the frame ({case.get('schema_context')}): a fault in qbo_sftp_assets, "
        "please report it",
    }


def _failure_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    # A reference mapping could not resolve is reported once, by mapping, with the key to add.
    resolved_by_mapping = {
        (r["record_index"], r["line"]) for r in rows if r["check"].endswith(("_resolved", "_present", "_configured"))
    }
    kept = [
        r
        for r in rows
        if not (r["check"] == "reference_resolved" and (r["record_index"], r["line"]) in resolved_by_mapping)
    ]
    frame = pd.DataFrame.from_records(kept, columns=list(FAILURE_COLUMNS))
    frame["record_index"] = frame["record_index"].astype("Int64")
    frame["line"] = frame["line"].astype("Int64")
    if frame.empty:
        return frame
    return frame.sort_values(["record_index", "line"], na_position="first", kind="stable").reset_index(drop=True)
