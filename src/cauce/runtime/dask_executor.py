"""Job runs on a Dask cluster: each run one task, recorded in the state store like any other.

The dispatcher here claims the run, keeps its lease and settles it, exactly as for a run in a
thread. What travels to the cluster is a `ChildTask` (the app's ``module:attribute``, the home,
the state URL, the run's id, partition and options), never a live object: the task imports the
app and opens the state by URL itself, so the state store stays the one record of every run
(a PostgreSQL URL for workers on many machines; with SQLite the workers share the file on one
machine).

Failures map onto runs like this. A job that raises is a failed run with its error and
traceback, retried by cauce's own policy (``retries=`` of the job), as here. A Dask worker that
dies mid-run has its task rerun elsewhere by the scheduler (up to
``distributed.scheduler.allowed-failures`` times) under the same run id, so the retry is the
same run, not a second one; after that the run is *lost*, as when a local process dies. A task
that raises outside the job (the app cannot be imported, the state cannot be opened) is retried
by Dask ``RETRIES`` times. A task that finished the job records the run succeeded before it
returns, and a rerun of it (its worker died while handing the result back) finds that record and
does not run the job again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import logging
import os
import socket
import ssl
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import causes
from ..backends.state import engine
from ..errors import CauceError, ConfigError, first_line
from ..executor_urls import scheduler_address
from ..runs import RunStatus
from .execute import Outcome, RunSpec
from .jobs import CancelWatcher
from .processes import ChildTask, child_task, load_app, spec_of

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)

RETRIES = 2  # Dask's retries of a task that raised outside the job itself
CONNECT_TIMEOUT = 5.0  # seconds to reach the scheduler, then as long for it to answer


class DaskExecutor:
    """Submits each run to a Dask cluster and waits for its outcome (from a worker thread)."""

    POLL = 0.2

    def __init__(self, runtime: Runtime, url: str) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError(f"the executor {url!r} needs Dask, which is not installed",
                              hint='pip install "cauce[dask]"') from None
        self.runtime = runtime
        self.url = url
        # what its runs print (print(), sys.stdout, sys.stderr) comes back here, as a run in a
        # thread of this process prints here: to this process's stdout and stderr
        self.topic = f"cauce-print-{os.getpid()}-{id(self):x}"
        logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO chatter: not ours
        address = self._address = scheduler_address(url)
        self._cluster: Any = None
        self._lock = threading.Lock()
        if address is None:
            # a cluster of processes on this machine, one single-threaded worker per core; its
            # HTTP server on any free port (a fixed one may be taken by another cluster)
            workers = os.cpu_count() or 1
            make_room_for_files(FILES_BESIDE_A_CLUSTER + FILES_PER_LOCAL_WORKER * workers,
                                f"a local Dask cluster of {workers} worker(s)")
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                         processes=True, dashboard_address=":0")
            self.client = Client(self._cluster)
            self.client.subscribe_topic(self.topic, _print_here)
        else:
            self.client = _connect(address)
            self.client.subscribe_topic(self.topic, _print_here)
            if not self.client.scheduler_info().get("workers"):
                log.warning("the Dask scheduler at %s has no workers: runs sent to it wait "
                            "until one joins (`dask worker %s`)", address, address)

    def slots(self) -> int:
        """The threads of the cluster's workers, now."""
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(w.get("nthreads", 1) for w in workers.values()))

    def execute(self, spec: RunSpec, cancel: threading.Event) -> Outcome:
        from distributed import CancelledError, KilledWorker

        try:
            task = child_task(self.runtime, spec)
            client = self._live_client()
        except CauceError as err:
            return Outcome(ok=False, error=f"{err}; {err.hint}")
        future = client.submit(run_task, task, self.topic,
                               key=f"cauce-{spec.run_id}-{spec.attempt}",
                               retries=RETRIES, pure=False)
        # no deadline here: the task keeps its job's timeout= on the worker from when the job
        # starts there, not from now, while the task may wait for a free worker
        try:
            while True:
                try:
                    return future.result(timeout=self.POLL)
                except TimeoutError:
                    pass
                except UnboundLocalError:
                    # distributed's sync() when its wait was cancelled instead of answered (its
                    # client closing as the scheduler went away): looked at again, as after a
                    # timeout, unless it is the task's own error
                    if future.status == "error":
                        raise
                if client.status in ("closing", "closed"):  # no answer will come
                    raise CancelledError(future.key)
                if cancel.is_set():
                    future.cancel()
                    return Outcome(ok=False, error="cancelled", cancelled=True)
        except KilledWorker:
            return Outcome(ok=False, lost=True, error="the Dask workers running it died "
                           "(killed, out of memory or crashed: see their logs)")
        except CancelledError:
            return Outcome(ok=False, lost=True,
                           error="the Dask scheduler dropped its task (restarted or gone)")
        except Exception as err:  # the task itself raised, RETRIES + 1 times
            return self._task_failed(spec, err)
        finally:
            future.release()

    def _task_failed(self, spec: RunSpec, err: Exception) -> Outcome:
        """The outcome of a task that raised outside the job (the app could not be imported,
        the state opened), its error and traceback written in the run's log, where the job's
        own failure would be."""
        error = first_line(f"its Dask task failed: {type(err).__name__}: {err}")
        module = (self.runtime.app_ref or "").partition(":")[0]
        if isinstance(err, ModuleNotFoundError) and err.name and module.startswith(err.name):
            found = getattr(sys.modules.get(module), "__file__", None)
            where = f"PYTHONPATH={Path(found).parent}" if found else "its package installed"
            error += (f" (hint: Dask workers import the app as {module!r}: start them where it "
                      f"can be imported, e.g. with {where})")
        trace = "".join(traceback.format_exception(err)).rstrip()
        self.runtime.sink.write(spec.target.app.name, spec.stream_name, logging.ERROR,
                                f"attempt {spec.attempt} failed: {error}\n{trace}", spec.run_id)
        return Outcome(ok=False, error=error, traceback=trace)

    def _live_client(self) -> Any:
        """The client, connected anew if Dask closed it (its scheduler was gone for longer than
        Dask waits to reconnect); raises CauceError while the scheduler cannot be reached."""
        with self._lock:
            if self._address is not None and self.client.status in ("closing", "closed"):
                self.client.close()
                self.client = _connect(self._address)
                self.client.subscribe_topic(self.topic, _print_here)
            return self.client

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _print_here(event: tuple[float, Any]) -> None:
    """Write what a run printed on its Dask worker to this process's stdout or stderr."""
    _, said = event
    if isinstance(said, dict) and isinstance(said.get("text"), str):
        stream = sys.stderr if said.get("fd") == 2 else sys.stdout
        with contextlib.suppress(OSError, ValueError):  # a closed or broken terminal
            stream.write(said["text"])
            stream.flush()


