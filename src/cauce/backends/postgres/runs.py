"""Runs in PostgreSQL (`cauce.backends.state.RunStore`). Parameters and results are jsonb
(U+0000 and lone surrogates escaped, `cauce.backends.postgres.jsonb`); the
starts of deliveries are rows of ``starts`` (workers on other machines must find them), removed
once the runs' own rows say they started."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ...errors import StateUnavailable
from ...runs import Run, RunRecord, RunStatus
from ..state import RunKey, RunStore, Start
from .database import Database, text
from .jsonb import dump_value

_NAMES = ("id", "app", "kind", "name", "partition", "attempt", "status", "trigger", "message_id",
          "event_id", "queued_at", "started_at", "params", "worker", "ended_at", "error",
          "result", "in_child")
RECORD = ", ".join(_NAMES)
_TYPES = ("text", "text", "text", "text", "text", "integer", "text", "text", "bigint", "text",
          "double precision", "double precision", "jsonb", "text", "double precision", "text",
          "jsonb", "boolean")
# Rows go in as one array per column, so a batch of any size is one fixed statement.
_UNNEST = ("SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in _TYPES) + ")")
UPSERT = (f"INSERT INTO runs ({RECORD}) {_UNNEST} "
           "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
           "attempt = excluded.attempt, worker = excluded.worker, "
           "started_at = excluded.started_at, ended_at = excluded.ended_at, "
           "error = excluded.error, result = excluded.result, in_child = excluded.in_child")


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def run(row: Sequence[Any]) -> Run:
    """A Run from a row of `RECORD`."""
    values = dict(zip(_NAMES, row, strict=True))
    return Run(
        id=values["id"], app=values["app"], kind=values["kind"], name=values["name"],
        partition=values["partition"], attempt=values["attempt"],
        status=RunStatus(values["status"]), trigger=values["trigger"],
        event_id=values["event_id"], queued_at=_ts(values["queued_at"]),
        started_at=_ts(values["started_at"]), ended_at=_ts(values["ended_at"]),
        error=values["error"], params=values["params"], result=values["result"],
        worker=values["worker"])


def _record(row: Sequence[Any]) -> RunRecord:
    return RunRecord.from_dict(dict(zip(_NAMES, row, strict=True)))


def columns(runs: Sequence[RunRecord]) -> list[list[Any]]:
    rows = [(r.id, r.app, r.kind, r.name, r.partition, r.attempt, r.status.value, r.trigger,
             r.message_id, r.event_id, r.queued_at, r.started_at, dump_value(r.params), r.worker,
             r.ended_at, text(r.error), dump_value(r.result), r.in_child) for r in runs]
    return [list(column) for column in zip(*rows, strict=True)]


def latest_of(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """One record per run, the last written winning (as one write after another would): a
    statement may not update a row twice."""
    return list({r.id: r for r in runs}.values())


def _listing(*, app: str | None, name: str | None, status: str | None, partition: str | None,
             kind: str | None, limit: int | None, newest_first: bool = True,
             after: RunKey | None = None) -> tuple[str, list[Any]]:
    """The query of a run listing, each row `RECORD` and its place (its time in the order);
    with ``after`` (newest first), only the runs after that place: a range of runs_by_start."""
    where, args = [], []
    for column, value in (("app", app), ("name", name), ("status", status),
                          ("partition", partition), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    if after is not None and after[0] is not None:  # a row value: NULL, untimed, is not less
        where.append("(coalesce(started_at, queued_at), id) < (%s::double precision, %s)")
        args.extend(after)
    elif after is not None:
        where.append("coalesce(started_at, queued_at) IS NULL")
        if after[1] is not None:
            where.append("id < %s")
            args.append(after[1])
    # NULLs first, as in SQLite (and as the index runs_by_start is walked, either way)
    order = "DESC NULLS LAST" if newest_first else "ASC NULLS FIRST"
    sql = (f"SELECT {RECORD}, coalesce(started_at, queued_at) FROM runs"
           + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY coalesce(started_at, queued_at) {order}, id {order.split()[0]} "
           "LIMIT %s")
    return sql, [*args, limit or None]


class PostgresRuns(RunStore):
    """Runs; ``marks`` is the connection pool for start marks, whose commits need not wait
    for the disk (one is written before every delivery)."""

    def __init__(self, db: Database, marks: Database) -> None:
        self.db = db
        self.marks = marks

    # -- writing -------------------------------------------------------------------------
    def insert(self, runs: Sequence[RunRecord]) -> None:
        if runs:
            self.db.change(f"INSERT INTO runs ({RECORD}) {_UNNEST}", columns(runs))

    def upsert(self, runs: Sequence[RunRecord]) -> None:
        latest = latest_of(runs)
        if latest:
            self.db.change(UPSERT, columns(latest))

    def finish(self, run_id: str, status: str, *, now: float, error: str | None = None,
               result: Any = None) -> None:
        self.db.change("UPDATE runs SET status = %s, ended_at = %s, error = %s, result = %s::jsonb "
                       "WHERE id = %s", (str(status), now, text(error), dump_value(result), run_id))

    # -- starts --------------------------------------------------------------------------
    def note_started(self, start: Start) -> None:
        """The mark is written again once on a new connection when the one it went out on was
        lost (the server ended it: a restart, pg_terminate_backend): writing it twice changes
        nothing, and a delivery that could not be marked was failed as cauce's own error,
        counting a receive against a message that never ran."""
        mark = ("INSERT INTO starts (worker, lease, head, run_id, run) "
                "VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING",
                (start.run["worker"], start.lease, start.head, start.run["id"],
                 dump_value(start.run)))
        try:
            self.marks.change(*mark)
        except StateUnavailable:
            self.marks.change(*mark)

    def record_running(self, runs: Sequence[RunRecord]) -> None:
        if not runs:
            return
        with self.db.atomic():
            self.upsert(runs)
            self.db.change("DELETE FROM starts WHERE run_id = ANY(%s::text[])",
                           ([r.id for r in runs],))

    def started(self, *, worker: str | None, lease: str | None, head: str,
                message_id: int | None = None, run_id: str | None = None) -> RunRecord | None:
        column, value = ("message_id", message_id) if message_id is not None else ("id", run_id)
        if value is not None:
            row = self.db.row(f"SELECT {RECORD} FROM runs WHERE {column} = %s "
                              "AND status = 'running'", (value,))
            if row is not None:
                return _record(row)
        if worker is None or lease is None:
            return None
        found = self.db.row("SELECT run FROM starts WHERE worker = %s AND lease = %s "
                            "AND head = %s", (worker, lease, head))
        return RunRecord.from_dict(found[0]) if found else None

    def forget_recorded_starts(self) -> int:
        """Remove the starts whose runs' rows say they started (or ended)."""
        return self.db.change("DELETE FROM starts AS s USING runs AS r "
                              "WHERE r.id = s.run_id AND r.status <> 'queued'")

    # -- reading -------------------------------------------------------------------------
    def get(self, run_id: str) -> Run | None:
        row = self.db.row(f"SELECT {RECORD} FROM runs WHERE id = %s", (run_id,))
        return run(row) if row else None

    def find_by_prefix(self, prefix: str, limit: int = 3) -> list[Run]:
        rows = self.db.rows(f"SELECT {RECORD} FROM runs WHERE id >= %s AND id < %s "
                            "ORDER BY id LIMIT %s", (prefix, prefix + "\U0010ffff", limit))
        return [run(r) for r in rows]

    def query(self, *, app: str | None = None, name: str | None = None,
              status: str | None = None, partition: str | None = None,
              kind: str | None = None, limit: int | None = None,
              newest_first: bool = True) -> list[Run]:
        sql, args = _listing(app=app, name=name, status=status, partition=partition, kind=kind,
                             limit=limit, newest_first=newest_first)
        return [run(r[:-1]) for r in self.db.rows(sql, args)]

    def keyed_page(self, *, app: str | None = None, name: str | None = None,
                   status: str | None = None, partition: str | None = None,
                   kind: str | None = None, after: RunKey | None = None,
                   limit: int) -> list[tuple[RunKey, Run]]:
        sql, args = _listing(app=app, name=name, status=status, partition=partition, kind=kind,
                             limit=limit, after=after)
        return [((r[-1], r[0]), run(r[:-1])) for r in self.db.rows(sql, args)]

    def queued_for(self, message_id: int) -> str | None:
        row = self.db.row("SELECT id FROM runs WHERE message_id = %s AND status = 'queued'",
                          (message_id,))
        return row[0] if row else None

    def succeeded_partitions(self, app: str, name: str) -> set[str]:
        rows = self.db.rows("SELECT DISTINCT partition FROM runs WHERE app = %s AND name = %s "
                            "AND status = 'succeeded' AND partition IS NOT NULL", (app, name))
        return {r[0] for r in rows}

    def partition_succeeded(self, app: str, name: str, partition: str | None) -> bool:
        return self.db.row("SELECT 1 FROM runs WHERE app = %s AND name = %s "
                           "AND partition IS NOT DISTINCT FROM %s AND status = 'succeeded' "
                           "LIMIT 1", (app, name, partition)) is not None

    def request_cancel(self, run_id: str) -> None:
        self.db.change("UPDATE runs SET cancel = true WHERE id = %s "
                       "AND status IN ('queued', 'running')", (run_id,))

    def cancel_requested(self, run_ids: Sequence[str]) -> set[str]:
        if not run_ids:
            return set()
        rows = self.db.rows("SELECT id FROM runs WHERE cancel AND id = ANY(%s::text[])",
                            (list(run_ids),))
        return {r[0] for r in rows}

    def queued_cancelled(self) -> list[tuple[str, int | None]]:
        rows = self.db.rows("SELECT id, message_id FROM runs WHERE cancel AND status = 'queued' "
                            "ORDER BY id")
        return [(r[0], r[1]) for r in rows]

    def prune(self, *, ended_before: float, app: str | None = None) -> int:
        return self.db.change(
            "DELETE FROM runs WHERE status IN ('succeeded', 'failed', 'dead-lettered', "
            "'cancelled') AND ended_at < %s AND (%s::text IS NULL OR app = %s)",
            (ended_before, app, app))
