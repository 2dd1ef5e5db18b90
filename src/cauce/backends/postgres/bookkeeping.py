"""The runtime's bookkeeping in PostgreSQL: schedules, named leases, the worker registry and what
watched buckets last showed (`cauce.backends.state`'s ScheduleStore, LeaseStore, WorkerStore
and WatchStore)."""

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
from .database import Database


class PostgresSchedules(ScheduleStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def states(self, app: str) -> list[ScheduleState]:
        rows = self.db.rows("SELECT job, spec, next_at, paused FROM schedules WHERE app = %s "
                            "ORDER BY job", (app,))
        return [ScheduleState(*row) for row in rows]

    def set(self, app: str, job: str, *, spec: str, next_at: float) -> None:
        self.db.change("INSERT INTO schedules (app, job, spec, next_at) VALUES (%s, %s, %s, %s) "
                       "ON CONFLICT (app, job) DO UPDATE SET spec = excluded.spec, "
                       "next_at = excluded.next_at", (app, job, spec, next_at))

    def advance(self, app: str, job: str, *, next_at: float) -> None:
        self.db.change("UPDATE schedules SET next_at = %s WHERE app = %s AND job = %s",
                       (next_at, app, job))

    def pause(self, app: str, job: str, reason: str) -> None:
        self.db.change("INSERT INTO schedules (app, job, spec, next_at, paused) "
                       "VALUES (%s, %s, '', 0, %s) "
                       "ON CONFLICT (app, job) DO UPDATE SET paused = excluded.paused",
                       (app, job, reason))

    def resume(self, app: str, job: str) -> bool:
        return self.db.change("UPDATE schedules SET paused = NULL, spec = '' "
                              "WHERE app = %s AND job = %s", (app, job)) == 1


class PostgresLeases(LeaseStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def acquire(self, name: str, owner: str, *, now: float, until: float) -> bool:
        return self.db.change(
            "INSERT INTO leases (name, owner, expires) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires "
            "WHERE leases.owner = excluded.owner OR leases.expires <= %s",
            (name, owner, until, now)) == 1

    def holder(self, name: str, *, now: float) -> str | None:
        row = self.db.row("SELECT owner FROM leases WHERE name = %s AND expires > %s",
                          (name, now))
        return row[0] if row else None

    def release(self, name: str, owner: str) -> None:
        self.db.change("DELETE FROM leases WHERE name = %s AND owner = %s", (name, owner))


class PostgresWorkers(WorkerStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, worker: str, *, app: str, pid: int, host: str, role: str,
                 now: float) -> None:
        self.db.change("INSERT INTO workers (id, app, pid, host, role, started_at, heartbeat_at) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                       "app = excluded.app, pid = excluded.pid, host = excluded.host, "
                       "role = excluded.role, started_at = excluded.started_at, "
                       "heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
                       (worker, app, pid, host, role, now, now))

    def stopped(self, worker: str, *, now: float) -> None:
        self.db.change("UPDATE workers SET stopped_at = %s WHERE id = %s", (now, worker))

    def beat(self, worker: str, *, now: float) -> None:
        self.db.change("UPDATE workers SET heartbeat_at = %s WHERE id = %s", (now, worker))

    def listing(self, *, stopped: bool = False) -> list[WorkerRecord]:
        rows = self.db.rows("SELECT id, app, pid, host, role, started_at, heartbeat_at, "
                            "stopped_at FROM workers WHERE %s OR stopped_at IS NULL "
                            "ORDER BY started_at", (stopped,))
        return [WorkerRecord(*row) for row in rows]

    def running(self, role: str | None = None) -> list[str]:
        rows = self.db.rows("SELECT id FROM workers WHERE stopped_at IS NULL "
                            "AND (%s::text IS NULL OR role = %s) ORDER BY started_at",
                            (role, role))
        return [row[0] for row in rows]


class PostgresWatches(WatchStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def seen(self, app: str, bucket: str, *, key: str | None = None) -> dict[str, SeenObject]:
        one = "" if key is None else " AND key = %s"
        rows = self.db.rows("SELECT key, size, mtime, seen_at, tag FROM bucket_objects "
                            f"WHERE app = %s AND bucket = %s{one}",
                            (app, bucket) + (() if key is None else (key,)))
        return {row[0]: SeenObject(*row) for row in rows}

    def remember(self, app: str, bucket: str,
                 objects: Sequence[tuple[str, int, float, str | None]], *, now: float) -> None:
        latest = {row[0]: row for row in objects}  # one row per key
        if not latest:
            return
        self.db.change(
            "INSERT INTO bucket_objects (app, bucket, key, size, mtime, seen_at, tag) "
            "SELECT %s, %s, k, s, m, %s, t FROM unnest(%s::text[], %s::bigint[], "
            "%s::double precision[], %s::text[]) AS u(k, s, m, t) "
            "ON CONFLICT (app, bucket, key) DO UPDATE SET size = excluded.size, "
            "mtime = excluded.mtime, seen_at = excluded.seen_at, tag = excluded.tag",
            (app, bucket, now, *[list(c) for c in zip(*latest.values(), strict=True)]))

    def forget(self, app: str, bucket: str, keys: Sequence[str]) -> None:
        if keys:
            self.db.change("DELETE FROM bucket_objects WHERE app = %s AND bucket = %s "
                           "AND key = ANY(%s::text[])", (app, bucket, list(keys)))
