"""Copying a SQLite state file's rows out and in (`cauce.backends.state.CopyStore`).

The kind ``stream_heads`` is the table ``stream_shards`` here, its ``seq`` the column
``last_seq``: the counter a record appended after the copy is numbered from."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..state import COPIED, CopyStore
from .database import StateDB
from .logs import count_lines

# fields kept as JSON text in the file but crossing the seam as Python values
_JSON = frozenset({"attrs", "params", "result"})
# the key of each kind's rows, for a stable order
_KEYS = {"messages": "id", "items": "tbl, key", "item_index": "tbl, idx, value, key",
         "stream_heads": "stream, shard", "stream_records": "stream, shard, seq",
         "stream_consumers": "stream, consumer, shard",
         "runs": "id", "logs": "id", "schedules": "app, job",
         "bucket_objects": "app, bucket, key"}
# kinds and fields under another name in the file
_TABLES = {"stream_heads": "stream_shards"}
_COLUMNS = {("stream_heads", "seq"): "last_seq"}


def _fields(kind: str) -> tuple[str, ...]:
    if kind not in COPIED:
        raise ValueError(f"no kind of state called {kind!r}")
    return COPIED[kind]


def _columns(kind: str) -> list[str]:
    """The file's column of each field of ``kind``, in the order of its fields."""
    return [_COLUMNS.get((kind, f), f) for f in _fields(kind)]


class SQLiteCopying(CopyStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def rows(self, kind: str, page: int = 1000) -> Iterator[list[dict[str, Any]]]:
        fields = _fields(kind)
        with self.db.reading() as con:
            con.execute("BEGIN")  # one snapshot for every page
            try:
                cursor = con.execute(f"SELECT {', '.join(_columns(kind))} "
                                     f"FROM {_TABLES.get(kind, kind)} "
                                     f"ORDER BY {_KEYS[kind]}")
                while batch := cursor.fetchmany(page):
                    yield [{f: (json.loads(v) if f in _JSON and v is not None else v)
                            for f, v in zip(fields, row, strict=True)} for row in batch]
            finally:
                con.execute("COMMIT")

    def load(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        fields = _fields(kind)
        values = [tuple(json.dumps(row[f]) if f in _JSON and row[f] is not None else row[f]
                        for f in fields) for row in rows]
        with self.db.atomic() as con:
            con.executemany(f"INSERT INTO {_TABLES.get(kind, kind)} "
                            f"({', '.join(_columns(kind))}) "
                            f"VALUES ({', '.join('?' * len(fields))})", values)
            if kind == "logs" and rows:  # copied in id order into a state holding none
                count_lines(con, above=min(row["id"] for row in rows) - 1)

    def count(self, kind: str) -> int:
        _fields(kind)
        with self.db.reading() as con:
            return int(con.execute(f"SELECT count(*) FROM {_TABLES.get(kind, kind)}")
                       .fetchone()[0])
