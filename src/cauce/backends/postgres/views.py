"""Bounded read-only looks at the PostgreSQL state (`cauce.backends.state.ViewStore`).

Every query is bounded (a LIMIT, an indexed range). Runs are paged by keyset on their id, which
is time-ordered, so "newest first" and "since a time" are ranges of the primary key (or of the
(app, id) index when apps are named).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...logs import LogLine
from ...runs import Run, run_id_at
from ..state import RunFilter, ShardState, StoredMessage, ViewStore, key_range_end
from .database import Database
from .logs import LINE, line
from .queues import COLUMNS, message
from .runs import RECORD, run
from .streams import shard_states


def _run_where(f: RunFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if f.apps is not None and len(f.apps) == 1:  # one app: its (app, id) index, in order
        where.append("app = %s")
        args.append(f.apps[0])
    elif f.apps is not None:
        where.append("app = ANY(%s::text[])")
        args.append(list(f.apps))
    for column, value in (("name", f.name), ("status", f.status),
                          ("partition", f.partition), ("kind", f.kind)):
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    if f.since is not None:
        where.append("id >= %s")
        args.append(run_id_at(f.since))
    if f.until is not None:
        where.append("id < %s")
        args.append(run_id_at(f.until))
    return where, args


def _where(terms: list[str]) -> str:
    return " WHERE " + " AND ".join(terms) if terms else ""


class PostgresViews(ViewStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def runs_page(self, f: RunFilter, *, before: str | None = None, after: str | None = None,
                  limit: int = 50) -> list[Run]:
        where, args = _run_where(f)
        if before is not None:
            where.append("id < %s")
            args.append(before)
        if after is not None:
            where.append("id > %s")
            args.append(after)
        order = "ASC" if after is not None and before is None else "DESC"
        sql = f"SELECT {RECORD} FROM runs{_where(where)} ORDER BY id {order} LIMIT %s"
        rows = [run(r) for r in self.db.rows(sql, [*args, limit])]
        return rows if order == "DESC" else rows[::-1]

    def run_counts(self, f: RunFilter) -> dict[tuple[str, str], int]:
        where, args = _run_where(f)
        sql = f"SELECT app, status, count(*) FROM runs{_where(where)} GROUP BY 1, 2"
        return {(r[0], r[1]): r[2] for r in self.db.rows(sql, args)}

    def latest_by_partition(self, app: str, name: str, first: str,
                            last: str) -> dict[str, Run]:
        rows = self.db.rows(f"SELECT DISTINCT ON (partition) {RECORD} FROM runs "
                            "WHERE app = %s AND name = %s AND partition >= %s "
                            "AND partition <= %s ORDER BY partition, id DESC",
                            (app, name, first, last))
        return {r[4]: run(r) for r in rows}

    def newest_partition(self, app: str, name: str) -> str | None:
        row = self.db.row("SELECT max(partition) FROM runs WHERE app = %s AND name = %s",
                          (app, name))
        return row[0] if row else None

    def run_activity(self, app: str, names: Sequence[str], since: float,
                     bucket: float) -> dict[str, dict[int, int]]:
        if not names:
            return {}
        rows = self.db.rows(
            "SELECT name, trunc((coalesce(started_at, queued_at) - %s) / %s)::bigint, count(*) "
            "FROM runs WHERE app = %s AND id >= %s AND name = ANY(%s::text[]) GROUP BY 1, 2",
            (since, bucket, app, run_id_at(since), list(names)))
        found: dict[str, dict[int, int]] = {}
        for name, index, count in rows:
            if index is not None:
                found.setdefault(name, {})[int(index)] = count
        return found

    def log_tail(self, *, app: str, stream: str, limit: int = 200,
                 before_id: int | None = None) -> list[LogLine]:
        # before that line in the stream's order (time, then id), where its index range ends
        before = ("" if before_id is None else
                  " AND (ts, id) < ((SELECT ts FROM logs WHERE id = %(before)s), %(before)s)")
        rows = self.db.rows(f"SELECT {LINE} FROM logs WHERE app = %(app)s "
                            f"AND stream = %(stream)s{before} "
                            "ORDER BY ts DESC, id DESC LIMIT %(limit)s",
                            {"app": app, "stream": stream, "before": before_id, "limit": limit})
        return [line(r) for r in reversed(rows)]

    def log_streams(self, app: str, limit: int = 50) -> list[str]:
        rows = self.db.rows("SELECT id FROM workers WHERE app = %s ORDER BY started_at DESC "
                            "LIMIT %s", (app, limit))
        return ["general", *(f"worker/{r[0]}" for r in rows)]

    def workers(self, apps: Sequence[str], limit: int = 100) -> list[dict[str, Any]]:
        names = ("id", "app", "pid", "host", "role", "started_at", "heartbeat_at", "stopped_at")
        rows = self.db.rows(f"SELECT {', '.join(names)} FROM workers WHERE app = ANY(%s::text[]) "
                            "ORDER BY stopped_at IS NOT NULL, started_at DESC LIMIT %s",
                            (list(apps), limit))
        return [dict(zip(names, r, strict=True)) for r in rows]

    def schedules(self, apps: Sequence[str]) -> list[dict[str, Any]]:
        names = ("app", "job", "spec", "next_at", "paused")
        rows = self.db.rows("SELECT app, job, spec, next_at, paused FROM schedules "
                            "WHERE app = ANY(%s::text[]) ORDER BY next_at", (list(apps),))
        return [dict(zip(names, r, strict=True)) for r in rows]

    def messages_page(self, queue: str, *, after_id: int = 0,
                      limit: int = 50) -> list[StoredMessage]:
        rows = self.db.rows(f"SELECT {COLUMNS} FROM messages WHERE queue = %s AND id > %s "
                            "ORDER BY id LIMIT %s", (queue, after_id, limit))
        return [message(r) for r in rows]

    def items_page(self, table: str, *, prefix: str = "", after: str | None = None,
                   limit: int = 50) -> list[tuple[str, str, int, float]]:
        rows = self.db.rows("SELECT key, value::text, version, updated_at FROM items "
                            "WHERE tbl = %s AND key >= %s AND key < %s "
                            "AND (%s::text IS NULL OR key > %s) ORDER BY key LIMIT %s",
                            (table, prefix, key_range_end(prefix), after, after, limit))
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def item_count(self, table: str) -> int:
        row = self.db.row("SELECT count(*) FROM items WHERE tbl = %s", (table,))
        return int(row[0]) if row else 0

    def stream_shards(self, stream: str, shards: int) -> list[ShardState]:
        return shard_states(self.db, stream, shards)
