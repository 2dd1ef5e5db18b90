"""The runtime's bookkeeping in the SQLite state file: schedules, named leases, the worker
registry and what watched buckets last showed (`cauce.backends.state`'s ScheduleStore,
LeaseStore, WorkerStore and WatchStore)."""

from __future__ import annotations

from collections.abc import Sequence

from ..state import (
    LeaseStore,
    ScheduleState,
    ScheduleStore,
    SeenObject,
    WatchStore,
    WorkerRecord,
    WorkerStore,
)
from .database import StateDB


class SQLiteSchedules(ScheduleStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def states(self, app: str) -> list[ScheduleState]:
        with self.db.reading() as con:
            rows = con.execute("SELECT job, spec, next_at, paused FROM schedules WHERE app = ? "
                               "ORDER BY job", (app,)).fetchall()
        return [ScheduleState(*row) for row in rows]

    def set(self, app: str, job: str, *, spec: str, next_at: float) -> None:
        with self.db.atomic() as con:
            con.execute("INSERT INTO schedules (app, job, spec, next_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (app, job) DO UPDATE SET spec = excluded.spec, "
                        "next_at = excluded.next_at", (app, job, spec, next_at))

    def advance(self, app: str, job: str, *, next_at: float) -> None:
        with self.db.atomic() as con:
            con.execute("UPDATE schedules SET next_at = ? WHERE app = ? AND job = ?",
                        (next_at, app, job))

    def pause(self, app: str, job: str, reason: str) -> None:
        with self.db.atomic() as con:
            con.execute("INSERT INTO schedules (app, job, spec, next_at, paused) "
                        "VALUES (?, ?, '', 0, ?) "
                        "ON CONFLICT (app, job) DO UPDATE SET paused = excluded.paused",
                        (app, job, reason))

    def resume(self, app: str, job: str) -> bool:
        with self.db.atomic() as con:
            return con.execute("UPDATE schedules SET paused = NULL, spec = '' "
                               "WHERE app = ? AND job = ?", (app, job)).rowcount == 1


class SQLiteLeases(LeaseStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def acquire(self, name: str, owner: str, *, now: float, until: float) -> bool:
        with self.db.atomic() as con:
            return con.execute(
                "INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                "expires = excluded.expires "
                "WHERE leases.owner = excluded.owner OR leases.expires <= ?",
                (name, owner, until, now)).rowcount == 1

    def holder(self, name: str, *, now: float) -> str | None:
        with self.db.reading() as con:
            row = con.execute("SELECT owner FROM leases WHERE name = ? AND expires > ?",
                              (name, now)).fetchone()
        return row[0] if row else None

    def release(self, name: str, owner: str) -> None:
        with self.db.atomic() as con:
            con.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))


class SQLiteWorkers(WorkerStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def register(self, worker: str, *, app: str, pid: int, host: str, role: str,
                 now: float) -> None:
        with self.db.atomic() as con:
            con.execute("INSERT OR REPLACE INTO workers "
                        "(id, app, pid, host, role, started_at, heartbeat_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", (worker, app, pid, host, role, now, now))

    def stopped(self, worker: str, *, now: float) -> None:
        with self.db.atomic() as con:
            con.execute("UPDATE workers SET stopped_at = ? WHERE id = ?", (now, worker))

    def beat(self, worker: str, *, now: float) -> None:
        with self.db.atomic() as con:
            con.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", (now, worker))

    def listing(self, *, stopped: bool = False) -> list[WorkerRecord]:
        sql = ("SELECT id, app, pid, host, role, started_at, heartbeat_at, stopped_at "
               "FROM workers" + ("" if stopped else " WHERE stopped_at IS NULL")
               + " ORDER BY started_at")
        with self.db.reading() as con:
            return [WorkerRecord(*row) for row in con.execute(sql).fetchall()]

    def running(self, role: str | None = None) -> list[str]:
        sql = "SELECT id FROM workers WHERE stopped_at IS NULL"
        args: tuple[str, ...] = ()
        if role is not None:
            sql += " AND role = ?"
            args = (role,)
        with self.db.reading() as con:
            return [row[0] for row in con.execute(sql + " ORDER BY started_at", args).fetchall()]


class SQLiteWatches(WatchStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def seen(self, app: str, bucket: str, *, key: str | None = None) -> dict[str, SeenObject]:
        one = "" if key is None else " AND key = ?"
        with self.db.reading() as con:
            rows = con.execute("SELECT key, size, mtime, seen_at, tag FROM bucket_objects "
                               f"WHERE app = ? AND bucket = ?{one}",
                               (app, bucket) + (() if key is None else (key,))).fetchall()
        return {row[0]: SeenObject(*row) for row in rows}

    def remember(self, app: str, bucket: str,
                 objects: Sequence[tuple[str, int, float, str | None]], *, now: float) -> None:
        with self.db.atomic() as con:
            con.executemany(
                "INSERT INTO bucket_objects (app, bucket, key, size, mtime, seen_at, tag) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, bucket, key) DO UPDATE SET "
                "size = excluded.size, mtime = excluded.mtime, seen_at = excluded.seen_at, "
                "tag = excluded.tag",
                [(app, bucket, key, size, mtime, now, tag) for key, size, mtime, tag in objects])

    def forget(self, app: str, bucket: str, keys: Sequence[str]) -> None:
        with self.db.atomic() as con:
            con.executemany("DELETE FROM bucket_objects WHERE app = ? AND bucket = ? AND key = ?",
                            [(app, bucket, key) for key in keys])
