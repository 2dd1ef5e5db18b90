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
    asked: float | None = None  # when its cancel flag was first seen set (monotonic)
    interrupted: bool = False


class ThreadRuns:
    """The job runs executing in this process's worker threads, and the watcher thread (alive
    only while there are some) that interrupts those that ignore their cancel flag."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._watcher: threading.Thread | None = None

    def run(self, spec: RunSpec, cancel: threading.Event, call: Callable[[], Outcome]) -> Outcome:
        """``call()``, watched: interrupted when ``cancel`` stays set for `GRACE` seconds."""
        if threading.current_thread() is threading.main_thread():
            return call()
        ident = threading.get_ident()
        with self._lock:
            self._running[spec.run_id] = _Running(spec, ident, cancel)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, daemon=True,
                                                 name="cauce-interrupts")
                self._watcher.start()
        try:
            return call()
        except Interrupted:
            return Outcome(ok=False, error=INTERRUPTED, cancelled=True)
        finally:
            # one raised just as the run ended has nothing left to stop
            with contextlib.suppress(Interrupted):
                self._forget(spec.run_id)

    def _forget(self, run_id: str) -> None:
        with self._lock:
            running = self._running.pop(run_id)
            if running.interrupted:
                _raise_in(running.ident, None)  # one not raised yet must not hit later work

    def _watch(self) -> None:
        while True:
            time.sleep(CHECK_EVERY)
            now, due = time.monotonic(), []
            with self._lock:
                if not self._running:
                    self._watcher = None
                    return
                for running in self._running.values():
                    if running.interrupted or not running.cancel.is_set():
                        continue
                    if running.asked is None:
                        running.asked = now
                    elif now - running.asked >= GRACE:
                        running.interrupted = True
                        _raise_in(running.ident, Interrupted)
                        due.append(running.spec)
            for spec in due:
                self.runtime.sink.write(spec.target.app.name, spec.stream_name, logging.WARNING,
                                        f"run {INTERRUPTED}", spec.run_id)
