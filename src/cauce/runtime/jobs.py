"""Job runs: options checked against the job's signature, partitions against its range; runs
queued (with their message, in one transaction), run in the foreground (`cauce run`), and the
jobs that run ``after`` one queued once all their upstream runs succeeded."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

from ..app import Job, suggest
from ..errors import CauceError, ConfigError, PartitionError
from ..runs import Run, RunRecord, RunStatus, new_run_id
from .execute import Outcome, RunSpec, log_general
from .foreground import BEAT_EVERY, GRACE, ROLE, Interrupted, Stopper
from .interrupts import timed_out

if TYPE_CHECKING:
    from ..backends.state import StateStore
    from .executors import Executor
    from .runtime import Runtime


def check_params(job: Job, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and convert job options against their types and constraints (bounds); raise
    one ConfigError naming every problem."""
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
        from pydantic import TypeAdapter, ValidationError  # only for jobs that take options

        written = _written_as(param.annotation)
        given = params[name]
        if written is not None and isinstance(given, str):
            given = given.strip()  # ' 2024-01-02' from a quoted shell variable
        try:
            values[name] = TypeAdapter(param.checked_type).validate_python(given)
        except ValidationError as err:
            problems.append(f"{param.option}: {params[name]!r} is invalid "
                            f"({err.errors()[0]['msg']}"
                            + (f"; write it {written})" if written else ")"))
            continue
        if not _json_number_safe(values[name]):  # stored with the run, as JSON
            problems.append(f"{param.option}: {params[name]!r} is invalid (NaN and infinities "
                            "are no JSON numbers)")
    if problems:
        raise ConfigError("; ".join(problems),
                          hint=f"see `cauce run {job.app.name} {job.name} --help`")
    return values


# how date and time options are written, for their errors (datetime before date: it is one)
_WRITTEN = ((datetime, "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]"), (date, "YYYY-MM-DD"),
            (dt_time, "HH:MM[:SS]"))


def _written_as(annotation: Any) -> str | None:
    """How a value of ``annotation`` is written when it is a date, datetime or time (alone, or
    optional): pydantic's messages ("invalid character in year") do not say."""
    kinds = {annotation, *typing.get_args(annotation)}
    return next((written for kind, written in _WRITTEN if kind in kinds), None)


def _json_number_safe(value: Any) -> bool:
    """Whether ``value`` holds no NaN or infinity (which neither JSON nor PostgreSQL's jsonb
    can keep); anything else is stored as its text."""
    try:
        json.dumps(value, allow_nan=False, default=str)
    except ValueError:
        return False
    return True


def check_partition(rt: Runtime, job: Job, partition: str | None) -> str | None:
    if job.partitions is None:
        if partition is not None:
            raise PartitionError(f"job {job.name!r} is not partitioned", hint="drop --partition")
        return None
    if partition is None:
        # the newest that has ended, as its schedule would run: today's is not over yet
        example = (job.partitions.last_complete(rt.today())
                   or job.partitions.key(job.partitions.start))
        raise PartitionError(f"job {job.name!r} runs per {job.partitions.unit} partition",
                             hint=f"pass --partition, e.g. --partition {example} (the newest "
                             "that has ended)")
    job.partitions.validate(partition, rt.today())
    return partition


def enqueue_job(rt: Runtime, job: Job, *, partition: str | None, params: Mapping[str, Any],
                trigger: str, now: float, attrs: Mapping[str, Any] | None = None) -> str:
    """Queue a run of ``job``: its message and its queued run, together; returns the run id."""
    return queue_run(rt.state, rt.app.name, job.name, partition=partition, params=params,
                     trigger=trigger, now=now, attrs=attrs)


def queue_run(state: StateStore, app: str, job: str, *, partition: str | None,
              params: Mapping[str, Any], trigger: str, now: float,
              attrs: Mapping[str, Any] | None = None) -> str:
    """Queue a run of job ``job`` of ``app`` straight in the state store (options already
    checked): its message and its queued run, in one transaction; returns the run id."""
    body = json.dumps({"partition": partition, "params": dict(params), "trigger": trigger},
                      default=str)
    run_id = new_run_id()
    with state.atomic():
        [message_id] = state.queues.send(f"{app}:job/{job}", [body], now=now, attrs=attrs)
        state.runs.insert([RunRecord(id=run_id, app=app, kind="job", name=job,
                                     status=RunStatus.QUEUED, partition=partition,
                                     trigger=trigger, message_id=message_id, queued_at=now,
                                     params=dict(params))])
    return run_id


