"""SQL placeholders: one spelling for users, each driver's spelling on the wire.

Users write ``?`` with a sequence of values or ``:name`` with a mapping, in every dialect.
Drivers disagree (sqlite3 takes both, DuckDB wants ``$name``, psycopg ``%s`` and ``%(name)s``,
pymysql ``%s`` only), so statements are rewritten here. Quoted literals, quoted identifiers,
comments, dollar-quoted bodies and ``::`` casts are never touched, which is why this is a small
tokenizer rather than a regular-expression substitution.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cauce.errors import WarehouseError

Params = Sequence[Any] | Mapping[str, Any] | None

_PATTERN = r"""
      (?P<string>(?<![A-Za-z0-9_])[eE]'(?:[^'\\]|\\.|'')*'?   # E'...' with backslash escapes
                | {plain_string})
    | (?P<identifier>"(?:[^"]|"")*"?|`(?:[^`]|``)*`?)         # "..." or `...`
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<cast>::)
    | (?P<positional>\?)
    | (?P<named>:[A-Za-z_][A-Za-z0-9_]*)
    | (?P<percent>%)
    | (?P<semicolon>;)
    """
_STANDARD_TOKENS = re.compile(
    _PATTERN.format(plain_string=r"'(?:[^']|'')*'?"), re.VERBOSE | re.DOTALL
)
# MySQL and MariaDB also treat a backslash inside '...' as an escape character.
_BACKSLASH_TOKENS = re.compile(
    _PATTERN.format(plain_string=r"'(?:[^'\\]|\\.|'')*'?"), re.VERBOSE | re.DOTALL
)

# Characters that DuckDB's Unicode-space pass reads as opening a quote (see below).
_QUOTES_IN_COMMENT = re.compile(r"""['"`$]""")


@dataclass(frozen=True)
class ParamStyle:
    """How one driver spells placeholders.

    ``positional`` renders the n-th value (1-based ``{n}``); ``named`` renders a named value
    (``{name}``). ``None`` means the driver lacks that kind, so the other one is used instead.
    ``escape_percent`` doubles every ``%`` for drivers that treat it as a format character;
    ``backslash_strings`` is for dialects where ``\\'`` inside a literal does not end it.
    """

    positional: str | None
    named: str | None
    escape_percent: bool = False
    backslash_strings: bool = False


NATIVE = ParamStyle("?", ":{name}")  # sqlite3 takes both spellings as written
DUCKDB = ParamStyle("?", "${name}")
PSYCOPG = ParamStyle("%s", "%({name})s", escape_percent=True)

DBAPI_STYLES = {
    "qmark": ParamStyle("?", None),
    "numeric": ParamStyle(":{n}", None),
    "named": ParamStyle(None, ":{name}"),
    "format": ParamStyle("%s", None, escape_percent=True),
    "pyformat": PSYCOPG,
}


def bind(sql: str, params: Params, style: ParamStyle) -> tuple[str, Params]:
    """Rewrite ``sql`` and ``params`` for a driver with ``style``.

    With a sequence, ``?`` marks the values (``:name`` is left as written); with a mapping,
    ``:name`` does (``?`` is left as written, e.g. PostgreSQL's JSON operator). Without params
    the statement is returned untouched, because drivers only interpret ``%`` when given values.
    """
    if params is None:
        return sql, None
    if isinstance(params, Mapping):
        return _bind_named(sql, params, style)
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        raise WarehouseError(
            f"SQL parameters must be a sequence or a mapping, not {type(params).__name__}",
            hint="pass a list or tuple for ? placeholders, or a dict for :name placeholders",
        )
    return _bind_positional(sql, params, style)


def _bind_positional(sql: str, params: Sequence[Any], style: ParamStyle) -> tuple[str, Params]:
    out: list[str] = []
    count = 0
    for kind, text in _scan(sql, style.backslash_strings):
        if kind == "positional":
            count += 1
            if style.positional is not None:
                out.append(style.positional.format(n=count))
            else:
                out.append(style.named.format(name=f"p{count}"))  # type: ignore[union-attr]
        else:
            out.append(_plain(text, style))
    if count != len(params):
        raise WarehouseError(
            f"the statement has {count} ? placeholder(s) but {len(params)} value(s) were given",
            hint="give one value per ? (placeholders inside quotes and comments do not count)",
        )
    if style.positional is None:
        return "".join(out), {f"p{n}": value for n, value in enumerate(params, start=1)}
    return "".join(out), list(params)


def _bind_named(sql: str, params: Mapping[str, Any], style: ParamStyle) -> tuple[str, Params]:
    out: list[str] = []
    order: list[str] = []
    for kind, text in _scan(sql, style.backslash_strings):
        if kind == "named":
            name = text[1:]
            order.append(name)
            if style.named is not None:
                out.append(style.named.format(name=name))
            else:
                out.append(style.positional.format(n=len(order)))  # type: ignore[union-attr]
        else:
            out.append(_plain(text, style))
    missing = sorted({name for name in order if name not in params})
    if missing:
        raise WarehouseError(
            "no value for " + ", ".join(f":{name}" for name in missing),
            hint="add the missing keys to the params mapping",
        )
    if style.named is None:
        return "".join(out), [params[name] for name in order]
    return "".join(out), {name: params[name] for name in dict.fromkeys(order)}


def blank_quotes_in_comments(sql: str) -> str:
    """``sql`` with every quote character inside a comment turned into a space.

    DuckDB replaces Unicode spaces with ASCII ones before parsing, outside quotes only, and in
    that pass a quote inside a comment opens a "string": ``SELECT 1 /* it's */, '\xa0'`` came
    back as two spaces (DuckDB 2.0). Comments carry no meaning, so their quotes go; lengths and
    lines stay as they were, and so do the positions in error messages.
    """
    if "/*" not in sql and "--" not in sql:
        return sql
    return "".join(
        _QUOTES_IN_COMMENT.sub(" ", text) if kind == "comment" else text
        for kind, text in _scan(sql)
    )


def _plain(text: str, style: ParamStyle) -> str:
    """Text that is not an active placeholder, with ``%`` doubled where the driver needs it."""
    return text.replace("%", "%%") if style.escape_percent else text


def _scan(sql: str, backslash_strings: bool = False) -> Iterator[tuple[str, str]]:
    """Split ``sql`` into (kind, text) pieces; kind is a token group name or "text"."""
    tokens = _BACKSLASH_TOKENS if backslash_strings else _STANDARD_TOKENS
    position = 0
    for match in tokens.finditer(sql):
        if match.start() > position:
            yield "text", sql[position : match.start()]
        yield match.lastgroup or "text", match.group()
        position = match.end()
    if position < len(sql):
        yield "text", sql[position:]


def split_statements(script: str, is_complete: Callable[[str], bool] | None = None) -> list[str]:
    """Split a script on the semicolons that end statements.

    Semicolons inside literals, identifiers, comments and dollar-quoted bodies do not split.
    ``is_complete`` (e.g. :func:`sqlite3.complete_statement`) joins pieces until a statement is
    whole, which keeps SQLite's ``CREATE TRIGGER ... BEGIN ...; END`` together.
    Pieces holding only whitespace and comments are dropped.
    """
    pieces: list[list[tuple[str, str]]] = [[]]
    for kind, text in _scan(script):
        if kind == "semicolon":
            pieces.append([])
        else:
            pieces[-1].append((kind, text))
    statements: list[str] = []
    pending: list[tuple[str, str]] = []
    for piece in pieces:
        pending = [*pending, ("semicolon", ";"), *piece] if pending else piece
        text = "".join(t for _, t in pending)
        if is_complete is None or is_complete(text + ";"):
            if _has_code(pending):
                statements.append(text.strip())
            pending = []
    if _has_code(pending):
        statements.append("".join(t for _, t in pending).strip())
    return statements


def _has_code(tokens: list[tuple[str, str]]) -> bool:
    return any(kind not in ("comment", "semicolon") and text.strip() for kind, text in tokens)
