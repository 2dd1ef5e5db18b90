"""App: a named set of resources, handlers and jobs, declared in Python. Declaring does no I/O.

Mistakes are reported when they are made — an invalid cron, an unknown time zone, two
resources with one name, a handler on something that is not a resource of this app — so a
broken app fails at import, before any work runs. A runtime (`cauce run/serve/worker`,
`cauce.testing.TestRuntime`) attaches to the app to execute it.
"""

from __future__ import annotations

import inspect
import re
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .durations import DurationLike, parse_duration
from .errors import ConfigError, DeclarationError, NotFound
from .executor_urls import parse_executor
from .names import checked
from .partitions import Partitions
from .resources.base import Resource
from .resources.bucket import Bucket
from .resources.queue import Queue
from .resources.stream import Stream
from .resources.table import Table
from .resources.topic import Topic
from .resources.warehouse import Warehouse
from .schedules import make_schedule
from .settings import REQUIRED, Setting, Settings, resource_env
from .sinks import FlushLimits, Sink, SinkFormat

if TYPE_CHECKING:
    from .events import Record
    from .runtime.runtime import Runtime

_APP_NAME = re.compile(r"[a-z][a-z0-9_-]*")
WorkerKind = Literal["thread", "process"]
StartAt = Literal["oldest", "latest"]


