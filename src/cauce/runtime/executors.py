"""Executors: where a run executes — this thread, a child process, or a Dask cluster.

Whatever the executor, the dispatcher (or `cauce run`) claims the run, keeps its lease, and
settles it in the state store; an executor only executes a `RunSpec` and says how it ended
(an `Outcome`). So a run on Dask has the same record, log stream, retries and dead letters as
one run here. Handlers always run here: executors are for job runs.

Which executor a job's runs use, first that is given: the runtime's ``executor`` (the
`--executor` option), the job's ``executor=`` declaration, the ``executor`` setting
(``CAUCE_EXECUTOR``, ``executor =`` in cauce.toml), else ``local``. A job declared
``executor="dask"`` goes to the scheduler the setting names, if it names one.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from ..app import Job
from ..errors import ConfigError
from ..executor_urls import DASK, LOCAL, parse_executor
from .execute import Outcome, RunSpec, execute
from .interrupts import ThreadRuns
from .processes import ProcessLauncher

if TYPE_CHECKING:
    from .runtime import Runtime


class Executor(Protocol):
    """Executes runs and reports how they ended; never raises for the run's own errors."""

    def execute(self, spec: RunSpec, cancel: threading.Event) -> Outcome:
        """Run ``spec`` (blocking the calling thread) until it ends or ``cancel`` is set."""
        ...

    def slots(self) -> int:
        """How many runs it executes at once (the default parallelism of a backfill)."""
        ...

    def close(self) -> None:
        """Release what it holds (a cluster, a connection)."""
        ...


class ThreadExecutor:
    """Runs in the calling thread: today's behaviour, and the fastest for small work. A job run
    that ignores its cancel flag is interrupted (`cauce.runtime.interrupts`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.jobs = ThreadRuns(runtime)

    def execute(self, spec: RunSpec, cancel: threading.Event) -> Outcome:
        if not spec.is_job:
            return execute(self.runtime, spec, cancel)
        return self.jobs.run(spec, cancel, lambda: execute(self.runtime, spec, cancel))

    def slots(self) -> int:
        return 1

    def close(self) -> None:
        pass


class Executors:
    """The executors of one runtime: chosen per job, opened on first use, closed with it."""

    def __init__(self, runtime: Runtime, choice: str | None = None) -> None:
        self.runtime = runtime
        self.choice = parse_executor(choice) if choice else None
        self.thread = ThreadExecutor(runtime)
        self.processes = ProcessLauncher(runtime)
        self._remote: dict[str, Executor] = {}
        self._lock = threading.Lock()

    def url_for(self, job: Job) -> str:
        """The executor URL of ``job``'s runs (see the module's docstring)."""
        if self.choice is not None:
            return self.choice
        configured, where = self.runtime.config.executor()
        setting = None
        if configured is not None:
            try:
                setting = parse_executor(configured)
            except ConfigError as err:
                raise ConfigError(f"{where}: {err}", hint=err.hint) from None
        if job.executor == DASK and setting is not None and setting.startswith(DASK):
            return setting
        return job.executor or setting or LOCAL

    def remote(self, job: Job) -> Executor | None:
        """The executor outside this process that runs ``job`` (opened now if need be), or
        None when its runs execute here."""
        url = self.url_for(job)
        if url == LOCAL:
            return None
        with self._lock:
            found = self._remote.get(url)
            if found is None:
                from .dask_executor import DaskExecutor

                found = self._remote[url] = DaskExecutor(self.runtime, url)
        return found

    def open_all(self) -> None:
        """Open now the executors the app's jobs use, so that a cluster that cannot be reached
        stops `serve` at its start rather than failing runs later."""
        for job in self.runtime.app.jobs.values():
            self.remote(job)

    def pick(self, spec: RunSpec, *, in_child: bool) -> Executor:
        """The executor of one run: a job's remote executor if it has one, else a child process
        (``in_child``) or this thread."""
        if isinstance(spec.target, Job):
            remote = self.remote(spec.target)
            if remote is not None:
                return remote
        return self.processes if in_child else self.thread

    def slots(self, job: Job) -> int:
        """How many runs of ``job`` its executor takes at once."""
        remote = self.remote(job)
        return remote.slots() if remote is not None else 1

    def close(self) -> None:
        with self._lock:
            remote, self._remote = list(self._remote.values()), {}
        for executor in remote:
            executor.close()