def retry_run(state: StateStore, run: Run, now: float) -> str:
    """Queue a fresh run of a finished job run, with its partition and options."""
    if run.kind != "job":
        raise CauceError(f"run {run.id} is a run of handler {run.name!r}, not of a job",
                         hint=f"a handler's failed message is sent again with `cauce dlq replay "
                         f"{run.app} {run.name}`")
    if not run.status.finished:
        raise CauceError(f"run {run.id} is still {run.status.value}",
                         hint="retry it once it ended; `cauce runs cancel` stops it")
    return queue_run(state, run.app, run.name, partition=run.partition,
                     params=run.params or {}, trigger=f"retry of {run.id}", now=now)


def drop_cancelled(state: StateStore, now: float) -> list[str]:
    """Finish as cancelled the queued runs someone asked to cancel, dropping their messages;
    one a worker already holds is left to that worker. Returns the ids dropped."""
    dropped = []
    with state.atomic():
        for run_id, message_id in state.runs.queued_cancelled():
            if message_id is not None and not state.queues.drop_unclaimed(message_id):
                continue  # a worker holds it: that worker cancels it before it starts
            state.runs.finish(run_id, RunStatus.CANCELLED, now=now,
                              error="cancelled before it started")
            dropped.append(run_id)
    return dropped


def submit(rt: Runtime, job: Job, *, partition: str | None = None,
           params: Mapping[str, Any] | None = None, trigger: str = "submitted") -> str:
    """Queue a run of ``job``; a worker (`serve`, `worker`, or a test's drain) executes it."""
    partition = check_partition(rt, job, partition)
    values = check_params(job, params or {})
    run_id = enqueue_job(rt, job, partition=partition, params=values, trigger=trigger,
                         now=rt.clock.time())
    rt.new_work()
    return run_id


def has_pending_run(rt: Runtime, job: Job, partition: str | None) -> bool:
    """A run of ``job`` (for ``partition``) is queued, running, or waiting for a retry."""
    return rt.state.queues.holds(job.store_queue, "partition", partition)


def pending_partitions(rt: Runtime, job: Job) -> set[str]:
    """The partitions of ``job`` with a run queued, running, or waiting for a retry."""
    return rt.state.queues.text_values(job.store_queue, "partition")


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
                   params: Mapping[str, Any] | None = None,
                   stopper: Stopper | None = None, *, in_child: bool = False) -> Run:
    """Run ``job`` once, now, in this thread (or on its executor's cluster), as `cauce run`;
    returns the finished run. ``in_child`` (`cauce run`): a ``worker="process"`` job runs in a
    child process instead (see `runs_in_child`).

    With a `Stopper` whose signal handlers are installed, SIGINT, SIGTERM and `cauce runs
    cancel` stop the run even when the job never looks at ``ctx.cancelled``; the caller restores
    them once it has reported the run."""
    target = rt.app.get_job(job) if isinstance(job, str) else job
    partition = check_partition(rt, target, partition)
    values = check_params(target, params or {})
    run_id = new_run_id()
    spec = RunSpec(run_id, target, 1, run_id, partition, values)
    # an unreachable cluster fails here
    executor = rt.executors.pick(spec, in_child=in_child and runs_in_child(rt, target))
    now = rt.clock.time()
    with rt.state.atomic():
        rt.state.workers.register(rt.worker_id, app=rt.app.name, pid=os.getpid(),
                                  host=socket.gethostname(), role=ROLE, now=now)
        rt.state.runs.insert([RunRecord(id=run_id, app=rt.app.name, kind="job",
                                        name=target.name, status=RunStatus.RUNNING,
                                        partition=partition, trigger="manual", queued_at=now,
                                        started_at=now, params=values, worker=rt.worker_id)])
    log_general(rt, rt.app.name, logging.INFO, "run %s %s started by hand", run_id,
                target.name + (f"[{partition}]" if partition else ""))
    stopper = stopper or Stopper(threading.Event())
    watcher = CancelWatcher(rt, run_id, stopper.cancel, stopper)
    watcher.start()
    deadline = _deadline(target, executor is rt.executors.thread, stopper)
    try:
        outcome = _execute_stoppable(rt, executor, spec, stopper)
    except KeyboardInterrupt:  # Ctrl-C with no Stopper installed, or raised by the job itself
        _finish_foreground(rt, target, run_id, partition, INTERRUPTED)
        raise
    finally:
        watcher.stop()
        if deadline is not None:
            deadline.cancel()
    if deadline is not None and not outcome.ok and stopper.reason == deadline.args[0]:
        outcome = timed_out(target.timeout or 0.0, "the job was stopped")
    if outcome.cancelled and stopper.reason and outcome.error == "cancelled":
        outcome = Outcome(ok=False, error=f"cancelled: {stopper.reason}", cancelled=True)
    try:
        return _finish_foreground(rt, target, run_id, partition, outcome)
    finally:
        rt.state.workers.stopped(rt.worker_id, now=rt.clock.time())


# a run whose job was stopped by a KeyboardInterrupt: recorded before it goes on up, rather than
# left running until the next command marks it lost
INTERRUPTED = Outcome(ok=False, error="cancelled: interrupted (KeyboardInterrupt)", cancelled=True)


