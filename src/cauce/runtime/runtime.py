"""Runtime: attaches an app to a cauce home and executes it.

A runtime resolves the app's settings, opens the state store (``<home>/state.db`` unless a
``state`` URL says otherwise), gives resources their backends, and runs work in one of three
ways: `run` (one job run in the foreground, as ``cauce run``), `serve` (scheduler, dispatcher
and workers, as ``cauce serve`` and ``cauce worker``), or inline for tests
(`cauce.testing.TestRuntime`). The work itself lives in modules of its own: `produce` (work put
in), `jobs`, `serving`, `inspection`; this class holds the wiring and the life cycle.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from .. import logs
from ..app import App, Handler, Job, watch_of
from ..backends.folders import FolderStore
from ..backends.fsspec_store import FsspecStore
from ..backends.objects import ObjectStore, StoredObject
from ..backends.state import (
    StateStore,
    StoredMessage,
    new_token,
    open_state,
    redact,
    sqlite_url,
    url_passwords,
)
from ..clock import Clock, SystemClock
from ..durations import DurationLike
from ..errors import CauceError, ConfigError
from ..events import Message, ObjectRef
from ..logs import LogLine, LogSink
from ..resources.base import Resource
from ..resources.bucket import Bucket
from ..resources.queue import Queue
from ..resources.stream import Stream
from ..resources.table import Table
from ..resources.topic import Topic
from ..resources.warehouse import Warehouse
from ..runs import Run
from ..settings import ConfigSources, Setting, Settings, resolve
from ..textfiles import real_path
from . import inspection, jobs, produce, serving
from .execute import log_general
from .executors import Executors
from .foreground import reap_lost_runs

if TYPE_CHECKING:
    from ..backends.state import Notifier
    from ..warehouse import WarehouseBackend
    from .dispatcher import Dispatcher
    from .sources import Delivery

ProgressHook = Callable[[str, float, float | None, str], None]
RunHook = Callable[[Run], None]


def make_home(home: Path) -> None:
    """Create the home folder (and its parents); a ConfigError when that is impossible."""
    if home.exists() and not home.is_dir():
        raise ConfigError(f"the cauce home {home} is a file, not a folder",
                          hint="pass --home (or set CAUCE_HOME) to a folder, "
                          "or to a path that does not exist yet")
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the cauce home {home}: {err.strerror}",
                          hint="pass --home (or set CAUCE_HOME) to a folder you can write to"
                          ) from err


def default_home(config: ConfigSources) -> Path:
    value, _ = config.home()
    return Path(value or ".cauce")


class Lifecycle(enum.Enum):
    """Where a runtime is in its life: new → open → closed (and never open again)."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


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
        state: str | None = None,
        executor: str | None = None,
    ) -> None:
        self.app = app
        self.config = config or ConfigSources.discover()
        self.home = real_path(home if home is not None else default_home(self.config))
        self.state_url = state or self.config.state()[0] or sqlite_url(self.home / "state.db")
        self.clock = clock or SystemClock()
        self.overrides = {k: v for k, v in (settings or {}).items() if v is not None}
        self.role = role
        self.lenient_settings = lenient_settings
        self.app_ref = app_ref or app.reference
        self.worker_id = f"{role}-{socket.gethostname()}-{os.getpid()}-{new_token()[:6]}"
        self.lifecycle = Lifecycle.NEW
        self._wake = threading.Condition()
        self._woken = False
        self._announced = False  # work was committed since the serve loop last asked
        self._stores: dict[str, ObjectStore] = {}
        self._warehouses: dict[str, WarehouseBackend] = {}
        self._progress_hooks: list[ProgressHook] = []
        self._run_hooks: list[RunHook] = []
        self._settings: Settings | None = None
        self._undo_logging: Callable[[], None] | None = None
        self._notifier: Notifier | None = None
        self._state: StateStore | None = None
        self._stop = threading.Event()
        self.executors = Executors(self, executor)  # where job runs execute
        self.handler_tally = serving.HandlerTally()
        self.sink: LogSink

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> Runtime:
        """Resolve settings, open the home and attach the app (raises ConfigError first)."""
        if self.lifecycle is not Lifecycle.NEW:
            raise CauceError(f"this runtime is already {self.lifecycle.value}",
                             hint="a runtime opens once; create a new Runtime(app) to start again")
        if self.app.runtime is not None and self.app.runtime is not self:
            raise CauceError(f"app {self.app.name!r} is already attached to another runtime "
                             "in this process",
                             hint="close the other runtime (or TestRuntime) first")
        self._settings = resolve(self.app.settings, self.config, self.overrides,
                                 lenient=self.lenient_settings, app=self.app.name,
                                 resources=self.app.resources)
        for resource in self.app.resources.values():
            if isinstance(resource, Bucket):
                self.watch_of(resource)  # a watch setting that is no duration fails here
            elif isinstance(resource, Warehouse) and not self.lenient_settings:
                self._check_warehouse_url(resource)
        make_home(self.home)
        self._state = open_state(self.state_url, serving=self.role in ("serve", "worker"))
        self.sink = LogSink(self._state, self.clock)
        self.sink.mask(self.secrets())
        if self.role != "test":  # tests flush at run ends, so what they read is deterministic
            self.sink.start()
        self._undo_logging = logs.install()
        if self.role != "test":
            reap_lost_runs(self._state, self.clock.time(), self.home)
        self._notifier = self._state.notifier(self.worker_id)
        self.app.runtime = self
        self.lifecycle = Lifecycle.OPEN
        return self

    def close(self) -> None:
        """Detach the app and release the home; closing twice does nothing."""
        if self.lifecycle is not Lifecycle.OPEN:
            self.lifecycle = Lifecycle.CLOSED
            return
        self.lifecycle = Lifecycle.CLOSED
        if self.app.runtime is self:
            self.app.runtime = None
        self.executors.close()
        self.sink.close()
        for backend in self._warehouses.values():
            backend.close()
        self._warehouses.clear()
        if self._undo_logging is not None:
            self._undo_logging()
        if self._notifier is not None:
            self._notifier.close()
        if self._state is not None:
            self._state.close()

    def __enter__(self) -> Runtime:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _not_open(self) -> CauceError:
        if self.lifecycle is Lifecycle.NEW:
            return CauceError("the runtime is not open yet",
                              hint="use `with Runtime(app) as rt:` (or call rt.open())")
        return CauceError("the runtime was closed", hint="create a new Runtime(app) to go on")

    @property
    def state(self) -> StateStore:
        """The state store (queues, tables, streams, runs, logs...) while the runtime is open."""
        if self.lifecycle is not Lifecycle.OPEN or self._state is None:
            raise self._not_open()
        return self._state

    # -- settings and backends --------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise self._not_open()
        return self._settings

    def settings_for(self, app: App) -> Settings:
        return self.settings

    def configure(self, **settings: Any) -> None:
        """Change settings of the open runtime as options would have at start: runs and
        handlers that start afterwards see the new values (a demo points the app at the local
        server it has just started). Raises ConfigError as opening would."""
        overrides = {**self.overrides, **{k: v for k, v in settings.items() if v is not None}}
        self._settings = resolve(self.app.settings, self.config, overrides,
                                 lenient=self.lenient_settings, app=self.app.name,
                                 resources=self.app.resources)
        self.overrides = overrides
        self.sink.mask(self.secrets())

    def secrets(self) -> list[str]:
        """Values never to show or store: secret settings and the passwords of the state and
        bucket URLs."""
        buckets = self.config.buckets()[0] or ""
        return [*self.settings.secrets(), *url_passwords(self.state_url), *url_passwords(buckets)]

    def _url_of(self, resource: Resource) -> tuple[str | None, str]:
        configured = self.config.resource_url(self.app.name, resource.name)
        if configured is not None:
            return configured
        if isinstance(resource.url, Setting):
            return self.settings[resource.url.name], f"setting {resource.url.name}"
        if resource.url is not None:
            return str(resource.url), "declaration"
        base, where = self.config.buckets()
        if base is not None and isinstance(resource, Bucket):
            return f"{base.rstrip('/')}/{self.app.name}/{resource.name}", where
        return None, "default"

    def _check_warehouse_url(self, warehouse: Warehouse) -> None:
        """Refuse a warehouse URL from a setting or the configuration that names no file
        (``sqlite:///``, often a variable that was empty): its in-memory database would vanish
        with the process. One that says ``:memory:`` is taken at its word."""
        url, where = self._url_of(warehouse)
        if url is None or where == "declaration":
            return
        from ..warehouse.urls import names_no_file

        if not names_no_file(url):
            return
        scheme = url.partition("://")[0].lower()
        suffix = ".duckdb" if scheme == "duckdb" else ".db"
        raise ConfigError(
            f"warehouse {warehouse.name!r} ({self._origin(warehouse, where)}): {url} names no "
            "database file",
            hint=f"use {scheme}:///path/to/file{suffix} (four slashes for an absolute path), or "
            f"{scheme}:///:memory: if a database that vanishes with the process is meant")

    def bucket_store(self, bucket: Bucket) -> ObjectStore:
        store = self._stores.get(bucket.name)
        if store is None:
            url, where = self._url_of(bucket)
            try:
                store = self._open_store(bucket, url)
            except ConfigError as error:
                raise ConfigError(f"bucket {bucket.name!r} ({self._origin(bucket, where)}): "
                                  f"{error.message}", hint=error.hint) from None
            # another thread may have opened it meanwhile: one store per bucket
            store = self._stores.setdefault(bucket.name, store)
        return store

    def bucket_in_folder(self, bucket: Bucket) -> bool:
        """Whether ``bucket`` is a folder (not in object storage), without opening it."""
        return not _remote(self._url_of(bucket)[0])

    def _open_store(self, bucket: Bucket, url: str | None) -> ObjectStore:
        if _remote(url):
            return FsspecStore(url, self.bucket_cache(bucket))
        if url is None:
            root = self.home / "buckets" / self.app.name / bucket.name
        else:
            root = Path(url.removeprefix("file://"))
        return FolderStore(root if root.is_absolute() else Path.cwd() / root,
                           clock=self.clock.time)

    def bucket_cache(self, bucket: Bucket) -> Path:
        """The local folder of a bucket in object storage: temporary files, ``path()``'s
        copies."""
        return self.home / "cache" / "buckets" / self.app.name / bucket.name

    def _origin(self, resource: Resource, where: str) -> str:
        """``where`` a resource's URL came from, with the setting's own origin (option,
        environment...) when it is a setting."""
        if isinstance(resource.url, Setting) and where.startswith("setting "):
            return f"{where}, {self.settings.origin(resource.url.name)}"
        return where

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
            return f"{redact(url)}  ({where})"
        if isinstance(resource, Bucket):
            return str(self.home / "buckets" / self.app.name / resource.name)
        if isinstance(resource, Warehouse):
            path = self.home / "warehouses" / self.app.name / (resource.name + ".duckdb")
            return f"duckdb:///{path}"
        return redact(self.state_url)

    def watch_of(self, bucket: Bucket) -> float | None:
        """Seconds between looks into ``bucket`` (None: not watched)."""
        return watch_of(bucket, self.settings_for(bucket.app))

    # -- waking the serve loop --------------------------------------------------------
    def wake(self) -> None:
        """New work is available in this process: end the serve loop's wait now."""
        if self._woken:  # a wake-up not taken yet: the loop will look anyway (finished
            return       # deliveries call this one after another)
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def work_announced(self) -> None:
        """Work was committed here or, by a wake-up, elsewhere for this process: end the serve
        loop's wait, and let its next look take fresh work (see `serving.JOIN_AFTER`)."""
        self._announced = True
        self.wake()

    def take_announcement(self) -> bool:
        """Whether work was announced since the last call."""
        announced, self._announced = self._announced, False
        return announced

    def new_work(self) -> None:
        """Work was committed: wake this process's loop and a serving process of the home."""
        self.work_announced()
        if self._notifier is not None:
            self._notifier.notify()

    def wake_another(self) -> None:
        """More work is ready than this process took: wake another serving process of the
        home (one that waits long between polls when it has nothing to do)."""
        if self._notifier is not None:
            self._notifier.notify()

    def wait(self, timeout: float) -> None:
        with self._wake:
            if not self._woken:
                self._wake.wait(timeout)
            self._woken = False

    # -- producing work (called by resources) -----------------------------------------
    def enqueue(self, queue: str, texts: list[str], *, delay: float = 0.0,
                group: str | None = None) -> list[str]:
        return produce.enqueue(self, queue, texts, delay=delay, group=group)

    def receive(self, queue: Queue, *, limit: int, visibility: float) -> list[StoredMessage]:
        return produce.receive(self, queue, limit=limit, visibility=visibility)

    def publish(self, topic: Topic, text: str) -> str:
        return produce.publish(self, topic, text)

    def object_created(self, bucket: Bucket, ref: ObjectRef, stored: StoredObject, *,
                       begun: float | None = None) -> None:
        produce.object_created(self, bucket, ref, stored, begun=begun)

    def scan_bucket(self, bucket: Bucket) -> int:
        return produce.scan_bucket(self, bucket)

    def append(self, stream: Stream,
               by_shard: Mapping[int, list[tuple[str, str]]]) -> dict[int, list[int]]:
        return produce.append(self, stream, by_shard)

    # -- job runs -----------------------------------------------------------------------
    def today(self) -> date:
        return self.clock.now().astimezone(self.app.tz).date()

    def check_params(self, job: Job, params: Mapping[str, Any]) -> dict[str, Any]:
        return jobs.check_params(job, params)

    def enqueue_job(self, job: Job, *, partition: str | None, params: Mapping[str, Any],
                    trigger: str, now: float) -> str:
        return jobs.enqueue_job(self, job, partition=partition, params=params, trigger=trigger,
                                now=now)

    def submit(self, job: Job, *, partition: str | None = None,
               params: Mapping[str, Any] | None = None, trigger: str = "submitted") -> str:
        """Queue a run of ``job``; a worker (`serve`, `worker`, or a test's drain) executes it."""
        return jobs.submit(self, job, partition=partition, params=params, trigger=trigger)

    def has_pending_run(self, job: Job, partition: str | None) -> bool:
        return jobs.has_pending_run(self, job, partition)

    def pending_partitions(self, job: Job) -> set[str]:
        return jobs.pending_partitions(self, job)

    def partition_succeeded(self, job: Job, partition: str | None) -> bool:
        return self.state.runs.partition_succeeded(self.app.name, job.name, partition)

    def trigger_downstream(self, job: Job, partition: str | None, now: float) -> None:
        jobs.trigger_downstream(self, job, partition, now)

    def run(self, job: Job | str, partition: str | None = None, **params: Any) -> Run:
        """Run ``job`` once, now, in this thread (a ``worker="process"`` job too: what the
        calling process set up, in tests say, holds for it; `cauce run` runs such a job in a
        child process); returns the finished run."""
        return jobs.run_foreground(self, job, partition, params)

    def start_jobs(self) -> None:
        """Queue one run of each ``run_at_start`` job not paused and not already pending."""
        paused = {s["job"] for s in self.schedule_states() if s["paused"]}
        with self.state.atomic():
            for job in self.app.jobs.values():
                if (job.run_at_start and job.name not in paused
                        and not self.has_pending_run(job, None)):
                    self.enqueue_job(job, partition=None, params={}, trigger="start",
                                     now=self.clock.time())

    # -- schedules --------------------------------------------------------------------
    def pause_schedule(self, app: App, job: str, reason: str) -> str:
        """Pause ``job``'s schedule, saying why; returns the reason kept."""
        return inspection.pause_schedule(self, app, job, reason)

    def resume_schedule(self, job: Job) -> bool:
        """Let a paused schedule fire again (from its next tick after now)."""
        return self.state.schedules.resume(self.app.name, job.name)

    def schedule_states(self) -> list[dict[str, Any]]:
        return inspection.schedule_states(self)

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
        if not spec.is_job and self.role in ("serve", "worker"):
            self.handler_tally.add(spec.target.name, "succeeded" if outcome.ok else
                                   "cancelled" if outcome.cancelled else "failed", spec.run_id)
        if spec.is_job:
            what = f"{spec.target.name}" + (f"[{spec.partition}]" if spec.partition else "")
            if outcome.ok:
                log_general(self, self.app.name, logging.INFO, "run %s %s succeeded",
                            spec.run_id, what)
            elif outcome.cancelled:
                log_general(self, self.app.name, logging.WARNING, "run %s %s cancelled",
                            spec.run_id, what)
            else:
                log_general(self, self.app.name, logging.ERROR,
                            "run %s %s failed (attempt %d): %s",
                            spec.run_id, what, spec.attempt, outcome.error)
        if self._run_hooks:
            run = self.get_run(spec.run_id)
            for hook in self._run_hooks:
                hook(run)

    # -- serving ----------------------------------------------------------------------
    def dispatcher(self, *, threads: int = 8, processes: int | None = None,
                   sources: Any = None) -> Dispatcher:
        from .dispatcher import Dispatcher

        return Dispatcher(self, threads=threads, processes=processes or (os.cpu_count() or 2),
                          sources=sources)

    def serve(self, *, until: serving.Until = None, timeout: DurationLike | None = None,
              threads: int = 8, processes: int | None = None, scheduler: bool = True,
              grace: DurationLike = "30s", poll: float = 0.005,
              handle_signals: bool = False, on_ready: Callable[[], None] | None = None) -> None:
        """Run the scheduler, the dispatcher and the workers until ``until()`` is true (or, with
        ``until="idle"``, until no work is left in the app's queues and streams), ``timeout``
        passes, or `stop` / SIGTERM / SIGINT; then finish or give back the work in hand."""
        serving.serve(self, until=until, timeout=timeout, threads=threads, processes=processes,
                      scheduler=scheduler, grace=grace, poll=poll, handle_signals=handle_signals,
                      on_ready=on_ready)

    def stop(self) -> None:
        """Ask a running `serve` to stop gracefully."""
        self._stop.set()
        self.wake()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def clear_stop(self) -> None:
        self._stop.clear()

    # -- inspection -------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        return inspection.get_run(self, run_id)

    def runs(self, job: Job | Handler | str | None = None, *, status: str | None = None,
             partition: str | None = None, limit: int | None = None,
             newest_first: bool = False) -> list[Run]:
        """Runs of this app (of one job or handler), oldest first unless ``newest_first``."""
        return inspection.runs(self, job, status=status, partition=partition, limit=limit,
                               newest_first=newest_first)

    def logs(self, run_id: str | None = None, *, stream: str | None = None) -> list[LogLine]:
        """Lines of a run's log stream, or of a named stream of this app (e.g. ``general``)."""
        return inspection.logs(self, run_id, stream=stream)

    def cancel(self, run_id: str) -> Run:
        """Ask a queued or running run to stop; its worker notices within a second."""
        return inspection.cancel(self, run_id)

    def dlq(self, target: inspection.Target, limit: int | None = None) -> list[Message]:
        """Messages dead-lettered by a queue's consumer, a handler or a job, oldest first
        (the first ``limit``; None: all)."""
        return inspection.dlq(self, target, limit)

    def dlq_errors(self, target: inspection.Target,
                   limit: int | None = None) -> list[str | None]:
        return inspection.dlq_errors(self, target, limit)

    def replay(self, target: inspection.Target,
               ids: Sequence[int | str] | int | str | None = None) -> int:
        """Send dead-lettered messages back for another round of attempts; returns how many."""
        return inspection.replay(self, target, ids)

    def purge_dead_letters(self, target: inspection.Target,
                           ids: Sequence[int | str] | int | str | None = None) -> int:
        """Delete dead-lettered messages of a queue, handler or job for good (all, or those of
        ``ids``); returns how many. Ids not in its dead-letter queue are refused (NotFound)."""
        return inspection.purge_dead_letters(self, target, ids)

    def queue_stats(self) -> list[dict[str, Any]]:
        """Depth, in flight and dead-letter depth of every queue of the app."""
        return inspection.queue_stats(self)

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


def _remote(url: str | None) -> TypeGuard[str]:
    """Whether a bucket's URL names object storage (not a folder)."""
    return url is not None and "://" in url and not url.startswith("file://")