# Open files a local cluster takes in this process (the scheduler's and nannies' sockets and
# pipes, some 18 per worker at rest, more at work) and the serving process beside it (its
# threads' connections to the state). Below that the scheduler's accept loop fails on every
# turn and logs it: 200,000 lines in 45 s of `cauce serve` at `ulimit -n 64` on two cores.
FILES_PER_LOCAL_WORKER = 24
FILES_BESIDE_A_CLUSTER = 64


def make_room_for_files(needed: int, what: str) -> None:
    """Let this process open ``needed`` files: its soft limit raised up to that, when its
    hard limit allows (as macOS's default soft limit of 256 needs for many cores); else a
    ConfigError naming the limit, before anything is started that would fail on it."""
    limit = causes.open_file_limit()
    if limit is None:
        return
    soft, hard = limit
    if causes.unlimited(soft) or soft >= needed:
        return
    if causes.unlimited(hard) or hard >= needed:
        causes.set_open_file_limit(needed, hard)
        log.info("raised this process's limit on open files from %d to %d for %s", soft,
                 needed, what)
        return
    raise ConfigError(
        f"{what} needs about {needed} open files, and this process may have {soft} "
        "(ulimit -n, its hard limit too)",
        hint=f"raise it (`ulimit -n {max(needed, 4096)}` as root, nofile in "
        "/etc/security/limits.conf, LimitNOFILE= for a systemd service), or run on --executor "
        "local or a cluster elsewhere (dask://HOST:PORT)")