def runs_in_child(rt: Runtime, job: Job) -> bool:
    """Whether `cauce run` runs ``job`` in a child process: it is declared ``worker="process"``
    (and its app can be imported by reference), so it is stopped at once when cancelled or
    timed out, and its process's death (``os._exit``, out of memory) fails the run."""
    return job.worker == "process" and rt.executors.processes.available


def _deadline(job: Job, in_this_thread: bool, stopper: Stopper) -> threading.Timer | None:
    """A started timer that asks ``stopper`` to stop the run once ``job``'s timeout passed, when
    the run executes in this thread (a child process or a cluster keeps the timeout itself)."""
    if job.timeout is None or not in_this_thread:
        return None
    timer = threading.Timer(job.timeout, stopper.request,
                            args=(f"timed out after {job.timeout:g} s",))
    timer.daemon = True
    timer.start()
    return timer


def _execute_stoppable(rt: Runtime, executor: Executor, spec: RunSpec,
                       stopper: Stopper) -> Outcome:
    """Execute the run; ``stopper`` may interrupt its job, and only its job, so that what
    follows (recording the outcome) is done whatever moment a signal lands."""
    try:
        try:
            stopper.executing = True
            return executor.execute(spec, stopper.cancel)
        finally:
            stopper.executing = False  # first, and not a call: no signal lands before it
            stopper.job_ended()
    except Interrupted as stop:
        reason = f"cancelled: {stop}"
        rt.sink.write(rt.app.name, spec.stream_name, logging.WARNING,
                      f"run {reason} (it did not stop when asked)", spec.run_id)
        return Outcome(ok=False, error=reason, cancelled=True)


def _finish_foreground(rt: Runtime, job: Job, run_id: str, partition: str | None,
                       outcome: Outcome) -> Run:
    status = RunStatus.SUCCEEDED if outcome.ok else (
        RunStatus.CANCELLED if outcome.cancelled else RunStatus.FAILED)
    now = rt.clock.time()
    with rt.state.atomic():
        rt.state.runs.finish(run_id, status, now=now, error=outcome.error, result=outcome.result)
        if outcome.ok:
            trigger_downstream(rt, job, partition, now)
    # a cancelled run's error starts with "cancelled: ", which its status already says
    error = (outcome.error or "").removeprefix("cancelled: " if outcome.cancelled else "")
    level = (logging.INFO if outcome.ok
             else logging.WARNING if outcome.cancelled else logging.ERROR)
    log_general(rt, rt.app.name, level, "run %s %s %s%s", run_id, job.name, status.value,
                f": {error}" if error else "")
    rt.sink.flush()
    rt.new_work()
    return rt.get_run(run_id)


class CancelWatcher:
    """Beats for the process running a run, and checks twice a second whether the run was asked
    to cancel (by `cauce runs cancel` in another process): it then sets ``cancel``, or asks
    ``stopper`` (which stops even a job that never checks) when there is one. ``abandoned``,
    checked as often, says why the run must stop because nobody waits for it any more (None
    while someone does): the line is written in the run's log and ``cancel`` set."""

    def __init__(self, rt: Runtime, run_id: str, cancel: threading.Event,
                 stopper: Stopper | None = None, *,
                 abandoned: Callable[[], str | None] | None = None) -> None:
        self.rt, self.run_id = rt, run_id
        self.stopper = stopper or Stopper(cancel)
        self.abandoned = abandoned
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="cauce-cancel-watch")

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        beaten, told = time.monotonic(), False
        while not self._done.wait(0.5):
            if self.stopper.installed and self.stopper.cancel.is_set() and not told:
                told = True
                self._tell(f"cancelling the run: {self.stopper.reason or 'asked'} (it stops at "
                           f"once if it does not end within {GRACE:.0f} s, or at a second "
                           "Ctrl-C)")
            if time.monotonic() - beaten >= BEAT_EVERY:
                self.rt.state.workers.beat(self.rt.worker_id, now=self.rt.clock.time())
                beaten = time.monotonic()
            if (not self.stopper.cancel.is_set()
                    and self.rt.state.runs.cancel_requested([self.run_id])):
                self.stopper.request("asked by `cauce runs cancel`")
            why = (self.abandoned() if self.abandoned is not None
                   and not self.stopper.cancel.is_set() else None)
            if why is not None:
                self._tell(why)
                self.stopper.request(why)

    def _tell(self, message: str) -> None:
        """A line in the run's log stream and on the terminal, from outside the run's thread."""
        app = self.rt.app.name
        job = self.rt.state.runs.get(self.run_id)
        stream = f"{job.name}/{self.run_id}" if job else "general"
        self.rt.sink.write(app, stream, logging.WARNING, message, self.run_id)
        logging.getLogger(f"cauce.app.{app}").warning("%s", message)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=2)
