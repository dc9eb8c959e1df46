"""QBO's query language subset: parse `SELECT ... FROM ... WHERE ... ORDERBY ... STARTPOSITION ... MAXRESULTS`."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from qbo_sftp_assets.sandbox.qbo_server import faults
from qbo_sftp_assets.sandbox.qbo_server.clock import parse_qbo_datetime
from qbo_sftp_assets.sandbox.qbo_server.entities import EntityKind, queryable_kind

TOKEN_PATTERN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>)"
    r"|(?P<punct>[*(),])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
# `!=` is not in Intuit's list, but QBO answers it: python-quickbooks' integration suite runs
# `FullyQualifiedName != 'Accounts Receivable (A/R)'` against Intuit's sandbox (test_transfer.py).
OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "IN", "LIKE")
DATE_FIELDS = ("txndate", "duedate")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int


@dataclass
class Condition:
    path: str
    operator: str
    values: list[Any]

    # Worked out once per query, not once per row: a `DocNumber IN (...)` of 30 numbers over thousands
    # of bills was most of the sandbox's time under `make bench pipeline`.
    @functools.cached_property
    def literals(self) -> list[Any]:
        """The values as the field compares them (dates parsed, numbers as Decimal)."""
        return [comparable(self.path, value) for value in self.values]

    @functools.cached_property
    def like_pattern(self) -> re.Pattern[str]:
        """LIKE's pattern: `%` is any run of characters, matched without regard to case."""
        return re.compile("^" + ".*".join(re.escape(part) for part in str(self.values[0]).split("%")) + "$", re.I)


@dataclass
class Query:
    """A parsed query: entity, count or rows, conditions (ANDed), ordering and paging."""

    kind: EntityKind
    count: bool
    conditions: list[Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)
    start_position: int = 1
    max_results: int = 100


