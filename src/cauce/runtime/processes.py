"""Process workers: a job declared ``worker="process"`` runs in a child process of its own, and
so does a delivery that must run alone because its last worker died while running it.

The child imports the app by its ``module:attribute`` reference, opens the same home, runs the
job or handler and reports how it ended through a pipe. It leads a process group of its own, so
a cancellation or a timeout stops it together with any program it started. A child that dies
without reporting — killed, out of memory, crashed — is a *lost* outcome, which counts toward
the message's ``max_receives`` as a worker's death does; the serving process carries on. The
serving process's own death, the other way round, does not count against a child's message
(`cauce.runtime.sources`), and stops the child (`_stop_when_orphaned`).
"""

from __future__ import annotations

import errno
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import causes
from ..backends.state import sqlite_path, sqlite_url
from ..errors import CauceError
from ..events import ObjectRef
from .execute import Outcome, Position, RunSpec, execute
from .interrupts import timed_out

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .runtime import Runtime


@dataclass(frozen=True)
class ChildTask:
    """What a child process needs to run one job or handler delivery (all of it picklable)."""

    app_ref: str
    home: str
    state: str
    settings: dict[str, Any]
    kind: str
    name: str
    run_id: str
    attempt: int
    event_id: str | None
    partition: str | None
    params: dict[str, Any]
    payload: Any = None
    window: tuple[datetime, datetime] | None = None
    shard: int | None = None
    position: Position | None = None


@dataclass(frozen=True)
class _ObjectPayload:
    """An `ObjectRef` on its way to a child (which has its own Bucket objects)."""

    bucket: str
    key: str
    size: int
    created_at: datetime


def _portable(payload: Any) -> Any:
    if isinstance(payload, ObjectRef):
        return _ObjectPayload(payload.bucket.name, payload.key, payload.size, payload.created_at)
    return payload


def _restored(payload: Any, app: Any) -> Any:
    if isinstance(payload, _ObjectPayload):
        return ObjectRef(app.resources[payload.bucket], payload.key, payload.size,
                         payload.created_at)
    return payload


def load_app(reference: str) -> Any:
    """Import ``module:attribute`` and return the attribute."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute or "app")


def child_task(runtime: Runtime, spec: RunSpec) -> ChildTask:
    """What another process needs to run ``spec`` of ``runtime``'s app (raises CauceError when
    the app has no ``module:attribute`` reference another process could import)."""
    reference = runtime.app_ref
    if reference is None:
        raise CauceError(f"{spec.target.name!r} runs in another process, but app "
                         f"{runtime.app.name!r} cannot be imported by reference",
                         hint="run it as module:attribute")
    return ChildTask(reference, str(runtime.home), _absolute(runtime.state_url),
                     dict(runtime.overrides),
                     "job" if spec.is_job else "handler", spec.target.name, spec.run_id,
                     spec.attempt, spec.event_id, spec.partition, dict(spec.params or {}),
                     _portable(spec.payload), spec.window, spec.shard, spec.position)


def _absolute(state_url: str) -> str:
    """``state_url`` as any process sees it, whatever its working directory (a Dask worker's is
    not ours): a SQLite file's path made absolute."""
    if state_url.startswith("sqlite:///") and state_url != "sqlite:///:memory:":
        return sqlite_url(sqlite_path(state_url))
    return state_url


def spec_of(task: ChildTask, app: Any) -> RunSpec:
    """The run a task describes, on ``app`` as imported by the process that runs it."""
    target = app.get_job(task.name) if task.kind == "job" else app.handlers[task.name]
    return RunSpec(task.run_id, target, task.attempt, task.event_id, task.partition,
                   task.params, _restored(task.payload, app), task.window, task.shard,
                   task.position)


