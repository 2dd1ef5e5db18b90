"""Context: what a job or handler receives besides its event — identity, settings, log, tools."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConditionFailed
from .runtime.commands import CommandResult, run_command

if TYPE_CHECKING:
    from .app import App, Job
    from .runtime.execute import Position
    from .runtime.runtime import Runtime
    from .settings import Settings


class Context:
    """One run's view of the world. Created by the runtime; passed as ``ctx``."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        app: App,
        name: str,
        run_id: str,
        attempt: int = 1,
        event_id: str | None = None,
        partition: str | None = None,
        partition_date: date | None = None,
        params: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
        window: tuple[datetime, datetime] | None = None,
        shard: int | None = None,
        position: Position | None = None,
    ) -> None:
        self._runtime = runtime
        self.app = app
        self.name = name
        self.run_id = run_id
        self.attempt = attempt
        self.event_id = event_id or run_id
        self.partition = partition
        self.partition_date = partition_date
        self.params: dict[str, Any] = dict(params or {})
        self.window = window
        self.shard = shard
        self._position = position
        self._depth = 0
        self._cancel = cancel or threading.Event()
        self._workdir: Path | None = None
        self._progress_logged: tuple[str, float] = ("", float("-inf"))
        self.log = logging.getLogger(f"cauce.app.{app.name}.{name}")
        if self.log.level != logging.DEBUG:  # setLevel walks every logger: once, not per run
            self.log.setLevel(logging.DEBUG)

    def __repr__(self) -> str:
        part = f" partition={self.partition}" if self.partition else ""
        return (f"<Context {self.app.name}.{self.name} run={self.run_id} "
                f"attempt={self.attempt}{part}>")

    @property
    def settings(self) -> Settings:
        return self._runtime.settings_for(self.app)

    @property
    def home(self) -> Path:
        return self._runtime.home

    @property
    def workdir(self) -> Path:
        """A scratch folder for this run, removed when the run ends."""
        if self._workdir is None:
            self._workdir = self._runtime.home / "work" / self.run_id
            self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    def now(self) -> datetime:
        """Now, as an aware UTC datetime, from the runtime's clock."""
        return self._runtime.clock.now()

    def sleep(self, seconds: float) -> None:
        """Wait on the runtime's clock (a simulated clock just moves on)."""
        self._runtime.clock.sleep(seconds)

    def local_now(self) -> datetime:
        """Now in the app's time zone."""
        return self.now().astimezone(self.app.tz)

    @property
    def cancelled(self) -> bool:
        """True once someone asked to cancel this run (`cauce runs cancel`)."""
        return self._cancel.is_set()

    def run_command(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        timeout: float | None = None,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Run a program, streaming its stdout/stderr into this run's log stream line by line.

        Raises CommandFailed on a non-zero exit (unless ``check=False``), CommandTimeout after
        ``timeout`` seconds, RunCancelled if the run is cancelled meanwhile.
        """
        return run_command(argv, log=self.log, cancelled=self._cancel.is_set, timeout=timeout,
                           cwd=cwd, env=env, check=check)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group this run's writes to tables, queues and topics in one state transaction:
        they all happen or none does. In a stream handler the block also moves the handler's
        checkpoint past this batch, so a crash never repeats effects already committed (the
        batch is delivered again only while the block has not committed). Nested blocks are
        savepoints; only the outermost moves the checkpoint."""
        state = self._runtime.state
        with state.atomic():
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            where = self._position
            if self._depth == 0 and where is not None and not state.streams.advance(
                    where.stream, where.consumer, where.shard, where.lease, seq=where.seq):
                raise ConditionFailed(
                    f"{self.name}: shard {where.shard} of stream {where.stream.split(':')[-1]!r} "
                    "was taken over (this delivery's lease expired); nothing was committed",
                    hint="keep a batch's work shorter than the handler's visibility timeout")

    def submit(self, job: Job | str, partition: str | None = None, **params: Any) -> str:
        """Queue a run of ``job`` (for a partition, with options); returns the run id."""
        target = self.app.get_job(job) if isinstance(job, str) else job
        return self._runtime.submit(target, partition=partition, params=params,
                                    trigger=f"submitted by {self.run_id}")

    def pause_schedule(self, reason: str) -> None:
        """Stop this job's schedule (until `cauce schedules APP --resume JOB`), saying why."""
        kept = self._runtime.pause_schedule(self.app, self.name, reason)
        self.log.info("schedule paused: %s", kept)

    def resume_schedule(self, job: Job | str | None = None) -> bool:
        """Let a schedule paused with `pause_schedule` fire again: this job's, or ``job``'s
        of the same app. True when it was paused (a schedule that is not is left as it is)."""
        target = (
            self.app.get_job(job or self.name) if job is None or isinstance(job, str) else job
        )
        paused = any(state["job"] == target.name and state["paused"]
                     for state in self._runtime.schedule_states())
        if paused:
            self._runtime.resume_schedule(target)
            self.log.info("schedule of %s resumed", target.name)
        return paused

    PROGRESS_LINE_EVERY = 5.0  # seconds between two progress lines in the log stream

    def progress(self, done: float, total: float | None = None, label: str = "") -> None:
        """Report progress: `cauce run` and `cauce backfill` show a bar on a terminal, and the
        run's log stream gets a line when the label changes, when done reaches total, and at
        most every few seconds otherwise (piped output shows those lines)."""
        self._runtime.report_progress(self.run_id, done, total, label)
        now = time.monotonic()
        last_label, last_at = self._progress_logged
        finished = total is not None and done >= total
        if label != last_label or finished or now - last_at >= self.PROGRESS_LINE_EVERY:
            self._progress_logged = (label, now)
            amount = f"{done:,.0f}/{total:,.0f}" if total is not None else f"{done:,.0f}"
            share = f" ({100 * done / total:.0f}%)" if total else ""
            self.log.info("progress: %s%s%s", f"{label}: " if label else "", amount, share,
                          extra={"progress": True})

    def _cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
