"""Runs: one attempt of a job or handler, with its status, timings and outcome."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """Where a run is in its life: queued → running → one of the four ends."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD_LETTERED = "dead-lettered"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class Run:
    """A run as recorded in the state database."""

    id: str
    app: str
    kind: str
    name: str
    partition: str | None
    attempt: int
    status: RunStatus
    trigger: str | None
    event_id: str | None
    queued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    params: dict[str, Any] | None
    result: Any
    worker: str | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None while it has not ended)."""
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.SUCCEEDED


_last_ms = 0
_id_lock = threading.Lock()


def new_run_id() -> str:
    """Time-ordered and unique across processes: 12 hex digits of milliseconds + 6 random.

    Within a process ids strictly increase (a millisecond already used is bumped by one), so
    runs created together list in the order they were created.
    """
    global _last_ms
    with _id_lock:
        _last_ms = max(_last_ms + 1, int(time.time() * 1000))
        ms = _last_ms
    return f"{ms:012x}{secrets.token_hex(3)}"


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def from_row(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        app=row["app"],
        kind=row["kind"],
        name=row["name"],
        partition=row["partition"],
        attempt=row["attempt"],
        status=RunStatus(row["status"]),
        trigger=row["trigger"],
        event_id=row["event_id"],
        queued_at=_ts(row["queued_at"]),
        started_at=_ts(row["started_at"]),
        ended_at=_ts(row["ended_at"]),
        error=row["error"],
        params=json.loads(row["params"]) if row["params"] else None,
        result=json.loads(row["result"]) if row["result"] else None,
        worker=row["worker"],
    )


@dataclass
class NewRun:
    """The fields of a run row about to be written."""

    id: str
    app: str
    kind: str
    name: str
    status: RunStatus
    attempt: int = 1
    partition: str | None = None
    trigger: str | None = None
    message_id: int | None = None
    event_id: str | None = None
    queued_at: float | None = None
    started_at: float | None = None
    params: dict[str, Any] | None = None
    worker: str | None = None
    ended_at: float | None = None
    error: str | None = None
    result: Any = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values (the status as text), for a start log line."""
        return {**self.__dict__, "status": self.status.value}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> NewRun:
        return cls(**{**values, "status": RunStatus(values["status"])})


_COLUMNS = ("id, app, kind, name, partition, attempt, status, trigger, message_id, event_id, "
            "queued_at, started_at, params, worker, ended_at, error, result")
_MARKS = ",".join("?" * len(_COLUMNS.split(", ")))


def _row(r: NewRun) -> tuple[Any, ...]:
    return (r.id, r.app, r.kind, r.name, r.partition, r.attempt, r.status.value, r.trigger,
            r.message_id, r.event_id, r.queued_at, r.started_at,
            json.dumps(r.params, default=str) if r.params is not None else None, r.worker,
            r.ended_at, r.error, _result_json(r.result))


def insert(con: sqlite3.Connection, runs: Sequence[NewRun]) -> None:
    con.executemany(f"INSERT INTO runs ({_COLUMNS}) VALUES ({_MARKS})", [_row(r) for r in runs])


def upsert(con: sqlite3.Connection, runs: Sequence[NewRun]) -> None:
    """Write runs whose row may already exist (a queued job run, a run marked running): what
    happened to them replaces the row's status, attempt, worker, timings and outcome."""
    con.executemany(
        f"INSERT INTO runs ({_COLUMNS}) VALUES ({_MARKS}) "
        "ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, "
        "worker = excluded.worker, started_at = excluded.started_at, "
        "ended_at = excluded.ended_at, error = excluded.error, result = excluded.result",
        [_row(r) for r in runs],
    )


def queued_for(con: sqlite3.Connection, message_id: int) -> str | None:
    """The queued run waiting for a job message (created when the run was queued), if any."""
    row = con.execute("SELECT id FROM runs WHERE message_id = ? AND status = 'queued'",
                      (message_id,)).fetchone()
    return row[0] if row else None


def running_for(con: sqlite3.Connection, message_id: int) -> NewRun | None:
    """The run recorded as running for the delivery a message heads, if any."""
    return _running("message_id", message_id, con)


def running(con: sqlite3.Connection, run_id: str) -> NewRun | None:
    """The run ``run_id`` if it is recorded as running."""
    return _running("id", run_id, con)


def _running(column: str, value: object, con: sqlite3.Connection) -> NewRun | None:
    row = con.execute(f"SELECT {_COLUMNS} FROM runs WHERE {column} = ? AND status = 'running'",
                      (value,)).fetchone()
    if row is None:
        return None
    values = dict(zip(_COLUMNS.split(", "), row, strict=True))
    values["params"] = json.loads(values["params"]) if values["params"] else None
    values["result"] = json.loads(values["result"]) if values["result"] else None
    return NewRun.from_dict(values)


def finish(
    con: sqlite3.Connection, run_id: str, status: RunStatus, *, now: float,
    error: str | None = None, result: Any = None,
) -> None:
    con.execute(
        "UPDATE runs SET status = ?, ended_at = ?, error = ?, result = ? WHERE id = ?",
        (status.value, now, error, _result_json(result), run_id),
    )


def _result_json(result: Any) -> str | None:
    """The stored form of a result already made storable by the executor."""
    return None if result is None else json.dumps(result)


def get(con: sqlite3.Connection, run_id: str) -> Run | None:
    row = con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    return from_row(row) if row else None


def find_by_prefix(con: sqlite3.Connection, prefix: str) -> list[Run]:
    rows = con.execute("SELECT * FROM runs WHERE id >= ? AND id < ? LIMIT 3",
                       (prefix, prefix + "g")).fetchall()
    return [from_row(r) for r in rows]


def query(
    con: sqlite3.Connection,
    *,
    app: str | None = None,
    name: str | None = None,
    status: str | None = None,
    partition: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[Run]:
    where, args = [], []
    for column, value in (("app", app), ("name", name), ("status", status),
                          ("partition", partition), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = "SELECT * FROM runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = "DESC" if newest_first else "ASC"
    sql += f" ORDER BY coalesce(started_at, queued_at) {order}, id {order}"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return [from_row(r) for r in con.execute(sql, args).fetchall()]


def succeeded_partitions(con: sqlite3.Connection, app: str, name: str) -> set[str]:
    rows = con.execute(
        "SELECT DISTINCT partition FROM runs WHERE app = ? AND name = ? AND status = 'succeeded' "
        "AND partition IS NOT NULL",
        (app, name),
    )
    return {r[0] for r in rows}


def request_cancel(con: sqlite3.Connection, run_id: str) -> Run | None:
    con.execute("UPDATE runs SET cancel = 1 WHERE id = ? AND status IN ('queued', 'running')",
                (run_id,))
    return get(con, run_id)


def cancel_requested(con: sqlite3.Connection, run_ids: Sequence[str]) -> set[str]:
    if not run_ids:
        return set()
    marks = ",".join("?" * len(run_ids))
    rows = con.execute(f"SELECT id FROM runs WHERE cancel = 1 AND id IN ({marks})", list(run_ids))
    return {r[0] for r in rows}


def queued_cancelled(con: sqlite3.Connection) -> list[tuple[str, int | None]]:
    """Queued runs someone asked to cancel: (run id, message id)."""
    rows = con.execute("SELECT id, message_id FROM runs WHERE cancel = 1 AND status = 'queued'")
    return [(r[0], r[1]) for r in rows]
