"""The home the UI looks at: its apps, each attached to a runtime, and every read the pages make.

Pages never touch the state database themselves: they call this module, which goes through the
apps' runtimes and the state's read-only views. Values that may hold a secret (run parameters,
errors, results, messages) are masked here, once, with each app's secret settings.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..app import App, Handler, Job, suggest
from ..backends.state import RunFilter, ShardState, StateStore, engine, sqlite_url
from ..cli.loading import bundled_apps, load_app
from ..errors import NotFound
from ..logs import GENERAL, LogLine
from ..pids import gone
from ..resources.bucket import Bucket
from ..resources.queue import Queue
from ..resources.stream import Stream
from ..resources.table import Table
from ..resources.topic import Topic
from ..resources.warehouse import Warehouse
from ..runs import Run, RunStatus
from ..runtime import inspection
from ..runtime.runtime import Runtime
from ..settings import MASK, ConfigSources
from ..textfiles import real_path

DAY = 86_400.0


@dataclass
class WorkerState:
    id: str
    app: str
    role: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
    alive: bool | None  # None: on another machine, so unknown


@dataclass
class QueueRow:
    """One queue of an app as the queues page shows it."""

    label: str
    store_name: str
    target: str  # the name `replay` and `dlq` accept
    visible: int
    later: int
    dlq: int
    oldest_seconds: int
    activity: list[int] = field(default_factory=list)


class Home:
    """A cauce home and the apps the UI shows, each attached to a runtime opened here (or given,
    as `cauce serve --ui` does with its own)."""

    def __init__(self, path: Path, runtimes: Sequence[Runtime], owned: Sequence[Runtime]) -> None:
        self.path = path
        self.runtimes = {rt.app.name: rt for rt in runtimes}
        self._owned = list(owned)
        self.host = socket.gethostname()

    @classmethod
    def open(cls, path: str | Path, references: Sequence[str] | None = None,
             attached: Sequence[Runtime] = (), state: str | None = None) -> Home:
        """Attach the named apps (every bundled app for None) to the home at ``path`` (its
        state at ``state``: by default as the configuration says), besides the runtimes
        already ``attached``."""
        home = real_path(path)
        url = state or ConfigSources.discover().state()[0] or sqlite_url(home / "state.db")
        if not attached and not engine(url).exists(url):
            raise NotFound(f"no cauce home at {home} (nothing has run there yet)",
                           hint="pass --home (or set CAUCE_HOME) to the folder `cauce serve`/"
                           "`run` used, or run `cauce demo` first")
        taken = {rt.app.name for rt in attached}
        opened: list[Runtime] = []
        try:
            for reference in list(bundled_apps()) if references is None else references:
                app, ref = load_app(reference)
                if app.name in taken:
                    continue
                taken.add(app.name)
                opened.append(Runtime(app, home=home, app_ref=ref, role="ui",
                                      lenient_settings=True, state=url).open())
        except BaseException:
            for rt in opened:
                rt.close()
            raise
        return cls(home, [*attached, *opened], opened)

    def close(self) -> None:
        for rt in self._owned:
            rt.close()
        self._owned.clear()

    # -- apps -----------------------------------------------------------------------------
    @property
    def app_names(self) -> list[str]:
        return sorted(self.runtimes)

    def runtime(self, app: str) -> Runtime:
        rt = self.runtimes.get(app)
        if rt is None:
            raise NotFound(f"no app {app!r} in this UI", hint=suggest(app, self.runtimes))
        return rt

    def app(self, name: str) -> App:
        return self.runtime(name).app

    def tz(self, app: str | None) -> ZoneInfo:
        rt = self.runtimes.get(app or "")
        return rt.app.tz if rt else ZoneInfo("UTC")

    def today(self, app: str) -> date:
        return self.runtime(app).today()

    def mask(self, app: str, value: Any) -> Any:
        """``value`` with the app's secret setting values replaced by the mask (deeply)."""
        rt = self.runtimes.get(app)
        if rt is None or value is None:
            return value
        if isinstance(value, str):
            return rt.sink.redact(value)
        text = json.dumps(value, default=str, ensure_ascii=False)
        redacted = rt.sink.redact(text)
        return value if redacted == text else json.loads(redacted)

    def settings(self, app: str) -> list[dict[str, Any]]:
        rt = self.runtime(app)
        rows = []
        for name, declared in rt.app.settings.items():
            value = rt.settings[name]
            shown = MASK if declared.secret and value not in (None, "") else value
            rows.append({"name": name, "value": shown, "source": rt.settings.origin(name),
                         "secret": declared.secret, "help": declared.help})
        return rows

    @property
    def _state(self) -> StateStore:
        return next(iter(self.runtimes.values())).state

    # -- runs -----------------------------------------------------------------------------
    def runs(self, f: RunFilter, *, before: str | None = None, after: str | None = None,
             limit: int = 50) -> list[Run]:
        if f.apps is None:
            f = RunFilter(self.app_names, f.name, f.status, f.partition, f.kind, f.since, f.until)
        return [self._masked_run(r) for r in self._state.views.runs_page(f, before=before,
                                                             after=after, limit=limit)]

    def _masked_run(self, run: Run) -> Run:
        from dataclasses import replace

        return replace(run, error=self.mask(run.app, run.error),
                       params=self.mask(run.app, run.params),
                       result=self.mask(run.app, run.result))

    def run(self, run_id: str) -> Run:
        rt = next(iter(self.runtimes.values()))
        run = rt.get_run(run_id)
        if run.app not in self.runtimes:
            raise NotFound(f"run {run_id} belongs to app {run.app!r}, which this UI does not show",
                           hint=f"start the UI with `cauce ui {run.app}`")
        return self._masked_run(run)

    def run_recorded(self, run_id: str) -> bool:
        """Whether the state holds a run of exactly this id (any app's)."""
        rt = next(iter(self.runtimes.values()))
        return rt.state.runs.get(run_id) is not None

    def related_runs(self, run: Run, limit: int = 20) -> list[Run]:
        """Other runs of the same job or handler (and partition): attempts and re-runs."""
        f = RunFilter([run.app], run.name, partition=run.partition)
        return self.runs(f, limit=limit)

    def latest_by_partition(self, app: str, name: str, first: str, last: str) -> dict[str, Run]:
        return self._state.views.latest_by_partition(app, name, first, last)

    def newest_partition(self, app: str, name: str) -> str | None:
        return self._state.views.newest_partition(app, name)

    def run_log(self, run: Run, after_id: int = 0, limit: int = 2000) -> list[LogLine]:
        rt = self.runtime(run.app)
        rt.sink.flush()
        return self._state.logs.read(run_id=run.id, after_id=after_id, limit=limit)

    def stream_log(self, app: str, stream: str = GENERAL, limit: int = 200,
                   before_id: int | None = None) -> list[LogLine]:
        return self._state.views.log_tail(app=app, stream=stream, limit=limit,
                              before_id=before_id)

    def log_streams(self, app: str) -> list[str]:
        return self._state.views.log_streams(app)

    def target(self, app: str, name: str) -> Job | Handler:
        """The job or handler ``name`` of ``app``."""
        declared = self.app(app)
        found = declared.jobs.get(name) or declared.handlers.get(name)
        if found is None:
            raise NotFound(f"app {app!r} has no job or handler {name!r}",
                           hint=suggest(name, [*declared.jobs, *declared.handlers]))
        return found

    # -- overview -------------------------------------------------------------------------
    def counts_since(self, since: float) -> dict[tuple[str, str], int]:
        return self._state.views.run_counts(RunFilter(self.app_names, since=since))

    def failures_since(self, since: float, limit: int = 20) -> list[Run]:
        failed = [self.runs(RunFilter(status=status, since=since), limit=limit)
                  for status in (RunStatus.FAILED.value, RunStatus.DEAD_LETTERED.value)]
        return sorted((r for rs in failed for r in rs), key=lambda r: r.id, reverse=True)[:limit]

    def workers(self) -> list[WorkerState]:
        rows = self._state.views.workers(self.app_names)
        return [WorkerState(r["id"], r["app"], r["role"], r["host"], r["pid"], r["started_at"],
                            r["heartbeat_at"], r["stopped_at"], self._alive(r)) for r in rows]

    def _alive(self, row: dict[str, Any]) -> bool | None:
        if row["stopped_at"] is not None:
            return False
        if row["host"] != self.host:
            return None
        return not gone(row["host"], row["pid"])

    def serving(self, app: str) -> bool:
        """A serve or worker process of ``app`` is running (so queued runs will be picked up)."""
        return any(w.app == app and w.alive is not False and w.role in ("serve", "worker")
                   for w in self.workers())

    def schedules(self) -> list[dict[str, Any]]:
        return self._state.views.schedules(self.app_names)

    # -- queues, topics, streams ----------------------------------------------------------
    def queues(self, app: str, *, window: float = 3600.0, buckets: int = 30) -> list[QueueRow]:
        rt = self.runtime(app)
        stats = {row["queue"]: row for row in rt.queue_stats()}
        consumers: dict[str, str] = {}
        rows = []
        for label, store_name in inspection.queue_names(rt.app):
            target = self._target_of(rt.app, store_name)
            consumers[store_name] = target
            s = stats[label]
            rows.append(QueueRow(label, store_name, target, s["visible"],
                                 s["in_flight_or_delayed"], s["dlq"], s["oldest_seconds"]))
        if not buckets:
            return rows
        # throughput: runs started per interval by the handler or job that consumes each queue
        names = sorted({self._consumer_name(rt.app, row.store_name) for row in rows} - {""})
        since = rt.clock.time() - window
        activity = self._state.views.run_activity(app, names, since, window / buckets)
        for row in rows:
            counts = activity.get(self._consumer_name(rt.app, row.store_name), {})
            row.activity = [counts.get(i, 0) for i in range(buckets)]
        return rows

    @staticmethod
    def _consumer(app: App, store_name: str) -> Job | Handler | None:
        """The job or handler that consumes the queue stored as ``store_name``."""
        for worker in [*app.jobs.values(), *app.handlers.values()]:
            if worker.store_queue == store_name:
                return worker
        return None

    def _target_of(self, app: App, store_name: str) -> str:
        """The name `Runtime.dead_letter_queue` takes for a queue: the job's or the event
        handler's, or the declared queue's own."""
        consumer = self._consumer(app, store_name)
        if consumer is not None and not isinstance(getattr(consumer, "resource", None), Queue):
            return consumer.name
        return store_name.split(":", 1)[1]

    def _consumer_name(self, app: App, store_name: str) -> str:
        consumer = self._consumer(app, store_name)
        return consumer.name if consumer is not None else ""

    def topics(self, app: str) -> list[dict[str, Any]]:
        declared = self.app(app)
        return [{"name": t.name,
                 "handlers": [h.name for h in declared.handlers_of(t)],
                 "queues": [q.name for q in t.queues]}
                for t in declared.resources.values() if isinstance(t, Topic)]

    def streams(self, app: str) -> list[tuple[Stream, list[ShardState], list[str]]]:
        """Each stream with its shards and its consumers: the handlers declared on it and any
        other that keeps a checkpoint there."""
        declared = self.app(app)
        found = []
        for s in (r for r in declared.resources.values() if isinstance(r, Stream)):
            shards = self._state.views.stream_shards(s.qualified, s.shards)
            names = {h.name for h in declared.handlers_of(s)}
            found.append((s, shards, sorted(names.union(*(sh.consumers for sh in shards)))))
        return found

    def dead_letters(self, app: str, target: str, *, after_id: int = 0,
                     limit: int = 50) -> tuple[str, list[dict[str, Any]]]:
        """(store name of the DLQ, its messages after ``after_id``) with body, error, receives."""
        rt = self.runtime(app)
        dlq = inspection.dead_letter_queue(rt, target)
        rows = []
        for m in self._state.views.messages_page(dlq, after_id=after_id, limit=limit):
            rows.append({"id": m.id, "event_id": m.event_id, "receives": m.receive_count,
                         "sent_at": m.sent_at, "body": self.mask(app, m.body),
                         "error": self.mask(app, m.last_error),
                         "attrs": self.mask(app, m.attrs)})
        return dlq, rows

    # -- data -----------------------------------------------------------------------------
    def resources(self, app: str, kind: type) -> list[Any]:
        return [r for r in self.app(app).resources.values() if isinstance(r, kind)]

    def resource(self, app: str, name: str, kind: type) -> Any:
        return self.app(app).get_resource(name, kind)

    def table_items(self, app: str, name: str, *, prefix: str = "", after: str | None = None,
                    limit: int = 50) -> list[dict[str, Any]]:
        table: Table = self.resource(app, name, Table)
        rows = self._state.views.items_page(table.qualified, prefix=prefix, after=after,
                                limit=limit)
        return [{"stored_key": key, "key": _shown_key(key), "value": self.mask(app, value),
                 "version": version, "updated_at": updated}
                for key, value, version, updated in rows]

    def table_count(self, app: str, name: str) -> int:
        table: Table = self.resource(app, name, Table)
        return self._state.views.item_count(table.qualified)

    def bucket(self, app: str, name: str) -> Bucket:
        return self.resource(app, name, Bucket)

    def warehouse(self, app: str, name: str) -> Warehouse:
        return self.resource(app, name, Warehouse)

    def warehouse_backend(self, app: str, name: str) -> Any:
        return self.runtime(app).warehouse_backend(self.warehouse(app, name))


def _shown_key(stored: str) -> str:
    """A table's stored key as people write it: parts joined by ' / ', integers as digits."""
    parts = []
    for part in stored.split("\x1f"):
        if part.startswith("\x1e"):
            parts.append(str(int(part[1:]) - 2**63))
        else:
            parts.append(part)
    return " / ".join(parts)


def since_hours(hours: float) -> float:
    return time.time() - hours * 3600


def local(ts: float | datetime | None, tz: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in ``tz`` (empty for None)."""
    if ts is None:
        return ""
    moment = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

