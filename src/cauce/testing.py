"""TestRuntime: run an app in-process on a temporary home, with a simulated clock.

Everything executes in the calling thread, in a deterministic order: `drain` runs until no work
is pending (moving the clock over retry back-offs and delays), `advance` fires every schedule
due in a span, in order. Settings come only from ``settings=`` and declared defaults, never from
the developer's environment or files, unless ``config=`` says otherwise.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .app import App, Handler, Job
from .clock import SimulatedClock
from .durations import DurationLike, parse_duration
from .errors import CauceError
from .events import Message
from .logs import LogLine
from .resources.queue import Queue
from .runs import Run
from .runtime.runtime import Runtime
from .runtime.scheduler import Scheduler
from .settings import ConfigSources

DEFAULT_START = "2024-01-01T00:00:00"


class TestRuntime:
    """An app attached to a temporary home with a simulated clock. Use as a context manager."""

    __test__ = False  # not a pytest test class

    MAX_STEPS = 100_000

    def __init__(
        self,
        app: App,
        *,
        settings: dict[str, Any] | None = None,
        start: str | datetime = DEFAULT_START,
        home: str | Path | None = None,
        config: ConfigSources | None = None,
    ) -> None:
        self.app = app
        moment = datetime.fromisoformat(start) if isinstance(start, str) else start
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=app.tz)
        self.clock = SimulatedClock(moment.timestamp())
        self._tmp = None if home is not None else tempfile.mkdtemp(prefix="cauce-test-")
        self.home = Path(home if home is not None else self._tmp)  # type: ignore[arg-type]
        self.runtime = Runtime(app, home=self.home, settings=settings, clock=self.clock,
                               config=config or ConfigSources(environ={}), role="test")
        self._scheduler: Scheduler | None = None

    def __enter__(self) -> TestRuntime:
        try:
            self.runtime.open()
        except BaseException:
            self.close()  # a failed start (missing settings…) leaves no temporary home behind
            raise
        self._scheduler = Scheduler(self.runtime, recheck=0.0)
        self._scheduler.tick()
        self._dispatcher = self.runtime.dispatcher(threads=1, processes=1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.app.runtime is self.runtime:
            self.runtime.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- time -------------------------------------------------------------------------
    def now(self) -> datetime:
        """The simulated time, in the app's time zone."""
        return self.clock.now().astimezone(self.app.tz)

    def _step(self) -> None:
        assert self._scheduler is not None
        self._scheduler.tick()
        self._dispatcher.run_inline()

    def drain(self) -> int:
        """Run until no work is pending; returns how many deliveries ran.

        Retry back-offs, message delays and stream windows are waited out by moving the clock;
        schedules fire only if their time comes while waiting for such work.
        """
        assert self._scheduler is not None
        ran = 0
        for _ in range(self.MAX_STEPS):
            ran += self._dispatcher.run_inline()
            wake = self._dispatcher.next_wakeup()
            if wake is None:
                break
            due = self._scheduler.next_due()
            self.clock.set(min(wake, due) if due is not None else wake)
            self._scheduler.tick()
        else:
            raise CauceError("drain() did not settle",
                             hint="a handler keeps producing work for itself")
        self.runtime.sink.flush()
        return ran

    MAX_FIRINGS = 50_000

    def advance(self, span: DurationLike | timedelta) -> None:
        """Move the clock forward by ``span``, firing every schedule due on the way, in order,
        and running the work each produces before the next.

        Each firing is a whole run (about a millisecond), so a span that would fire more than
        `MAX_FIRINGS` runs is refused up front rather than left to run for minutes."""
        assert self._scheduler is not None
        target = self.clock.time() + parse_duration(span, what="advance")
        firings = self._firings(self.clock.time(), target)
        if firings > self.MAX_FIRINGS:
            raise CauceError(f"advance({span!r}) would fire about {firings:,.0f} scheduled "
                             f"runs (more than {self.MAX_FIRINGS:,}), each a whole run of about "
                             "a millisecond",
                             hint="advance a shorter span, or give the test a coarser schedule "
                             "(e.g. its interval as a setting)")
        for _ in range(self.MAX_STEPS * 10):
            self._step()
            candidates = [t for t in (self._scheduler.next_due(), self._dispatcher.next_wakeup())
                          if t is not None]
            nxt = min(candidates) if candidates else None
            if nxt is None or nxt > target:
                break
            self.clock.set(nxt)
        self.clock.set(target)
        self._step()
        self.runtime.sink.flush()

    def _firings(self, start: float, end: float) -> float:
        """About how many times the schedules fire in (start, end]: the span over the shortest
        of each schedule's first gaps (counting cron ticks one by one would cost as much)."""
        assert self._scheduler is not None
        total = 0.0
        for schedule in self._scheduler.schedules.values():
            ticks = [schedule.next_after(start)]
            for _ in range(3):
                ticks.append(schedule.next_after(ticks[-1]))
            gap = min(b - a for a, b in itertools.pairwise(ticks))
            if ticks[0] <= end:
                total += 1 + (end - ticks[0]) / max(gap, 1e-3)
        return total

    # -- running and inspecting -------------------------------------------------------
    def run(self, job: Job | str, partition: str | None = None, **params: Any) -> Run:
        """Run a job now, in the foreground (as `cauce run`); downstream jobs are queued."""
        return self.runtime.run(job, partition, **params)

    def submit(self, job: Job | str, partition: str | None = None, **params: Any) -> str:
        """Queue a job run for the next `drain`."""
        target = self.app.get_job(job) if isinstance(job, str) else job
        return self.runtime.submit(target, partition=partition, params=params)

    def runs(self, job: Job | Handler | str | None = None, *, status: str | None = None,
             partition: str | None = None) -> list[Run]:
        """Runs, oldest first."""
        return self.runtime.runs(job, status=status, partition=partition)

    def logs(self, run_id: str | None = None, *, stream: str | None = None) -> list[LogLine]:
        return self.runtime.logs(run_id, stream=stream)

    def dlq(self, target: Queue | Handler | Job | str) -> list[Message]:
        return self.runtime.dlq(target)

    def dlq_errors(self, target: Queue | Handler | Job | str) -> list[str | None]:
        return self.runtime.dlq_errors(target)

    def replay(self, target: Queue | Handler | Job | str) -> int:
        return self.runtime.replay(target)

    @property
    def settings(self) -> Any:
        return self.runtime.settings

    def configure(self, **settings: Any) -> None:
        """Change settings for what runs next (see `Runtime.configure`)."""
        self.runtime.configure(**settings)

    def bucket(self, name: str) -> Any:
        return self.runtime.bucket(name)

    def queue(self, name: str) -> Any:
        return self.runtime.queue(name)

    def table(self, name: str) -> Any:
        return self.runtime.table(name)

    def topic(self, name: str) -> Any:
        return self.runtime.topic(name)

    def stream(self, name: str) -> Any:
        return self.runtime.stream(name)

    def warehouse(self, name: str) -> Any:
        return self.runtime.warehouse(name)
