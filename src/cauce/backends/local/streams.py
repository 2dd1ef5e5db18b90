"""Streams in the state database: per-shard ordered records and per-consumer checkpoints.

A record gets the next sequence number of its shard inside the writing transaction, so order
within a shard is the order of commits. Each consumer keeps, per shard, the last sequence it
finished and a lease, so only one worker reads a given shard for a given consumer at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class StoredRecord:
    shard: int
    seq: int
    pkey: str
    data: str
    ts: float


def put(
    con: sqlite3.Connection, stream: str, shard: int, items: Sequence[tuple[str, str]], now: float
) -> list[int]:
    """Append ``(partition key, data)`` records to one shard; returns their sequence numbers."""
    last = con.execute(
        "SELECT coalesce(max(seq), 0) FROM stream_records WHERE stream = ? AND shard = ?",
        (stream, shard),
    ).fetchone()[0]
    seqs = list(range(last + 1, last + 1 + len(items)))
    con.executemany(
        "INSERT INTO stream_records (stream, shard, seq, pkey, data, ts) VALUES (?, ?, ?, ?, ?, ?)",
        [(stream, shard, seq, pkey, data, now)
         for seq, (pkey, data) in zip(seqs, items, strict=True)],
    )
    return seqs


def read(
    con: sqlite3.Connection, stream: str, shard: int, after: int, limit: int,
    before_ts: float | None = None,
) -> list[StoredRecord]:
    """Records of a shard after sequence ``after`` (and stamped before ``before_ts``)."""
    sql = ("SELECT shard, seq, pkey, data, ts FROM stream_records "
           "WHERE stream = ? AND shard = ? AND seq > ?")
    args: list[object] = [stream, shard, after]
    if before_ts is not None:
        sql += " AND ts < ?"
        args.append(before_ts)
    sql += " ORDER BY seq LIMIT ?"
    args.append(limit)
    return [StoredRecord(*row) for row in con.execute(sql, args)]


def first_after(
    con: sqlite3.Connection, stream: str, shard: int, after: int
) -> StoredRecord | None:
    rows = read(con, stream, shard, after, 1)
    return rows[0] if rows else None


@dataclass
class ConsumerState:
    shard: int
    seq: int
    lease: str | None
    lease_until: float
    attempts: int
    retry_at: float
    last_error: str | None
    worker: str | None = None
    run_id: str | None = None
    isolated: int = 0


def consumer_states(
    con: sqlite3.Connection, stream: str, consumer: str, shards: int
) -> list[ConsumerState]:
    """The checkpoint row of every shard (created at 0 when missing)."""
    con.executemany(
        "INSERT OR IGNORE INTO stream_consumers (stream, consumer, shard) VALUES (?, ?, ?)",
        [(stream, consumer, s) for s in range(shards)],
    )
    return read_states(con, stream, consumer)


def read_states(con: sqlite3.Connection, stream: str, consumer: str) -> list[ConsumerState]:
    """The checkpoint rows that exist, by shard (a read: no rows are created)."""
    rows = con.execute(
        "SELECT shard, seq, lease, lease_until, attempts, retry_at, last_error, worker, run_id, "
        "isolated FROM stream_consumers WHERE stream = ? AND consumer = ? ORDER BY shard",
        (stream, consumer),
    ).fetchall()
    return [ConsumerState(*row) for row in rows]


def take_shard(
    con: sqlite3.Connection, stream: str, consumer: str, shard: int, lease: str, now: float,
    until: float, *, worker: str | None = None, run_id: str | None = None,
) -> bool:
    cur = con.execute(
        "UPDATE stream_consumers SET lease = ?, lease_until = ?, worker = ?, run_id = ? "
        "WHERE stream = ? AND consumer = ? AND shard = ? AND (lease IS NULL OR lease_until <= ?)",
        (lease, until, worker, run_id, stream, consumer, shard, now),
    )
    return cur.rowcount == 1


def finish(
    con: sqlite3.Connection, stream: str, consumer: str, shard: int, lease: str, *, seq: int | None,
    retry_at: float = 0.0, error: str | None = None,
) -> bool:
    """Release a shard: on success move the checkpoint to ``seq``; on failure schedule a retry."""
    if seq is not None:
        cur = con.execute(
            "UPDATE stream_consumers SET seq = ?, lease = NULL, lease_until = 0, attempts = 0, "
            "retry_at = 0, last_error = NULL, isolated = 0 "
            "WHERE stream = ? AND consumer = ? AND shard = ? AND lease = ?",
            (seq, stream, consumer, shard, lease),
        )
    else:
        cur = con.execute(
            "UPDATE stream_consumers SET lease = NULL, lease_until = 0, attempts = attempts + 1, "
            "retry_at = ?, last_error = ? "
            "WHERE stream = ? AND consumer = ? AND shard = ? AND lease = ?",
            (retry_at, error, stream, consumer, shard, lease),
        )
    return cur.rowcount == 1


def give_back(con: sqlite3.Connection, stream: str, consumer: str, shard: int, lease: str, *,
              started: bool, error: str | None = None) -> bool:
    """Release a shard whose delivery ended unsettled, to be delivered again at once: one that
    started counts as an attempt, and is delivered alone in its process from then on."""
    if started:
        sql = ("UPDATE stream_consumers SET lease = NULL, lease_until = 0, retry_at = 0, "
               "attempts = attempts + 1, last_error = coalesce(?, last_error), isolated = 1 "
               "WHERE stream = ? AND consumer = ? AND shard = ? AND lease = ?")
        args: tuple[object, ...] = (error, stream, consumer, shard, lease)
    else:
        sql = ("UPDATE stream_consumers SET lease = NULL, lease_until = 0 "
               "WHERE stream = ? AND consumer = ? AND shard = ? AND lease = ?")
        args = (stream, consumer, shard, lease)
    return con.execute(sql, args).rowcount == 1


def extend(
    con: sqlite3.Connection, stream: str, consumer: str, shard: int, lease: str, until: float
) -> None:
    con.execute(
        "UPDATE stream_consumers SET lease_until = ? "
        "WHERE stream = ? AND consumer = ? AND shard = ? AND lease = ?",
        (until, stream, consumer, shard, lease),
    )


def trim(con: sqlite3.Connection, stream: str, older_than: float) -> int:
    """Drop records older than the retention, as a stream service does."""
    return con.execute("DELETE FROM stream_records WHERE stream = ? AND ts < ?",
                       (stream, older_than)).rowcount
