"""Job runs: options checked against the job's signature, partitions against its range; runs
queued (with their message, in one transaction), run in the foreground (`cauce run`), and the
jobs that run ``after`` one queued once all their upstream runs succeeded."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from ..app import Job, suggest
from ..errors import ConfigError, PartitionError
from ..runs import Run, RunRecord, RunStatus, new_run_id
from .execute import Outcome, RunSpec, log_general

if TYPE_CHECKING:
    from .runtime import Runtime


def check_params(rt: Runtime, job: Job, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and convert job options; raise one ConfigError naming every problem."""
    problems, values = [], {}
    for name in params:
        if name not in job.params:
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
                          hint=f"see `cauce run {rt.app.name} {job.name} --help`")
    return values


def check_partition(rt: Runtime, job: Job, partition: str | None) -> str | None:
    if job.partitions is None:
        if partition is not None:
            raise PartitionError(f"job {job.name!r} is not partitioned", hint="drop --partition")
        return None
    if partition is None:
        raise PartitionError(f"job {job.name!r} runs per {job.partitions.unit} partition",
                             hint="pass --partition, e.g. --partition "
                             + job.partitions.key(rt.today()))
    job.partitions.validate(partition, rt.today())
    return partition


def enqueue_job(rt: Runtime, job: Job, *, partition: str | None, params: Mapping[str, Any],
                trigger: str, now: float, attrs: Mapping[str, Any] | None = None) -> str:
    """Queue a run of ``job``: its message and its queued run, together; returns the run id."""
    body = json.dumps({"partition": partition, "params": dict(params), "trigger": trigger},
                      default=str)
    run_id = new_run_id()
    with rt.state.atomic():
        [message_id] = rt.state.queues.send(job.store_queue, [body], now=now, attrs=attrs)
        rt.state.runs.insert([RunRecord(id=run_id, app=rt.app.name, kind="job", name=job.name,
                                        status=RunStatus.QUEUED, partition=partition,
                                        trigger=trigger, message_id=message_id, queued_at=now,
                                        params=dict(params))])
    return run_id


def submit(rt: Runtime, job: Job, *, partition: str | None = None,
           params: Mapping[str, Any] | None = None, trigger: str = "submitted") -> str:
    """Queue a run of ``job``; a worker (`serve`, `worker`, or a test's drain) executes it."""
    partition = check_partition(rt, job, partition)
    values = check_params(rt, job, params or {})
    run_id = enqueue_job(rt, job, partition=partition, params=values, trigger=trigger,
                         now=rt.clock.time())
    rt.new_work()
    return run_id


def has_pending_run(rt: Runtime, job: Job, partition: str | None) -> bool:
    """A run of ``job`` (for ``partition``) is queued, running, or waiting for a retry."""
    return rt.state.queues.holds(job.store_queue, "partition", partition)


def trigger_downstream(rt: Runtime, job: Job, partition: str | None, now: float) -> None:
    """Queue each job that runs ``after`` this one, once all its upstream runs succeeded."""
    for down in job.downstream:
        if (all(rt.state.runs.partition_succeeded(rt.app.name, up.name, partition)
                for up in down.after)
                and not has_pending_run(rt, down, partition)):
            enqueue_job(rt, down, partition=partition, params={}, trigger=f"after {job.name}",
                        now=now)


def requeue_replayed(rt: Runtime, queue: str, message_id: int, body: str) -> None:
    """A queued run for a job message sent back from the dead-letter queue."""
    values = json.loads(body)
    rt.state.runs.insert([RunRecord(
        id=new_run_id(), app=rt.app.name, kind="job",
        name=queue.split(":", 1)[1].removeprefix("job/"), status=RunStatus.QUEUED,
        partition=values.get("partition"), trigger="replay", message_id=message_id,
        queued_at=rt.clock.time(), params=values.get("params"))])


def run_foreground(rt: Runtime, job: Job | str, partition: str | None = None,
                   **params: Any) -> Run:
    """Run ``job`` once, now, in this thread (or on its executor's cluster), as `cauce run`;
    returns the finished run."""
    target = rt.app.get_job(job) if isinstance(job, str) else job
    partition = check_partition(rt, target, partition)
    values = check_params(rt, target, params)
    run_id = new_run_id()
    spec = RunSpec(run_id, target, 1, run_id, partition, values)
    executor = rt.executors.pick(spec, in_child=False)  # an unreachable cluster fails here
    now = rt.clock.time()
    rt.state.runs.insert([RunRecord(id=run_id, app=rt.app.name, kind="job", name=target.name,
                                    status=RunStatus.RUNNING, partition=partition,
                                    trigger="manual", queued_at=now, started_at=now,
                                    params=values, worker=rt.worker_id)])
    log_general(rt, rt.app.name, logging.INFO, "run %s %s started by hand", run_id,
                target.name + (f"[{partition}]" if partition else ""))
    cancel = threading.Event()
    watcher = CancelWatcher(rt, run_id, cancel)
    watcher.start()
    try:
        outcome = executor.execute(spec, cancel)
    finally:
        watcher.stop()
    return _finish_foreground(rt, target, run_id, partition, outcome)


def _finish_foreground(rt: Runtime, job: Job, run_id: str, partition: str | None,
                       outcome: Outcome) -> Run:
    status = RunStatus.SUCCEEDED if outcome.ok else (
        RunStatus.CANCELLED if outcome.cancelled else RunStatus.FAILED)
    now = rt.clock.time()
    with rt.state.atomic():
        rt.state.runs.finish(run_id, status, now=now, error=outcome.error, result=outcome.result)
        if outcome.ok:
            trigger_downstream(rt, job, partition, now)
    log_general(rt, rt.app.name, logging.INFO if outcome.ok else logging.ERROR,
                "run %s %s %s%s", run_id, job.name, status.value,
                f": {outcome.error}" if outcome.error else "")
    rt.sink.flush()
    rt.new_work()
    return rt.get_run(run_id)


class CancelWatcher:
    """Checks once a second whether a foreground run was asked to cancel."""

    def __init__(self, rt: Runtime, run_id: str, cancel: threading.Event) -> None:
        self.rt, self.run_id, self.cancel = rt, run_id, cancel
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="cauce-cancel-watch")

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._done.wait(1.0):
            if self.rt.state.runs.cancel_requested([self.run_id]):
                self.cancel.set()
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=2)
