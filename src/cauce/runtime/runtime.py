"""Runtime: attaches an app to a cauce home and executes it.

A runtime resolves the app's settings, opens the state database (``<home>/state.db``), gives
resources their backends, and runs work in one of three ways: `run` (one job run in the
foreground, as ``cauce run``), `serve` (scheduler, dispatcher and workers, as ``cauce serve``
and ``cauce worker``), or inline for tests (`cauce.testing.TestRuntime`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from .. import logs, runs
from ..app import App, Handler, Job, watch_of
from ..backends.fsspec_store import FsspecStore
from ..backends.local import queues, streams
from ..backends.local.folders import FolderStore, StoredObject
from ..backends.local.queues import new_token
from ..backends.local.sqlite import StateDB
from ..backends.local.starts import StartLog, dead_workers, forget
from ..clock import Clock, SystemClock
from ..durations import DurationLike, parse_duration
from ..errors import CauceError, ConfigError, NotFound, PartitionError
from ..events import Message, ObjectRef
from ..logs import LogLine, LogSink
from ..resources.base import Resource
from ..resources.bucket import Bucket
from ..resources.queue import Queue, message_from
from ..resources.stream import Stream
from ..resources.table import Table
from ..resources.topic import Topic
from ..resources.warehouse import Warehouse
from ..runs import NewRun, Run, RunStatus
from ..settings import ConfigSources, Setting, Settings, resolve
from .execute import Outcome, RunSpec, execute, log_general
from .processes import ProcessLauncher
from .wakeup import WakeListener, WakeNotifier

if TYPE_CHECKING:
    from ..warehouse import WarehouseBackend
    from .dispatcher import Dispatcher
    from .sources import Delivery

log = logging.getLogger("cauce.runtime")
ProgressHook = Callable[[str, float, float | None, str], None]
RunHook = Callable[[Run], None]


def default_home(config: ConfigSources) -> Path:
    value, _ = config.home()
    return Path(value or ".cauce")


class Runtime:
    """One app attached to one home. Use as a context manager: ``with Runtime(app) as rt``."""

    def __init__(
        self,
        app: App,
        *,
        home: str | Path | None = None,
        settings: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        config: ConfigSources | None = None,
        role: str = "foreground",
        app_ref: str | None = None,
        lenient_settings: bool = False,
    ) -> None:
        self.app = app
        self.config = config or ConfigSources.discover()
        self.home = Path(home if home is not None else default_home(self.config)).resolve()
        self.clock = clock or SystemClock()
        self.overrides = {k: v for k, v in (settings or {}).items() if v is not None}
        self.role = role
        self.lenient_settings = lenient_settings
        self.app_ref = app_ref or app.reference
        self.worker_id = f"{role}-{socket.gethostname()}-{os.getpid()}-{new_token()[:6]}"
        self._wake = threading.Condition()
        self._woken = False
        self._stores: dict[str, FolderStore | FsspecStore] = {}
        self._warehouses: dict[str, WarehouseBackend] = {}
        self._progress_hooks: list[ProgressHook] = []
        self._run_hooks: list[RunHook] = []
        self._settings: Settings | None = None
        self._undo_logging: Callable[[], None] | None = None
        self._stop = threading.Event()
        self.processes = ProcessLauncher(self)
        self.db: StateDB
        self.sink: LogSink

    # -- lifecycle --------------------------------------------------------------------
    def open(self) -> Runtime:
        """Resolve settings, open the home and attach the app (raises ConfigError first)."""
        if self.app.runtime is not None and self.app.runtime is not self:
            raise CauceError(f"app {self.app.name!r} is already attached to another runtime "
                             "in this process",
                             hint="close the other runtime (or TestRuntime) first")
        self._settings = resolve(self.app.settings, self.config, self.overrides,
                                 lenient=self.lenient_settings)
        for resource in self.app.resources.values():
            if isinstance(resource, Bucket):
                self.watch_of(resource)  # a watch setting that is no duration fails here
        self.home.mkdir(parents=True, exist_ok=True)
        self.db = StateDB(self.home / "state.db",
                          background_checkpoints=self.role in ("serve", "worker"))
        self.starts = StartLog(self.home, self.worker_id)
        self.sink = LogSink(self.db, self.clock)
        self.sink.mask(self._settings.secrets())
        if self.role != "test":  # tests flush at run ends, so what they read is deterministic
            self.sink.start()
        self._undo_logging = logs.install()
        self._notifier = WakeNotifier(self.home, own=self.worker_id)
        self.app.runtime = self
        return self

    def close(self) -> None:
        if self.app.runtime is self:
            self.app.runtime = None
        self.sink.close()
        for backend in self._warehouses.values():
            backend.close()
        self._warehouses.clear()
        if self._undo_logging is not None:
            self._undo_logging()
        self._notifier.close()
        self.starts.close()
        self.db.close()

    def __enter__(self) -> Runtime:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- settings and backends --------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise CauceError("the runtime is not open", hint="use `with Runtime(app) as rt:`")
        return self._settings

    def settings_for(self, app: App) -> Settings:
        return self.settings

    def _url_of(self, resource: Resource) -> tuple[str | None, str]:
        configured = self.config.resource_url(self.app.name, resource.name)
        if configured is not None:
            return configured
        if isinstance(resource.url, Setting):
            return self.settings[resource.url.name], f"setting {resource.url.name}"
        if resource.url is not None:
            return str(resource.url), "declaration"
        return None, "default"

    def bucket_store(self, bucket: Bucket) -> FolderStore | FsspecStore:
        store = self._stores.get(bucket.name)
        if store is None:
            url, where = self._url_of(bucket)
            if url is not None and "://" in url and not url.startswith("file://"):
                cache = self.home / "cache" / "buckets" / self.app.name / bucket.name
                try:
                    store = FsspecStore(url, cache)
                except ConfigError as error:
                    raise ConfigError(f"bucket {bucket.name!r} ({where}): {error.message}",
                                      hint=error.hint) from None
            else:
                if url is None:
                    root = self.home / "buckets" / self.app.name / bucket.name
                else:
                    root = Path(url.removeprefix("file://"))
                store = FolderStore(root if root.is_absolute() else Path.cwd() / root)
            self._stores[bucket.name] = store
        return store

    def warehouse_backend(self, warehouse: Warehouse) -> WarehouseBackend:
        backend = self._warehouses.get(warehouse.name)
        if backend is None:
            from ..warehouse import connect

            url, _ = self._url_of(warehouse)
            if url is None:
                path = self.home / "warehouses" / self.app.name / f"{warehouse.name}.duckdb"
                path.parent.mkdir(parents=True, exist_ok=True)
                url = f"duckdb:///{path}"
            backend = self._warehouses[warehouse.name] = connect(url)
        return backend

    def resource_url(self, resource: Resource) -> str:
        """The backend location a resource uses, for `cauce config` and `cauce apps`."""
        url, where = self._url_of(resource)
        if url is not None:
            return f"{url}  ({where})"
        if isinstance(resource, Bucket):
            return str(self.home / "buckets" / self.app.name / resource.name)
        if isinstance(resource, Warehouse):
            path = self.home / "warehouses" / self.app.name / (resource.name + ".duckdb")
            return f"duckdb:///{path}"
        return f"sqlite:///{self.home / 'state.db'}"

    # -- waking the serve loop --------------------------------------------------------
    def wake(self) -> None:
        """New work is available in this process: end the serve loop's wait now."""
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def new_work(self) -> None:
        """Work was committed: wake this process's loop and the serving processes of the home."""
        self.wake()
        self._notifier.notify()

    def wait(self, timeout: float) -> None:
        with self._wake:
            if not self._woken:
                self._wake.wait(timeout)
            self._woken = False

    # -- producing work (called by resources) -----------------------------------------
    def enqueue(self, queue: str, texts: list[str], *, delay: float = 0.0,
                group: str | None = None) -> list[str]:
        with self.db.write() as con:
            ids = queues.send(con, queue, texts, now=self.clock.time(), delay=delay, group=group)
        self.new_work()
        return [str(i) for i in ids]

    def receive(self, queue: Queue, *, limit: int,
                visibility: float) -> list[queues.StoredMessage]:
        """Lease messages of ``queue`` by hand (`Queue.receive`), after settling expired leases."""
        from .sources import recover_queue

        now = self.clock.time()
        with self.db.write() as con:
            runs.upsert(con, recover_queue(self, con, queue.store_name,
                                           max_receives=queue.max_receives, now=now))
            return queues.receive(con, queue.store_name, now=now, limit=limit,
                                  visibility=visibility, alone=None)

    def publish(self, topic: Topic, text: str) -> str:
        event_id = new_token() + new_token()
        targets = ([h.store_queue for h in self.app.handlers_of(topic)]
                   + [q.store_name for q in topic.queues])
        if targets:
            now = self.clock.time()
            with self.db.write() as con:
                for queue in targets:
                    queues.send(con, queue, [text], now=now, event_ids=[event_id])
            self.new_work()
        return event_id

    def object_created(self, bucket: Bucket, ref: ObjectRef, stored: StoredObject) -> None:
        """Queue the object-created event of a write made through cauce; a watched bucket also
        remembers the object as listings show it, so its watch does not announce it again."""
        handlers = [h for h in self.app.handlers_of(bucket) if h.matches(ref.key)]
        watched = self.watch_of(bucket) is not None
        if not handlers and not watched:
            return
        body = json.dumps({"key": ref.key, "size": ref.size, "mtime": ref.created_at.timestamp()})
        now = self.clock.time()
        with self.db.write() as con:
            if watched:
                _remember_objects(con, self.app.name, bucket.name, [stored], now)
            for handler in handlers:
                queues.send(con, handler.store_queue, [body], now=now)
        if handlers:
            self.new_work()

    def watch_of(self, bucket: Bucket) -> float | None:
        """Seconds between looks into ``bucket`` (None: not watched)."""
        return watch_of(bucket, self.settings_for(bucket.app))

    def scan_bucket(self, bucket: Bucket) -> int:
        """List a watched bucket and queue object-created events for every object that is new
        or changed (size or time) since the bucket was last seen; returns how many.

        The comparison and the events are one transaction, so processes watching the same
        bucket announce each object once; objects that disappeared are forgotten, so one
        written again under the same key is announced again. An object that cauce itself wrote
        after the listing began is left as that write recorded it: the listing may predate it.
        """
        started = self.clock.time()
        listed = {stored.key: stored for stored in self.bucket_store(bucket).list()}
        now = self.clock.time()
        with self.db.write() as con:
            known = {
                row["key"]: ((row["size"], row["mtime"]), row["seen_at"])
                for row in con.execute(
                    "SELECT key, size, mtime, seen_at FROM bucket_objects "
                    "WHERE app = ? AND bucket = ?",
                    (self.app.name, bucket.name),
                )
            }
            recent = {key for key, (_, seen_at) in known.items() if seen_at >= started}
            fresh = [obj for key, obj in listed.items() if key not in recent
                     and (key not in known or known[key][0] != (obj.size, obj.mtime))]
            gone = [(self.app.name, bucket.name, key) for key in known
                    if key not in listed and key not in recent]
            con.executemany("DELETE FROM bucket_objects WHERE app = ? AND bucket = ? AND key = ?",
                            gone)
            _remember_objects(con, self.app.name, bucket.name, fresh, now)
            handlers = self.app.handlers_of(bucket)
            for obj in fresh:
                body = json.dumps({"key": obj.key, "size": obj.size, "mtime": obj.mtime})
                for handler in (h for h in handlers if h.matches(obj.key)):
                    queues.send(con, handler.store_queue, [body], now=now)
        if fresh:
            log_general(self, self.app.name, logging.INFO,
                        "bucket %s: %d object(s) new or changed since the last look",
                        bucket.name, len(fresh))
            self.new_work()
        return len(fresh)

    def append(self, stream: Stream, shard: int, items: list[tuple[str, str]]) -> list[int]:
        with self.db.write() as con:
            seqs = streams.put(con, stream.qualified, shard, items, self.clock.time())
        self.new_work()
        return seqs

    # -- job runs -----------------------------------------------------------------------
    def check_params(self, job: Job, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and convert job options; raise one ConfigError naming every problem."""
        problems, values = [], {}
        for name in params:
            if name not in job.params:
                from ..app import suggest

                problems.append(f"job {job.name!r} has no option {name!r} "
                                f"({suggest(name, job.params)})")
        for name, param in job.params.items():
            if params.get(name) is None:
                if param.required:
                    problems.append(f"{param.option} is required")
                else:
                    values[name] = param.default
                continue
            try:
                values[name] = TypeAdapter(param.annotation).validate_python(params[name])
            except ValidationError as err:
                problems.append(f"{param.option}: {params[name]!r} is invalid "
                                f"({err.errors()[0]['msg']})")
        if problems:
            raise ConfigError("; ".join(problems),
                              hint=f"see `cauce run {self.app.name} {job.name} --help`")
        return values

    def check_partition(self, job: Job, partition: str | None) -> str | None:
        if job.partitions is None:
            if partition is not None:
                raise PartitionError(f"job {job.name!r} is not partitioned",
                                     hint="drop --partition")
            return None
        if partition is None:
            raise PartitionError(f"job {job.name!r} runs per {job.partitions.unit} partition",
                                 hint="pass --partition, e.g. --partition "
                                 + job.partitions.key(self.today()))
        job.partitions.validate(partition, self.today())
        return partition

    def today(self) -> date:
        return self.clock.now().astimezone(self.app.tz).date()

    def enqueue_job(self, con: Any, job: Job, *, partition: str | None, params: Mapping[str, Any],
                    trigger: str, now: float, attrs: Mapping[str, Any] | None = None) -> str:
        """Queue a run of ``job`` inside the caller's transaction; returns the run id."""
        body = json.dumps({"partition": partition, "params": dict(params), "trigger": trigger},
                          default=str)
        message_id = queues.send(con, job.store_queue, [body], now=now,
                                 attrs=dict(attrs) if attrs else None)[0]
        run_id = runs.new_run_id()
        runs.insert(con, [NewRun(id=run_id, app=self.app.name, kind="job", name=job.name,
                                 status=RunStatus.QUEUED, partition=partition, trigger=trigger,
                                 message_id=message_id, queued_at=now, params=dict(params))])
        return run_id

    def submit(self, job: Job, *, partition: str | None = None,
               params: Mapping[str, Any] | None = None, trigger: str = "submitted") -> str:
        """Queue a run of ``job``; a worker (`serve`, `worker`, or a test's drain) executes it."""
        partition = self.check_partition(job, partition)
        values = self.check_params(job, params or {})
        with self.db.write() as con:
            run_id = self.enqueue_job(con, job, partition=partition, params=values, trigger=trigger,
                                      now=self.clock.time())
        self.new_work()
        return run_id

    def has_pending_run(self, con: Any, job: Job, partition: str | None) -> bool:
        """A run of ``job`` (for ``partition``) is queued, running, or waiting for a retry."""
        row = con.execute(
            "SELECT 1 FROM messages WHERE queue = ? AND json_extract(body, '$.partition') IS ? "
            "LIMIT 1",
            (job.store_queue, partition),
        ).fetchone()
        return row is not None

    def partition_succeeded(self, con: Any, job: Job, partition: str | None) -> bool:
        row = con.execute(
            "SELECT 1 FROM runs WHERE app = ? AND name = ? AND partition IS ? "
            "AND status = 'succeeded' LIMIT 1",
            (self.app.name, job.name, partition),
        ).fetchone()
        return row is not None

    def trigger_downstream(self, con: Any, job: Job, partition: str | None, now: float) -> None:
        """Queue each job that runs ``after`` this one, once all its upstream runs succeeded."""
        for down in job.downstream:
            if (all(self.partition_succeeded(con, up, partition) for up in down.after)
                    and not self.has_pending_run(con, down, partition)):
                self.enqueue_job(con, down, partition=partition, params={},
                                 trigger=f"after {job.name}", now=now)

    def pause_schedule(self, app: App, job: str, reason: str) -> None:
        with self.db.write() as con:
            con.execute(
                "INSERT INTO schedules (app, job, spec, next_at, paused) VALUES (?, ?, '', 0, ?) "
                "ON CONFLICT (app, job) DO UPDATE SET paused = excluded.paused",
                (app.name, job, reason),
            )
        log_general(self, app.name, logging.INFO, "%s: schedule paused: %s", job, reason)

    def resume_schedule(self, job: Job) -> bool:
        """Let a paused schedule fire again (from its next tick after now)."""
        with self.db.write() as con:
            cur = con.execute("UPDATE schedules SET paused = NULL, spec = '' "
                              "WHERE app = ? AND job = ?", (self.app.name, job.name))
        return cur.rowcount == 1

    def schedule_states(self) -> list[dict[str, Any]]:
        rows = self.db.read().execute("SELECT * FROM schedules WHERE app = ? ORDER BY job",
                                      (self.app.name,))
        return [dict(r) for r in rows.fetchall()]

    # -- progress and run announcements ------------------------------------------------
    def on_progress(self, hook: ProgressHook) -> None:
        self._progress_hooks.append(hook)

    def on_run_end(self, hook: RunHook) -> None:
        self._run_hooks.append(hook)

    def report_progress(self, run_id: str, done: float, total: float | None, label: str) -> None:
        for hook in self._progress_hooks:
            hook(run_id, done, total, label)

    def announce(self, delivery: Delivery) -> None:
        """Tell the general stream (and any listener) how a job run ended."""
        spec, outcome = delivery.spec, delivery.outcome
        if outcome is None:
            return
        if spec.is_job:
            what = f"{spec.target.name}" + (f"[{spec.partition}]" if spec.partition else "")
            if outcome.ok:
                log_general(self, self.app.name, logging.INFO, "run %s %s succeeded",
                            spec.run_id, what)
            elif outcome.cancelled:
                log_general(self, self.app.name, logging.WARNING, "run %s %s cancelled",
                            spec.run_id, what)
            else:
                log_general(self, self.app.name, logging.ERROR, "run %s %s failed (attempt %d): %s",
                            spec.run_id, what, spec.attempt, outcome.error)
        if self._run_hooks:
            run = self.get_run(spec.run_id)
            for hook in self._run_hooks:
                hook(run)

    # -- foreground runs --------------------------------------------------------------
    def run(self, job: Job | str, partition: str | None = None, **params: Any) -> Run:
        """Run ``job`` once, now, in this thread (as `cauce run`); returns the finished run."""
        target = self.app.get_job(job) if isinstance(job, str) else job
        partition = self.check_partition(target, partition)
        values = self.check_params(target, params)
        run_id = runs.new_run_id()
        now = self.clock.time()
        with self.db.write() as con:
            runs.insert(con, [NewRun(id=run_id, app=self.app.name, kind="job", name=target.name,
                                     status=RunStatus.RUNNING, partition=partition,
                                     trigger="manual", queued_at=now, started_at=now,
                                     params=values, worker=self.worker_id)])
        log_general(self, self.app.name, logging.INFO, "run %s %s started by hand", run_id,
                    target.name + (f"[{partition}]" if partition else ""))
        cancel = threading.Event()
        watcher = _CancelWatcher(self, run_id, cancel)
        watcher.start()
        try:
            outcome = execute(self, RunSpec(run_id, target, 1, run_id, partition, values), cancel)
        finally:
            watcher.stop()
        return self._finish_foreground(target, run_id, partition, outcome)

    def _finish_foreground(self, job: Job, run_id: str, partition: str | None,
                           outcome: Outcome) -> Run:
        status = RunStatus.SUCCEEDED if outcome.ok else (
            RunStatus.CANCELLED if outcome.cancelled else RunStatus.FAILED)
        now = self.clock.time()
        with self.db.write() as con:
            runs.finish(con, run_id, status, now=now, error=outcome.error, result=outcome.result)
            if outcome.ok:
                self.trigger_downstream(con, job, partition, now)
        log_general(self, self.app.name, logging.INFO if outcome.ok else logging.ERROR,
                    "run %s %s %s%s", run_id, job.name, status.value,
                    f": {outcome.error}" if outcome.error else "")
        self.sink.flush()
        self.new_work()
        return self.get_run(run_id)

    # -- serving ----------------------------------------------------------------------
    def dispatcher(self, *, threads: int = 8, processes: int | None = None,
                   sources: Any = None) -> Dispatcher:
        from .dispatcher import Dispatcher

        return Dispatcher(self, threads=threads, processes=processes or (os.cpu_count() or 2),
                          sources=sources)

    def stop(self) -> None:
        """Ask a running `serve` to stop gracefully."""
        self._stop.set()
        self.wake()

    def serve(
        self,
        *,
        until: Callable[[], bool] | None = None,
        timeout: DurationLike | None = None,
        threads: int = 8,
        processes: int | None = None,
        scheduler: bool = True,
        grace: DurationLike = "30s",
        poll: float = 0.005,
        handle_signals: bool = False,
    ) -> None:
        """Run the scheduler, the dispatcher and the workers until ``until()`` is true, ``timeout``
        passes, or `stop` / SIGTERM / SIGINT; then finish or give back the work in hand."""
        from .scheduler import Scheduler

        limit = parse_duration(timeout, what="timeout") if timeout is not None else None
        deadline = time.monotonic() + limit if limit is not None else None
        role = "serve" if scheduler else "worker"
        sched = Scheduler(self) if scheduler else None
        dispatcher = self.dispatcher(threads=threads, processes=processes)
        self._register_worker()
        listener = WakeListener(self.home, self.worker_id, self.wake)
        listener.start()
        previous = self._install_signals() if handle_signals else {}
        self._stop.clear()
        # Lines logged by this loop (outside any run) form the worker's own log stream.
        with logs.scoped(logs.LogScope(self.sink, self.app.name, f"worker/{self.worker_id}")):
            log_general(self, self.app.name, logging.INFO, "%s %s started (pid %d)", role,
                        self.worker_id, os.getpid())
            try:
                if sched is not None:
                    self._start_jobs()
                self._loop(sched, dispatcher, until, deadline, poll)
            finally:
                listener.close()
                dispatcher.shutdown(parse_duration(grace, what="grace"))
                log_general(self, self.app.name, logging.INFO, "%s %s stopped", role,
                            self.worker_id)
                self._unregister_worker()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                self.sink.flush()

    def _loop(self, sched: Any, dispatcher: Dispatcher, until: Callable[[], bool] | None,
              deadline: float | None, poll: float) -> None:
        tidied = 0.0
        while not self._stop.is_set():
            if time.monotonic() - tidied > self.HOUSEKEEPING_EVERY:
                self._trim_streams()
                self._forget_dead_workers()
                tidied = time.monotonic()
            next_due = sched.tick() if sched is not None else None
            busy = dispatcher.pump()
            if until is not None and until():
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
            if busy:
                continue
            wait = poll
            if next_due is not None:
                wait = max(0.0, min(wait, next_due - self.clock.time()))
            self.wait(wait)

    HOUSEKEEPING_EVERY = 300.0

    def _trim_streams(self) -> None:
        """Drop stream records older than their stream's retention, as a stream service does."""
        now = self.clock.time()
        targets = [s for s in self.app.resources.values() if isinstance(s, Stream)]
        if targets:
            with self.db.write() as con:
                for stream in targets:
                    streams.trim(con, stream.qualified, now - stream.retention)

    def _forget_dead_workers(self) -> None:
        """Remove the start logs of dead workers once no lease of theirs is left to settle."""
        for worker in dead_workers(self.home) - {self.worker_id}:
            con = self.db.read()
            held = con.execute(
                "SELECT 1 FROM messages WHERE lease IS NOT NULL AND worker = ? UNION ALL "
                "SELECT 1 FROM stream_consumers WHERE lease IS NOT NULL AND worker = ? LIMIT 1",
                (worker, worker)).fetchone()
            if held is None:
                forget(self.home, worker)

    def _start_jobs(self) -> None:
        jobs = [j for j in self.app.jobs.values() if j.run_at_start]
        if not jobs:
            return
        with self.db.write() as con:
            for job in jobs:
                paused = con.execute("SELECT paused FROM schedules WHERE app = ? AND job = ?",
                                     (self.app.name, job.name)).fetchone()
                if (paused and paused[0]) or self.has_pending_run(con, job, None):
                    continue
                self.enqueue_job(con, job, partition=None, params={}, trigger="start",
                                 now=self.clock.time())

    def _install_signals(self) -> dict[int, Any]:
        # Signal handlers only set a flag: the loop notices it and shuts down in order.
        def request_stop(signum: int, frame: object) -> None:
            if self._stop.is_set():
                raise KeyboardInterrupt
            log.warning("received %s: finishing the work in hand (again to stop at once)",
                        signal.Signals(signum).name)
            self.stop()

        previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, request_stop)
        return previous

    def _register_worker(self) -> None:
        now = self.clock.time()
        with self.db.write() as con:
            con.execute("INSERT OR REPLACE INTO workers "
                        "(id, app, pid, host, role, started_at, heartbeat_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (self.worker_id, self.app.name, os.getpid(), socket.gethostname(),
                         self.role, now, now))

    def _unregister_worker(self) -> None:
        with self.db.write() as con:
            con.execute("UPDATE workers SET stopped_at = ? WHERE id = ?",
                        (self.clock.time(), self.worker_id))

    # -- inspection -------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        run = runs.get(self.db.read(), run_id)
        if run is None:
            matches = runs.find_by_prefix(self.db.read(), run_id)
            if len(matches) == 1:
                return matches[0]
            raise NotFound(f"no run {run_id!r}", hint="list runs with `cauce runs`")
        return run

    def runs(self, job: Job | Handler | str | None = None, *, status: str | None = None,
             partition: str | None = None, limit: int | None = None,
             newest_first: bool = False) -> list[Run]:
        """Runs of this app (of one job or handler), oldest first unless ``newest_first``."""
        name = job if isinstance(job, str) or job is None else job.name
        return runs.query(self.db.read(), app=self.app.name, name=name, status=status,
                          partition=partition, limit=limit, newest_first=newest_first)

    def logs(self, run_id: str | None = None, *, stream: str | None = None) -> list[LogLine]:
        """Lines of a run's log stream, or of a named stream of this app (e.g. ``general``)."""
        self.sink.flush()
        if run_id is not None:
            return logs.read(self.db.read(), run_id=self.get_run(run_id).id)
        return logs.read(self.db.read(), app=self.app.name, stream=stream)

    def cancel(self, run_id: str) -> Run:
        """Ask a queued or running run to stop; its worker notices within a second."""
        run = self.get_run(run_id)
        with self.db.write() as con:
            updated = runs.request_cancel(con, run.id)
        return updated or run

    def _lookup(self, name: str, kind: type[Resource]) -> Any:
        return self.app.get_resource(name, kind)

    def bucket(self, name: str) -> Bucket:
        return self._lookup(name, Bucket)

    def queue(self, name: str) -> Queue:
        return self._lookup(name, Queue)

    def topic(self, name: str) -> Topic:
        return self._lookup(name, Topic)

    def table(self, name: str) -> Table:
        return self._lookup(name, Table)

    def stream(self, name: str) -> Stream:
        return self._lookup(name, Stream)

    def warehouse(self, name: str) -> Warehouse:
        return self._lookup(name, Warehouse)

    # -- dead letters -----------------------------------------------------------------
    def dead_letter_queue(self, target: Queue | Handler | Job | str) -> str:
        """The state-database name of the DLQ behind a queue, a handler or a job
        (or their name)."""
        if isinstance(target, str):
            if target.endswith(".dlq"):
                target = target.removesuffix(".dlq")
            if target in self.app.resources and isinstance(self.app.resources[target], Queue):
                target = self.app.resources[target]
            elif target in self.app.handlers:
                target = self.app.handlers[target]
            elif target in self.app.jobs:
                target = self.app.jobs[target]
            else:
                from ..app import suggest

                choices = [n for n, r in self.app.resources.items() if isinstance(r, Queue)]
                choices += list(self.app.handlers) + list(self.app.jobs)
                raise NotFound(f"app {self.app.name!r} has no queue, handler or job {target!r}",
                               hint=suggest(target, choices))
        if isinstance(target, Queue):
            return target.store_name + ".dlq"
        return target.store_queue + ".dlq"

    def dlq(self, target: Queue | Handler | Job | str) -> list[Message]:
        """Messages dead-lettered by a queue's consumer, a handler or a job."""
        stored = queues.listing(self.db.read(), self.dead_letter_queue(target))
        return [message_from(m) for m in stored]

    def dlq_errors(self, target: Queue | Handler | Job | str) -> list[str | None]:
        stored = queues.listing(self.db.read(), self.dead_letter_queue(target))
        return [m.last_error for m in stored]

    def replay(self, target: Queue | Handler | Job | str, ids: list[str] | None = None) -> int:
        """Send dead-lettered messages back for another round of attempts; returns how many."""
        with self.db.write() as con:
            moved = queues.replay(con, self.dead_letter_queue(target), now=self.clock.time(),
                                  ids=[int(i) for i in ids] if ids is not None else None)
            for m in moved:
                if m.queue.split(":", 1)[1].startswith("job/"):
                    self._requeue_run(con, m)
        self.new_work()
        return len(moved)

    def purge_dead_letters(self, target: Queue | Handler | Job | str) -> int:
        """Delete every dead-lettered message of a queue, handler or job; returns how many."""
        with self.db.write() as con:
            return queues.purge(con, self.dead_letter_queue(target))

    def _requeue_run(self, con: Any, message: queues.StoredMessage) -> None:
        body = json.loads(message.body)
        name = message.queue.split(":", 1)[1].removeprefix("job/")
        runs.insert(con, [NewRun(id=runs.new_run_id(), app=self.app.name, kind="job", name=name,
                                 status=RunStatus.QUEUED, partition=body.get("partition"),
                                 trigger="replay", message_id=message.id,
                                 queued_at=self.clock.time(), params=body.get("params"))])

    def queue_names(self) -> list[tuple[str, str]]:
        """(label, state-database name) of every queue this app consumes or owns."""
        names = [(q.name, q.store_name) for q in self.app.resources.values()
                 if isinstance(q, Queue)]
        names += [(f"{h.resource.kind} {h.resource.name} → {h.name}", h.store_queue)
                  for h in self.app.handlers.values() if not isinstance(h.resource, Queue)]
        names += [(f"job {j.name}", j.store_queue) for j in self.app.jobs.values()]
        return names

    def queue_stats(self) -> list[dict[str, Any]]:
        """Depth, in flight and dead-letter depth of every queue of the app."""
        pairs = self.queue_names()
        store_names = [n for _, n in pairs] + [n + ".dlq" for _, n in pairs]
        stats = queues.stats(self.db.read(), store_names, self.clock.time())
        rows = []
        for label, name in pairs:
            visible, later, oldest = stats.get(name, (0, 0, 0))
            dlq = sum(stats.get(name + ".dlq", (0, 0, 0))[:2])
            rows.append({"queue": label, "visible": visible, "in_flight_or_delayed": later,
                         "dlq": dlq, "oldest_seconds": oldest})
        return rows


class _CancelWatcher:
    """Checks once a second whether a foreground run was asked to cancel."""

    def __init__(self, runtime: Runtime, run_id: str, cancel: threading.Event) -> None:
        self.runtime, self.run_id, self.cancel = runtime, run_id, cancel
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="cauce-cancel-watch")

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._done.wait(1.0):
            if runs.cancel_requested(self.runtime.db.read(), [self.run_id]):
                self.cancel.set()
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=2)


def _remember_objects(
    con: Any, app: str, bucket: str, objects: list[StoredObject], now: float
) -> None:
    con.executemany(
        "INSERT INTO bucket_objects (app, bucket, key, size, mtime, seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app, bucket, key) DO UPDATE SET "
        "size = excluded.size, mtime = excluded.mtime, seen_at = excluded.seen_at",
        [(app, bucket, obj.key, obj.size, obj.mtime, now) for obj in objects],
    )