@dataclass(frozen=True)
class Param:
    """A typed keyword parameter of a job: a command-line option.

    ``constraints`` are the ``Annotated`` extras that are not its help text, such as
    ``annotated_types.Ge(0)``, ``Interval(ge=1, le=100)`` or pydantic's ``Field(ge=0)``: the
    value is validated against them with the type, and their bounds are shown in the help."""

    name: str
    annotation: Any
    default: Any
    help: str = ""
    constraints: tuple[Any, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def option(self) -> str:
        # a trailing underscore lets a parameter take a keyword's name: ``for_`` is ``--for``
        return "--" + self.name.rstrip("_").replace("_", "-")

    @property
    def checked_type(self) -> Any:
        """The type values are validated against: the annotation with its constraints."""
        if not self.constraints:
            return self.annotation
        return typing.Annotated[(self.annotation, *self.constraints)]  # type: ignore[return-value]

    @property
    def bounds(self) -> str:
        """The range the constraints allow, as click writes one (``x>=0``, ``1<=x<=50``);
        empty when they state none."""
        found: dict[str, Any] = {}
        for item in _flat(self.constraints):
            for kind in ("gt", "ge", "lt", "le"):
                if getattr(item, kind, None) is not None:
                    found[kind] = getattr(item, kind)
        low = (f"{found['gt']}<" if "gt" in found
               else f"{found['ge']}<=" if "ge" in found else "")
        high = (f"<{found['lt']}" if "lt" in found
                else f"<={found['le']}" if "le" in found else "")
        if not (low or high):
            return ""
        if low and not high:  # click writes a lone lower bound after x
            return "x" + (f">{found['gt']}" if "gt" in found else f">={found['ge']}")
        return f"{low}x{high}"


def _flat(constraints: Sequence[Any]) -> list[Any]:
    """Constraints with grouped ones opened: ``Interval(ge=1, le=5)`` is ``Ge(1), Le(5)``, and a
    pydantic ``Field(ge=1)`` holds its own in ``metadata``."""
    flat: list[Any] = []
    for item in constraints:
        inner = getattr(item, "metadata", None)
        if isinstance(inner, list):
            flat.extend(_flat(inner))
        elif hasattr(item, "__iter__") and not isinstance(item, str | bytes):
            flat.extend(_flat(list(item)))
        else:
            flat.append(item)
    return flat


@dataclass(eq=False)
class Handler:
    """A function run for each event of a bucket, queue, topic or stream."""

    app: App
    name: str
    func: Callable[..., Any]
    resource: Resource
    prefix: str = ""
    suffix: str = ""
    batch_size: int = 1
    window: float | None = None
    max_attempts: int = 3
    concurrency: int | None = None
    retry_delay: float = 1.0
    max_retry_delay: float = 300.0
    visibility: float = 60.0
    buffer: FlushLimits | None = None  # a sink's: batches close by size or age
    start: StartAt = "oldest"  # where a new stream consumer begins

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def store_queue(self) -> str:
        """The queue (in the state database) this handler consumes."""
        if isinstance(self.resource, Queue):
            return self.resource.store_name
        return f"{self.app.name}:{self.resource.kind}/{self.resource.name}/{self.name}"

    @property
    def attempts(self) -> int:
        return self.resource.max_receives if isinstance(self.resource, Queue) else self.max_attempts

    def matches(self, key: str) -> bool:
        return key.startswith(self.prefix) and key.endswith(self.suffix)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


@dataclass(eq=False)
class Job:
    """A function run on a schedule, per partition, after other jobs, or by hand."""

    app: App
    name: str
    func: Callable[..., Any]
    params: dict[str, Param]
    schedule: str | None = None
    every: DurationLike | Setting | None = None
    partitions: Partitions | None = None
    after: tuple[Job, ...] = ()
    worker: WorkerKind = "thread"
    executor: str | None = None
    retries: int = 2
    retry_delay: float = 5.0
    max_retry_delay: float = 600.0
    timeout: float | None = None
    run_at_start: bool = False
    concurrency: int | None = None
    description: str = ""
    downstream: list[Job] = field(default_factory=list)

    @property
    def store_queue(self) -> str:
        return f"{self.app.name}:job/{self.name}"

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    @property
    def scheduled(self) -> bool:
        return self.schedule is not None or self.every is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function itself (handy in unit tests)."""
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Job {self.app.name}.{self.name}>"


@dataclass(frozen=True)
class Demo:
    """An app's part of `cauce demo`: a function taking the runtime, returning lines to print."""

    func: Callable[..., list[str] | None]
    settings: Mapping[str, Any]


class App:
    """A named set of resources and functions. Only declarations: nothing runs until attached."""

    def __init__(self, name: str, *, timezone: str = "UTC", description: str = "") -> None:
        checked("app name", name, _APP_NAME,
                "use lower case letters, digits, '-' and '_', starting with a letter")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise DeclarationError(f"unknown time zone {timezone!r}",
                                   hint=_zone_hint(timezone)) from None
        _refuse_machine_zone(timezone)
        self.name = name
        self.timezone = timezone
        self.description = description
        self.settings: dict[str, Setting] = {}
        self.resources: dict[str, Resource] = {}
        self._env_names: dict[str, str] = {}  # variable → the setting or resource it sets
        self.handlers: dict[str, Handler] = {}
        self.jobs: dict[str, Job] = {}
        self.demo_hook: Demo | None = None
        self.dashboard_hook: Callable[..., Any] | None = None
        self.runtime: Runtime | None = None
        self.module = sys._getframe(1).f_globals.get("__name__", "")

    def __repr__(self) -> str:
        return f"<App {self.name}>"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def reference(self) -> str | None:
        """``module:attribute`` naming this app, so other processes can import it."""
        module = sys.modules.get(self.module)
        if module is None or self.module == "__main__":
            return None
        for attribute, value in vars(module).items():
            if value is self:
                return f"{self.module}:{attribute}"
        return None

    # -- settings ---------------------------------------------------------------------
    def setting(
        self, name: str, type: Any = str, *, default: Any = REQUIRED, help: str = "",
        secret: bool = False, env: str | None = None,
    ) -> Setting:
        """Declare a setting the app needs; without a default it is required."""
        if name in self.settings:
            raise DeclarationError(f"app {self.name!r} declares setting {name!r} twice")
        setting = Setting(self.name, name, type, default, help, secret, env)
        self._claim_env(setting.env_name, f"setting {name!r}")
        self.settings[name] = setting
        return setting

    def _claim_env(self, variable: str, owner: str) -> None:
        """Give ``owner`` the environment variable ``variable``, unless another setting or
        resource of the app reads it ('a.b' and 'a-b' both read ..._A_B_URL)."""
        taken = self._env_names.setdefault(variable, owner)
        if taken != owner:
            raise DeclarationError(f"app {self.name!r}: {owner} and {taken} would both be set "
                                   f"by the environment variable {variable}",
                                   hint="rename one of them (or give the setting env=...)")

    def _dead_letters_found_once(self, name: str, store_queue: str, what: str) -> None:
        """Dead letters are found by name (`cauce dlq list APP NAME`, `rt.dlq(NAME)`), a
        queue's first: a queue may share its name with a job or handler only when they share
        the dead-letter queue (a handler named as the queue it consumes)."""
        resource = self.resources.get(name)
        taken = {
            "queue": resource.store_name if isinstance(resource, Queue) else None,
            "job": self.jobs[name].store_queue if name in self.jobs else None,
            "handler": self.handlers[name].store_queue if name in self.handlers else None,
        }
        for kind, queue in taken.items():
            if queue is not None and queue != store_queue:
                raise DeclarationError(
                    f"app {self.name!r}: {what} {name!r} and {kind} {name!r} would have their "
                    "dead letters found by the same name", hint="give one of them another name")

    # -- resources --------------------------------------------------------------------
    def _add(self, resource: Resource) -> Any:
        if resource.name in self.resources:
            existing = self.resources[resource.name]
            raise DeclarationError(
                f"app {self.name!r} already has a {existing.kind} named {resource.name!r}",
                hint="resource names are unique within an app",
            )
        if isinstance(resource, Queue):
            self._dead_letters_found_once(resource.name, resource.store_name, "queue")
        self._claim_env(resource_env(self.name, resource.name),
                        f"{resource.kind} {resource.name!r}")
        self.resources[resource.name] = resource
        return resource

    def bucket(
        self,
        name: str,
        *,
        url: str | Setting | None = None,
        watch: DurationLike | Setting | None = None,
    ) -> Bucket:
        """Object storage; a folder under the cauce home unless ``url`` names another folder or
        an ``s3://`` location. With ``watch`` ("1m", or a setting read at start), `cauce serve`
        lists the bucket that often and emits object-created for objects other programs wrote
        or changed."""
        bucket = Bucket(self, name)
        bucket.url = url
        if isinstance(watch, Setting):
            if watch.app != self.name:
                raise DeclarationError(f"bucket {name!r}: watch= names a setting of another app")
            bucket.watch = watch
        elif watch is not None:
            bucket.watch = watch_interval(watch, name)
        return self._add(bucket)

    def queue(self, name: str, *, max_receives: int = 5, visibility_timeout: DurationLike = "30s",
              fifo: bool = False) -> Queue:
        """A durable queue; messages received ``max_receives`` times without success are
        dead-lettered."""
        return self._add(Queue(self, name, max_receives=max_receives,
                               visibility_timeout=visibility_timeout, fifo=fifo))

    def topic(self, name: str, *, subscribers: Sequence[Queue] = ()) -> Topic:
        """Publish once, deliver to every subscribed handler and queue."""
        return self._add(Topic(self, name, subscribers=subscribers))

    def table(self, name: str, *, key: str | Sequence[str] = "id",
              indexes: str | Sequence[str] = ()) -> Table:
        """A key–value table of JSON items with conditional writes."""
        return self._add(Table(self, name, key=key, indexes=indexes))

    def stream(self, name: str, *, shards: int = 1, retention: DurationLike = "7d",
               max_records: int | None = None) -> Stream:
        """An ordered, sharded log of records, kept for ``retention`` (and, with
        ``max_records``, at most that many records per shard)."""
        return self._add(Stream(self, name, shards=shards, retention=retention,
                                max_records=max_records))

    def warehouse(self, name: str, *, url: str | Setting | None = None) -> Warehouse:
        """A SQL database; a DuckDB file under the cauce home unless ``url`` says otherwise."""
        return self._add(Warehouse(self, name, url))

    # -- handlers ---------------------------------------------------------------------
    def on(
        self,
        resource: Resource | str,
        *,
        prefix: str = "",
        suffix: str = "",
        batch_size: int | None = None,
        window: DurationLike | None = None,
        max_attempts: int = 3,
        concurrency: int | None = None,
        retry_delay: DurationLike = "1s",
        name: str | None = None,
        visibility: DurationLike | None = None,
        start: StartAt = "oldest",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Run the decorated function for each event of ``resource``.

        Buckets: an `ObjectRef` per created object whose key matches ``prefix``/``suffix``.
        Queues: a `Message` (a list of them when ``batch_size`` > 1). Topics: a `Message`.
        Streams: a list of `Record` per ``batch_size`` records or per closed ``window``;
        ``visibility`` (default 60 s) is how long a batch may run before its shard is taken
        over (a queue's handler has its queue's visibility timeout); a new stream handler
        begins at the ``"oldest"`` record kept, or with what arrives after it first runs
        (``start="latest"``, Kinesis's TRIM_HORIZON and LATEST).
        """
        target = self._resolve_resource(resource)
        if not isinstance(target, Bucket | Queue | Topic | Stream):
            raise DeclarationError(f"{target.kind} {target.name!r} has no events to handle",
                                   hint="handlers subscribe to buckets, queues, topics and streams")
        if (prefix or suffix) and not isinstance(target, Bucket):
            raise DeclarationError("prefix= and suffix= filter bucket keys; "
                                   f"{target.kind} {target.name!r} has no keys",
                                   hint=f"leave them out for a {target.kind}")
        if window is not None and not isinstance(target, Stream):
            raise DeclarationError("window= groups stream records; use batch_size= for queues",
                                   hint="batch_size=N hands a call up to N messages")
        if batch_size is not None and isinstance(target, Bucket | Topic):
            raise DeclarationError(f"batch_size= applies to queues and streams, not {target.kind}s",
                                   hint="each event of a bucket or a topic comes alone: leave "
                                   "it out")
        if batch_size is not None and window is not None:
            raise DeclarationError(f"stream {target.name!r}: read batches by count (batch_size=) "
                                   "or by time (window=), not both")
        size = batch_size if batch_size is not None else (100 if isinstance(target, Stream) else 1)
        on = f"handler of {target.kind} {target.name!r}"  # its name comes with the function
        if not isinstance(size, int) or size < 1:
            raise DeclarationError(f"{on}: batch_size must be a positive integer, "
                                   f"got {batch_size!r}", hint="the events a call gets, e.g. 10")
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise DeclarationError(f"{on}: max_attempts must be a positive integer, "
                                   f"got {max_attempts!r}", hint="1 runs once, with no retry")
        if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
            raise DeclarationError(f"{on}: concurrency must be a positive integer, "
                                   f"got {concurrency!r}",
                                   hint="the runs at once, e.g. 2; leave it out for no cap")
        if start not in ("oldest", "latest"):
            raise DeclarationError(f"start={start!r}: a stream handler starts at 'oldest' or "
                                   "'latest'")
        if start != "oldest" and not isinstance(target, Stream):
            raise DeclarationError("start= applies to stream handlers")
        if visibility is not None and not isinstance(target, Stream):
            raise DeclarationError("visibility= applies to stream handlers",
                                   hint="a queue's handler has its queue's visibility_timeout")
        lease = parse_duration(visibility, what="visibility") if visibility is not None else 60.0
        if lease <= 0:
            raise DeclarationError(f"{on}: visibility must be longer than zero",
                                   hint='how long a batch may run before its shard is taken '
                                   'over, e.g. "60s"')
        seconds = parse_duration(window, what="window") if window is not None else None
        if seconds is not None and seconds <= 0:
            raise DeclarationError(f"{on}: window must be longer than zero",
                                   hint='the span of time a batch covers, e.g. "5m"')

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            handler_name = _checked_name("handler", name or getattr(func, "__name__", ""))
            _check_handler_signature(handler_name, func)
            if handler_name in self.handlers or handler_name in self.jobs:
                what = "handler" if handler_name in self.handlers else "job"
                raise DeclarationError(f"app {self.name!r} already has a {what} named "
                                       f"{handler_name!r}",
                                       hint="runs, logs and dead letters are found by name: "
                                       "give one of them name=...")
            if isinstance(target, Queue):
                for other in self.handlers.values():
                    if other.resource is target:
                        raise DeclarationError(
                            f"queue {target.name!r} already has handler {other.name!r}",
                            hint="a queue has one consumer; publish to a topic to fan out",
                        )
            handler = Handler(
                app=self, name=handler_name, func=func, resource=target, prefix=prefix,
                suffix=suffix, batch_size=size, window=seconds, max_attempts=max_attempts,
                concurrency=concurrency,
                retry_delay=parse_duration(retry_delay, what="retry_delay"),
                visibility=(target.visibility_timeout if isinstance(target, Queue) else lease),
                start=start,
            )
            self._dead_letters_found_once(handler_name, handler.store_queue, "handler")
            self.handlers[handler_name] = handler
            return func

        return decorate

    def sink(
        self,
        stream: Stream | str,
        *,
        bucket: Bucket | str,
        prefix: str = "",
        partition_by: Callable[[Record], str] | None = None,
        max_bytes: int | str | Setting = "128MB",
        max_seconds: DurationLike | Setting = "100s",
        format: SinkFormat = "jsonl.gz",
        max_attempts: int = 10,
        visibility: DurationLike = "60s",
        name: str | None = None,
    ) -> Sink:
        """Deliver a stream's records to ``bucket`` in files, as Firehose does: buffered per
        shard until ``max_bytes`` or ``max_seconds``, grouped into folders by ``partition_by``
        (a record → e.g. its event date), each file written once, atomically, and named after
        its shard and sequence numbers (see `cauce.sinks`)."""
        source = self._resolve_resource(stream)
        target = self._resolve_resource(bucket)
        if not isinstance(source, Stream) or not isinstance(target, Bucket):
            raise DeclarationError("app.sink() reads a stream and writes a bucket",
                                   hint="app.sink(app.stream(...), bucket=app.bucket(...))")
        handler_name = name or f"{source.name}-to-{target.name}"
        made = Sink(handler_name, source, target, prefix=prefix, partition_by=partition_by,
                    max_bytes=max_bytes, max_seconds=max_seconds, format=format)
        self.on(source, max_attempts=max_attempts, name=handler_name,
                visibility=visibility)(made.write)
        self.handlers[handler_name].buffer = made.limits
        return made

    def _resolve_resource(self, resource: Resource | str) -> Resource:
        if isinstance(resource, str):
            if resource not in self.resources:
                raise DeclarationError(f"app {self.name!r} has no resource {resource!r}",
                                       hint=suggest(resource, self.resources))
            return self.resources[resource]
        if not isinstance(resource, Resource):
            raise DeclarationError(f"{resource!r} is not a resource",
                                   hint="pass what app.bucket/queue/topic/stream returned")
        if resource.app is not self or self.resources.get(resource.name) is not resource:
            raise DeclarationError(f"{resource.kind} {resource.name!r} is not a resource "
                                   f"of app {self.name!r}",
                                   hint="declare it on this app first")
        return resource

    # -- jobs -------------------------------------------------------------------------
    def job(
        self,
        func: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        schedule: str | None = None,
        every: DurationLike | Setting | None = None,
        partitions: Partitions | None = None,
        after: Sequence[Job] = (),
        worker: WorkerKind = "thread",
        executor: str | None = None,
        retries: int = 2,
        retry_delay: DurationLike = "5s",
        timeout: DurationLike | None = None,
        run_at_start: bool = False,
        concurrency: int | None = None,
    ) -> Any:
        """Declare a job. Its typed keyword parameters become options of `cauce run APP JOB`.

        ``executor`` says where its runs execute (``local``, ``dask`` or ``dask://HOST:PORT``,
        see `cauce.executor_urls`); `--executor` on the command line overrides it."""

        def decorate(f: Callable[..., Any]) -> Job:
            job_name = _checked_name("job", name or getattr(f, "__name__", "").replace("_", "-"))
            if job_name in self.jobs or job_name in self.handlers:
                what = "job" if job_name in self.jobs else "handler"
                raise DeclarationError(f"app {self.name!r} already has a {what} named {job_name!r}",
                                       hint="runs, logs and dead letters are found by name: "
                                       "give one of them name=...")
            if worker not in ("thread", "process"):
                raise DeclarationError(f"job {job_name!r}: worker must be 'thread' or 'process'")
            try:
                where = parse_executor(executor) if executor is not None else None
            except ConfigError as err:
                raise DeclarationError(f"job {job_name!r}: {err}", hint=err.hint) from None
            if not isinstance(retries, int) or retries < 0:
                raise DeclarationError(f"job {job_name!r}: retries must be a non-negative integer")
            if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
                raise DeclarationError(f"job {job_name!r}: concurrency must be a positive integer, "
                                       f"got {concurrency!r}",
                                       hint="leave it out for no limit")
            seconds = parse_duration(timeout, what="timeout") if timeout is not None else None
            if seconds is not None and seconds <= 0:
                raise DeclarationError(f"job {job_name!r}: timeout must be longer than zero")
            if schedule is not None:
                make_schedule(cron=schedule, every=None, timezone=self.timezone)
            if every is not None and schedule is not None:
                raise DeclarationError(f"job {job_name!r} takes schedule= or every=, not both")
            if every is not None and not isinstance(every, Setting):
                make_schedule(cron=None, every=every, timezone=self.timezone)
            if isinstance(every, Setting) and every.app != self.name:
                raise DeclarationError(f"job {job_name!r}: every= names a setting of another app")
            upstream = tuple(after)
            for up in upstream:
                if not isinstance(up, Job) or up.app is not self:
                    raise DeclarationError(f"job {job_name!r}: after= takes jobs "
                                           f"of app {self.name!r}",
                                           hint="pass the objects @app.job returned")
            own = partitions
            inherited = {u.partitions for u in upstream if u.partitions is not None}
            if len(inherited) > 1:
                raise DeclarationError(f"job {job_name!r} follows jobs with different partitions")
            if own is None and inherited:
                own = next(iter(inherited))
            elif own is not None and inherited and own not in inherited:
                raise DeclarationError(f"job {job_name!r} declares partitions "
                                       "unlike its upstream jobs")
            params = job_params(job_name, f)
            if (schedule is not None or every is not None or upstream or run_at_start):
                required = [p.option for p in params.values() if p.required]
                if required:
                    raise DeclarationError(
                        f"job {job_name!r} runs by itself but needs {', '.join(required)}",
                        hint="give those parameters defaults",
                    )
            job = Job(
                app=self, name=job_name, func=f, params=params, schedule=schedule, every=every,
                partitions=own, after=upstream, worker=worker, executor=where,
                retries=retries,
                retry_delay=parse_duration(retry_delay, what="retry_delay"),
                timeout=seconds,
                run_at_start=run_at_start, concurrency=concurrency,
                description=inspect.cleandoc(f.__doc__ or "").split("\n\n")[0],
            )
            self._dead_letters_found_once(job_name, job.store_queue, "job")
            for up in upstream:
                up.downstream.append(job)
            self.jobs[job_name] = job
            return job

        return decorate(func) if func is not None else decorate

    def demo(self, func: Callable[..., Any] | None = None, *,
             settings: Mapping[str, Any] | None = None) -> Any:
        """Declare this app's part of `cauce demo`: ``func(runtime) -> lines to print``."""

        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            self.demo_hook = Demo(f, dict(settings or {}))
            return f

        return decorate(func) if func is not None else decorate

    def dashboard(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Declare this app's live dashboard: ``func(runtime) -> list[cauce.reports.Section]``,
        built from the app's current data each time `cauce ui` shows it."""
        self.dashboard_hook = func
        return func

    # -- look-ups ---------------------------------------------------------------------
    def get_job(self, name: str) -> Job:
        if name not in self.jobs:
            raise NotFound(f"app {self.name!r} has no job {name!r}", hint=suggest(name, self.jobs))
        return self.jobs[name]

    def get_resource(self, name: str, kind: type[Resource] | None = None) -> Any:
        resource = self.resources.get(name)
        if resource is None or (kind is not None and not isinstance(resource, kind)):
            pool = {n: r for n, r in self.resources.items() if kind is None or isinstance(r, kind)}
            what = kind.kind if kind is not None else "resource"
            raise NotFound(f"app {self.name!r} has no {what} {name!r}", hint=suggest(name, pool))
        return resource

    def handlers_of(self, resource: Resource) -> list[Handler]:
        return [h for h in self.handlers.values() if h.resource is resource]


_FUNCTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _checked_name(kind: str, name: str) -> str:
    """A job or handler name fit for the command line and log stream names, and not ending
    in ``.dlq``: the queue of a job or handler so named would be the dead-letter queue of
    the one named without it."""
    hint = "give it name=... with letters, digits, '-', '_' and '.' (and not ending in .dlq)"
    checked(f"{kind} name", name, _FUNCTION_NAME, hint)
    if name.endswith(".dlq"):
        raise DeclarationError(f"{kind} name {name!r} is not valid", hint=hint)
    return name


def _check_handler_signature(handler_name: str, func: Callable[..., Any]) -> None:
    """A handler is called as ``func(event, ctx)``; say so now rather than at every delivery."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise DeclarationError(f"handler {handler_name!r} must take (event, ctx), not {signature}",
                               hint=f"def {handler_name}(event, ctx): ...") from None


# Files of the zone database that name no place: "localtime" is whatever zone the machine is
# set to (the same app then schedules at other hours on another machine), "right/" zones count
# leap seconds (every time 27 s off), "Factory" is no zone at all.
_MACHINE_ZONES = {"localtime", "posixrules", "factory"}


def _refuse_machine_zone(timezone: str) -> None:
    lowered = timezone.lower()
    if lowered in _MACHINE_ZONES or lowered.startswith(("right/", "posix/")):
        place = timezone.split("/", 1)[1] if "/" in timezone else _machine_zone()
        raise DeclarationError(
            f"time zone {timezone!r} is not the name of a place's zone",
            hint=f"name the zone itself, e.g. timezone={place!r}: an app keeps its hours "
            "on every machine it runs on")


def _machine_zone() -> str:
    """The IANA name of the zone this machine is set to, or 'UTC' when it cannot be told."""
    import os  # only on the way to an error message

    name = os.environ.get("TZ", "").lstrip(":")
    if not name or name.startswith("/"):
        link = os.path.realpath(name or "/etc/localtime")
        name = link.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in link else ""
    return name or "UTC"


def _zone_hint(timezone: object) -> str:
    """The zone meant by an unknown name, if one is close: names are case-sensitive where
    their files are (Linux), so ``america/santiago`` is refused there and read on a Mac."""
    import difflib  # only on the way to an error message
    from zoneinfo import available_timezones

    if isinstance(timezone, str) and timezone:
        zones = sorted(available_timezones())
        same = [z for z in zones if z.lower() == timezone.lower()]
        close = same or difflib.get_close_matches(timezone, zones, n=1, cutoff=0.8)
        if close:
            return f"did you mean {close[0]!r}? (time zone names are case-sensitive)"
    return "use an IANA name such as 'America/Santiago' or 'UTC'"


def suggest(name: str, choices: Mapping[str, Any] | Sequence[str]) -> str:
    import difflib  # only on the way to an error message

    names = list(choices)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"choose one of: {', '.join(sorted(names))}" if names else "it declares none"


def job_params(job_name: str, func: Callable[..., Any]) -> dict[str, Param]:
    """The typed keyword parameters after ``ctx``: each becomes a command-line option."""
    signature = inspect.signature(func)
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].kind not in (inspect.Parameter.POSITIONAL_ONLY,
                                                    inspect.Parameter.POSITIONAL_OR_KEYWORD):
        raise DeclarationError(f"job {job_name!r} must take the run context as its first parameter",
                               hint="def my_job(ctx): ...")
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as err:  # a forward reference the module cannot resolve
        raise DeclarationError(f"job {job_name!r}: cannot read its type hints ({err})") from None
    params: dict[str, Param] = {}
    for p in parameters[1:]:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise DeclarationError(f"job {job_name!r}: *args/**kwargs cannot be options",
                                   hint="declare each option as a typed keyword parameter")
        if p.name not in hints:
            raise DeclarationError(f"job {job_name!r}: parameter {p.name!r} "
                                   "needs a type annotation",
                                   hint=f"e.g. {p.name}: str = ...")
        annotation, help_text, constraints = hints[p.name], "", ()
        if typing.get_origin(annotation) is typing.Annotated:
            annotation, *extras = typing.get_args(annotation)
            help_text = next((e for e in extras if isinstance(e, str)), "")
            constraints = tuple(e for e in extras if not isinstance(e, str))
            # pydantic's Field(description=...) is help text too
            help_text = help_text or next(
                (e.description for e in constraints if isinstance(getattr(e, "description", None),
                                                                  str)), "")
        default = REQUIRED if p.default is inspect.Parameter.empty else p.default
        params[p.name] = Param(p.name, annotation, default, help_text, constraints)
    return params


def watch_of(bucket: Bucket, settings: Settings) -> float | None:
    """Seconds between looks into ``bucket`` (None: not watched); a watch setting that is
    empty or 0 turns it off, one that is no duration is a ConfigError."""
    watch = bucket.watch
    if not isinstance(watch, Setting):
        return watch
    value = settings[watch.name]
    if value in (None, "", 0, "0"):
        return None
    try:
        return watch_interval(value, bucket.name)
    except DeclarationError as error:
        raise ConfigError(f"{watch.name}: {error.message}", hint=error.hint) from None


def watch_interval(value: DurationLike, bucket: str) -> float:
    """A bucket's watch interval in seconds; it must be positive."""
    seconds = parse_duration(value, what="watch")
    if seconds <= 0:
        raise DeclarationError(f"bucket {bucket!r}: watch must be a positive duration",
                               hint='e.g. watch="1m"')
    return seconds
