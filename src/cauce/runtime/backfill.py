"""Backfill: run a job for a range of partitions, with bounded parallelism, resumably.

Partitions that already succeeded are skipped unless forced; partitions whose run is already
queued (say, by a backfill that was interrupted) are picked up, not queued twice. Jobs that run
``after`` the backfilled one are run too, for the same partitions.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..app import Job
from ..errors import PartitionError
from .execute import log_general
from .foreground import BEAT_EVERY
from .serving import StateTrouble, take_back_leases
from .sources import QueueSource

if TYPE_CHECKING:
    from .runtime import Runtime

Progress = Callable[[int, int], None]
GRACE = 30.0  # seconds an interrupted backfill lets its runs in hand finish
ROLE = "backfill"  # as registered among the workers: a killed one's leases are taken back


@dataclass
class BackfillReport:
    """What a backfill did, partition by partition."""

    job: str
    partitions: list[str]
    skipped: list[str] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)  # not run yet: the backfill was stopped
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


class BackfillInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a backfill: raised once its runs in hand ended, with what it
    did (``report``) and the signal's own exception (``interrupt``)."""

    def __init__(self, report: BackfillReport, interrupt: KeyboardInterrupt) -> None:
        super().__init__(f"backfill of {report.job} interrupted")
        self.report, self.interrupt = report, interrupt


def _closure(job: Job) -> list[Job]:
    found, todo = [job], list(job.downstream)
    while todo:
        nxt = todo.pop(0)
        if nxt not in found:
            found.append(nxt)
            todo.extend(nxt.downstream)
    return found


def check_partitioned(job: Job) -> None:
    """Refuse a job without partitions: there is no range of them to backfill."""
    if job.partitions is None:
        raise PartitionError(f"job {job.name!r} is not partitioned, so it cannot be backfilled",
                             hint="backfill runs a range of partitions; run it once with "
                             f"`cauce run {job.app.name} {job.name}`")


def _enqueue(runtime: Runtime, job: Job, todo: list[str]) -> None:
    now = runtime.clock.time()
    with runtime.state.atomic():
        pending = runtime.pending_partitions(job)
        for key in todo:
            if key not in pending:
                runtime.enqueue_job(job, partition=key, params={}, trigger="backfill", now=now)


def backfill(
    runtime: Runtime,
    job: Job,
    first: str,
    last: str | None,
    *,
    parallel: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
    poll: float = 0.05,
) -> BackfillReport:
    """Run ``job`` for every partition from ``first`` to ``last`` (inclusive; None: the newest
    that has ended); returns a report.
    ``parallel`` partitions run at once: by default one, or as many as the threads of the Dask
    cluster the job's runs go to."""
    check_partitioned(job)
    started = time.monotonic()
    keys = job.partitions.ended_range(first, last, runtime.today())
    slots = runtime.executors.slots(job)  # opens its executor: an unreachable one fails here
    parallel = parallel or slots
    report = BackfillReport(job.name, keys)
    patiently = StateTrouble.of(runtime).outlast
    done = patiently(lambda: runtime.state.runs.succeeded_partitions(runtime.app.name, job.name))
    todo = [k for k in keys if force or k not in done]
    wanted = set(todo)
    report.skipped = [k for k in keys if k not in wanted]
    patiently(lambda: _enqueue(runtime, job, todo))
    log_general(runtime, runtime.app.name, logging.INFO,
                "backfill of %s: %d partition(s), %d skipped",
                job.name, len(todo), len(report.skipped))
    family = _closure(job)
    dispatcher = runtime.dispatcher(threads=parallel, processes=parallel,
                                    sources=[QueueSource(runtime, j) for j in family])
    remaining = set(wanted)
    workers = runtime.state.workers
    # registered and beating as a serving process is, so that the partitions in hand of a
    # backfill killed on this machine are taken back at once by the next one (or a serve),
    # not after their leases run out
    patiently(lambda: workers.register(runtime.worker_id, app=runtime.app.name,
                                       pid=os.getpid(), host=socket.gethostname(), role=ROLE,
                                       now=runtime.clock.time()))
    patiently(lambda: take_back_leases(runtime, dispatcher))
    beaten = time.monotonic()

    def turn() -> bool:
        """One turn of the dispatcher; whether every partition and its downstream runs ended."""
        nonlocal remaining, beaten
        if time.monotonic() - beaten > BEAT_EVERY:
            workers.beat(runtime.worker_id, now=runtime.clock.time())
            beaten = time.monotonic()
        dispatcher.pump()
        remaining &= runtime.pending_partitions(job)
        return not remaining and not any(runtime.pending_partitions(j) & wanted
                                         for j in family)

    interrupt: KeyboardInterrupt | None = None
    try:
        while True:
            finished = patiently(turn)
            if progress is not None:
                progress(len(todo) - len(remaining), len(todo))
            if finished:
                break
            runtime.wait(poll)
    except KeyboardInterrupt as stop:
        log_general(runtime, runtime.app.name, logging.WARNING,
                    "backfill of %s interrupted: the runs in hand finish (up to %.0f s), "
                    "the partitions not started stay queued", job.name, GRACE)
        interrupt = stop
    finally:
        dispatcher.shutdown(GRACE)
        patiently(lambda: workers.stopped(runtime.worker_id, now=runtime.clock.time()))
    # what is still queued once the runs in hand ended (those given back after the grace too)
    pending = patiently(lambda: runtime.pending_partitions(job)) if interrupt else set()
    latest = {r.partition: r for r in patiently(lambda: runtime.runs(job, newest_first=False))
              if r.partition in wanted}
    for key in todo:
        run = latest.get(key)
        if run is not None and run.succeeded:
            report.succeeded.append(key)
        elif key in pending:
            report.queued.append(key)
        else:
            report.failed[key] = (run.error if run else None) or "did not run"
    report.seconds = time.monotonic() - started
    if interrupt is not None:
        if progress is not None:  # the runs that ended in the grace count: the bar says so
            progress(len(todo) - len(report.queued), len(todo))
        log_general(runtime, runtime.app.name, logging.WARNING,
                    "backfill of %s stopped: %d succeeded, %d failed, %d still queued",
                    job.name, len(report.succeeded), len(report.failed), len(report.queued))
        raise BackfillInterrupted(report, interrupt) from None
    log_general(runtime, runtime.app.name, logging.INFO if report.ok else logging.ERROR,
                "backfill of %s finished: %d succeeded, %d failed, %d skipped", job.name,
                len(report.succeeded), len(report.failed), len(report.skipped))
    return report