def tokenize(text: str) -> list[Token]:
    tokens = []
    position = 0
    text = text.rstrip().rstrip(";")
    while position < len(text):
        match = TOKEN_PATTERN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise faults.query_parser_error(f'Encountered " "{text[position]}" "" at line 1, column {position + 1}.')
        kind = match.lastgroup or "word"
        tokens.append(Token(kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return tokens


class Parser:
    """A small recursive-descent parser; errors read like QBO's QueryParserError."""

    def __init__(self, text: str, max_results_cap: int) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.max_results_cap = max_results_cap

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def fail(self, expected: str) -> faults.QboFault:
        token = self.peek()
        if token is None:
            return faults.query_parser_error(f'Encountered "<EOF>" at line 1. Was expecting {expected}.')
        return faults.query_parser_error(
            f'Encountered " "{token.text}" "" at line 1, column {token.column}. Was expecting {expected}.'
        )

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.fail("more input")
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() in words:
            self.index += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.fail(f'"{word}"')

    def expect_punct(self, text: str) -> None:
        token = self.peek()
        if token is None or token.text != text:
            raise self.fail(f'"{text}"')
        self.index += 1

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        count = False
        if self.keyword("COUNT"):
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            count = True
        else:
            # `*`, a projection list, or both (`SELECT *, Sku FROM Item`, as python-quickbooks sends);
            # the sandbox returns whole rows either way.
            self.projection_term()
            while (token := self.peek()) is not None and token.text == ",":
                self.index += 1
                self.projection_term()
        self.expect_keyword("FROM")
        entity_token = self.take_identifier()
        kind = queryable_kind(entity_token.text)
        if kind is None:
            raise faults.query_parser_error(
                f"Invalid entity name {entity_token.text!r}: entity names are case sensitive"
            )
        query = Query(kind, count)
        if self.keyword("WHERE"):
            query.conditions.append(self.condition())
            while self.keyword("AND"):
                query.conditions.append(self.condition())
        if self.keyword("ORDERBY") or (self.keyword("ORDER") and self.expect_by()):
            query.order_by.append(self.order_term())
            while (token := self.peek()) is not None and token.text == ",":
                self.index += 1
                query.order_by.append(self.order_term())
        if self.keyword("STARTPOSITION"):
            query.start_position = max(1, self.integer())
        if self.keyword("MAXRESULTS"):
            query.max_results = min(self.integer(), self.max_results_cap)
        if self.peek() is not None:
            raise self.fail("<EOF>")
        return query

    def projection_term(self) -> None:
        token = self.peek()
        if token is not None and token.text == "*":
            self.index += 1
        else:
            self.take_identifier()

    def expect_by(self) -> bool:
        self.expect_keyword("BY")
        return True

    def take_identifier(self) -> Token:
        token = self.take()
        if token.kind != "word":
            self.index -= 1
            raise self.fail("<IDENTIFIER>")
        return token

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            self.index -= 1
            raise self.fail("<INTEGER>")
        return int(token.text)

    def order_term(self) -> tuple[str, bool]:
        path = self.take_identifier().text
        descending = False
        if self.keyword("DESC"):
            descending = True
        else:
            self.keyword("ASC")
        return path, descending

    def condition(self) -> Condition:
        path = self.take_identifier().text
        token = self.take()
        operator = token.text.upper()
        if operator not in OPERATORS:
            self.index -= 1
            raise self.fail("an operator (=, !=, <, >, <=, >=, IN, LIKE)")
        if operator == "IN":
            self.expect_punct("(")
            values = [self.literal()]
            while (following := self.peek()) is not None and following.text == ",":
                self.index += 1
                values.append(self.literal())
            self.expect_punct(")")
            return Condition(path, operator, values)
        return Condition(path, operator, [self.literal()])

    def literal(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return token.text[1:-1].replace("\\'", "'").replace("''", "'")
        if token.kind == "number":
            return Decimal(token.text)
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        self.index -= 1
        raise self.fail("a literal value")


def parse_query(text: str, max_results_cap: int = 1000) -> Query:
    return Parser(text, max_results_cap).parse()


def field_value(data: dict, path: str) -> Any:
    """Look a dotted path up case-insensitively; a reference compares by its `value`.

    A list on the way (`AttachableRef.EntityRef.value`) yields the list of its members' values.
    """
    return lookup(data, path.split("."))


def lookup(current: Any, parts: list[str]) -> Any:
    if isinstance(current, list):
        return [lookup(item, parts) for item in current]
    if not parts:
        if isinstance(current, dict) and "value" in current:
            return current["value"]
        return current
    if not isinstance(current, dict):
        return None
    match = next((key for key in current if key.lower() == parts[0].lower()), None)
    if match is None:
        return None
    return lookup(current[match], parts[1:])


def comparable(path: str, value: Any) -> Any:
    """Coerce a stored value or a literal to something ordered the way QBO orders that field."""
    if value is None:
        return None
    lowered = path.lower()
    if lowered.startswith("metadata.") and isinstance(value, str):
        try:
            return parse_qbo_datetime(value)
        except ValueError as error:
            raise faults.query_parser_error(f"Invalid date-time value {value!r} for {path}") from error
    if lowered in DATE_FIELDS and isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError as error:
            raise faults.query_parser_error(f"Invalid date value {value!r} for {path}") from error
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal, float)):
        return Decimal(str(value))
    if lowered == "id" or lowered.endswith("ref"):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return str(value)
    if isinstance(value, str) and value.lower() in ("true", "false") and lowered == "active":
        return value.lower() == "true"
    # QBO compares text without regard to case (`Name = 'operating checking'` finds "Operating
    # Checking"), as its duplicate-name check does.
    return value.lower() if isinstance(value, str) else value


def coerce_like(left: Any, right: Any) -> Any:
    """A quoted number compared with a numeric field (`TotalAmt > '100'`) compares as a number."""
    if isinstance(left, Decimal) and isinstance(right, str):
        try:
            return Decimal(right)
        except InvalidOperation:
            return right
    if isinstance(left, str) and isinstance(right, Decimal):
        return str(right)
    return right


def like(value: Any, condition: Condition) -> bool:
    return isinstance(value, str) and condition.like_pattern.match(value) is not None


def matches(data: dict, condition: Condition) -> bool:
    stored = field_value(data, condition.path)
    if isinstance(stored, list):
        # A field inside a list matches when any member does.
        return any(matches_value(flatten_one(value), condition) for value in stored)
    return matches_value(stored, condition)


def flatten_one(value: Any) -> Any:
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def matches_value(stored: Any, condition: Condition) -> bool:
    if condition.operator == "LIKE":
        return like(stored, condition)
    left = comparable(condition.path, stored)
    rights = [coerce_like(left, value) for value in condition.literals]
    # A row without the field matches no comparison, `!=` included (as SQL treats NULL).
    if left is None:
        return False
    try:
        if condition.operator in ("=", "IN"):
            return any(left == right for right in rights)
        right = rights[0]
        return {
            "!=": lambda: left != right,
            "<": lambda: left < right,
            ">": lambda: left > right,
            "<=": lambda: left <= right,
            ">=": lambda: left >= right,
        }[condition.operator]()
    except TypeError as error:
        raise faults.query_validation_error(f"Cannot compare {condition.path} with the given value") from error


def sort_key(path: str, data: dict) -> tuple[int, Any]:
    value = comparable(path, field_value(data, path))
    if isinstance(value, datetime):
        return (0, value.timestamp())
    if isinstance(value, date):
        return (0, value.toordinal())
    if isinstance(value, (Decimal, bool)):
        return (0, value)
    return (1, "" if value is None else str(value).lower())


def run_query(query: Query, rows: list[dict]) -> list[dict]:
    """Filter and order rows; name lists return only active rows unless the query names `Active`."""
    mentions_active = any(condition.path.lower() == "active" for condition in query.conditions)
    selected = [
        row
        for row in rows
        if all(matches(row, condition) for condition in query.conditions)
        and (not query.kind.is_name_list or mentions_active or row.get("Active", True))
    ]
    selected.sort(key=lambda row: sort_key("Id", row))
    for path, descending in reversed(query.order_by):
        selected.sort(key=functools.partial(sort_key, path), reverse=descending)
    return selected


def query_response(query: Query, rows: list[dict]) -> dict:
    """The `QueryResponse` object: `totalCount` for COUNT, else the page with its position and size."""
    selected = run_query(query, rows)
    if query.count:
        return {"totalCount": len(selected)}
    page = selected[query.start_position - 1 : query.start_position - 1 + query.max_results]
    if not page:
        return {}
    return {query.kind.name: page, "startPosition": query.start_position, "maxResults": len(page)}