def _child_main(task: ChildTask, conn: Connection) -> None:
    os.setsid()  # lead a process group of our own, apart from the serving process
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    # SIGTERM from the parent means "cancel": the run stops its programs (ctx.run_command gives
    # each its own process group) and ends; the parent sends SIGKILL if that takes too long.
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: cancel.set())
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        threading.Thread(target=_stop_when_orphaned, args=(parent.pid, cancel), daemon=True,
                         name="cauce-orphan-watch").start()
    _printable_output()
    from .runtime import Runtime

    outcome: Outcome
    try:
        app = load_app(task.app_ref)
        with Runtime(app, home=Path(task.home), settings=task.settings, role="child",
                     state=task.state) as runtime:
            outcome = execute(runtime, spec_of(task, app), cancel)
            runtime.sink.flush()
    except BaseException as err:  # the child could not even start the job: report it
        outcome = Outcome(ok=False, error=f"process worker failed: {type(err).__name__}: {err}")
    try:
        try:
            conn.send(outcome)
        except (TypeError, ValueError, AttributeError):
            conn.send(Outcome(ok=outcome.ok, error=outcome.error, cancelled=outcome.cancelled,
                              traceback=outcome.traceback))
    except OSError:  # the serving process is gone (killed): nobody is left to tell, and the
        return       # lease it held brings the run back to another
    conn.close()


def _stop_when_orphaned(parent: int, cancel: threading.Event) -> None:
    """Stop this child once the serving process that started it is gone (killed: its child
    is handed to another parent): nobody is left to hear how the run ends, and the run's lease,
    taken back at once on this machine, has it run again elsewhere, so going on would run it
    twice at once. Stopped as a cancellation stops it (its programs too), then ended
    `ORPHAN_GRACE` seconds later if the job went on."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL)
    cancel.set()
    time.sleep(ORPHAN_GRACE)
    os._exit(1)


# seconds between looks at the child's parent, and a job's time to stop once it is gone
ORPHAN_POLL = 0.5
ORPHAN_GRACE = 3.0


def _printable_output() -> None:
    """The child's stdout and stderr write what their encoding cannot hold as its nearest
    ASCII, as the `cauce` command's own do (`cauce.fallbacks`): a job that printed ``Ñuñoa``
    in an ASCII locale failed with UnicodeEncodeError in a process worker, and ran in a
    thread."""
    from ..fallbacks import ERRORS

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=ERRORS)


class ProcessLauncher:
    """Runs job deliveries in child processes and waits for them (from a worker thread)."""

    POLL = 0.2

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._context = multiprocessing.get_context("spawn")

    def execute(self, spec: RunSpec, cancel: threading.Event) -> Outcome:
        try:
            task = child_task(self.runtime, spec)
        except CauceError as err:
            return Outcome(ok=False, error=f"{err}; {err.hint}")
        receiver, sender = self._context.Pipe(duplex=False)
        child = self._context.Process(target=_child_main, args=(task, sender),
                                      name=f"cauce-{spec.run_id}")
        try:
            child.start()
        except OSError as err:  # fork's EAGAIN or ENOMEM: a limit, not a bug of cauce's
            sender.close()
            receiver.close()
            cause = causes.of(err) or (causes.threads("process")
                                       if err.errno == errno.EAGAIN else None)
            if cause is None:
                raise
            return Outcome(ok=False, error=f"its process could not be started: {cause.reason} "
                           f"({type(err).__name__}: {err}) (hint: {cause.hint})")
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
                    return timed_out(timeout, "the process was stopped")
            child.join(timeout=5)
            error = f"the process running it died ({_death(child.exitcode)})"
            if (hint := _death_hint(child.exitcode)) is not None:
                error += f" (hint: {hint})"
            return Outcome(ok=False, lost=True, error=error)
        finally:
            receiver.close()
            if child.is_alive():
                self._stop(child)
            child.join(timeout=5)

    def slots(self) -> int:
        return os.cpu_count() or 1

    def close(self) -> None:
        pass  # each child is waited for by the thread that started it

    @property
    def available(self) -> bool:
        """Whether children can import the app (it has a ``module:attribute`` reference)."""
        return self.runtime.app_ref is not None

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


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _death_hint(exitcode: int | None) -> str | None:
    """What a child killed by a signal most likely ran into: memory, for SIGKILL (the kernel's
    out-of-memory killer) and SIGABRT (native code, as Polars', aborts when an allocation
    fails), named with this process's limit on it, which the child had too."""
    if exitcode == -signal.SIGKILL:
        return ("it ran out of memory if the kernel's out-of-memory killer stopped it (dmesg "
                "says so): " + causes.memory().hint)
    if exitcode == -signal.SIGABRT:
        return ("native code aborted it, as it does when memory cannot be had (its log ends "
                "where it was): " + str(causes.memory()))
    return None
