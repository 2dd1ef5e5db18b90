"""The part every resource shares: its app, its name, and the runtime it is attached to."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from itertools import chain, compress
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import DeclarationError, NotAttached, NotSerializable, ResourceError
from ..names import checked
from .not_json import not_json

if TYPE_CHECKING:
    from ..app import App
    from ..runtime.runtime import Runtime
    from ..settings import Setting

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


class Resource:
    """A named resource of an app. Declaring one does no I/O."""

    kind: ClassVar[str] = "resource"

    def __init__(self, app: App, name: str, url: str | Setting | None = None) -> None:
        hint = "use lower case letters, digits, '-', '_' and '.' (and not ending in .dlq)"
        checked(f"{self.kind} name", name, _NAME, hint)
        if name.endswith(".dlq"):
            raise DeclarationError(f"{self.kind} name {name!r} is not valid", hint=hint)
        self.app = app
        self.name = name
        self.url = url

    @property
    def qualified(self) -> str:
        """``app:name``: unique across every app sharing a home."""
        return f"{self.app.name}:{self.name}"

    def _runtime(self) -> Runtime:
        runtime = self.app.runtime
        if runtime is None:
            raise NotAttached(f"{self.kind} {self.name!r} of app {self.app.name!r} "
                              "is not attached to a runtime")
        return runtime

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.qualified}>"


# One encoder for every call: json.dumps with options builds a new one each time, which costs
# as much as encoding a small record.
_STRICT = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False)
_STRICT_ASCII = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_SURROGATE = re.compile("[\ud800-\udfff]")
_DECODER = json.JSONDecoder()
_TEXT = frozenset({str})
_DICT = frozenset({dict})
_NESTED = (dict, list, tuple)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be a key, a partition key or a message group on every state engine
    (PostgreSQL's text holds no U+0000; a lone surrogate has no UTF-8), or None when it can.
    Cheap for ASCII text without U+0000, which is nearly all."""
    if text.isascii() and "\x00" not in text:
        return None
    bad = _UNSTORABLE.search(text)
    if bad is None:
        return None
    return (f"{text[:80]!r} contains U+{ord(bad.group()):04X}, which a state engine cannot keep "
            "in a key (PostgreSQL's text holds no U+0000; lone surrogates have no UTF-8)")


def to_json(value: Any, what: str) -> str:
    """Strict JSON text of ``value`` (no NaN, no arbitrary objects, no dict key that is not
    text), or NotSerializable."""
    text = _strict_json(value, what)
    _check_keys_of([value], [text], what)
    return text


def to_json_many(values: Iterable[Any], what: str) -> list[str]:
    """`to_json` of each value (NotSerializable for the first that has none); their keys are
    looked at together, which costs less than one by one."""
    values = list(values)
    texts = [_strict_json(value, what) for value in values]
    _check_keys_of(values, texts, what)
    return texts


def _strict_json(value: Any, what: str) -> str:
    """Strict JSON text of ``value``, its dict keys not looked at: `_check_keys_of` does that.

    A string holding a lone surrogate (as ``os.fsdecode`` gives for undecodable bytes) has
    no UTF-8 form, so no engine could store it as written: such text is written with JSON
    escapes instead, which read back as the same string."""
    try:
        text = _STRICT.encode(value)
    except (TypeError, ValueError, RecursionError) as err:  # RecursionError: nested too deep
        raise not_json(value, what, err) from None
    if not text.isascii() and _SURROGATE.search(text) is not None:
        return _STRICT_ASCII.encode(value)
    return text


def _check_keys_of(values: list[Any], texts: list[str], what: str) -> None:
    """Refuse a dict key that is not text in any of ``values``, whose JSON is ``texts``, as
    `check_text_keys` does, at little cost: JSON writes such a key as text ({1: "a"} as
    {"1": "a"}), so the JSON alone cannot tell. Every dict writes a "{": when the dicts found
    by passes in C, among the values and the values of those dicts, are as many and have text
    keys, there is no other (nearly every body and record). Else the JSON is read back and
    compared, in C too: that costs less than the encoding, where a walk in Python costs more;
    only values that read back unequal are walked."""
    if len(texts) == 1:  # a value alone, its own keys all there is when no other "{" follows
        text = texts[0]
        if text.find("{", 1) < 0 and (text[0] != "{" or _TEXT.issuperset(map(type, values[0]))):
            return
        dicts = text.count("{")
    else:
        dicts = "".join(texts).count("{")
        if dicts == 0:
            return
    if _found_with_text_keys(values, dicts):
        return
    back = _DECODER.decode(f"[{','.join(texts)}]")
    if back != values:
        for value, read in zip(values, back, strict=True):
            if read != value:
                check_text_keys(value, what)  # a tuple too reads back unequal: it passes


def _found_with_text_keys(values: list[Any], dicts: int) -> bool:
    """Whether ``dicts`` dicts are found in ``values``, level by level down dicts only, each
    with text keys."""
    level = list(compress(values, map(_DICT.__contains__, map(type, values))))
    while level and _TEXT.issuperset(map(type, chain.from_iterable(level))):
        dicts -= len(level)
        if dicts == 0:
            return True
        inner = list(chain.from_iterable(map(dict.values, level)))
        level = list(compress(inner, map(_DICT.__contains__, map(type, inner))))
    return False


def check_text_keys(value: Any, what: str) -> None:
    """Refuse a dict key that is not text anywhere in ``value`` (NotSerializable naming it and
    where it is): JSON's keys are text, and `json` writes ``1``, ``True`` or ``None`` as
    ``"1"``, ``"true"``, ``"null"``, so the value would not read back as it was written.
    ``value`` must be JSON-serialisable (no cycle): `to_json` encodes it first."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        node, path = pending.pop()
        if isinstance(node, dict):
            for key, inner in node.items():
                if not isinstance(key, str):
                    where = f" (in {path})" if path else ""
                    raise NotSerializable(
                        f"{what} has the key {key!r}{where}, which is no text: JSON's keys "
                        "are text, so it would not read back as written",
                        hint=f"write the key as text yourself, {str(key)!r}, if that is what "
                        "is meant, or keep such pairs as a list")
                if isinstance(inner, _NESTED):
                    pending.append((inner, f"{path}.{key}" if path else key))
        elif isinstance(node, _NESTED):
            pending.extend((inner, f"{path}[{n}]") for n, inner in enumerate(node)
                           if isinstance(inner, _NESTED))


# the largest integer of the state engines (SQLite's INTEGER, PostgreSQL's bigint)
MOST = 2**63 - 1


def check_count(value: Any, what: str) -> None:
    """Refuse a count (of messages, of items) that is not a whole number from 0 to `MOST`:
    SQLite takes a negative LIMIT as none (every row), PostgreSQL fails with an error of its
    own, and a larger one was an OverflowError of SQLite's driver ("bigint out of range" on
    PostgreSQL)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MOST:
        raise ResourceError(f"{what}={value!r} is not a count",
                            hint=f"a whole number, 0 to {MOST:,}")
