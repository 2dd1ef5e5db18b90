"""Table: a key–value (document) table with versions for conditional, idempotent writes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..errors import ConditionFailed, DeclarationError, InvalidKey
from .base import Resource, check_count, to_json, unstorable

if TYPE_CHECKING:
    from ..app import App

KeyValue = str | int | tuple[Any, ...]
SEPARATOR = "\x1f"  # joins the parts of a composite key, so a prefix of parts is a key range
# Longer keys and index entries do not fit one entry of PostgreSQL's btree (about 2.7 kB with
# the table's name); 1 kB is also DynamoDB's limit for a sort key.
MAX_KEY = 1024
# The largest version an item can have (PostgreSQL keeps versions as integer).
MAX_VERSION = 2**31 - 1
# An index entry longer than this is stored as a digest of the value's JSON: lookups are by
# equality only, so the digest finds the same items and always fits.
_LONG_INDEX = 256


class Table(Resource):
    """Items (JSON objects) identified by one attribute, or a tuple of attributes, of each item."""

    kind = "table"

    def __init__(self, app: App, name: str, *, key: str | Sequence[str] = "id",
                 indexes: str | Sequence[str] = ()) -> None:
        super().__init__(app, name)
        self.key_fields: tuple[str, ...] = (key,) if isinstance(key, str) else tuple(key)
        if not self.key_fields or not all(isinstance(k, str) and k for k in self.key_fields):
            raise DeclarationError(f"table {name!r}: key must be an attribute name "
                                   "or a tuple of them",
                                   hint='e.g. key="id", or key=("station", "day")')
        self.indexes = (indexes,) if isinstance(indexes, str) else tuple(indexes)
        if not all(map(_attribute, self.indexes)):  # index names are stored as text
            raise DeclarationError(f"table {name!r}: indexes must be attribute names, "
                                   f"not {list(self.indexes)!r}",
                                   hint="non-empty text without U+0000, e.g. indexes=['status']")
        overlap = set(self.indexes) & set(self.key_fields)
        if overlap:
            raise DeclarationError(f"table {name!r}: {sorted(overlap)} is already the key; "
                                   "drop it from indexes",
                                   hint="an item is found by its key without an index")

    # -- keys ---------------------------------------------------------------------------
    def _encode(self, key: KeyValue, *, prefix: bool = False) -> str:
        parts = key if isinstance(key, tuple) else (key,)
        if not prefix and len(parts) != len(self.key_fields):
            raise InvalidKey(f"table {self.name!r} keys have {len(self.key_fields)} part(s) "
                             f"{self.key_fields}, got {key!r}")
        text = SEPARATOR.join(_part(p, self.name) for p in parts)
        if len(text) > MAX_KEY // 4 and len(text.encode()) > MAX_KEY:
            raise InvalidKey(f"table {self.name!r}: a key of {len(text.encode()):,} bytes is too "
                             f"long (at most {MAX_KEY:,} in UTF-8)",
                             hint="key items by a shorter value, e.g. a digest of this one")
        return text

    def key_of(self, item: dict[str, Any]) -> KeyValue:
        """The key of ``item`` (a tuple for composite keys)."""
        missing = [k for k in self.key_fields if item.get(k) is None]
        if missing:
            raise InvalidKey(f"item for table {self.name!r} has no {', '.join(missing)}",
                             hint=f"every item needs its key attribute(s) {self.key_fields}")
        values = tuple(item[k] for k in self.key_fields)
        return values if len(values) > 1 else values[0]

    # -- operations ---------------------------------------------------------------------
    def put(self, item: dict[str, Any], *, if_absent: bool = False,
            if_version: int | None = None) -> int:
        """Write ``item``; returns its new version. ConditionFailed when a condition does not
        hold."""
        if not isinstance(item, dict):
            raise InvalidKey(f"table {self.name!r} stores dicts, not {type(item).__name__}")
        key = self._encode(self.key_of(item))
        text = to_json(item, f"an item for table {self.name!r}")
        indexes = {i: index_text(item[i]) for i in self.indexes if item.get(i) is not None}
        runtime = self._runtime()
        version = runtime.state.tables.put(self.qualified, key, text, indexes=indexes,
                                           now=runtime.clock.time(), if_absent=if_absent,
                                           if_version=if_version)
        if version is None:
            wanted = "absent" if if_absent else f"at version {if_version}"
            raise ConditionFailed(f"item {self.key_of(item)!r} of table {self.name!r} "
                                  f"is not {wanted}")
        return version

    def get(self, key: KeyValue) -> dict[str, Any] | None:
        found = self.get_with_version(key)
        return found[0] if found else None

    def get_with_version(self, key: KeyValue) -> tuple[dict[str, Any], int] | None:
        """The item and its version, read together (or None if absent): what a change made
        to the item is put back with, ``if_version=version``. `get` then `version` are two
        reads, and a write between them would give the newer version with the older item."""
        found = self._runtime().state.tables.get(self.qualified, self._encode(key))
        return (json.loads(found[0]), found[1]) if found else None

    def version(self, key: KeyValue) -> int | None:
        """The item's current version (1 after its first put), or None if absent."""
        found = self._runtime().state.tables.get(self.qualified, self._encode(key))
        return found[1] if found else None

    def delete(self, key: KeyValue, *, if_version: int | None = None) -> bool:
        """Delete the item (only at ``if_version``, when given); whether one was deleted."""
        encoded = self._encode(key)
        if if_version is not None and not (isinstance(if_version, int)
                                           and 0 < if_version <= MAX_VERSION):
            return False  # no item is at it: the engines' integers cannot even hold some
        return self._runtime().state.tables.delete(self.qualified, encoded,
                                                   if_version=if_version)

    def query(
        self, prefix: KeyValue | None = None, *, index: str | None = None, value: Any = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Items whose key starts with ``prefix`` (text, or leading parts of a composite key),
        or whose ``index`` attribute equals ``value``."""
        tables = self._runtime().state.tables
        if limit is not None:
            check_count(limit, f"table {self.name!r}: limit")
            if limit == 0:  # the state engines take a limit of 0 as none
                return []
        if index is not None:
            if index not in self.indexes:
                raise InvalidKey(f"table {self.name!r} has no index {index!r}",
                                 hint=f"declare indexes=[{index!r}] (it has {list(self.indexes)})")
            rows = tables.by_index(self.qualified, index, index_text(value), limit)
        else:
            text = ""
            if prefix is not None:
                text = self._encode(prefix, prefix=True)
                if isinstance(prefix, tuple) and len(self.key_fields) > len(prefix):
                    text += SEPARATOR
            rows = tables.by_prefix(self.qualified, text, limit)
        return [json.loads(r) for r in rows]

    def scan(self) -> Iterator[dict[str, Any]]:
        """Every item, in key order."""
        for text in self._runtime().state.tables.scan(self.qualified):
            yield json.loads(text)

    def count(self) -> int:
        return self._runtime().state.tables.count(self.qualified)


# Integer key parts are stored as a marker and 20 digits (offset to be non-negative), so that 1 and
# "1" are different keys, integers sort by value (2 before 10), and the prefix 1 does not match 10.
# Dates are stored as their ISO text, so a date and its text name the same item.
_INTEGER = "\x1e"
_OFFSET = 2**63


def _part(value: Any, table: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | date | datetime):
        raise InvalidKey(f"table {table!r}: key part {value!r} must be text, an integer or a date")
    if isinstance(value, int):
        if not -_OFFSET <= value < _OFFSET:
            raise InvalidKey(f"table {table!r}: key part {value} does not fit in 64 bits")
        return f"{_INTEGER}{value + _OFFSET:020d}"
    text = value.isoformat() if isinstance(value, date | datetime) else value
    for reserved in (SEPARATOR, _INTEGER):
        if reserved in text:
            raise InvalidKey(f"table {table!r}: key part {text!r} contains the reserved character "
                             f"U+{ord(reserved):04X}")
    if (why := unstorable(text)) is not None:
        raise InvalidKey(f"table {table!r}: key part {why}",
                         hint="key items by text without it, e.g. its escaped or hex form")
    return text


def _attribute(name: Any) -> bool:
    """Whether ``name`` can name an index in the state: non-empty text that every engine can
    keep (PostgreSQL's text holds no U+0000)."""
    return isinstance(name, str) and bool(name) and unstorable(name) is None


def index_text(value: Any) -> str:
    """An index entry: the value's JSON, or a digest of it when longer than `_LONG_INDEX`."""
    text = json.dumps(value, sort_keys=True)
    if len(text) <= _LONG_INDEX:
        return text
    return "#sha256:" + hashlib.sha256(text.encode()).hexdigest()  # never JSON, never clashes
