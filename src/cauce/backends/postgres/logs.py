"""Log streams in PostgreSQL (`cauce.backends.state.LogStore`): one row per line, indexed by
stream and time, by run, and by time; a batch of lines is one statement."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ...logs import LogLine
from ..state import LogStore
from .database import Database, text

LINE = "id, app, stream, ts, level, message, run_id"


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
        self.db.change(
            "INSERT INTO logs (app, stream, ts, level, message, run_id) "
            "SELECT a, s, t, l, m, r FROM unnest(%s::text[], %s::text[], "
            "%s::double precision[], %s::integer[], %s::text[], %s::text[]) "
            "WITH ORDINALITY AS u(a, s, t, l, m, r, n) ORDER BY n", columns)

    def read(self, *, app: str | None = None, stream: str | None = None,
             run_id: str | None = None, since: float | None = None,
             until: float | None = None, after_id: int = 0, after_line: int | None = None,
             limit: int | None = None) -> list[LogLine]:
        where, args = ["id > %s"], [after_id]
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

    def streams(self, app: str | None = None,
                limit: int = 50) -> list[tuple[str, str, float, int]]:
        sql = "SELECT app, stream, max(ts), count(*) FROM logs"
        args: list[object] = []
        if app:
            sql += " WHERE app = %s"
            args.append(app)
        sql += " GROUP BY app, stream ORDER BY max(ts) DESC LIMIT %s"
        return [(r[0], r[1], r[2], r[3]) for r in self.db.rows(sql, [*args, limit])]

    def prune(self, *, before: float, app: str | None = None) -> int:
        return self.db.change("DELETE FROM logs WHERE ts < %s AND (%s::text IS NULL OR app = %s)",
                              (before, app, app))
