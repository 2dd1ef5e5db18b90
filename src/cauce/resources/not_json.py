"""Why a value is no JSON, said for the user who sent it: what the value holds, where, and how
to write it instead. Only looked for once the encoder has failed, so it costs nothing on the
way of values that are JSON."""

from __future__ import annotations

import math
import sys
from datetime import date, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

from ..errors import NotSerializable

_NESTED = (dict, list, tuple)
_PLAIN = (str, bool, type(None))
# (the types, the hint), the first that matches the value found
_HINTS: list[tuple[tuple[type, ...], str]] = [
    ((date, time), "write it as text, value.isoformat(), and parse it where it is read"),
    ((timedelta,), "write it as a number of seconds, value.total_seconds()"),
    ((Decimal,), "write it as text, str(value), to keep every digit (a float rounds it)"),
    (
        (bytes, bytearray, memoryview),
        "put the bytes in a bucket and send the object's key, or write them as base64 text",
    ),
    ((set, frozenset), "write it as a list, sorted(value)"),
    ((Enum,), "write its value, value.value"),
    ((UUID, PurePath), "write it as text, str(value)"),
]


def not_json(value: Any, what: str, err: Exception) -> NotSerializable:
    """The error for ``value``, which the JSON encoder refused with ``err``: the first part of
    it that JSON cannot hold, where it is, and a hint fitting its type."""
    found = _first_not_json(value)
    if found is None:  # every part is JSON: it refers to itself, or nests past the stack
        if isinstance(err, RecursionError):
            return NotSerializable(
                f"{what} is not JSON-serialisable: it nests too deeply to be written",
                hint="send a flatter value (a few hundred levels deep at most)",
            )
        return NotSerializable(
            f"{what} is not JSON-serialisable: {err}", hint="send a copy that does not hold itself"
        )
    part, path, is_key = found
    place = f" (at {path})" if path else ""
    if is_key:
        place = f" (in {path})" if path else ""
        return NotSerializable(
            f"{what} is not JSON-serialisable: it has the key {part!r}{place}, which is no text",
            hint="write the key as text, or keep such pairs as a list",
        )
    if isinstance(part, float):
        return NotSerializable(
            f"{what} is not JSON-serialisable: it holds {part!r}{place}, a "
            "float JSON has no number for",
            hint="write None for a missing value, or the text "
            f"{str(part)!r} if that is what is meant",
        )
    if isinstance(part, int):
        return NotSerializable(
            f"{what} is not JSON-serialisable: it holds a whole number of "
            f"more than {sys.get_int_max_str_digits():,} digits{place}, "
            "more than Python writes",
            hint="write it as text, str(value), and convert it where it is read",
        )
    kind = type(part).__name__
    hint = next(
        (text for types, text in _HINTS if isinstance(part, types)),
        "write it as dicts, lists, strings, numbers, booleans and None (a dataclass: "
        "dataclasses.asdict(value))",
    )
    return NotSerializable(
        f"{what} is not JSON-serialisable: it holds a value of type "
        f"{kind}{place}, which JSON has no form for",
        hint=hint,
    )


def _first_not_json(value: Any) -> tuple[Any, str, bool] | None:
    """The first part of ``value`` that JSON cannot hold (of a type it has no form for, a float
    with no JSON number, an integer too long to write, a dict key the encoder cannot write as
    text), its path and whether it is a key; or None. A walk, not a recursion: a value nested
    too deeply to encode is walked all the same; each dict or list is walked once, so a value
    that holds itself ends."""
    pending: list[tuple[Any, str]] = [(value, "")]
    walked: set[int] = set()
    while pending:
        node, path = pending.pop()
        if isinstance(node, _NESTED):
            if id(node) in walked:
                continue
            walked.add(id(node))
        if isinstance(node, dict):
            for key in node:
                if not isinstance(key, (*_PLAIN, int, float)):
                    return key, path, True
            pending.extend(
                (inner, f"{path}.{key}" if path else str(key))
                for key, inner in reversed(node.items())
            )
        elif isinstance(node, _NESTED):
            pending.extend((inner, f"{path}[{n}]") for n, inner in reversed(list(enumerate(node))))
        elif isinstance(node, float):
            if not math.isfinite(node):
                return node, path, False
        elif isinstance(node, int) and not isinstance(node, bool):
            if not _writable(node):
                return node, path, False
        elif not isinstance(node, _PLAIN):
            return node, path, False
    return None


def _writable(number: int) -> bool:
    """Whether Python writes ``number`` as text (it refuses more than 4,300 digits)."""
    try:
        str(number)
    except ValueError:
        return False
    return True
