"""Log streams in the SQLite state file (`cauce.backends.state.LogStore`): one row per line,
indexed by stream and time, by run, and by time; each stream's line count and last line in
``log_streams``, kept in the transaction that writes or deletes its lines."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from ...logs import LogLine
from ..state import LogStore
from .database import StateDB


class SQLiteLogs(LogStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def append(self, lines: Sequence[tuple[str, str, float, int, str, str | None]]) -> None:
        if not lines:
            return
        with self.db.atomic() as con:
            top = con.execute("SELECT coalesce(max(id), 0) FROM logs").fetchone()[0]
            con.executemany("INSERT INTO logs (app, stream, ts, level, message, run_id) "
                            "VALUES (?, ?, ?, ?, ?, ?)", lines)
            count_lines(con, above=top)

    def read(self, *, app: str | None = None, stream: str | None = None,
             run_id: str | None = None, since: float | None = None,
             until: float | None = None, after_id: int = 0, after_line: int | None = None,
             limit: int | None = None, upto_id: int | None = None,
             by_id: bool = False) -> list[LogLine]:
        where, args = ["id > ?"], [after_id]
        if upto_id is not None:
            where.append("id <= ?")
            args.append(upto_id)
        for clause, value in (("app = ?", app), ("stream = ?", stream), ("run_id = ?", run_id),
                              ("ts >= ?", since if after_line is None else None),
                              ("ts < ?", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        if after_line is not None:
            # the page starts at that line's time, one lower bound SQLite takes for the start of
            # the index range: with --since as a second, it began each page at --since and
            # read every line before the page again (a year's stream: 90 s to print)
            where.append("ts >= max(coalesce(?, -1e308), (SELECT ts FROM logs WHERE id = ?))")
            where.append("(ts, id) > ((SELECT ts FROM logs WHERE id = ?), ?)")
            args.extend((since, after_line, after_line, after_line))
        table = "logs NOT INDEXED" if by_id else "logs"
        sql = (f"SELECT id, app, stream, ts, level, message, run_id FROM {table} WHERE "
               + " AND ".join(where) + " ORDER BY ts, id")
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self.db.reading() as con:
            rows = con.execute(sql, args).fetchall()
        return [LogLine(ts=datetime.fromtimestamp(r[3], UTC), level=logging.getLevelName(r[4]),
                        message=r[5], stream=r[2], app=r[1], run_id=r[6], id=r[0]) for r in rows]

    def newest_id(self) -> int:
        with self.db.reading() as con:
            return int(con.execute("SELECT coalesce(max(id), 0) FROM logs").fetchone()[0])

    def newer(self, *, after_id: int, app: str | None = None, stream: str | None = None,
              run_id: str | None = None, since: float | None = None,
              until: float | None = None) -> tuple[list[LogLine], int]:
        # the lines written since: a range of the primary key, however long the stream
        # ('NOT INDEXED': not the stream's index, which would read every line it holds)
        with self.db.reading() as con:
            top = int(con.execute("SELECT coalesce(max(id), 0) FROM logs").fetchone()[0])
        low = min(after_id, top)  # lines pruned down to fewer: ids are given again from top
        lines = self.read(app=app, stream=stream, run_id=run_id, since=since, until=until,
                          after_id=low, upto_id=top, by_id=True)
        return lines, top

    def streams(self, app: str | None = None,
                limit: int = 50) -> list[tuple[str, str, float, int]]:
        sql = "SELECT app, stream, last_ts, lines FROM log_streams"
        args: list[object] = []
        if app:
            sql += " WHERE app = ?"
            args.append(app)
        sql += " ORDER BY last_ts DESC LIMIT ?"
        args.append(limit)
        with self.db.reading() as con:
            return [(r[0], r[1], r[2], r[3]) for r in con.execute(sql, args).fetchall()]

    def prune(self, *, before: float, app: str | None = None) -> int:
        where, args = "ts < ?", [before]
        if app is not None:
            where += " AND app = ?"
            args.append(app)
        with self.db.atomic() as con:
            # the lines that go, counted off their streams; a stream left without any goes too
            # (its last line is the newest of all, which stays when any of its lines stays)
            con.execute("UPDATE log_streams SET lines = lines - gone.n FROM "
                        f"(SELECT app, stream, count(*) AS n FROM logs WHERE {where} "
                        "GROUP BY app, stream) AS gone "
                        "WHERE log_streams.app = gone.app AND log_streams.stream = gone.stream",
                        args)
            con.execute("DELETE FROM log_streams WHERE lines <= 0")
            return con.execute(f"DELETE FROM logs WHERE {where}", args).rowcount


def count_lines(con: sqlite3.Connection, *, above: int) -> None:
    """Add the lines of ids above ``above``, just written in this transaction, to their
    streams' counts (one statement over the batch; the id range, not the stream index)."""
    con.execute("INSERT INTO log_streams (app, stream, last_ts, lines) "
                "SELECT app, stream, max(ts), count(*) FROM logs NOT INDEXED WHERE id > ? "
                "GROUP BY app, stream ON CONFLICT (app, stream) DO UPDATE SET "
                "lines = lines + excluded.lines, last_ts = max(last_ts, excluded.last_ts)",
                (above,))
