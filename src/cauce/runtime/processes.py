"""Process workers: a job declared ``worker="process"`` runs in a child process of its own.

The child imports the app by its ``module:attribute`` reference, opens the same home, runs the
job and reports how it ended through a pipe. It leads a process group of its own, so a
cancellation or a timeout stops it together with any program it started.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .execute import Outcome, RunSpec, execute

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .runtime import Runtime


@dataclass(frozen=True)
class ChildTask:
    """What a child process needs to run one job (all of it picklable)."""

    app_ref: str
    home: str
    settings: dict[str, Any]
    job: str
    run_id: str
    attempt: int
    event_id: str | None
    partition: str | None
    params: dict[str, Any]


def load_app(reference: str) -> Any:
    """Import ``module:attribute`` and return the attribute."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute or "app")


def _child_main(task: ChildTask, conn: Connection) -> None:
    os.setsid()  # lead a process group of our own, apart from the serving process
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    # SIGTERM from the parent means "cancel": the run stops its programs (ctx.run_command gives
    # each its own process group) and ends; the parent sends SIGKILL if that takes too long.
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: cancel.set())
    from .runtime import Runtime

    outcome: Outcome
    try:
        app = load_app(task.app_ref)
        with Runtime(app, home=Path(task.home), settings=task.settings, role="child") as runtime:
            job = app.get_job(task.job)
            spec = RunSpec(task.run_id, job, task.attempt, task.event_id, task.partition,
                           task.params)
            outcome = execute(runtime, spec, cancel)
            runtime.sink.flush()
    except BaseException as err:  # the child could not even start the job: report it
        outcome = Outcome(ok=False, error=f"process worker failed: {type(err).__name__}: {err}")
    try:
        conn.send(outcome)
    except (TypeError, ValueError, AttributeError):
        conn.send(Outcome(ok=outcome.ok, error=outcome.error, cancelled=outcome.cancelled,
                          traceback=outcome.traceback))
    conn.close()


class ProcessLauncher:
    """Runs job deliveries in child processes and waits for them (from a worker thread)."""

    POLL = 0.2

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._context = multiprocessing.get_context("spawn")

    def execute(self, spec: RunSpec, cancel: threading.Event) -> Outcome:
        runtime = self.runtime
        reference = runtime.app_ref
        if reference is None:
            return Outcome(ok=False, error=f"job {spec.target.name!r} runs in a process worker, "
                           f"but app {runtime.app.name!r} cannot be imported by reference; "
                           "run it as module:attribute")
        task = ChildTask(reference, str(runtime.home), dict(runtime.overrides), spec.target.name,
                         spec.run_id, spec.attempt, spec.event_id, spec.partition,
                         dict(spec.params or {}))
        receiver, sender = self._context.Pipe(duplex=False)
        child = self._context.Process(target=_child_main, args=(task, sender),
                                      name=f"cauce-{spec.run_id}")
        child.start()
        sender.close()
        timeout = getattr(spec.target, "timeout", None)
        started = time.monotonic()
        try:
            while True:
                if receiver.poll(self.POLL):
                    try:
                        return receiver.recv()
                    except EOFError:
                        break
                if not child.is_alive():
                    break
                if cancel.is_set():
                    self._stop(child)
                    return Outcome(ok=False, error="cancelled", cancelled=True)
                if timeout is not None and time.monotonic() - started > timeout:
                    self._stop(child)
                    return Outcome(ok=False, error=f"timed out after {timeout:.0f} s; "
                                   "the process was stopped")
            child.join(timeout=5)
            return Outcome(ok=False, error=f"the process worker died (exit code {child.exitcode})")
        finally:
            receiver.close()
            if child.is_alive():
                self._stop(child)
            child.join(timeout=5)

    @staticmethod
    def _stop(child: multiprocessing.process.BaseProcess) -> None:
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(child.pid or 0, sig)
            except (ProcessLookupError, PermissionError):
                # not yet its own group leader (it has just started): signal the process itself
                if not child.is_alive():
                    return
                os.kill(child.pid or 0, sig)
            child.join(timeout=wait)
            if not child.is_alive():
                return
