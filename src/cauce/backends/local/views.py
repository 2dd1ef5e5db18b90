"""Read-only queries for looking at a home (the web UI): pages of runs, log tails, worker
health, partition grids, throughput, items and stream positions.

Every query is bounded (a LIMIT, an indexed range) so that a page costs the same with a hundred
runs or a hundred thousand. Runs are paged by keyset on their id, which is time-ordered (12 hex
digits of milliseconds first), so "newest first" and "since a time" are ranges of the primary
key, never an OFFSET.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ... import runs as run_store
from ...logs import LogLine
from ...logs import read as read_logs

_HIGH = "\U0010ffff"


def id_at(timestamp: float) -> str:
    """The smallest run id a run created at ``timestamp`` (seconds) can have."""
    return f"{max(0, int(timestamp * 1000)):012x}"


@dataclass(frozen=True)
class RunFilter:
    """What a page of runs is restricted to (None: anything)."""

    apps: Sequence[str] | None = None
    name: str | None = None
    status: str | None = None
    partition: str | None = None
    kind: str | None = None
    since: float | None = None
    until: float | None = None


def _run_where(f: RunFilter) -> tuple[list[str], list[Any]]:
    """WHERE terms of ``f``. Without a job name, the columns are written ``+column`` so that
    SQLite walks the primary key (newest first, or the id range of ``since``/``until``) and
    stops after a page, instead of sorting every run of an app; with a name, the
    (app, name) index finds that job's runs."""
    where: list[str] = []
    args: list[Any] = []
    plus = "" if f.name is not None else "+"
    if f.apps is not None:
        where.append(f"{plus}app IN ({','.join('?' * len(f.apps))})" if f.apps else "0")
        args.extend(f.apps)
    for column, value in (("name", f.name), ("status", f.status),
                          ("partition", f.partition), ("kind", f.kind)):
        if value is not None:
            where.append(f"{plus if column != 'name' else ''}{column} = ?")
            args.append(value)
    if f.since is not None:
        where.append("id >= ?")
        args.append(id_at(f.since))
    if f.until is not None:
        where.append("id < ?")
        args.append(id_at(f.until))
    return where, args


def runs_page(con: sqlite3.Connection, f: RunFilter, *, before: str | None = None,
              after: str | None = None, limit: int = 50) -> list[run_store.Run]:
    """Up to ``limit`` runs newest first, older than run id ``before`` (the next page) or newer
    than ``after`` (the previous page); keyset on the id, so each page is an index range."""
    where, args = _run_where(f)
    if before is not None:
        where.append("id < ?")
        args.append(before)
    if after is not None:
        where.append("id > ?")
        args.append(after)
    order = "ASC" if after is not None and before is None else "DESC"
    sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
    sql += f" ORDER BY id {order} LIMIT ?"
    rows = [run_store.from_row(r) for r in con.execute(sql, [*args, limit]).fetchall()]
    return rows if order == "DESC" else rows[::-1]


def run_counts(con: sqlite3.Connection, f: RunFilter) -> dict[tuple[str, str], int]:
    """(app, status) → number of runs matching ``f`` (give ``since``: it bounds the scan)."""
    where, args = _run_where(f)
    sql = "SELECT +app, +status, count(*) FROM runs"  # '+': walk the id range, not an index
    sql += (" WHERE " + " AND ".join(where) if where else "") + " GROUP BY 1, 2"
    return {(r[0], r[1]): r[2] for r in con.execute(sql, args).fetchall()}


def latest_by_partition(con: sqlite3.Connection, app: str, name: str, first: str,
                        last: str) -> dict[str, run_store.Run]:
    """The newest run of job ``name`` for each partition key from ``first`` to ``last``."""
    rows = con.execute(
        "SELECT * FROM runs WHERE app = ? AND name = ? AND partition >= ? AND partition <= ? "
        "ORDER BY id", (app, name, first, last)).fetchall()
    return {r["partition"]: run_store.from_row(r) for r in rows}


def newest_partition(con: sqlite3.Connection, app: str, name: str) -> str | None:
    """The greatest partition key any run of job ``name`` had (an index look-up)."""
    row = con.execute("SELECT max(partition) FROM runs WHERE app = ? AND name = ?",
                      (app, name)).fetchone()
    return row[0] if row else None


def run_activity(con: sqlite3.Connection, app: str, names: Sequence[str], since: float,
                 bucket: float) -> dict[str, dict[int, int]]:
    """Runs started per time bucket since ``since``, per handler or job name:
    name → {bucket index → count}. Bounded by the id range of the period ('+' keeps SQLite on
    that range rather than on every run of the names)."""
    if not names:
        return {}
    marks = ",".join("?" * len(names))
    rows = con.execute(
        f"SELECT name, CAST((coalesce(started_at, queued_at) - ?) / ? AS INTEGER), count(*) "
        f"FROM runs WHERE id >= ? AND +app = ? AND +name IN ({marks}) GROUP BY 1, 2",
        [since, bucket, id_at(since), app, *names]).fetchall()
    found: dict[str, dict[int, int]] = {}
    for name, index, count in rows:
        found.setdefault(name, {})[int(index)] = count
    return found


