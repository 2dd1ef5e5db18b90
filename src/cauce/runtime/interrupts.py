"""Stopping a job run in a worker thread that does not stop when asked.

A job run in a thread of `cauce serve` or `cauce worker` is asked to stop by setting its cancel
flag — by `cauce runs cancel`, or by the process's shutdown once its grace has passed — and a
job that checks ``ctx.cancelled`` (or runs programs with ``ctx.run_command``) stops at once. One
that never checks is *interrupted* `GRACE` seconds later: `Interrupted` is raised in its thread
(Python's asynchronous exception, the worker-thread twin of what `cauce run` does with a
signal), so its ``finally`` blocks and context managers run and the run ends ``cancelled``.
Python delivers it between two bytecodes: a call into C that blocks (a long ``time.sleep``, a
socket read without a timeout) finishes first. Jobs that must stop at once whatever they do are
declared ``worker="process"``: a child process is stopped by a signal.

A job's ``timeout=`` is kept the same way: once it has passed, its cancel flag is set (the
run's log says why) and the job is interrupted `GRACE` seconds later if it has not ended; the
run then fails with "timed out", and is retried like any failure.

Only job runs in threads other than the main one are watched (a foreground run has its own
`Stopper`); handler runs are not.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .execute import Outcome, RunSpec
from .foreground import GRACE, Interrupted

if TYPE_CHECKING:
    from .runtime import Runtime

CHECK_EVERY = 0.5  # seconds between two looks at the running job runs
INTERRUPTED = (f"cancelled: it did not stop within {GRACE:.0f} s of being asked "
               "(it never checked ctx.cancelled) and was interrupted")


def timed_out(timeout: float, how: str) -> Outcome:
    """The outcome of a job run stopped because its ``timeout=`` passed (a failure, retried)."""
    return Outcome(ok=False, error=f"timed out after {timeout:g} s; {how}")


def _raise_in(ident: int, exception: type[BaseException] | None) -> None:
    """Raise ``exception`` in the thread ``ident`` at its next bytecode (None: take back one
    that was not raised yet)."""
    import ctypes  # only when a run is interrupted: it costs every `import cauce` otherwise

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                               ctypes.py_object(exception) if exception else None)


@dataclass
class _Running:
    spec: RunSpec
    ident: int
    cancel: threading.Event
    deadline: float | None = None  # when its timeout= passes (monotonic)
    asked: float | None = None  # when its cancel flag was first seen set (monotonic)
    interrupted: bool = False
    timed_out: bool = False


class ThreadRuns:
    """The job runs executing in this process's worker threads, and the watcher thread (alive
    only while there are some) that interrupts those that ignore their cancel flag."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._watcher: threading.Thread | None = None

    def run(self, spec: RunSpec, cancel: threading.Event, call: Callable[[], Outcome]) -> Outcome:
        """``call()``, watched: asked to stop once its job's timeout passed, and interrupted
        when ``cancel`` stays set for `GRACE` seconds."""
        if threading.current_thread() is threading.main_thread():
            return call()
        timeout = getattr(spec.target, "timeout", None)
        deadline = time.monotonic() + timeout if timeout is not None else None
        running = _Running(spec, threading.get_ident(), cancel, deadline)
        with self._lock:
            self._running[spec.run_id] = running
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, daemon=True,
                                                 name="cauce-interrupts")
                self._watcher.start()
        try:
            outcome = call()
        except Interrupted:
            outcome = Outcome(ok=False, error=INTERRUPTED, cancelled=True)
        finally:
            # one raised just as the run ended has nothing left to stop
            with contextlib.suppress(Interrupted):
                self._forget(spec.run_id)
        if running.timed_out and not outcome.ok:
            how = "interrupted" if running.interrupted else "asked to stop"
            return timed_out(timeout or 0.0, f"the job was {how}")
        return outcome

    def _forget(self, run_id: str) -> None:
        with self._lock:
            running = self._running.pop(run_id)
            if running.interrupted:
                _raise_in(running.ident, None)  # one not raised yet must not hit later work

    def _watch(self) -> None:
        while True:
            time.sleep(CHECK_EVERY)
            now, lines = time.monotonic(), []
            with self._lock:
                if not self._running:
                    self._watcher = None
                    return
                for running in self._running.values():
                    if self._past_deadline(running, now):
                        lines.append((running.spec, "run timed out after "
                                      f"{running.spec.target.timeout:g} s: asked to stop"))
                    if running.interrupted or not running.cancel.is_set():
                        continue
                    if running.asked is None:
                        running.asked = now
                    elif now - running.asked >= GRACE:
                        running.interrupted = True
                        _raise_in(running.ident, Interrupted)
                        lines.append((running.spec, f"run {INTERRUPTED}"))
            for spec, line in lines:
                self.runtime.sink.write(spec.target.app.name, spec.stream_name, logging.WARNING,
                                        line, spec.run_id)

    @staticmethod
    def _past_deadline(running: _Running, now: float) -> bool:
        """Whether ``running`` has just passed its timeout: its cancel flag is set now."""
        if running.deadline is None or running.timed_out or now < running.deadline:
            return False
        if running.cancel.is_set():  # cancelled already, by a user or the shutdown
            return False
        running.timed_out = True
        running.cancel.set()
        return True
