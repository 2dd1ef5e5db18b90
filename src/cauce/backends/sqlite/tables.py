"""Tables in the SQLite state file (`cauce.backends.state.TableStore`): one row per item with
its version; secondary index entries are rows of ``item_index`` kept in step in the same
transaction. A key prefix is a key range, so prefix queries use the primary key."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..state import TableStore, key_range_end
from .database import StateDB


class SQLiteTables(TableStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def get(self, table: str, key: str) -> tuple[str, int] | None:
        with self.db.reading() as con:
            row = con.execute("SELECT value, version FROM items WHERE tbl = ? AND key = ?",
                              (table, key)).fetchone()
        return (row[0], row[1]) if row else None

    def put(self, table: str, key: str, value: str, *, indexes: Mapping[str, str], now: float,
            if_absent: bool = False, if_version: int | None = None) -> int | None:
        with self.db.atomic() as con:
            current = self.get(table, key)
            if if_absent and current is not None:
                return None
            if if_version is not None and (current is None or current[1] != if_version):
                return None
            version = 1 if current is None else current[1] + 1
            con.execute(
                "INSERT INTO items (tbl, key, value, version, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value, "
                "version = excluded.version, updated_at = excluded.updated_at",
                (table, key, value, version, now))
            con.execute("DELETE FROM item_index WHERE tbl = ? AND key = ?", (table, key))
            if indexes:
                con.executemany(
                    "INSERT INTO item_index (tbl, idx, value, key) VALUES (?, ?, ?, ?)",
                    [(table, name, indexed, key) for name, indexed in indexes.items()])
            return version

    def delete(self, table: str, key: str, *, if_version: int | None = None) -> bool:
        with self.db.atomic() as con:
            if if_version is not None:
                cur = con.execute("DELETE FROM items WHERE tbl = ? AND key = ? AND version = ?",
                                  (table, key, if_version))
            else:
                cur = con.execute("DELETE FROM items WHERE tbl = ? AND key = ?", (table, key))
            if cur.rowcount:
                con.execute("DELETE FROM item_index WHERE tbl = ? AND key = ?", (table, key))
            return cur.rowcount == 1

    def by_prefix(self, table: str, prefix: str, limit: int | None = None) -> list[str]:
        sql = "SELECT value FROM items WHERE tbl = ? AND key >= ? AND key < ? ORDER BY key"
        args: list[object] = [table, prefix, key_range_end(prefix)]
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self.db.reading() as con:
            return [row[0] for row in con.execute(sql, args).fetchall()]

    def by_index(self, table: str, index: str, value: str,
                 limit: int | None = None) -> list[str]:
        sql = ("SELECT i.value FROM item_index AS x "
               "JOIN items AS i ON i.tbl = x.tbl AND i.key = x.key "
               "WHERE x.tbl = ? AND x.idx = ? AND x.value = ? ORDER BY x.key")
        args: list[object] = [table, index, value]
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self.db.reading() as con:
            return [row[0] for row in con.execute(sql, args).fetchall()]

    def scan(self, table: str, page: int = 1000) -> Iterator[str]:
        after, first = "", True
        while True:
            with self.db.reading() as con:
                rows = con.execute(
                    "SELECT key, value FROM items WHERE tbl = ? AND (key > ? OR ?) "
                    "ORDER BY key LIMIT ?", (table, after, first, page)).fetchall()
            if not rows:
                return
            for row in rows:
                yield row[1]
            after, first = rows[-1][0], False

    def count(self, table: str) -> int:
        with self.db.reading() as con:
            return int(con.execute("SELECT count(*) FROM items WHERE tbl = ?",
                                   (table,)).fetchone()[0])
