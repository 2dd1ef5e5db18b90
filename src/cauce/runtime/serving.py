"""Serving an app (`cauce serve`, `cauce worker`): the loop that ticks the scheduler and pumps
the dispatcher, the signals that stop it gracefully, the worker registry and housekeeping."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from .. import logs
from ..durations import DurationLike, parse_duration
from ..errors import CauceError
from ..resources.stream import Stream
from .execute import log_general

if TYPE_CHECKING:
    from .dispatcher import Dispatcher
    from .runtime import Runtime
    from .scheduler import Scheduler

log = logging.getLogger("cauce.runtime")

HOUSEKEEPING_EVERY = 300.0
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
) -> None:
    """Run the scheduler, the dispatcher and the workers until ``until`` — a function that
    returns True, or ``"idle"``: nothing left to do now or later in any queue or stream of the
    app — or until ``timeout`` passes, or `stop` / SIGTERM / SIGINT; then finish or give back
    the work in hand."""
    from .scheduler import Scheduler

    if until is not None and until != "idle" and not callable(until):
        raise CauceError(f"serve(until=...) takes a function or 'idle', not {until!r}")
    limit = parse_duration(timeout, what="timeout") if timeout is not None else None
    deadline = time.monotonic() + limit if limit is not None else None
    role = "serve" if scheduler else "worker"
    sched = Scheduler(rt) if scheduler else None
    rt.executors.open_all()
    dispatcher = rt.dispatcher(threads=threads, processes=processes)
    done: Callable[[], bool] | None = None
    if until == "idle":
        done = dispatcher.idle
    elif callable(until):
        done = until
    rt.state.workers.register(rt.worker_id, app=rt.app.name, pid=os.getpid(),
                              host=socket.gethostname(), role=rt.role, now=rt.clock.time())
    listener = rt.state.listener(rt.worker_id, rt.wake)
    if listener is not None:
        listener.start()
    previous = _install_signals(rt) if handle_signals else {}
    rt.clear_stop()
    # Lines logged by this loop (outside any run) form the worker's own log stream.
    with logs.scoped(logs.LogScope(rt.sink, rt.app.name, f"worker/{rt.worker_id}")):
        log_general(rt, rt.app.name, logging.INFO, "%s %s started (pid %d)", role, rt.worker_id,
                    os.getpid())
        try:
            if sched is not None:
                rt.start_jobs()
            _loop(rt, sched, dispatcher, done, deadline, poll)
        finally:
            if listener is not None:
                listener.close()
            dispatcher.shutdown(parse_duration(grace, what="grace"))
            log_general(rt, rt.app.name, logging.INFO, "%s %s stopped", role, rt.worker_id)
            rt.state.workers.stopped(rt.worker_id, now=rt.clock.time())
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            rt.sink.flush()


def _loop(rt: Runtime, sched: Scheduler | None, dispatcher: Dispatcher,
          until: Callable[[], bool] | None, deadline: float | None, poll: float) -> None:
    tidied = 0.0
    while not rt.stopping:
        if time.monotonic() - tidied > HOUSEKEEPING_EVERY:
            housekeeping(rt)
            tidied = time.monotonic()
        next_due = sched.tick() if sched is not None else None
        busy = dispatcher.pump()
        if until is not None and until():
            return
        if deadline is not None and time.monotonic() >= deadline:
            return
        if busy:
            continue
        wait = poll
        if next_due is not None:
            wait = max(0.0, min(wait, next_due - rt.clock.time()))
        rt.wait(wait)


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
