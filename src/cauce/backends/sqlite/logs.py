"""Log streams in the SQLite state file (`cauce.backends.state.LogStore`): one row per line,
indexed by stream and time, by run, and by time."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from ...logs import LogLine
from ..state import LogStore
from .database import StateDB


class SQLiteLogs(LogStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def append(self, lines: Sequence[tuple[str, str, float, int, str, str | None]]) -> None:
        with self.db.atomic() as con:
            con.executemany("INSERT INTO logs (app, stream, ts, level, message, run_id) "
                            "VALUES (?, ?, ?, ?, ?, ?)", lines)

    def read(self, *, app: str | None = None, stream: str | None = None,
             run_id: str | None = None, since: float | None = None,
             until: float | None = None, after_id: int = 0, after_line: int | None = None,
             limit: int | None = None) -> list[LogLine]:
        where, args = ["id > ?"], [after_id]
        for clause, value in (("app = ?", app), ("stream = ?", stream), ("run_id = ?", run_id),
                              ("ts >= ?", since), ("ts < ?", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        if after_line is not None:
            where.append("(ts, id) > ((SELECT ts FROM logs WHERE id = ?), ?)")
            args.extend((after_line, after_line))
        sql = ("SELECT id, app, stream, ts, level, message, run_id FROM logs WHERE "
               + " AND ".join(where) + " ORDER BY ts, id")
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self.db.reading() as con:
            rows = con.execute(sql, args).fetchall()
        return [LogLine(ts=datetime.fromtimestamp(r[3], UTC), level=logging.getLevelName(r[4]),
                        message=r[5], stream=r[2], app=r[1], run_id=r[6], id=r[0]) for r in rows]

    def streams(self, app: str | None = None,
                limit: int = 50) -> list[tuple[str, str, float, int]]:
        sql = "SELECT app, stream, max(ts), count(*) FROM logs"
        args: list[object] = []
        if app:
            sql += " WHERE app = ?"
            args.append(app)
        sql += " GROUP BY app, stream ORDER BY max(ts) DESC LIMIT ?"
        args.append(limit)
        with self.db.reading() as con:
            return [(r[0], r[1], r[2], r[3]) for r in con.execute(sql, args).fetchall()]

    def prune(self, *, before: float, app: str | None = None) -> int:
        sql, args = "DELETE FROM logs WHERE ts < ?", [before]
        if app is not None:
            sql += " AND app = ?"
            args.append(app)
        with self.db.atomic() as con:
            return con.execute(sql, args).rowcount