def log_tail(con: sqlite3.Connection, *, app: str, stream: str, limit: int = 200,
             before_id: int | None = None) -> list[LogLine]:
    """The last ``limit`` lines of one stream of an app (older than line ``before_id``), oldest
    first: one backward walk of the stream's index."""
    sql = ("SELECT id, app, stream, ts, level, message, run_id FROM logs "
           "WHERE app = ? AND stream = ?")
    args: list[Any] = [app, stream]
    if before_id is not None:
        sql += " AND id < ?"
        args.append(before_id)
    rows = con.execute(sql + " ORDER BY ts DESC, id DESC LIMIT ?", [*args, limit]).fetchall()
    return [LogLine(ts=datetime.fromtimestamp(r[3], UTC), level=logging.getLevelName(r[4]),
                    message=r[5], stream=r[2], app=r[1], run_id=r[6], id=r[0])
            for r in reversed(rows)]


def run_log(con: sqlite3.Connection, run_id: str, *, after_id: int = 0,
            limit: int = 2000) -> list[LogLine]:
    """Lines of one run after line ``after_id``, oldest first (a live view asks for more)."""
    return read_logs(con, run_id=run_id, after_id=after_id, limit=limit)


def log_streams(con: sqlite3.Connection, app: str, limit: int = 50) -> list[str]:
    """Streams of an app other than runs': ``general`` and one per serve or worker process
    (named from the workers table, so no log line is scanned), newest first."""
    rows = con.execute("SELECT id FROM workers WHERE app = ? ORDER BY started_at DESC LIMIT ?",
                       (app, limit)).fetchall()
    return ["general", *(f"worker/{r[0]}" for r in rows)]


def workers(con: sqlite3.Connection, apps: Sequence[str], limit: int = 100) -> list[dict[str, Any]]:
    """Registered serve and worker processes of ``apps``, running ones first, newest first."""
    marks = ",".join("?" * len(apps)) or "NULL"
    rows = con.execute(
        f"SELECT * FROM workers WHERE app IN ({marks}) "
        "ORDER BY stopped_at IS NOT NULL, started_at DESC LIMIT ?", [*apps, limit]).fetchall()
    return [dict(r) for r in rows]


def schedules(con: sqlite3.Connection, apps: Sequence[str]) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(apps)) or "NULL"
    rows = con.execute(f"SELECT * FROM schedules WHERE app IN ({marks}) ORDER BY next_at",
                       list(apps)).fetchall()
    return [dict(r) for r in rows]


def messages_page(con: sqlite3.Connection, queue: str, *, after_id: int = 0,
                  limit: int = 50) -> list[sqlite3.Row]:
    """Messages of one queue (a DLQ too) after id ``after_id``, oldest first."""
    return con.execute("SELECT * FROM messages WHERE queue = ? AND id > ? ORDER BY id LIMIT ?",
                       (queue, after_id, limit)).fetchall()


def items_page(con: sqlite3.Connection, table: str, *, prefix: str = "", after: str | None = None,
               limit: int = 50) -> list[tuple[str, str, int, float]]:
    """(stored key, JSON value, version, updated at) of a table's items whose key starts with
    ``prefix``, in key order after key ``after``."""
    low = prefix if after is None else max(prefix, after)
    rows = con.execute(
        "SELECT key, value, version, updated_at FROM items WHERE tbl = ? AND key >= ? AND key < ? "
        "AND key != ? ORDER BY key LIMIT ?",
        (table, low, prefix + _HIGH, after if after is not None else "\x00", limit)).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def item_count(con: sqlite3.Connection, table: str) -> int:
    return int(con.execute("SELECT count(*) FROM items WHERE tbl = ?", (table,)).fetchone()[0])


@dataclass(frozen=True)
class ShardState:
    """One shard of a stream: records kept, newest sequence, and each consumer's position."""

    shard: int
    records: int
    last_seq: int
    last_ts: float | None
    consumers: dict[str, int]


def stream_shards(con: sqlite3.Connection, stream: str, shards: int) -> list[ShardState]:
    kept = {r[0]: (r[1], r[2], r[3]) for r in con.execute(
        "SELECT shard, count(*), max(seq), max(ts) FROM stream_records WHERE stream = ? "
        "GROUP BY shard", (stream,))}
    positions: dict[int, dict[str, int]] = {}
    for shard, consumer, seq in con.execute(
            "SELECT shard, consumer, seq FROM stream_consumers WHERE stream = ?", (stream,)):
        positions.setdefault(shard, {})[consumer] = seq
    return [ShardState(s, kept.get(s, (0, 0, None))[0], kept.get(s, (0, 0, None))[1] or 0,
                       kept.get(s, (0, 0, None))[2], positions.get(s, {}))
            for s in range(shards)]
