"""Runs in the SQLite state file (`cauce.backends.state.RunStore`); the starts of deliveries go
to per-worker start logs next to it (`starts.py`), read back only when a lease expired."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...runs import Run, RunRecord, RunStatus
from ..state import RunKey, RunStore, Start
from .database import StateDB, marks
from .starts import StartLog, StartReader

_COLUMNS = ("id, app, kind, name, partition, attempt, status, trigger, message_id, event_id, "
            "queued_at, started_at, params, worker, ended_at, error, result, in_child")
_NAMES = _COLUMNS.split(", ")
_MARKS = marks(_NAMES)
_ROWS_PER_STATEMENT = 500  # 18 variables a row, well under SQLite's limit per statement
_UPSERT = (" ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
           "attempt = excluded.attempt, worker = excluded.worker, "
           "started_at = excluded.started_at, ended_at = excluded.ended_at, "
           "error = excluded.error, result = excluded.result, in_child = excluded.in_child")


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"], app=row["app"], kind=row["kind"], name=row["name"],
        partition=row["partition"], attempt=row["attempt"], status=RunStatus(row["status"]),
        trigger=row["trigger"], event_id=row["event_id"], queued_at=_ts(row["queued_at"]),
        started_at=_ts(row["started_at"]), ended_at=_ts(row["ended_at"]), error=row["error"],
        params=json.loads(row["params"]) if row["params"] else None,
        result=json.loads(row["result"]) if row["result"] else None, worker=row["worker"],
    )


def _record(row: sqlite3.Row) -> RunRecord:
    values = {name: row[name] for name in _NAMES}
    values["params"] = json.loads(values["params"]) if values["params"] else None
    values["result"] = json.loads(values["result"]) if values["result"] else None
    values["in_child"] = bool(values["in_child"])
    return RunRecord.from_dict(values)


def _row(r: RunRecord) -> tuple[Any, ...]:
    return (r.id, r.app, r.kind, r.name, r.partition, r.attempt, r.status.value, r.trigger,
            r.message_id, r.event_id, r.queued_at, r.started_at, _json(r.params), r.worker,
            r.ended_at, r.error, _json(r.result), int(r.in_child))


def walked_columns(*, app: str | None, name: str | None, status: str | None,
                   partition: str | None) -> tuple[str, ...]:
    """The filter whose index a filtered listing walks, newest first, until it has its page
    (``runs_by_job_*``, ``runs_by_status_*``, ``runs_by_app_*``); the other filters are checked
    on the way, written ``+column`` so that SQLite, which keeps no statistics here, does not
    pick another index and sort every run it matches. The job first (its runs are the fewest),
    then the status unless it is the common one, then the app; "partition" (with the job and
    the app): that partition's runs, few, found by ``runs_by_name`` and sorted; none: the
    whole time (or id) order."""
    if partition is not None and name is not None and app is not None:
        return ("app", "name", "partition")
    if name is not None:
        return ("name",)
    if status is not None and (status != "succeeded" or app is None):
        return ("status",)
    return ("app",) if app is not None else ()


def _listing(*, app: str | None, name: str | None, status: str | None, partition: str | None,
             kind: str | None, limit: int | None, newest_first: bool = True,
             after: RunKey | None = None) -> tuple[str, list[Any]]:
    """The query of a run listing, each row with its ``place`` (its time in the order); with
    ``after`` (newest first), only the runs after that place: a range of the index walked."""
    where, args = [], []
    walked = walked_columns(app=app, name=name, status=status, partition=partition)
    for column, value in (("app", app), ("name", name), ("status", status),
                          ("partition", partition), ("kind", kind)):
        if value is not None:
            where.append(f"{'' if column in walked else '+'}{column} = ?")
            args.append(value)
    order = "DESC" if newest_first else "ASC"
    sort = f"coalesce(started_at, queued_at) {order}, id {order}"
    if after is not None and after[0] is not None:
        # a range of the index (its row value, (time, id) < (?, ?), SQLite checks row by row
        # from the newest: each page would walk every run before it); NULL, untimed, is not <=
        where.append("coalesce(started_at, queued_at) <= ? "
                     "AND (coalesce(started_at, queued_at) < ? OR id < ?)")
        args.extend((after[0], after[0], after[1]))
    elif after is not None:  # the untimed runs: by id (by both, the order is sorted again)
        where.append("coalesce(started_at, queued_at) IS NULL")
        sort = f"id {order}"
        if after[1] is not None:
            where.append("id < ?")
            args.append(after[1])
    sql = "SELECT *, coalesce(started_at, queued_at) AS place FROM runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {sort}"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return sql, args


class SQLiteRuns(RunStore):
    def __init__(self, db: StateDB, starts: Path) -> None:
        self.db = db
        self.starts = starts
        self._logs: dict[str, StartLog] = {}
        self._logs_lock = threading.Lock()
        self._reader = StartReader(starts)

    # -- writing -------------------------------------------------------------------------
    def insert(self, runs: Sequence[RunRecord]) -> None:
        self._write(runs, "")

    def upsert(self, runs: Sequence[RunRecord]) -> None:
        self._write(runs, _UPSERT)

    def _write(self, runs: Sequence[RunRecord], conflict: str) -> None:
        """Rows built first, then written by as few statements as the variable limit allows:
        the write turn is held only for the statements (see `queues._leased`)."""
        if not runs:
            return
        rows = [_row(r) for r in runs]
        with self.db.atomic() as con:
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                chunk = rows[start:start + _ROWS_PER_STATEMENT]
                con.execute(f"INSERT INTO runs ({_COLUMNS}) VALUES "
                            + ",".join([f"({_MARKS})"] * len(chunk)) + conflict,
                            [v for row in chunk for v in row])

    def finish(self, run_id: str, status: str, *, now: float, error: str | None = None,
               result: Any = None) -> None:
        with self.db.atomic() as con:
            con.execute("UPDATE runs SET status = ?, ended_at = ?, error = ?, result = ? "
                        "WHERE id = ?", (str(status), now, error, _json(result), run_id))

    # -- starts --------------------------------------------------------------------------
    def note_started(self, start: Start) -> None:
        worker = start.run["worker"]
        log = self._logs.get(worker)
        if log is None:
            with self._logs_lock:
                log = self._logs.setdefault(worker, StartLog(self.starts, worker))
        log.note(start)

    def record_running(self, runs: Sequence[RunRecord]) -> None:
        self.upsert(runs)
        for log in list(self._logs.values()):
            for path, ids in log.full_generations():
                if self._all_recorded(ids):
                    log.drop(path)

    def _all_recorded(self, ids: list[str]) -> bool:
        with self.db.reading() as con:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                found = con.execute(f"SELECT count(*) FROM runs WHERE status != 'queued' "
                                    f"AND id IN ({marks(chunk)})", chunk).fetchone()[0]
                if found < len(set(chunk)):
                    return False
        return True

    def started(self, *, worker: str | None, lease: str | None, head: str,
                message_id: int | None = None, run_id: str | None = None) -> RunRecord | None:
        column, value = ("message_id", message_id) if message_id is not None else ("id", run_id)
        if value is not None:
            with self.db.reading() as con:
                row = con.execute(f"SELECT {_COLUMNS} FROM runs WHERE {column} = ? "
                                  "AND status = 'running'", (value,)).fetchone()
            if row is not None:
                return _record(row)
        if worker is None or lease is None:
            return None
        found = self._reader.find(worker, lease, head)
        return RunRecord.from_dict(found.run) if found else None

    def close(self) -> None:
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    # -- reading -------------------------------------------------------------------------
    def get(self, run_id: str) -> Run | None:
        with self.db.reading() as con:
            row = con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    def find_by_prefix(self, prefix: str, limit: int = 3) -> list[Run]:
        with self.db.reading() as con:
            rows = con.execute("SELECT * FROM runs WHERE id >= ? AND id < ? LIMIT ?",
                               (prefix, prefix + "g", limit)).fetchall()
        return [_run(r) for r in rows]

    def query(self, *, app: str | None = None, name: str | None = None,
              status: str | None = None, partition: str | None = None,
              kind: str | None = None, limit: int | None = None,
              newest_first: bool = True) -> list[Run]:
        sql, args = _listing(app=app, name=name, status=status, partition=partition, kind=kind,
                             limit=limit, newest_first=newest_first)
        with self.db.reading() as con:
            return [_run(r) for r in con.execute(sql, args).fetchall()]

    def keyed_page(self, *, app: str | None = None, name: str | None = None,
                   status: str | None = None, partition: str | None = None,
                   kind: str | None = None, after: RunKey | None = None,
                   limit: int) -> list[tuple[RunKey, Run]]:
        sql, args = _listing(app=app, name=name, status=status, partition=partition, kind=kind,
                             limit=limit, after=after)
        with self.db.reading() as con:
            return [((r["place"], r["id"]), _run(r)) for r in con.execute(sql, args).fetchall()]

    def queued_for(self, message_id: int) -> str | None:
        with self.db.reading() as con:
            row = con.execute("SELECT id FROM runs WHERE message_id = ? AND status = 'queued'",
                              (message_id,)).fetchone()
        return row[0] if row else None

    def succeeded_partitions(self, app: str, name: str) -> set[str]:
        with self.db.reading() as con:
            rows = con.execute("SELECT DISTINCT partition FROM runs WHERE app = ? AND name = ? "
                               "AND status = 'succeeded' AND partition IS NOT NULL",
                               (app, name)).fetchall()
        return {r[0] for r in rows}

    def partition_succeeded(self, app: str, name: str, partition: str | None) -> bool:
        with self.db.reading() as con:
            return con.execute("SELECT 1 FROM runs WHERE app = ? AND name = ? AND partition IS ? "
                               "AND status = 'succeeded' LIMIT 1",
                               (app, name, partition)).fetchone() is not None

    def request_cancel(self, run_id: str) -> None:
        with self.db.atomic() as con:
            con.execute("UPDATE runs SET cancel = 1 WHERE id = ? "
                        "AND status IN ('queued', 'running')", (run_id,))

    def cancel_requested(self, run_ids: Sequence[str]) -> set[str]:
        if not run_ids:
            return set()
        with self.db.reading() as con:
            rows = con.execute(f"SELECT id FROM runs WHERE cancel = 1 AND id IN ({marks(run_ids)})",
                               list(run_ids)).fetchall()
        return {r[0] for r in rows}

    def queued_cancelled(self) -> list[tuple[str, int | None]]:
        with self.db.reading() as con:
            rows = con.execute("SELECT id, message_id FROM runs "
                               "WHERE cancel = 1 AND status = 'queued'").fetchall()
        return [(r[0], r[1]) for r in rows]

    def prune(self, *, ended_before: float, app: str | None = None) -> int:
        sql = ("DELETE FROM runs WHERE status IN ('succeeded', 'failed', 'dead-lettered', "
               "'cancelled') AND ended_at < ?")
        args: list[Any] = [ended_before]
        if app is not None:
            sql += " AND app = ?"
            args.append(app)
        with self.db.atomic() as con:
            return con.execute(sql, args).rowcount
