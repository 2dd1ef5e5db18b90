"""Serving an app (`cauce serve`, `cauce worker`): the loop that ticks the scheduler and pumps
the dispatcher, the signals that stop it gracefully, the worker registry and housekeeping."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .. import logs
from ..durations import DurationLike, format_duration, parse_duration
from ..errors import CauceError, StateConflict, StateUnavailable
from ..resources.bucket import Bucket
from ..resources.stream import Stream
from .execute import log_general
from .foreground import BEAT_EVERY, alive
from .sources import expire_gone_workers_leases

if TYPE_CHECKING:
    from ..backends.state import WorkerRecord
    from .dispatcher import Dispatcher
    from .runtime import Runtime
    from .scheduler import Scheduler

log = logging.getLogger("cauce.runtime")
T = TypeVar("T")

HOUSEKEEPING_EVERY = 300.0
# the longest wait between two looks for work of a process that has nothing in hand and is
# woken when work is committed: while its looks find nothing, the waits double from `poll` up
# to this (a look costs a few hundred µs of CPU, 200 a second at 5 ms). A process with work in
# hand keeps looking every `poll`: a stream's batches or a concurrency limit can leave ready
# work behind a claim that did not fill its room.
QUIET_POLL = 0.05
# how long the first ready message of a queue must have waited before a process that went
# quiet claims from it, until work is announced to it again. A commit wakes one process (see
# `cauce.backends.wakeup`), which takes the fresh work while it finds some and, when a claim
# fills its room, wakes another; the others leave that work to it unless it has waited this
# long (those at it are behind, or a wake-up was lost). With every process claiming the few
# messages it found, four processes took more of two cores from a producer than one did.
JOIN_AFTER = 0.05
# how long a serving process (or a backfill) waits for a state store it cannot reach (a lost
# connection, a server restarting), trying again every `AWAY_RETRY` seconds, before it stops
# with the error
AWAY_LIMIT = 300.0
AWAY_RETRY = 1.0
SUMMARY_EVERY = 10.0  # seconds between two lines on the handler runs of a serving process
ONE_BY_ONE = 3  # up to this many handler runs in a period are named one by one


class HandlerTally:
    """How the handler runs of a serving process ended, told in the general stream: each
    successful one when there are few, a count per handler and outcome when there are many.
    (A failure is told when it happens, by the delivery that retries or dead-letters it.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[tuple[str, str, str]] = []

    def add(self, handler: str, outcome: str, run_id: str) -> None:
        with self._lock:
            self._runs.append((handler, outcome, run_id))

    def flush(self, rt: Runtime) -> None:
        with self._lock:
            runs, self._runs = self._runs, []
        if len(runs) <= ONE_BY_ONE:
            for handler, outcome, run_id in runs:
                if outcome == "succeeded":
                    log_general(rt, rt.app.name, logging.INFO, "run %s %s succeeded (handler)",
                                run_id, handler)
            return
        counts = Counter((handler, outcome) for handler, outcome, _ in runs)
        text = "; ".join(f"{handler} {n} {outcome}" for (handler, outcome), n in counts.items())
        log_general(rt, rt.app.name, logging.INFO, "handler runs in the last %s: %s",
                    format_duration(SUMMARY_EVERY), text)


Until = Callable[[], bool] | Literal["idle"] | None


def serve(
    rt: Runtime,
    *,
    until: Until = None,
    timeout: DurationLike | None = None,
    threads: int = 8,
    processes: int | None = None,
    scheduler: bool = True,
    grace: DurationLike = "30s",
    poll: float = 0.005,
    handle_signals: bool = False,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run the scheduler, the dispatcher and the workers until ``until`` — a function that
    returns True, or ``"idle"``: nothing left to do now or later in any queue or stream of the
    app — or until ``timeout`` passes, or `stop` / SIGTERM / SIGINT; then finish or give back
    the work in hand. ``on_ready`` is called once the signal handlers are in place and the
    process is registered (what `cauce workers` lists)."""
    from .scheduler import Scheduler

    if until is not None and until != "idle" and not callable(until):
        raise CauceError(f"serve(until=...) takes a function or 'idle', not {until!r}")
    limit = parse_duration(timeout, what="timeout") if timeout is not None else None
    grace_seconds = parse_duration(grace, what="grace")  # now, not when stopping
    deadline = time.monotonic() + limit if limit is not None else None
    role = "serve" if scheduler else "worker"
    sched = Scheduler(rt, looks_aside=True) if scheduler else None
    rt.executors.open_all()
    dispatcher = rt.dispatcher(threads=threads, processes=processes)
    done: Callable[[], bool] | None = None
    if until == "idle":
        def idle() -> bool:
            # no look into a watched bucket under way (it may queue events), then no work
            # left: in that order, as a look queues its events before it ends
            return not (sched is not None and sched.looking()) and dispatcher.idle()

        done = idle
    elif callable(until):
        done = until
    previous = _install_signals(rt) if handle_signals else {}
    rt.clear_stop()
    first = _other_server(rt) if scheduler else None
    host = socket.gethostname()
    rt.state.workers.register(rt.worker_id, app=rt.app.name, pid=os.getpid(), host=host,
                              role=rt.role, now=rt.clock.time())
    listener = rt.state.listener(rt.worker_id, rt.work_announced)
    listening = listener is not None and listener.start()
    if listening and listener is not None and listener.poll is not None:
        poll = max(poll, listener.poll)
    # Lines logged by this loop (outside any run) form the worker's own log stream.
    with logs.scoped(logs.LogScope(rt.sink, rt.app.name, f"worker/{rt.worker_id}")):
        log_general(rt, rt.app.name, logging.INFO, "%s %s started (pid %d)", role, rt.worker_id,
                    os.getpid())
        _clean_bucket_caches(rt)
        if first is not None:
            log_general(rt, rt.app.name, logging.WARNING,
                        "another `cauce serve %s` is live on the same state store: pid %d on %s "
                        "(%s); this one works as an extra worker: schedules fire in that one, "
                        "and here only once it stops", rt.app.name, first.pid, first.host,
                        "this machine" if first.host == host else "another machine")
        try:
            if sched is not None and first is None:
                rt.start_jobs()
            if on_ready is not None:
                on_ready()
            _loop(rt, sched, dispatcher, done, deadline, poll, listening=listening)
        except Exception as error:
            # the command's last line says it on the terminal; the general log keeps it with
            # its traceback, where a serve's stop is looked for
            rt.sink.write(rt.app.name, "general", logging.ERROR,
                          f"{role} {rt.worker_id} stops on an error: {type(error).__name__}: "
                          f"{error}\n{traceback.format_exc().rstrip()}")
            raise
        finally:
            if listener is not None:
                listener.close()
            dispatcher.shutdown(grace_seconds)
            if sched is not None:
                sched.close()
            rt.handler_tally.flush(rt)
            log_general(rt, rt.app.name, logging.INFO, "%s %s stopped", role, rt.worker_id)
            rt.state.workers.stopped(rt.worker_id, now=rt.clock.time())
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            rt.sink.flush()


def _clean_bucket_caches(rt: Runtime) -> threading.Thread | None:
    """In a thread of its own (the storage may be slow to answer): remove the local copies of
    objects deleted meanwhile by other programs, and the temporary files of processes killed
    while writing, uploading or downloading, of the app's buckets. What live processes hold
    stays."""
    buckets = [r for r in rt.app.resources.values() if isinstance(r, Bucket)
               and (rt.bucket_in_folder(r) or rt.bucket_cache(r).is_dir())]
    if not buckets:
        return None

    from .runtime import Lifecycle

    def clean() -> None:
        for bucket in buckets:
            try:
                clean_cache = getattr(rt.bucket_store(bucket), "clean_cache", None)
                if clean_cache is not None:  # optional in the ObjectStore protocol
                    clean_cache()
            except Exception as error:  # a clean-up never stops a serve: one line said
                if rt.lifecycle is not Lifecycle.OPEN:  # the serve ended meanwhile
                    return
                if isinstance(error, CauceError | OSError):  # unreachable, say: said so
                    log_general(rt, rt.app.name, logging.WARNING,
                                "bucket %s: cannot clean its local copies: %s", bucket.name,
                                error)
                    continue
                line = (f"bucket {bucket.name}: cleaning its local copies failed: "
                        f"{type(error).__name__}: {error}")  # the general log keeps the trace
                rt.sink.write(rt.app.name, "general", logging.ERROR,
                              f"{line}\n{traceback.format_exc()}")
                logging.getLogger(f"cauce.general.{rt.app.name}").error("%s", line)

    thread = threading.Thread(target=clean, daemon=True, name="cauce-cache-clean")
    thread.start()
    return thread


def _other_server(rt: Runtime) -> WorkerRecord | None:
    """A live `cauce serve` of the same app on the same state store, if there is one: on this
    home, or on another home (another machine) sharing a PostgreSQL state."""
    now = rt.clock.time()
    return next((w for w in rt.state.workers.listing() if w.role == "serve"
                 and w.app == rt.app.name and w.id != rt.worker_id and alive(w, now)), None)


def take_back_leases(rt: Runtime, dispatcher: Dispatcher) -> None:
    """Deliveries leased to a worker killed on this machine are taken back now (logged)."""
    taken = expire_gone_workers_leases(rt, dispatcher.sources, rt.clock.time())
    if taken:
        log_general(rt, rt.app.name, logging.WARNING, "%d delivery(ies) of a killed worker "
                    "taken back: delivered again, counted as lost unless run in a child process",
                    taken)
        rt.work_announced()


def _loop(rt: Runtime, sched: Scheduler | None, dispatcher: Dispatcher,
          until: Callable[[], bool] | None, deadline: float | None, poll: float, *,
          listening: bool = False) -> None:
    tidied = beaten = told = time.monotonic()
    # a killed worker's leases are taken back first, in the loop: a state store away or a
    # deadlock meanwhile is waited for or tried again, as any other call's
    taken_back = False
    wait_quiet = poll  # the next wait while nothing is in hand; doubles while that lasts
    trouble = StateTrouble.of(rt)
    while not rt.stopping:
        try:
            if not taken_back:
                take_back_leases(rt, dispatcher)
                taken_back = True
            if time.monotonic() - told > SUMMARY_EVERY:
                rt.handler_tally.flush(rt)
                told = time.monotonic()
            if time.monotonic() - tidied > HOUSEKEEPING_EVERY:
                housekeeping(rt)
                tidied = time.monotonic()
            if time.monotonic() - beaten > BEAT_EVERY:
                rt.state.workers.beat(rt.worker_id, now=rt.clock.time())
                # a peer killed meanwhile: its work comes back now, not when its leases end
                take_back_leases(rt, dispatcher)
                beaten = time.monotonic()
            next_due = sched.tick() if sched is not None else None
            busy = dispatcher.pump()
            trouble.over()
            if until is not None and until():
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
            if busy:
                if wait_quiet > poll:  # woken from a quiet wait, it found more than it can take:
                    rt.wake_another()  # the others may be in theirs
                    wait_quiet = poll
                continue
            wait = poll
            quiet = listening and dispatcher.quiet()  # nothing in hand, nothing found
            if quiet:
                wait, wait_quiet = wait_quiet, min(QUIET_POLL, wait_quiet * 2)
                due = dispatcher.next_wakeup() if wait > poll else None
                if due is not None:  # a delayed message, retry, expired lease or stream window
                    next_due = due if next_due is None else min(next_due, due)
            else:
                wait_quiet = poll
            due_now = next_due is not None and next_due - rt.clock.time() < wait
            if due_now:
                wait = max(0.0, next_due - rt.clock.time())
            rt.wait(wait)
            if rt.take_announcement() or due_now:
                dispatcher.patience = 0.0
            elif quiet:
                dispatcher.patience = JOIN_AFTER
        except (StateConflict, StateUnavailable) as error:  # the next turn redoes it
            trouble.met(error)
            if deadline is not None and time.monotonic() >= deadline:
                return


class StateTrouble:
    """What a serving process, a backfill or `cauce logs --follow` does when its state store
    fails a call.

    A conflict committed nothing of the call: said, and tried again at once. A store that
    cannot be reached (a PostgreSQL session ended, a server restarting) is said once, waited
    for a little before each next try, and given up on (the error raised) once it has been away
    for `AWAY_LIMIT` seconds; its return is said once too. Work in hand goes on meanwhile: what
    finished is settled once the store is back, and leases not renewed bring their work back
    to the others. ``say`` tells a line (a warning), ``wait`` waits before the next try.
    """

    def __init__(self, say: Callable[[str], None], wait: Callable[[float], None]) -> None:
        self.say, self.wait = say, wait
        self.away: float | None = None  # since when the state store could not be reached

    @classmethod
    def of(cls, rt: Runtime) -> StateTrouble:
        """A runtime's: told in its app's general log, waited for on its wake-ups."""
        return cls(lambda text: log_general(rt, rt.app.name, logging.WARNING, "%s", text),
                   rt.wait)

    def met(self, error: StateConflict | StateUnavailable) -> None:
        """A call failed with `error`: say so (once for a store away), wait before the next
        try, or raise it when the store has been away too long."""
        if isinstance(error, StateConflict):
            self.say(f"{error.message}; trying again")
            return
        now = time.monotonic()
        if self.away is None:
            self.away = now
            self.say(f"the state store cannot be reached ({error.message}): trying again every "
                     f"{format_duration(AWAY_RETRY)} for up to {format_duration(AWAY_LIMIT)}")
        elif now - self.away >= AWAY_LIMIT:
            raise error
        self.wait(AWAY_RETRY)

    def over(self) -> None:
        """A call went through: say once that a store away is back."""
        if self.away is not None:
            self.say("the state store is back")
            self.away = None

    def outlast(self, call: Callable[[], T]) -> T:
        """`call()`'s result, once a call of it goes through."""
        while True:
            try:
                result = call()
            except (StateConflict, StateUnavailable) as error:
                self.met(error)
                continue
            self.over()
            return result


def housekeeping(rt: Runtime) -> None:
    """Drop stream records past their stream's retention (age, and count per shard) as a
    stream service does, saying when a consumer had not read them yet, and let the state store
    tidy what it keeps for itself."""
    now = rt.clock.time()
    for stream in (s for s in rt.app.resources.values() if isinstance(s, Stream)):
        streams = rt.state.streams
        if not streams.trim(stream.qualified, older_than=now - stream.retention,
                            keep=stream.max_records):
            continue
        for shard in streams.shards(stream.qualified, stream.shards):
            for consumer, seq in shard.consumers.items():
                if shard.first_seq - 1 > seq:
                    log_general(rt, rt.app.name, logging.WARNING,
                                "stream %s shard %d: records %d-%d were dropped by its retention "
                                "before %s read them", stream.name, shard.shard, seq + 1,
                                shard.first_seq - 1, consumer)
    rt.state.maintain(now)


def _install_signals(rt: Runtime) -> dict[int, Any]:
    # Signal handlers only set a flag: the loop notices it and shuts down in order.
    def request_stop(signum: int, frame: object) -> None:
        if rt.stopping:
            raise KeyboardInterrupt
        log.warning("received %s: finishing the work in hand (again to stop at once)",
                    signal.Signals(signum).name)
        rt.stop()

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, request_stop)
    return previous
