"""Copying a PostgreSQL state's rows out and in (`cauce.backends.state.CopyStore`).

Rows cross as the contract writes them: item values as JSON text (jsonb here, escaped where it
must be: `cauce.backends.postgres.jsonb`), attributes, parameters and results as Python values,
``cancel`` and ``in_child`` as 0 or 1. Loaded message and log ids move their identity sequences
past them, and the shards' heads are copied as they are (kind ``stream_heads``), so what is
written later follows what was copied.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..state import COPIED, CopyStore
from . import jsonb
from .database import Database, text
from .logs import COUNT_LINES

_KEYS = {"messages": "id", "items": "tbl, key", "item_index": "tbl, idx, value, key",
         "stream_heads": "stream, shard", "stream_records": "stream, shard, seq",
         "stream_consumers": "stream, consumer, shard",
         "runs": "id", "logs": "id", "schedules": "app, job",
         "bucket_objects": "app, bucket, key"}
# the jsonb fields, and how each is written as text for them (item values are JSON text already)
_JSONB = {("items", "value"): jsonb.dump, ("messages", "attrs"): jsonb.dump_value,
          ("runs", "params"): jsonb.dump_value, ("runs", "result"): jsonb.dump_value}
# free text, which a SQLite state written before `cauce.logs.storable_text` may hold with
# U+0000 in it: stored as the engine stores such text when it is written (`database.text`)
_FREE_TEXT = dict.fromkeys((("logs", "message"), ("messages", "last_error"), ("runs", "error"),
                            ("stream_consumers", "last_error")), text)
# how a field is read out, when not as it is
_READ = {("items", "value"): "value::text", ("runs", "cancel"): "cancel::int",
         ("runs", "in_child"): "in_child::int"}
# how a field is written in, when not as it is
_WRITE = {**dict.fromkeys(_JSONB, "%s::jsonb"), ("runs", "cancel"): "%s::int::boolean",
          ("runs", "in_child"): "%s::int::boolean"}
_IDENTITY = frozenset({"messages", "logs"})
# A copy's transactions wait for the other store between their statements, longer than a
# server's idle_in_transaction_session_timeout (meant for sessions left open by mistake) may
# allow: the server ended them, and every copy of a large state failed. Any role may set it
# for its own transaction.
_NO_IDLE_LIMIT = "SET LOCAL idle_in_transaction_session_timeout = 0"


def _fields(kind: str) -> tuple[str, ...]:
    if kind not in COPIED:
        raise ValueError(f"no kind of state called {kind!r}")
    return COPIED[kind]


class PostgresCopying(CopyStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def rows(self, kind: str, page: int = 1000) -> Iterator[list[dict[str, Any]]]:
        fields = _fields(kind)
        columns = ", ".join(_READ.get((kind, f), f) for f in fields)
        with self.db.atomic() as con:
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            con.execute(_NO_IDLE_LIMIT)  # idle while the target loads each page
            with con.cursor(name=f"cauce_copy_{kind}") as cursor:
                cursor.execute(f"SELECT {columns} FROM {kind} ORDER BY {_KEYS[kind]}")
                while batch := cursor.fetchmany(page):
                    rows = [dict(zip(fields, row, strict=True)) for row in batch]
                    if kind == "items":
                        for row in rows:
                            row["value"] = jsonb.restore(row["value"])
                    yield rows

    def load(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        fields = _fields(kind)
        overriding = " OVERRIDING SYSTEM VALUE" if kind in _IDENTITY else ""
        placeholders = ", ".join(_WRITE.get((kind, f), "%s") for f in fields)
        write = [_JSONB.get((kind, f)) or _FREE_TEXT.get((kind, f)) for f in fields]
        values = [tuple(row[f] if to is None or row[f] is None else to(row[f])
                        for f, to in zip(fields, write, strict=True)) for row in rows]
        with self.db.atomic() as con:
            with con.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {kind} ({', '.join(fields)}){overriding} "
                                   f"VALUES ({placeholders})", values)
            if kind in _IDENTITY:
                con.execute(f"SELECT setval(pg_get_serial_sequence('{kind}', 'id'), "
                            f"(SELECT max(id) FROM {kind}))")
            if kind == "logs":  # copied in id order into a state holding none
                con.execute(COUNT_LINES.format(added="SELECT app, stream, ts FROM logs "
                                               "WHERE id >= %s"), (min(r["id"] for r in rows),))

    def loading(self) -> None:
        self.db.change(_NO_IDLE_LIMIT)  # idle while the source reads each page

    def count(self, kind: str) -> int:
        _fields(kind)
        found = self.db.row(f"SELECT count(*) FROM {kind}")
        return int(found[0]) if found else 0
