"""Reading a SQLite home's state file as it is, from tests whose cauce processes are killed at
random: plain queries on a connection of their own, no store opened (nothing recovered, nothing
migrated), and how far a stream's consumer lags."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def query(home: Path, sql: str) -> list[tuple]:
    """The rows ``sql`` selects from the state file of ``home``."""
    con = sqlite3.connect(home / "state.db", timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def lag(home: Path, stream: str, consumer: str) -> int:
    """Records of ``stream`` (its full name, ``app:stream``) that ``consumer`` has not
    checkpointed, over every shard; 1 while the stream has no shard yet (nothing to be caught
    up with is not caught up)."""
    rows = query(
        home,
        "SELECT s.last_seq - coalesce(c.seq, 0) FROM stream_shards s "
        "LEFT JOIN stream_consumers c ON c.stream = s.stream AND c.shard = s.shard "
        f"AND c.consumer = '{consumer}' WHERE s.stream = '{stream}'",
    )
    return sum(r[0] for r in rows) if rows else 1
