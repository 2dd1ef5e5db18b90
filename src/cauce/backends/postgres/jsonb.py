"""JSON as jsonb can hold it, and back again unchanged.

jsonb refuses two things JSON text may hold and a SQLite state keeps: the character U+0000
(``"\\u0000"``, which Python writes for ``"\\x00"``) and a lone surrogate (``"\\ud800"``).
Strings holding either — and strings holding the escape character itself — are escaped on the
way in and restored on the way out, so the value read back is the value written, on either
engine. The escape character is U+FFFF, a noncharacter that interchanged text should not carry:
U+FFFF becomes U+FFFF U+FFFF, U+0000 becomes U+FFFF ``0``, a lone surrogate U+FFFF ``u`` and
its four hex digits.

Text without them (nearly all) crosses as it is, after one search; only the rare text that has
one is parsed and written again.

jsonb keeps numbers as ``numeric``, which prints a number written with a positive exponent
without it and without a decimal point: the float ``1e+300`` would read back as the integer
``10**300``, ``1.2345678901234568e+22`` as an int. Such numbers are written out in full with
``.0`` on the way in, which jsonb keeps, and which reads back as the same float.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

ESC = "\uffff"
_ESC_BYTES = ESC.encode()
# what the way in must look at: U+0000 or a surrogate as escapes, U+FFFF raw or as an escape
_UNSAFE = re.compile(r"\\u(?:0000|[dD][89a-fA-F]|[fF]{4})|\uffff")
_TO_ESCAPE = re.compile("[\x00\ud800-\udfff\uffff]")
_ESCAPED = re.compile("\uffff(\uffff|0|u[0-9a-f]{4})")
# a number with a positive exponent (outside strings: a string is matched whole, and kept)
_EXPONENT = re.compile(r"\d[eE]\+?\d")
_STRING_OR_EXPONENT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?\d+(?:\.\d+)?[eE]\+?\d+)')


def _escape_one(found: re.Match[str]) -> str:
    char = found.group()
    return ESC + ("0" if char == "\x00" else ESC if char == ESC else f"u{ord(char):04x}")


def _restore_one(found: re.Match[str]) -> str:
    code = found.group(1)
    return "\x00" if code == "0" else ESC if code == ESC else chr(int(code[1:], 16))


def _escape(text: str) -> str:
    return _TO_ESCAPE.sub(_escape_one, text)


def _restore(text: str) -> str:
    return _ESCAPED.sub(_restore_one, text) if ESC in text else text


def _each_string(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (as `json.loads` gives it) with ``change`` applied to every string in it,
    object keys included. A walk, not a recursion: a value nested a few hundred deep, which
    the other engine keeps, failed here with RecursionError."""
    if isinstance(value, str):
        return change(value)
    if not isinstance(value, list | dict):
        return value
    top = _copied(value, change)
    pending = [top]
    while pending:
        node = pending.pop()
        for place, inner in list(enumerate(node) if isinstance(node, list) else node.items()):
            if isinstance(inner, str):
                node[place] = change(inner)
            elif isinstance(inner, list | dict):
                node[place] = _copied(inner, change)
                pending.append(node[place])
    return top


def _copied(node: list[Any] | dict[str, Any], change: Callable[[str], str]) -> Any:
    """A copy of one list, or of one dict with ``change`` applied to its keys: its values are
    changed in place by `_each_string`."""
    if isinstance(node, list):
        return list(node)
    return {change(key): inner for key, inner in node.items()}


def _in_full(found: re.Match[str]) -> str:
    number = found.group(1)
    if number is None:
        return found.group()
    text = format(Decimal(number), "f")
    return text if "." in text else text + ".0"


def _floats_in_full(text: str) -> str:
    """``text`` with every number written with a positive exponent written out in full."""
    if _EXPONENT.search(text) is None:
        return text
    return _STRING_OR_EXPONENT.sub(_in_full, text)


def dump(text: str) -> str:
    """JSON text as jsonb accepts it (``%s::jsonb``), escaped where it must be, floats kept
    floats."""
    if _UNSAFE.search(text) is not None:
        text = json.dumps(_each_string(json.loads(text), _escape), ensure_ascii=False,
                          separators=(",", ":"))
    return _floats_in_full(text)


def dump_value(value: Any) -> str | None:
    """A Python value (a run's parameters, its result) as text for a jsonb column."""
    return None if value is None else dump(json.dumps(value, default=str))


def restore(text: str) -> str:
    """JSON text read from a jsonb column (``column::text``) as it was written: the same value,
    with U+0000 and lone surrogates as JSON escapes."""
    if ESC not in text:
        return text
    return json.dumps(_each_string(json.loads(text), _restore))


def load(data: bytes | bytearray | memoryview | str) -> Any:
    """psycopg's loader of json and jsonb values (`set_json_loads`): the value as written."""
    raw = data if isinstance(data, str | bytes) else bytes(data)
    value = json.loads(raw)
    found = ESC in raw if isinstance(raw, str) else _ESC_BYTES in raw
    return _each_string(value, _restore) if found else value
