"""Bounded read-only looks at the SQLite state (`cauce.backends.state.ViewStore`).

Every query is bounded (a LIMIT, an indexed range). Runs are paged by keyset on their id, which
is time-ordered, so "newest first" and "since a time" are ranges of the primary key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ...logs import LogLine
from ...runs import Run, run_id_at
from ..state import RunFilter, ShardState, StoredMessage, ViewStore, key_range_end
from .database import StateDB, marks
from .queues import _message
from .runs import _run, walked_columns
from .streams import shard_states


def _run_where(f: RunFilter) -> tuple[list[str], list[Any]]:
    """WHERE terms of ``f``. The filter `runs.walked_columns` picks is written plain, so that
    SQLite walks its index (``runs_by_job_id``, ``runs_by_status_id``, ``runs_by_app_id``: in id
    order, newest first, within the id range of ``since``/``until``) and stops after a page;
    the others ``+column``, checked on the way. With none (several apps), the primary key."""
    where: list[str] = []
    args: list[Any] = []
    one_app = f.apps[0] if f.apps is not None and len(f.apps) == 1 else None
    walked = walked_columns(app=one_app, name=f.name, status=f.status, partition=f.partition)
    if f.apps is not None:
        plus = "" if "app" in walked else "+"
        where.append(f"{plus}app IN ({','.join('?' * len(f.apps))})" if f.apps else "0")
        args.extend(f.apps)
    for column, value in (("name", f.name), ("status", f.status),
                          ("partition", f.partition), ("kind", f.kind)):
        if value is not None:
            where.append(f"{'' if column in walked else '+'}{column} = ?")
            args.append(value)
    if f.since is not None:
        where.append("id >= ?")
        args.append(run_id_at(f.since))
    if f.until is not None:
        where.append("id < ?")
        args.append(run_id_at(f.until))
    return where, args


def _marks(values: Sequence[Any]) -> str:
    return marks(values) or "NULL"  # IN (NULL): an empty list matches nothing


class SQLiteViews(ViewStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def runs_page(self, f: RunFilter, *, before: str | None = None, after: str | None = None,
                  limit: int = 50) -> list[Run]:
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
        with self.db.reading() as con:
            rows = [_run(r) for r in con.execute(sql, [*args, limit]).fetchall()]
        return rows if order == "DESC" else rows[::-1]

    def run_counts(self, f: RunFilter) -> dict[tuple[str, str], int]:
        where, args = _run_where(f)
        sql = "SELECT +app, +status, count(*) FROM runs"  # '+': walk the id range, not an index
        sql += (" WHERE " + " AND ".join(where) if where else "") + " GROUP BY 1, 2"
        with self.db.reading() as con:
            return {(r[0], r[1]): r[2] for r in con.execute(sql, args).fetchall()}

    def latest_by_partition(self, app: str, name: str, first: str,
                            last: str) -> dict[str, Run]:
        with self.db.reading() as con:
            rows = con.execute(
                "SELECT * FROM runs WHERE app = ? AND name = ? AND partition >= ? "
                "AND partition <= ? ORDER BY id", (app, name, first, last)).fetchall()
        return {r["partition"]: _run(r) for r in rows}

    def newest_partition(self, app: str, name: str) -> str | None:
        with self.db.reading() as con:
            row = con.execute("SELECT max(partition) FROM runs WHERE app = ? AND name = ?",
                              (app, name)).fetchone()
        return row[0] if row else None

    def run_activity(self, app: str, names: Sequence[str], since: float,
                     bucket: float) -> dict[str, dict[int, int]]:
        if not names:
            return {}
        # bounded by the id range of the period ('+' keeps SQLite on that range)
        with self.db.reading() as con:
            rows = con.execute(
                f"SELECT name, CAST((coalesce(started_at, queued_at) - ?) / ? AS INTEGER), "
                f"count(*) FROM runs WHERE id >= ? AND +app = ? AND +name IN ({_marks(names)}) "
                "GROUP BY 1, 2", [since, bucket, run_id_at(since), app, *names]).fetchall()
        found: dict[str, dict[int, int]] = {}
        for name, index, count in rows:
            found.setdefault(name, {})[int(index)] = count
        return found

    def log_tail(self, *, app: str, stream: str, limit: int = 200,
                 before_id: int | None = None) -> list[LogLine]:
        sql = ("SELECT id, app, stream, ts, level, message, run_id FROM logs "
               "WHERE app = ? AND stream = ?")
        args: list[Any] = [app, stream]
        if before_id is not None:
            # the lines before that one in the stream's order (time, then id), the index range
            # ending at its time: 'id < ?' read every newer line of the stream again, and
            # skipped older lines written late
            sql += (" AND ts <= (SELECT ts FROM logs WHERE id = ?) "
                    "AND (ts, id) < ((SELECT ts FROM logs WHERE id = ?), ?)")
            args.extend((before_id, before_id, before_id))
        with self.db.reading() as con:
            rows = con.execute(sql + " ORDER BY ts DESC, id DESC LIMIT ?",
                               [*args, limit]).fetchall()
        return [LogLine(ts=datetime.fromtimestamp(r[3], UTC), level=logging.getLevelName(r[4]),
                        message=r[5], stream=r[2], app=r[1], run_id=r[6], id=r[0])
                for r in reversed(rows)]

    def log_streams(self, app: str, limit: int = 50) -> list[str]:
        with self.db.reading() as con:
            rows = con.execute(
                "SELECT id FROM workers WHERE app = ? ORDER BY started_at DESC LIMIT ?",
                (app, limit)).fetchall()
        return ["general", *(f"worker/{r[0]}" for r in rows)]

    def workers(self, apps: Sequence[str], limit: int = 100) -> list[dict[str, Any]]:
        with self.db.reading() as con:
            rows = con.execute(
                f"SELECT id, app, pid, host, role, started_at, heartbeat_at, stopped_at "
                f"FROM workers WHERE app IN ({_marks(apps)}) "
                "ORDER BY stopped_at IS NOT NULL, started_at DESC LIMIT ?",
                [*apps, limit]).fetchall()
        return [dict(r) for r in rows]

    def schedules(self, apps: Sequence[str]) -> list[dict[str, Any]]:
        with self.db.reading() as con:
            rows = con.execute(
                f"SELECT app, job, spec, next_at, paused FROM schedules "
                f"WHERE app IN ({_marks(apps)}) ORDER BY next_at", list(apps)).fetchall()
        return [dict(r) for r in rows]

    def messages_page(self, queue: str, *, after_id: int = 0,
                      limit: int = 50) -> list[StoredMessage]:
        with self.db.reading() as con:
            rows = con.execute(
                "SELECT * FROM messages WHERE queue = ? AND id > ? ORDER BY id LIMIT ?",
                (queue, after_id, limit)).fetchall()
        return [_message(r) for r in rows]

    def items_page(self, table: str, *, prefix: str = "", after: str | None = None,
                   limit: int = 50) -> list[tuple[str, str, int, float]]:
        low = prefix if after is None else max(prefix, after)
        with self.db.reading() as con:
            rows = con.execute(
                "SELECT key, value, version, updated_at FROM items WHERE tbl = ? AND key >= ? "
                "AND key < ? AND key != ? ORDER BY key LIMIT ?",
                (table, low, key_range_end(prefix), after if after is not None else "\x00",
                 limit)).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def item_count(self, table: str) -> int:
        with self.db.reading() as con:
            return int(con.execute("SELECT count(*) FROM items WHERE tbl = ?",
                                   (table,)).fetchone()[0])

    def stream_shards(self, stream: str, shards: int) -> list[ShardState]:
        with self.db.reading() as con:
            return shard_states(con, stream, shards)
