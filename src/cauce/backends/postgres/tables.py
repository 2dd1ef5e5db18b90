"""Tables in PostgreSQL (`cauce.backends.state.TableStore`): one jsonb row per item with its
version (U+0000 and lone surrogates escaped: `cauce.backends.postgres.jsonb`). A write — its
condition, the item and its index entries — is one statement, so the check and the write are
one atomic step and one round trip. Keys use the "C" collation: a key prefix is a key range of
the primary key."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..state import TableStore, key_range_end
from . import jsonb
from .database import Database

_PLAIN = ("INSERT INTO items (tbl, key, value, version, updated_at) "
          "VALUES (%(t)s, %(k)s, %(v)s::jsonb, 1, %(now)s) "
          "ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value, "
          "version = items.version + 1, updated_at = excluded.updated_at RETURNING version")
_IF_ABSENT = ("INSERT INTO items (tbl, key, value, version, updated_at) "
              "VALUES (%(t)s, %(k)s, %(v)s::jsonb, 1, %(now)s) "
              "ON CONFLICT (tbl, key) DO NOTHING RETURNING version")
_IF_VERSION = ("UPDATE items SET value = %(v)s::jsonb, version = version + 1, "
               "updated_at = %(now)s WHERE tbl = %(t)s AND key = %(k)s "
               "AND version = %(version)s RETURNING version")
# The index entries follow the write, only when it happened: entries no longer wanted go, new
# ones come.
_WITH_INDEXES = """
WITH w AS ({write}),
wanted AS (SELECT * FROM unnest(%(names)s::text[], %(values)s::text[]) AS u(idx, value)),
gone AS (DELETE FROM item_index AS x USING w
         WHERE x.tbl = %(t)s AND x.key = %(k)s
           AND (x.idx, x.value) NOT IN (SELECT idx, value FROM wanted)),
added AS (INSERT INTO item_index (tbl, idx, value, key)
          SELECT %(t)s, wanted.idx, wanted.value, %(k)s FROM w, wanted
          ON CONFLICT DO NOTHING)
SELECT version FROM w
"""
_PUT = {kind: _WITH_INDEXES.format(write=write) for kind, write in
        (("plain", _PLAIN), ("absent", _IF_ABSENT), ("version", _IF_VERSION))}


class PostgresTables(TableStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, table: str, key: str) -> tuple[str, int] | None:
        row = self.db.row("SELECT value::text, version FROM items WHERE tbl = %s AND key = %s",
                          (table, key))
        return (jsonb.restore(row[0]), row[1]) if row else None

    def put(self, table: str, key: str, value: str, *, indexes: Mapping[str, str], now: float,
            if_absent: bool = False, if_version: int | None = None) -> int | None:
        kind = "absent" if if_absent else "version" if if_version is not None else "plain"
        if if_absent and if_version is not None:
            return None  # an item cannot both be absent and have a version
        row = self.db.row(_PUT[kind], {"t": table, "k": key, "v": jsonb.dump(value), "now": now,
                                       "version": if_version, "names": list(indexes),
                                       "values": list(indexes.values())})
        return row[0] if row else None

    def delete(self, table: str, key: str, *, if_version: int | None = None) -> bool:
        row = self.db.row(
            "WITH d AS (DELETE FROM items WHERE tbl = %(t)s AND key = %(k)s "
            "           AND (%(version)s::integer IS NULL OR version = %(version)s) "
            "           RETURNING key), "
            "x AS (DELETE FROM item_index AS i USING d WHERE i.tbl = %(t)s AND i.key = d.key) "
            "SELECT count(*) FROM d", {"t": table, "k": key, "version": if_version})
        return bool(row and row[0])

    def by_prefix(self, table: str, prefix: str, limit: int | None = None) -> list[str]:
        rows = self.db.rows("SELECT value::text FROM items WHERE tbl = %s AND key >= %s "
                            "AND key < %s ORDER BY key LIMIT %s",
                            (table, prefix, key_range_end(prefix), limit or None))
        return [jsonb.restore(r[0]) for r in rows]

    def by_index(self, table: str, index: str, value: str,
                 limit: int | None = None) -> list[str]:
        rows = self.db.rows("SELECT i.value::text FROM item_index AS x "
                            "JOIN items AS i ON i.tbl = x.tbl AND i.key = x.key "
                            "WHERE x.tbl = %s AND x.idx = %s AND x.value = %s "
                            "ORDER BY x.key LIMIT %s", (table, index, value, limit or None))
        return [jsonb.restore(r[0]) for r in rows]

    def scan(self, table: str, page: int = 1000) -> Iterator[str]:
        after: str | None = None
        while True:
            rows = self.db.rows("SELECT key, value::text FROM items WHERE tbl = %s "
                                "AND (%s::text IS NULL OR key > %s) ORDER BY key LIMIT %s",
                                (table, after, after, page))
            if not rows:
                return
            for row in rows:
                yield jsonb.restore(row[1])
            after = rows[-1][0]

    def count(self, table: str) -> int:
        row = self.db.row("SELECT count(*) FROM items WHERE tbl = %s", (table,))
        return int(row[0]) if row else 0
