"""Stopping a run in the foreground (`cauce run`), and finding the ones whose process died.

A run in the foreground stops on SIGINT (Ctrl-C), on SIGTERM, or when `cauce runs cancel` asks
from another process. Each first sets the run's cancel flag, which a job that checks
``ctx.cancelled`` (or runs programs with ``ctx.run_command``) obeys at once; a job that does not
is interrupted where it stands after `GRACE` seconds, or at a second Ctrl-C. Either way the run
ends ``cancelled`` with the reason. Only the job is ever interrupted: once it ended, a signal
changes nothing, so that the run's outcome is recorded and reported whatever moment it lands.

The process of a foreground run is registered as a worker with role ``foreground`` and beats
while the run goes on. A run left ``running`` by a process that was killed (SIGKILL, a crash,
a closed laptop) is *lost*: the next command that opens the home marks it failed, once the
process is gone from this host or its heartbeat is older than `STALE` seconds.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..pids import gone
from ..runs import RunStatus

if TYPE_CHECKING:
    from ..backends.state import StateStore, WorkerRecord

GRACE = 3.0  # seconds a job has to notice its cancellation before it is interrupted
BEAT_EVERY = 5.0
STALE = 30.0  # a registered process that has not beaten for this long is taken for dead
ROLE = "foreground"


class Interrupted(BaseException):
    """Raised in the job's thread to stop a run that did not stop when asked (not an Exception,
    so that the job's own ``except Exception`` does not swallow it)."""


class Stopper:
    """Turns SIGINT/SIGTERM and cancel requests into the cancellation of one foreground run.

    Signal handlers can only be set in the main thread; `install` is for `cauce run`, where the
    run executes there. Without it, a cancel request only sets the flag (library use).

    `Interrupted` is raised only while `executing` (the job runs), and a signal after
    `job_ended` is ignored."""

    #: Whether the job runs. `run_foreground` clears it with a plain store as the job ends:
    #: Python runs a signal's handler at calls and loop jumps, so none lands before the store.
    executing: bool = False

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.signal: int | None = None
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}
        self._timer: threading.Timer | None = None
        self._ended = False

    def install(self) -> None:
        """Handle SIGINT and SIGTERM until `restore`; outside the main thread (where Python
        cannot set handlers) the run stops only when its job checks ``ctx.cancelled``."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self, *, exiting: bool = False) -> None:
        """Put back the handlers `install` found. ``exiting`` (the process ends next) ignores
        SIGINT instead: Python's own handler would turn a late Ctrl-C into a traceback, or, as
        the interpreter shuts down, into a death by the signal."""
        self._cancel_timer()
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_IGN if exiting and sig == signal.SIGINT else handler)
        self._previous.clear()

    @property
    def installed(self) -> bool:
        """Whether its signal handlers are in place (in `cauce run`)."""
        return bool(self._previous)

    @property
    def exit_status(self) -> int | None:
        """128 + the signal that stopped the run, as a shell reports a process it killed."""
        return 128 + self.signal if self.signal is not None else None

    def job_ended(self) -> None:
        """The job ended, however: from now signals and cancel requests change nothing."""
        self._ended = True
        self._cancel_timer()

    def request(self, reason: str) -> None:
        """Ask the run to stop (from any thread); forced after GRACE seconds if installed."""
        if self.cancel.is_set() or self._ended:
            return
        self.reason = self.reason or reason
        self.cancel.set()
        if self._previous:
            self._timer = threading.Timer(GRACE, self._force)
            self._timer.daemon = True
            self._timer.start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _force(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # handled in the main thread, which runs the job

    def _on_signal(self, signum: int, frame: object) -> None:
        # Only flags are set here, except when the job already had its chance to stop: it is
        # then interrupted, but only while it runs.
        if self._ended:
            return
        if not self.cancel.is_set():
            self.signal = signum
            self.request(f"interrupted by {signal.Signals(signum).name}")
        elif self.executing:
            raise Interrupted(self.reason or "interrupted")


def alive(worker: WorkerRecord, now: float) -> bool:
    """Whether a registered process still runs: not stopped, beating, and (on this host) there."""
    if worker.stopped_at is not None or worker.heartbeat_at < now - STALE:
        return False
    return not gone(worker.host, worker.pid)


def reap_lost_runs(state: StateStore, now: float, home: Path | None = None) -> list[str]:
    """Mark failed the foreground runs whose process died without finishing them, and remove
    their work folders under ``home`` (a killed transit day leaves gigabytes there); returns
    their ids. Cheap when there are none: one query of running runs."""
    running = [
        r
        for r in state.runs.query(status=RunStatus.RUNNING.value, limit=None)
        if r.trigger == "manual" and r.worker
    ]
    if not running:
        return []
    workers = {w.id: w for w in state.workers.listing(stopped=True) if w.role == ROLE}
    lost = []
    with state.atomic():
        for run in running:
            worker = workers.get(run.worker or "")
            if worker is None or alive(worker, now):
                continue
            error = (f"lost: its `cauce run` process (pid {worker.pid} on {worker.host}) "
                     "ended without finishing it")
            state.runs.finish(run.id, RunStatus.FAILED, now=now, error=error)
            # its log stopped at its start: it ends with why
            state.logs.append([(run.app, f"{run.name}/{run.id}", now, logging.WARNING,
                                f"run {run.id} failed: {error}", run.id)])
            if worker.stopped_at is None:
                state.workers.stopped(worker.id, now=now)
            lost.append(run.id)
    if home is not None:
        for run_id in lost:
            shutil.rmtree(home / "work" / run_id, ignore_errors=True)
    return lost
