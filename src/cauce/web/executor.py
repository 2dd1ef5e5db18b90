"""Work the UI starts and carries out itself: backfills, and queued runs nobody else would run.

A backfill started from the browser runs `cauce.runtime.backfill.backfill`, exactly as
``cauce backfill`` does, in a thread of the UI's process. A re-run is queued with
`Runtime.submit`; when no ``cauce serve``/``worker`` of the app is alive, the UI executes the
queued run itself (one dispatcher on that job's queue until the run ends), so the button works
with the UI alone. Runs queued this way are ordinary runs: a serve that starts meanwhile may take
them, and leases make sure only one process does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..app import Job
from ..errors import Conflict
from ..runtime.backfill import backfill
from ..runtime.sources import QueueSource

if TYPE_CHECKING:
    from .home import Home

log = logging.getLogger("cauce.web")


@dataclass
class Task:
    """One piece of background work and how it went."""

    id: int
    app: str
    label: str
    started: float
    ended: float | None = None
    outcome: str = ""
    failed: bool = False
    progress: tuple[int, int] = (0, 0)
    claims: frozenset[tuple[str, str]] = frozenset()  # (job, partition) a backfill runs
    thread: threading.Thread | None = field(default=None, repr=False)


class Executor:
    KEEP = 50

    def __init__(self, home: Home) -> None:
        self.home = home
        self.tasks: list[Task] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._stopping = threading.Event()

    def _start(self, app: str, label: str, work: Callable[[Task], str],
               claims: frozenset[tuple[str, str]] = frozenset()) -> Task:
        with self._lock:
            for other in self.running(app):
                if other.claims & claims:  # a form posted twice must not run it all twice
                    raise Conflict(f"{other.label} is still running, and covers partitions of "
                                   "this one; nothing more was started",
                                   hint="wait for it to end (its progress is on this page)")
            self._counter += 1
            task = Task(self._counter, app, label, time.time(), claims=claims)
            self.tasks = [task, *self.tasks][: self.KEEP]

        def run() -> None:
            try:
                task.outcome = work(task)
            except Exception as err:  # shown on the page; the run's own log keeps details
                log.exception("%s failed", label)
                task.failed = True
                task.outcome = f"{type(err).__name__}: {getattr(err, 'message', err)}"
            finally:
                task.ended = time.time()

        task.thread = threading.Thread(target=run, name=f"cauce-ui-{task.id}", daemon=True)
        task.thread.start()
        return task

    def backfill(self, app: str, job: Job, first: str, last: str, *, parallel: int,
                 force: bool) -> Task:
        rt = self.home.runtime(app)
        # check the range now, so a bad one is refused on the page instead of in a thread
        keys = job.partitions.ended_range(first, last, rt.today()) if job.partitions else []

        def work(task: Task) -> str:
            def progress(done: int, total: int) -> None:
                task.progress = (done, total)

            report = backfill(rt, job, first, last, parallel=parallel, force=force,
                              progress=progress)
            task.failed = not report.ok
            return (f"{len(report.succeeded)} succeeded, {len(report.failed)} failed, "
                    f"{len(report.skipped)} skipped (already succeeded)")

        return self._start(app, f"backfill {job.name} {first} → {last} ({len(keys)} "
                           f"partitions, {parallel} at once)", work,
                           frozenset((job.name, key) for key in keys))

    def drain(self, app: str, job: Job, run_id: str) -> Task:
        """Execute queued runs of ``job`` in this process until run ``run_id`` has ended."""
        rt = self.home.runtime(app)

        def work(task: Task) -> str:
            dispatcher = rt.dispatcher(threads=1, processes=1, sources=[QueueSource(rt, job)])
            try:
                while not self._stopping.is_set():
                    dispatcher.pump()
                    run = rt.get_run(run_id)
                    if run.status.finished:
                        return f"run {run_id} {run.status.value}"
                    rt.wait(0.05)
            finally:
                dispatcher.shutdown(30.0)
            return "stopped with the UI"

        return self._start(app, f"run {job.name} ({run_id})", work)

    def running(self, app: str | None = None) -> list[Task]:
        return [t for t in self.tasks if t.ended is None and (app is None or t.app == app)]

    def recent(self, app: str | None = None) -> list[Task]:
        return [t for t in self.tasks if app is None or t.app == app]

    def shutdown(self, *_: Any) -> None:
        self._stopping.set()
        for task in self.tasks:
            if task.thread is not None and task.ended is None:
                task.thread.join(timeout=30)
