"""Log streams in PostgreSQL (`cauce.backends.state.LogStore`): one row per line, indexed by
stream and time, by run, and by time; each stream's line count and last line in
``log_streams``, kept by the statement that writes or deletes its lines. A batch of lines is one
statement."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ...logs import LogLine
from ..state import LogStore
from .database import Database, text

LINE = "id, app, stream, ts, level, message, run_id"

# Lines just written (the query ``added``: app, stream, ts) added to their streams' counts, the
# streams taken in one order so that two batches never wait on each other's rows crosswise.
COUNT_LINES = (
    "WITH added AS ({added}) "
    "INSERT INTO log_streams (app, stream, last_ts, lines) "
    "SELECT app, stream, max(ts), count(*) FROM added GROUP BY app, stream ORDER BY app, stream "
    "ON CONFLICT (app, stream) DO UPDATE SET lines = log_streams.lines + excluded.lines, "
    "last_ts = greatest(log_streams.last_ts, excluded.last_ts)")


def line(row: Sequence[Any]) -> LogLine:
    """A LogLine from a row of `LINE`."""
    return LogLine(ts=datetime.fromtimestamp(row[3], UTC), level=logging.getLevelName(row[4]),
                   message=row[5], stream=row[2], app=row[1], run_id=row[6], id=row[0])


class PostgresLogs(LogStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, lines: Sequence[tuple[str, str, float, int, str, str | None]]) -> None:
        if not lines:
            return
        columns = [list(c) for c in zip(*lines, strict=True)]
        columns[4] = [text(m) for m in columns[4]]
        self.db.change(COUNT_LINES.format(added=(
            "INSERT INTO logs (app, stream, ts, level, message, run_id) "
            "SELECT a, s, t, l, m, r FROM unnest(%s::text[], %s::text[], "
            "%s::double precision[], %s::integer[], %s::text[], %s::text[]) "
            "WITH ORDINALITY AS u(a, s, t, l, m, r, n) ORDER BY n "
            "RETURNING app, stream, ts")), columns)

    def read(self, *, app: str | None = None, stream: str | None = None,
             run_id: str | None = None, since: float | None = None,
             until: float | None = None, after_id: int = 0, after_line: int | None = None,
             limit: int | None = None, upto_id: int | None = None) -> list[LogLine]:
        where, args = ["id > %s"], [after_id]
        if upto_id is not None:
            where.append("id <= %s")
            args.append(upto_id)
        for clause, value in (("app = %s", app), ("stream = %s", stream),
                              ("run_id = %s", run_id), ("ts >= %s", since), ("ts < %s", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        if after_line is not None:
            where.append("(ts, id) > ((SELECT ts FROM logs WHERE id = %s), %s)")
            args.extend((after_line, after_line))
        sql = (f"SELECT {LINE} FROM logs WHERE " + " AND ".join(where)
               + " ORDER BY ts, id LIMIT %s")
        return [line(r) for r in self.db.rows(sql, [*args, limit or None])]

    def newest_id(self) -> int:
        row = self.db.row("SELECT coalesce(max(id), 0) FROM logs")
        return int(row[0]) if row else 0

    def newer(self, *, after_id: int, app: str | None = None, stream: str | None = None,
              run_id: str | None = None, since: float | None = None,
              until: float | None = None) -> tuple[list[LogLine], int]:
        # the lines written since: a range of the primary key (the planner knows the newest
        # id, so it does not walk the stream's index, which holds every line of the stream)
        top = self.newest_id()
        if top <= after_id:
            return [], after_id
        return self.read(app=app, stream=stream, run_id=run_id, since=since, until=until,
                         after_id=after_id, upto_id=top), top

    def streams(self, app: str | None = None,
                limit: int = 50) -> list[tuple[str, str, float, int]]:
        sql = "SELECT app, stream, last_ts, lines FROM log_streams"
        args: list[object] = []
        if app:
            sql += " WHERE app = %s"
            args.append(app)
        sql += " ORDER BY last_ts DESC LIMIT %s"
        return [(r[0], r[1], r[2], r[3]) for r in self.db.rows(sql, [*args, limit])]

    def prune(self, *, before: float, app: str | None = None) -> int:
        # the lines that go, counted off their streams in the same statement; a stream left
        # without any goes too (its last line is the newest of all, which stays if any does)
        with self.db.atomic() as con:
            gone = con.execute(
                "WITH gone AS (DELETE FROM logs WHERE ts < %s AND (%s::text IS NULL OR app = %s) "
                "RETURNING app, stream), counted AS (SELECT app, stream, count(*) AS n FROM gone "
                "GROUP BY app, stream ORDER BY app, stream), "
                "counted_off AS (UPDATE log_streams SET lines = log_streams.lines - counted.n "
                "FROM counted WHERE log_streams.app = counted.app "
                "AND log_streams.stream = counted.stream) "
                "SELECT coalesce(sum(n), 0) FROM counted", (before, app, app)).fetchone()[0]
            con.execute("DELETE FROM log_streams WHERE lines <= 0")
        return int(gone)
