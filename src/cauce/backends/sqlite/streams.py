"""Streams in the SQLite state file (`cauce.backends.state.StreamStore`): records by (stream,
shard, sequence), numbered inside the appending transaction from a per-shard counter
(``stream_shards``), so order within a shard is the order of commits and trimming never makes a
number come back; one row per consumer and shard holds its checkpoint and lease."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..state import ConsumerState, ShardState, StoredRecord, StreamStore
from .database import StateDB

_STATE = ("SELECT shard, seq, lease, lease_until, attempts, retry_at, last_error, worker, run_id, "
          "isolated, upto FROM stream_consumers WHERE stream = ? AND consumer = ? ORDER BY shard")
_HELD = "WHERE stream = ? AND consumer = ? AND shard = ? AND lease = ?"


class SQLiteStreams(StreamStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def append(self, stream: str, shard: int, items: Sequence[tuple[str, str]], *,
               now: float) -> list[int]:
        if not items:
            return []
        with self.db.atomic() as con:
            last = con.execute(
                "INSERT INTO stream_shards (stream, shard, last_seq) VALUES (?, ?, ?) "
                "ON CONFLICT (stream, shard) DO UPDATE SET last_seq = last_seq + excluded.last_seq "
                "RETURNING last_seq", (stream, shard, len(items))).fetchone()[0]
            first = last - len(items) + 1
            con.executemany(
                "INSERT INTO stream_records (stream, shard, seq, pkey, data, ts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(stream, shard, seq, pkey, data, now)
                 for seq, (pkey, data) in enumerate(items, start=first)])
        return list(range(first, last + 1))

    def read(self, stream: str, shard: int, *, after: int, limit: int,
             before_ts: float | None = None, through: int | None = None) -> list[StoredRecord]:
        sql = ("SELECT shard, seq, pkey, data, ts FROM stream_records "
               "WHERE stream = ? AND shard = ? AND seq > ?")
        args: list[object] = [stream, shard, after]
        if through is not None:
            sql += " AND seq <= ?"
            args.append(through)
        if before_ts is not None:
            sql += " AND ts < ?"
            args.append(before_ts)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        with self.db.reading() as con:
            return [StoredRecord(*row) for row in con.execute(sql, args).fetchall()]

    def shards(self, stream: str, shards: int) -> list[ShardState]:
        with self.db.reading() as con:
            return shard_states(con, stream, shards)

    def consumers(self, stream: str, consumer: str, shards: int, *,
                  latest: bool = False) -> list[ConsumerState]:
        start = ("(SELECT last_seq FROM stream_shards WHERE stream = ?1 AND shard = ?3)"
                 if latest else "0")
        with self.db.atomic() as con:
            con.executemany(
                "INSERT OR IGNORE INTO stream_consumers (stream, consumer, shard, seq) "
                f"VALUES (?1, ?2, ?3, coalesce({start}, 0))",
                [(stream, consumer, s) for s in range(shards)])
            return [ConsumerState(*row) for row in con.execute(_STATE, (stream, consumer))]

    def consumer_states(self, stream: str, consumer: str) -> list[ConsumerState]:
        with self.db.reading() as con:
            return [ConsumerState(*row)
                    for row in con.execute(_STATE, (stream, consumer)).fetchall()]

    def take_shard(self, stream: str, consumer: str, shard: int, *, lease: str, now: float,
                   until: float, worker: str | None = None, run_id: str | None = None,
                   upto: int = 0) -> bool:
        with self.db.atomic() as con:
            return con.execute(
                "UPDATE stream_consumers SET lease = ?, lease_until = ?, worker = ?, run_id = ?, "
                "upto = ? WHERE stream = ? AND consumer = ? AND shard = ? "
                "AND (lease IS NULL OR lease_until <= ?)",
                (lease, until, worker, run_id, upto, stream, consumer, shard, now)
            ).rowcount == 1

    def commit(self, stream: str, consumer: str, shard: int, lease: str, *, seq: int) -> bool:
        with self.db.atomic() as con:
            return con.execute(
                "UPDATE stream_consumers SET seq = ?, lease = NULL, lease_until = 0, "
                f"attempts = 0, retry_at = 0, last_error = NULL, isolated = 0, upto = 0 {_HELD}",
                (seq, stream, consumer, shard, lease)).rowcount == 1

    def advance(self, stream: str, consumer: str, shard: int, lease: str, *, seq: int) -> bool:
        with self.db.atomic() as con:
            return con.execute(f"UPDATE stream_consumers SET seq = ? {_HELD}",
                               (seq, stream, consumer, shard, lease)).rowcount == 1

    def fail(self, stream: str, consumer: str, shard: int, lease: str, *, retry_at: float,
             error: str | None) -> bool:
        with self.db.atomic() as con:
            return con.execute(
                "UPDATE stream_consumers SET lease = NULL, lease_until = 0, "
                f"attempts = attempts + 1, retry_at = ?, last_error = ? {_HELD}",
                (retry_at, error, stream, consumer, shard, lease)).rowcount == 1

    def give_back(self, stream: str, consumer: str, shard: int, lease: str, *, started: bool,
                  error: str | None = None) -> bool:
        if started:
            sql = ("UPDATE stream_consumers SET lease = NULL, lease_until = 0, retry_at = 0, "
                   "attempts = attempts + 1, last_error = coalesce(?, last_error), isolated = 1 "
                   + _HELD)
            args: tuple[object, ...] = (error, stream, consumer, shard, lease)
        else:
            sql = f"UPDATE stream_consumers SET lease = NULL, lease_until = 0 {_HELD}"
            args = (stream, consumer, shard, lease)
        with self.db.atomic() as con:
            return con.execute(sql, args).rowcount == 1

    def extend(self, stream: str, consumer: str, shard: int, lease: str, *, until: float) -> bool:
        with self.db.atomic() as con:
            return con.execute(f"UPDATE stream_consumers SET lease_until = ? {_HELD}",
                               (until, stream, consumer, shard, lease)).rowcount == 1

    def trim(self, stream: str, *, older_than: float, keep: int | None = None) -> int:
        with self.db.atomic() as con:
            gone = con.execute("DELETE FROM stream_records WHERE stream = ? AND ts < ?",
                               (stream, older_than)).rowcount
            if keep is not None:
                for shard, last in con.execute(
                        "SELECT shard, last_seq FROM stream_shards WHERE stream = ?",
                        (stream,)).fetchall():
                    gone += con.execute(
                        "DELETE FROM stream_records WHERE stream = ? AND shard = ? AND seq <= ?",
                        (stream, shard, last - keep)).rowcount
        return gone


def shard_states(con: sqlite3.Connection, stream: str, shards: int) -> list[ShardState]:
    """Each shard's first and last record kept, newest number and checkpoints: primary-key
    look-ups only, so it costs the same for a stream of ten records or ten million."""
    last = dict(con.execute("SELECT shard, last_seq FROM stream_shards WHERE stream = ?",
                            (stream,)).fetchall())
    positions: dict[int, dict[str, int]] = {}
    for shard, consumer, seq in con.execute(
            "SELECT shard, consumer, seq FROM stream_consumers WHERE stream = ?", (stream,)):
        positions.setdefault(shard, {})[consumer] = seq
    edge = ("SELECT seq, ts FROM stream_records WHERE stream = ? AND shard = ? "
            "ORDER BY seq {} LIMIT 1")
    states = []
    for shard in range(shards):
        oldest = con.execute(edge.format("ASC"), (stream, shard)).fetchone()
        newest = con.execute(edge.format("DESC"), (stream, shard)).fetchone()
        first_seq, first_ts = oldest if oldest else (0, None)
        kept = newest[0] - first_seq + 1 if newest else 0
        states.append(ShardState(shard, kept, last.get(shard, 0), newest[1] if newest else None,
                                 positions.get(shard, {}), first_seq, first_ts))
    return states
