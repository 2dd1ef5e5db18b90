"""Key–value tables in the state database, with versions for conditional writes.

Keys are text; a composite key is its parts joined by the unit separator (U+001F), so a prefix
of parts is a key range. Secondary indexes are rows of ``item_index`` kept in step with every
write, in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping

SEPARATOR = "\x1f"
_HIGH = "\U0010ffff"


def get(con: sqlite3.Connection, table: str, key: str) -> tuple[str, int] | None:
    row = con.execute("SELECT value, version FROM items WHERE tbl = ? AND key = ?",
                      (table, key)).fetchone()
    return (row[0], row[1]) if row else None


def put(
    con: sqlite3.Connection,
    table: str,
    key: str,
    value: str,
    *,
    indexes: Mapping[str, str],
    now: float,
    if_absent: bool = False,
    if_version: int | None = None,
) -> int | None:
    """Write an item; returns its new version, or None when the condition did not hold."""
    current = get(con, table, key)
    if if_absent and current is not None:
        return None
    if if_version is not None and (current is None or current[1] != if_version):
        return None
    version = 1 if current is None else current[1] + 1
    con.execute(
        "INSERT INTO items (tbl, key, value, version, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value, version = excluded.version, "
        "updated_at = excluded.updated_at",
        (table, key, value, version, now),
    )
    con.execute("DELETE FROM item_index WHERE tbl = ? AND key = ?", (table, key))
    if indexes:
        con.executemany(
            "INSERT INTO item_index (tbl, idx, value, key) VALUES (?, ?, ?, ?)",
            [(table, name, indexed, key) for name, indexed in indexes.items()],
        )
    return version


def delete(con: sqlite3.Connection, table: str, key: str, *, if_version: int | None = None) -> bool:
    if if_version is not None:
        cur = con.execute("DELETE FROM items WHERE tbl = ? AND key = ? AND version = ?",
                          (table, key, if_version))
    else:
        cur = con.execute("DELETE FROM items WHERE tbl = ? AND key = ?", (table, key))
    if cur.rowcount:
        con.execute("DELETE FROM item_index WHERE tbl = ? AND key = ?", (table, key))
    return cur.rowcount == 1


def by_prefix(con: sqlite3.Connection, table: str, prefix: str, limit: int | None) -> list[str]:
    """Values whose key starts with ``prefix``, in key order."""
    sql = "SELECT value FROM items WHERE tbl = ? AND key >= ? AND key < ? ORDER BY key"
    args: list[object] = [table, prefix, prefix + _HIGH]
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return [row[0] for row in con.execute(sql, args)]


def by_index(con: sqlite3.Connection, table: str, index: str, value: str,
             limit: int | None) -> list[str]:
    sql = (
        "SELECT i.value FROM item_index AS x JOIN items AS i ON i.tbl = x.tbl AND i.key = x.key "
        "WHERE x.tbl = ? AND x.idx = ? AND x.value = ? ORDER BY x.key"
    )
    args: list[object] = [table, index, value]
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return [row[0] for row in con.execute(sql, args)]


def scan(con: sqlite3.Connection, table: str, page: int = 1000) -> Iterator[str]:
    """Every value in key order, read a page at a time so writers are never blocked for long."""
    after = ""
    first = True
    while True:
        rows = con.execute(
            "SELECT key, value FROM items WHERE tbl = ? AND (key > ? OR ?) ORDER BY key LIMIT ?",
            (table, after, first, page),
        ).fetchall()
        if not rows:
            return
        for row in rows:
            yield row[1]
        after, first = rows[-1][0], False


def count(con: sqlite3.Connection, table: str) -> int:
    return int(con.execute("SELECT count(*) FROM items WHERE tbl = ?", (table,)).fetchone()[0])
