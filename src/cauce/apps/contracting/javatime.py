"""Dates and numbers read as the original's Spark 2.4 jobs read them, as DuckDB SQL expressions.

Spark 2.4's ``to_date(s, fmt)`` and ``to_timestamp(s, fmt)`` parse with a non-lenient
``java.text.SimpleDateFormat``: spaces and tabs before a numeric field are skipped, a numeric
field takes every digit that follows (unless the next pattern letter follows it directly, as
in ``yyyyMMdd``, where each field takes exactly its width), literals must match exactly, any
text after the pattern is ignored, and a field out of range (month 13, 30 February, hour 24)
makes the whole value null. Its ``cast(... as decimal(p,s))`` accepts what
``java.math.BigDecimal`` accepts and rounds half-up; its ``cast(... as int)`` keeps the integer
part of ``12.9``. Each function here returns SQL text over a VARCHAR expression.
"""

from __future__ import annotations

import re

# BigDecimal's grammar: a sign, digits with an optional point (or a point and digits), an exponent.
BIG_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
SPARK_INT = r"^[+-]?[0-9]+(\.[0-9]*)?$"
_FIELDS = {"yyyy": "y", "MM": "m", "dd": "d", "HH": "hh", "mm": "mi", "ss": "ss"}
_TOKEN = re.compile(r"yyyy|MM|dd|HH|mm|ss|\.SSSSSSS|.", re.S)


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def decimal(value: str, precision: int, scale: int) -> str:
    """``cast(value as decimal(precision, scale))`` as Spark 2.4 does it (null when it fails)."""
    return (
        f"CASE WHEN regexp_full_match({value}, {quote(BIG_DECIMAL)}) "
        f"THEN TRY_CAST({value} AS DECIMAL({precision},{scale})) END"
    )


def integer(value: str) -> str:
    """``cast(value as int)`` as Spark 2.4 does it: ``12.9`` is 12; out of range is null."""
    return (
        f"CASE WHEN regexp_full_match({value}, {quote(SPARK_INT)}) "
        f"THEN TRY_CAST(regexp_extract({value}, '^[+-]?[0-9]+') AS INTEGER) END"
    )


def pattern_regex(pattern: str) -> tuple[str, list[str]]:
    """The regular expression matching a prefix the way SimpleDateFormat does, and its groups.

    ``.SSSSSSS`` (ejecución's timestamps) is read as an optional fraction of a second.
    """
    tokens = _TOKEN.findall(pattern)
    parts, groups = ["^"], []
    for index, token in enumerate(tokens):
        if token in _FIELDS:
            abutting = index + 1 < len(tokens) and tokens[index + 1] in _FIELDS
            parts.append(f"([0-9]{{{len(token)}}})" if abutting else "[ \t]*([0-9]+)")
            groups.append(_FIELDS[token])
        elif token == ".SSSSSSS":
            parts.append(r"(?:\.([0-9]+))?")
            groups.append("frac")
        else:
            parts.append(re.escape(token))
    return "".join(parts), groups


# pattern letters as fixed-width fields: the shape a canonical value has, and strptime's letter
_CANONICAL = {
    "yyyy": ("[1-9][0-9]{3}", "%Y"),
    "MM": ("[0-9]{2}", "%m"),
    "dd": ("[0-9]{2}", "%d"),
    "HH": ("[0-9]{2}", "%H"),
    "mm": ("[0-9]{2}", "%M"),
    "ss": ("[0-9]{2}", "%S"),
}
FRACTION = ".SSSSSSS"


def canonical(pattern: str) -> tuple[str, str]:
    """The regular expression a value written exactly as ``pattern`` (every field at its full
    width, a year from 1000) matches whole, and the ``strptime`` format that reads it.

    Such values are nearly all of an export, and DuckDB's ``strptime`` reads them alike to
    SimpleDateFormat (both reject 30 February, hour 24 or second 60), ten times faster than
    the general prefix parser. The fraction of ``.SSSSSSS`` is not part of the format.
    """
    regex, fmt = [], []
    for token in _TOKEN.findall(pattern):
        if token in _CANONICAL:
            regex.append(_CANONICAL[token][0])
            fmt.append(_CANONICAL[token][1])
        elif token == FRACTION:
            regex.append(r"\.[0-9]{7}")
        else:
            regex.append(re.escape(token))
            fmt.append(token.replace("%", "%%"))
    return "".join(regex), "".join(fmt)


def parse(value: str, pattern: str, *, timestamp: bool) -> str:
    """A DATE (or TIMESTAMP) from ``value`` by ``pattern``; null where the original gets null.

    A value in the pattern's canonical shape takes ``strptime``; any other goes through the
    prefix parser (`prefix_parse`), which gives the same result on canonical values, only
    slower.
    """
    shape, fmt = canonical(pattern)
    if FRACTION in pattern:
        width = len(pattern) - len(FRACTION)
        fast = (
            f"try_strptime(left({value}, {width}), {quote(fmt)}) + "
            f"to_microseconds(TRY_CAST(substr({value}, {width + 2}, 6) AS BIGINT))"
        )
    else:
        fast = f"try_strptime({value}, {quote(fmt)})"
    if not timestamp:
        fast = f"CAST({fast} AS DATE)"
    slow = prefix_parse(value, pattern, timestamp=timestamp)
    return f"CASE WHEN regexp_full_match({value}, {quote(shape)}) THEN {fast} ELSE {slow} END"


def prefix_parse(value: str, pattern: str, *, timestamp: bool) -> str:
    """``value`` parsed as SimpleDateFormat does: the pattern matching a prefix, numeric fields
    taking every digit, fields checked against their ranges."""
    regex, groups = pattern_regex(pattern)
    match = f"regexp_extract({value}, {quote(regex)}, [{', '.join(map(quote, groups))}])"

    def part(name: str, default: str = "0") -> str:
        if name not in groups:
            return default
        return f"TRY_CAST({match}.{name} AS BIGINT)"

    year, month, day = part("y", "1970"), part("m", "1"), part("d", "1")
    checks = [f"{year} >= 1", f"{month} BETWEEN 1 AND 12", f"{day} >= 1"]
    if not timestamp:
        built = f"try(make_date({year}, {month}, {day}))"
    else:
        hour, minute, second = part("hh"), part("mi"), part("ss")
        checks += [f"{hour} <= 23", f"{minute} <= 59", f"{second} <= 59"]
        built = f"try(make_timestamp({year}, {month}, {day}, {hour}, {minute}, {second}))"
        if "frac" in groups:  # microseconds: the first six digits of the fraction
            micros = f"coalesce(TRY_CAST(rpad(left({match}.frac, 6), 6, '0') AS BIGINT), 0)"
            built = f"({built} + to_microseconds({micros}))"
    return f"CASE WHEN {' AND '.join(checks)} THEN {built} END"