def _connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address``, once `check_scheduler` found one."""
    from distributed import Client

    security = _security(address)  # certificates missing: said before the network is tried
    check_scheduler(address, CONNECT_TIMEOUT)
    return Client(address, timeout=f"{CONNECT_TIMEOUT}s", security=security)


# Dask's settings naming a client's TLS files, as its configuration and environment spell them
TLS_SETTINGS = ("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT",
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY")


def _security(address: str) -> Any:
    """Dask's security settings from its configuration (``distributed.comm.tls.*``, or the
    ``DASK_DISTRIBUTED__COMM__TLS__...`` variables); for a ``tls://`` scheduler they must name
    the cluster's CA and this client's certificate, or there is nothing to connect with."""
    from distributed.security import Security

    security = Security()
    if address.startswith("tls://") and not (security.tls_ca_file and security.tls_client_cert):
        raise CauceError(f"the Dask scheduler at {address} takes TLS, and Dask's configuration "
                         "names no certificates for this client",
                         hint="set " + ", ".join(TLS_SETTINGS) + " (the cluster's CA, this "
                         "client's certificate and key; or distributed.comm.tls.* in Dask's "
                         "config file)")
    return security


def check_scheduler(address: str, timeout: float) -> None:
    """Raise CauceError, with a hint, unless a Dask scheduler answers at ``address``
    (``tcp://host:port``): within ``timeout`` seconds to connect, and as many to answer.

    Dask's own client waits forever for a server that accepts the connection but never speaks
    its protocol (Redis), or fails on what one says instead (a length of petabytes read from
    an AMQP greeting): so the address is asked here first, under deadlines of our own."""
    host, _, port = address.partition("://")[2].rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        why = (f"within {timeout:g} s" if isinstance(err, TimeoutError)
               else f"({err.strerror or err})")
        raise CauceError(f"cannot reach the Dask scheduler at {address} {why}",
                         hint="start one with `dask scheduler"
                         + (" --protocol tls` (and its certificates)" if address.startswith("tls://")
                            else "`")
                         + f" and `dask worker {address}`, "
                         "or use --executor dask for a cluster on this machine") from None
    kind = _server_kind(address, timeout)
    if kind != "Scheduler":
        what = f"a Dask {kind}" if kind else "something that does not speak Dask's protocol"
        tls = ("; a scheduler started with TLS is written dask+tls://"
               + address.removeprefix("tcp://") if address.startswith("tcp://") else "")
        raise CauceError(f"{address} is not a Dask scheduler: {what} answers there",
                         hint="give the scheduler's own port (8786 unless `dask scheduler "
                         "--port` said otherwise), not its dashboard's nor a worker's" + tls)


def _server_kind(address: str, timeout: float) -> str | None:
    """What kind of Dask server answers at ``address`` (``Scheduler``, ``Worker``, ``Nanny``);
    None when what answers is not one. Asked from a thread of its own, so that neither an
    event loop running in the caller's thread nor a server that never answers holds it up."""
    from distributed.comm import connect

    security = _security(address)

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout,
                             **security.get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    found: list[Any] = []
    refused: list[ssl.SSLError] = []

    def ask() -> None:
        # garbage read as Dask's frames fails in any way (MemoryError, ValueError, …)
        try:
            found.append(asyncio.run(asyncio.wait_for(identity(), timeout)))
        except Exception as err:
            refused.extend(e for e in _causes(err) if isinstance(e, ssl.SSLError))

    asker = threading.Thread(target=ask, daemon=True, name="cauce-dask-identity")
    asker.start()
    asker.join(timeout + 1)
    if refused:
        why = getattr(refused[0], "verify_message", None) or refused[0].reason or refused[0]
        raise CauceError(f"the TLS handshake with the Dask scheduler at {address} failed: "
                         f"{first_line(str(why))}",
                         hint="the CA, certificate and key in " + ", ".join(TLS_SETTINGS)
                         + " must be the cluster's")
    reply = found[0] if found else None
    kind = reply.get("type") if isinstance(reply, dict) else None
    return kind if isinstance(kind, str) else None


def _causes(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the errors it was raised from or during, innermost last."""
    seen: set[int] = set()
    found: BaseException | None = err
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        yield found
        found = found.__cause__ or found.__context__


# -- on the Dask worker -------------------------------------------------------------------
@dataclass
class _Attached:
    runtime: Runtime
    key: tuple[str, str, str]
    users: int = 0


_lock = threading.Lock()
_attached: dict[str, _Attached] = {}  # app reference → its runtime in this worker process


def run_task(task: ChildTask, printed_to: str | None = None) -> Outcome:
    """Execute one run on a Dask worker: the function the cluster is sent. What the run prints
    goes, as Dask events of topic ``printed_to``, to the process that sent it."""
    with _runtime_for(task) as runtime, _printing_to(printed_to):
        earlier = runtime.state.runs.get(task.run_id)
        if earlier is not None and earlier.succeeded:  # a rerun of a task that had finished
            return Outcome(ok=True, result=earlier.result)
        spec = spec_of(task, runtime.app)
        runtime.sink.write(runtime.app.name, spec.stream_name, logging.INFO,
                           f"run {task.run_id} on Dask worker {_worker_address()}", task.run_id)
        cancel = threading.Event()
        watcher = CancelWatcher(runtime, task.run_id, cancel, abandoned=_abandoned())
        watcher.start()
        try:
            # as in a worker thread of `cauce serve`: its timeout= and a cancellation set its
            # cancel flag, and a job that does not stop is interrupted GRACE seconds later
            outcome = runtime.executors.thread.execute(spec, cancel)
        finally:
            watcher.stop()
        if outcome.ok and _unsettled(runtime, task.run_id):
            runtime.state.runs.finish(task.run_id, RunStatus.SUCCEEDED, now=runtime.clock.time(),
                                      result=outcome.result)
        runtime.sink.flush()
        return outcome


class _Printed(io.TextIOBase):
    """Stands for sys.stdout (or stderr) in a Dask worker process: what a thread running a run
    writes goes, a line at a time, to the process that sent the run; what any other thread
    writes goes where it went before."""

    def __init__(self, original: Any, fd: int) -> None:
        self.original, self.fd = original, fd

    def write(self, text: str) -> int:
        sending: _Sender | None = getattr(_printing, "sender", None)
        if sending is None:
            return self.original.write(text)
        sending.write(self.fd, text)
        return len(text)

    def flush(self) -> None:
        sending: _Sender | None = getattr(_printing, "sender", None)
        if sending is not None:
            sending.flush(self.fd)
        with contextlib.suppress(OSError, ValueError):
            self.original.flush()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.original.fileno()

    def isatty(self) -> bool:  # a run's text goes elsewhere; other threads' to the terminal
        if getattr(_printing, "sender", None) is not None:
            return False
        return bool(getattr(self.original, "isatty", lambda: False)())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", None) or "utf-8"


class _Sender:
    """The text a run printed, sent as Dask events whole lines at a time."""

    def __init__(self, topic: str) -> None:
        from distributed import get_worker

        self.topic, self.worker = topic, get_worker()
        self.held = {1: "", 2: ""}

    def write(self, fd: int, text: str) -> None:
        held = self.held[fd] + text
        cut = held.rfind("\n") + 1
        self.held[fd] = held[cut:]
        if cut:
            self._send(fd, held[:cut])

    def flush(self, fd: int) -> None:
        if self.held[fd]:
            text, self.held[fd] = self.held[fd], ""
            self._send(fd, text)

    def _send(self, fd: int, text: str) -> None:
        self.worker.log_event(self.topic, {"fd": fd, "text": text})


_printing = threading.local()


@contextmanager
def _printing_to(topic: str | None) -> Iterator[None]:
    """While the block runs, what this thread prints goes to ``topic`` (None, or outside a
    Dask worker: where it goes anyway)."""
    try:
        sender = _Sender(topic) if topic else None
    except ValueError:  # not on a Dask worker
        sender = None
    if sender is None:
        yield
        return
    with _lock:
        for name, fd in (("stdout", 1), ("stderr", 2)):
            current = getattr(sys, name)
            if current is not None and not isinstance(current, _Printed):
                setattr(sys, name, _Printed(current, fd))
    _printing.sender = sender
    try:
        yield
    finally:
        _printing.sender = None
        sender.flush(1)
        sender.flush(2)


def _abandoned() -> Callable[[], str | None] | None:
    """For the task running in this thread: why its run must stop because Dask no longer wants
    its result (the claimer cancelled its future: the run was cancelled, or the claimer stopped
    or died), None while it does. None outside a Dask worker."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return None
    key = worker.get_current_task()

    def why() -> str | None:
        found = worker.state.tasks.get(key)
        if found is not None and found.state not in ("cancelled", "released", "forgotten"):
            return None
        return ("its Dask task was cancelled (the run was cancelled, or the process waiting "
                "for it stopped): asked to stop")

    return why


def _unsettled(runtime: Runtime, run_id: str) -> bool:
    """Whether the claimer has not yet settled the run (it settles a run it stopped waiting for,
    cancelled or given back, without this task: its record must stay as the claimer wrote it)."""
    run = runtime.state.runs.get(run_id)
    return run is None or run.status in (RunStatus.QUEUED, RunStatus.RUNNING)


@contextmanager
def _runtime_for(task: ChildTask) -> Iterator[Runtime]:
    """The runtime of the task's app in this worker process: opened once and shared by the
    tasks that run here (an app attaches to one runtime per process); replaced when a task for
    another home, state or settings comes while no task uses the old one."""
    from .runtime import Runtime

    key = (task.home, task.state, repr(sorted(task.settings.items())))
    with _lock:
        found = _attached.get(task.app_ref)
        if found is not None and found.key != key:
            if found.users:  # Dask retries the task, by then this worker may be free
                raise CauceError(f"this Dask worker is running app {task.app_ref} for another "
                                 "home or state")
            found.runtime.close()
            found = None
        if found is None:
            if not engine(task.state).exists(task.state):  # not a new, empty one: refuse
                raise CauceError(f"the state {task.state} is not reachable from Dask worker "
                                 f"{_worker_address()}",
                                 hint="workers on other machines need a shared state: "
                                 "--state postgresql://…")
            runtime = Runtime(load_app(task.app_ref), home=Path(task.home),
                              settings=task.settings, role="child", state=task.state)
            found = _attached[task.app_ref] = _Attached(runtime.open(), key)
        found.users += 1
    try:
        yield found.runtime
    finally:
        with _lock:
            found.users -= 1


def _worker_address() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:
        return "?"


@atexit.register
def _close_all() -> None:
    with _lock:
        attached = list(_attached.values())
        _attached.clear()
    for found in attached:
        found.runtime.close()
