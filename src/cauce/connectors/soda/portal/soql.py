"""The part of SoQL the local portal understands, compiled to Polars expressions.

`$where`: comparisons (``= != <> < <= > >=``), ``AND``, ``OR``, ``NOT``, parentheses,
``IS [NOT] NULL``, ``[NOT] IN (...)``, ``[NOT] BETWEEN a AND b``, string literals in single quotes
(``''`` escapes a quote), numbers, ``true``/``false``. `$select`: column names, ``col AS alias``,
``*`` and ``count(*)``. `$order`: columns with ``ASC``/``DESC``. Column names are field names or
``:id``; backquotes allow any name. Anything else is a `SoqlError`, which the portal answers with
HTTP 400 as Socrata does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl


class SoqlError(ValueError):
    """A query the portal cannot parse or run; the message is sent back to the client."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>|\(|\)|,|\*)
      | (?P<name>:?[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {
    "and",
    "or",
    "not",
    "is",
    "null",
    "in",
    "between",
    "true",
    "false",
    "as",
    "asc",
    "desc",
}


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | op | name | keyword | end
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SoqlError(f"could not parse the query at {text[position : position + 20]!r}")
        kind = match.lastgroup or "op"
        value = match.group(kind)
        if kind == "name" and value.lower() in _KEYWORDS:
            tokens.append(Token("keyword", value.lower()))
        elif kind == "name" and value.startswith("`"):
            tokens.append(Token("name", value[1:-1]))
        else:
            tokens.append(Token(kind, value))
        position = match.end()
    tokens.append(Token("end", ""))
    return tokens


class _Parser:
    def __init__(self, text: str, schema: Mapping[str, pl.DataType]) -> None:
        self.tokens = tokenize(text)
        self.at = 0
        self.schema = schema

    # -- token helpers --------------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> bool:
        token = self.token
        if token.kind == kind and (text is None or token.text == text):
            self.at += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.token
        if token.kind != kind or (text is not None and token.text != text):
            wanted = text or kind
            raise SoqlError(f"expected {wanted!r} but found {token.text or 'the end'!r}")
        self.at += 1
        return token

    def done(self) -> None:
        if self.token.kind != "end":
            raise SoqlError(f"unexpected {self.token.text!r}")

    def column(self, name: str) -> str:
        if name not in self.schema:
            raise SoqlError(f"No such column: {name}")
        return name

    # -- $where ---------------------------------------------------------------------------
    def disjunction(self) -> pl.Expr:
        expr = self.conjunction()
        while self.accept("keyword", "or"):
            expr = expr | self.conjunction()
        return expr

    def conjunction(self) -> pl.Expr:
        expr = self.negation()
        while self.accept("keyword", "and"):
            expr = expr & self.negation()
        return expr

    def negation(self) -> pl.Expr:
        if self.accept("keyword", "not"):
            return ~self.negation()
        return self.comparison()

    def comparison(self) -> pl.Expr:
        if self.token.kind == "op" and self.token.text == "(":
            self.take()
            inner = self.disjunction()
            self.expect("op", ")")
            return inner
        left, left_type = self.operand()
        if self.accept("keyword", "is"):
            negated = self.accept("keyword", "not")
            self.expect("keyword", "null")
            return left.is_not_null() if negated else left.is_null()
        negated = self.accept("keyword", "not")
        if self.accept("keyword", "in"):
            self.expect("op", "(")
            values = [self.literal(left_type)]
            while self.accept("op", ","):
                values.append(self.literal(left_type))
            self.expect("op", ")")
            test = left.is_in(values)
            return ~test if negated else test
        if self.accept("keyword", "between"):
            low = self.literal(left_type)
            self.expect("keyword", "and")
            high = self.literal(left_type)
            test = left.is_between(pl.lit(low), pl.lit(high))
            return ~test if negated else test
        if negated:
            raise SoqlError("NOT must be followed by IN or BETWEEN here")
        operator = self.expect("op").text
        right, _ = self.operand(left_type)
        return _compare(left, operator, right)

    def operand(self, other_type: pl.DataType | None = None) -> tuple[pl.Expr, pl.DataType | None]:
        token = self.token
        if token.kind == "name":
            self.take()
            name = self.column(token.text)
            return pl.col(name), self.schema[name]
        return pl.lit(self.literal(other_type)), other_type

    def literal(self, target: pl.DataType | None) -> object:
        token = self.take()
        if token.kind == "string":
            return coerce_literal(token.text[1:-1].replace("''", "'"), target)
        if token.kind == "number":
            return float(token.text) if re.search(r"[.eE]", token.text) else int(token.text)
        if token.kind == "keyword" and token.text in ("true", "false"):
            return token.text == "true"
        raise SoqlError(f"expected a value but found {token.text or 'the end'!r}")


def _compare(left: pl.Expr, operator: str, right: pl.Expr) -> pl.Expr:
    match operator:
        case "=":
            return left == right
        case "!=" | "<>":
            return left != right
        case "<":
            return left < right
        case "<=":
            return left <= right
        case ">":
            return left > right
        case ">=":
            return left >= right
    raise SoqlError(f"unknown operator {operator!r}")


def coerce_literal(text: str, target: pl.DataType | None) -> object:
    """A quoted literal compared with a typed column takes the column's type, as SoQL does."""
    if target is None or target == pl.String:
        return text
    try:
        if target.is_temporal():
            return datetime.fromisoformat(text)
        if target.is_integer():
            return int(text)
        if target.is_float():
            return float(text)
        if target == pl.Boolean:
            return {"true": True, "false": False}[text.lower()]
    except (ValueError, KeyError):
        raise SoqlError(f"'{text}' is not a valid {target} value") from None
    return text


def where(text: str, schema: Mapping[str, pl.DataType]) -> pl.Expr:
    """The `$where` clause as a Polars filter expression."""
    parser = _Parser(text, schema)
    try:
        expr = parser.disjunction()
    except RecursionError:  # the parser descends once per parenthesis or NOT
        raise SoqlError("the $where clause nests too deeply") from None
    parser.done()
    return expr


@dataclass(frozen=True)
class Selection:
    """What `$select` asked for: output names for columns, or a row count."""

    columns: tuple[tuple[str, str], ...]  # (column, output name)
    count_as: str | None = None


def select(text: str, schema: Mapping[str, pl.DataType], default: list[str]) -> Selection:
    """The `$select` clause; ``*`` stands for ``default`` (every column but the system ones)."""
    parser = _Parser(text, schema)
    columns: list[tuple[str, str]] = []
    count_as: str | None = None
    while True:
        token = parser.take()
        if token.kind == "op" and token.text == "*":
            columns.extend((c, c) for c in default)
        elif token.kind == "name" and token.text.lower() == "count" and parser.accept("op", "("):
            parser.expect("op", "*")
            parser.expect("op", ")")
            count_as = parser.expect("name").text if parser.accept("keyword", "as") else "count"
        elif token.kind == "name":
            name = parser.column(token.text)
            alias = parser.expect("name").text if parser.accept("keyword", "as") else name
            columns.append((name, alias))
        else:
            raise SoqlError(f"cannot select {token.text or 'nothing'!r}")
        if not parser.accept("op", ","):
            break
    parser.done()
    if count_as is not None and columns:
        raise SoqlError(
            "count(*) with other columns needs $group, which this portal does not support"
        )
    return Selection(tuple(columns), count_as)


def order(text: str, schema: Mapping[str, pl.DataType]) -> tuple[list[str], list[bool]]:
    """The `$order` clause: column names and, for each, whether it is descending."""
    parser = _Parser(text, schema)
    names: list[str] = []
    descending: list[bool] = []
    while True:
        names.append(parser.column(parser.expect("name").text))
        is_descending = parser.accept("keyword", "desc")
        if not is_descending:
            parser.accept("keyword", "asc")
        descending.append(is_descending)
        if not parser.accept("op", ","):
            break
    parser.done()
    return names, descending
