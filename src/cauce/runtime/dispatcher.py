"""The dispatcher: claims deliveries from every source, runs them on workers, settles them.

One loop object does all the bookkeeping in the thread that calls `pump` (claims, settlements,
lease heartbeats, cancellation checks); workers only execute user code. Settlements are written
in batches, one transaction for everything that finished in the last `SETTLE_AFTER` seconds,
which is what keeps thousands of messages a second cheap on SQLite and spares PostgreSQL a disk
flush per message when several worker processes share the work (the plain successes of one
source are a single statement there, `cauce.backends.state.StateStore.acknowledge`).

Two ways to drive it: `pump` hands work to a thread pool (``cauce serve``/``worker``), and
`run_inline` executes work in the calling thread, one delivery at a time, in a deterministic
order (the TestRuntime and foreground tools).

A worker thread notes each delivery's start before calling its handler
(`cauce.backends.state.RunStore.note_started`); the run's row says "running" once the delivery
has run for `RECORD_AFTER` seconds, and its final status when it is settled. A delivery whose
last worker died runs alone in a child process (`cauce.runtime.processes`), so that if it kills
its worker again only that child dies. Where a run executes — this thread, a child process,
a Dask cluster — is the runtime's executors' choice (`cauce.runtime.executors`); the
bookkeeping stays here whatever the choice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import TYPE_CHECKING

from .. import causes
from ..errors import StateUnavailable, first_line
from .execute import Outcome
from .jobs import drop_cancelled
from .sources import Claimed, Delivery, QueueSource, Source, StreamSource, build_sources

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("cauce.dispatcher")


class Dispatcher:
    """Moves work from sources to workers and back, for one runtime."""

    CANCEL_CHECK_EVERY = 1.0
    PREFETCH = 16  # deliveries claimed per worker thread, so each claim and settle covers many
    # deliveries of a source that take this long (or are not timed yet) are claimed only for
    # idle threads: claimed ahead they would wait here while other processes have none to do
    SHORT = 0.05
    RECORD_AFTER = 0.2  # seconds a delivery runs before its row is marked running
    # seconds a finished delivery waits for others to settle with it: one durable commit for
    # all, where several worker processes would each commit (and flush the disk) for one
    SETTLE_AFTER = 0.02

    def __init__(
        self, runtime: Runtime, *, threads: int = 8, processes: int = 2,
        sources: Sequence[Source] | None = None,
    ) -> None:
        self.runtime = runtime
        self._follow_app = sources is None  # pick up handlers and jobs declared after start
        self.sources = list(sources) if sources is not None else build_sources(runtime)
        self._declared = self._declaration_count()
        self.threads = max(1, threads)
        self.processes = max(1, processes)
        self._pool: ThreadPoolExecutor | None = None
        self._done: deque[Delivery] = deque()
        self._done_since: float | None = None  # when this pump first saw _done not empty
        self.inflight: dict[str, Delivery] = {}
        self._process_inflight = 0
        # deliveries that must run alone go to a child process when the app can be imported there
        self._children = runtime.executors.processes.available
        self._claiming = True
        self._handing = threading.Lock()  # a thread taking a delivery vs a shutdown giving it back
        self._last_cancel_check = 0.0
        self._last_heartbeat = 0.0
        self._found_work = False  # whether the last pump claimed anything
        # seconds the first ready message of a queue must have waited before this process
        # claims from it: set by a serving loop that was not woken (see `serving`), so that a
        # process with nothing to do leaves fresh work to the processes that are at it
        self.patience = 0.0
        visibilities = [s.visibility for s in self.sources if isinstance(s, QueueSource)]
        self.heartbeat_every = max(0.2, min(visibilities or [30.0]) / 3)

    # -- the pool-driven loop ---------------------------------------------------------
    def pump(self) -> int:
        """Settle finished work, keep leases alive, claim and start new work; returns how many
        deliveries it started if it took all it had room for (more may be waiting: pump again
        at once), else 0 (what is ready was taken: wait for a wake-up or the next poll)."""
        self._settle_done(wait=self._claiming)
        now = self.runtime.clock.time()
        if _passed(now, self._last_cancel_check, self.CANCEL_CHECK_EVERY):
            self._check_cancellations()
            self._last_cancel_check = now
        if self.inflight and _passed(now, self._last_heartbeat, self.heartbeat_every):
            self._heartbeat(now)
            self._last_heartbeat = now
        started = room = 0
        if self._claiming:
            room = self.threads * self.PREFETCH - len(self.inflight)
            claimed = self._claim(room)
            self._start(claimed)
            started = len(claimed)
        self._found_work = started > 0
        self._record_started(now)
        return started if started >= room else 0

    def quiet(self) -> bool:
        """Nothing in hand and nothing found by the last pump: the process may wait longer
        for work, if something wakes it when work comes."""
        return not self.inflight and not self._found_work and not self._done

    def _in_child(self, delivery: Delivery, *, inline: bool = False) -> bool:
        return delivery.source.in_process or (delivery.alone and self._children and not inline)

    def _begin(self, delivery: Delivery) -> None:
        """Note the delivery's start, then let it run: from here on its death counts."""
        self.runtime.state.runs.note_started(delivery.start(self.runtime.clock.time()))

    def _record_started(self, now: float) -> None:
        """Mark running the runs that have run a little while (most end sooner, and their
        settlement says everything at once)."""
        due = [d for d in self.inflight.values() if d.started_at is not None and not d.recorded
               and d.outcome is None and _passed(now, d.started_at, self.RECORD_AFTER)]
        self.runtime.state.runs.record_running([d.running() for d in due])
        for delivery in due:
            delivery.recorded = True

    def _start(self, deliveries: list[Delivery]) -> None:
        """Hand deliveries to the pool in up to ``threads`` chunks (one hand-off per chunk, not per
        delivery: handing work between threads costs more than a small handler does)."""
        if not deliveries:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="cauce-worker")
        for delivery in deliveries:
            self.inflight[delivery.spec.run_id] = delivery
            delivery.source.inflight += 1
            delivery.in_child = self._in_child(delivery)
            if delivery.in_child:
                self._process_inflight += 1
        chunks = min(self.threads, len(deliveries))
        for i in range(chunks):
            self._pool.submit(self._work, deliveries[i::chunks])

    def _work(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            with self._handing:
                if delivery.given_back:
                    continue  # given back at shutdown before it started
                delivery.taken = True
            began = time.monotonic()
            try:
                delivery.outcome = self._execute(delivery)
            except BaseException as err:  # a bug in cauce: keep the message, record the failure
                cause = causes.of(err)
                if cause is None:
                    log.exception("cauce failed to execute run %s", delivery.spec.run_id)
                    delivery.outcome = Outcome(
                        ok=False, error=f"internal error: {type(err).__name__}: {err}")
                else:  # a limit of the machine (no thread for a job run's timeout): no bug
                    error = f"{cause.reason} ({type(err).__name__}: {first_line(str(err))})"
                    log.error("run %s: %s", delivery.spec.run_id, error)
                    delivery.outcome = Outcome(ok=False, error=f"{error} (hint: {cause.hint})")
            delivery.source.timed(time.monotonic() - began)
            self._done.append(delivery)
            if self._frees_wanted_slot(delivery):
                self.runtime.wake()  # else the next poll settles it, with others

    def _execute(self, delivery: Delivery, *, inline: bool = False) -> Outcome:
        if delivery.cancel.is_set():  # asked to cancel while it waited for a thread
            return Outcome(ok=False, error="cancelled before it started", cancelled=True)
        delivery.in_child = self._in_child(delivery, inline=inline)
        self._begin(delivery)
        executor = self.runtime.executors.pick(delivery.spec, in_child=delivery.in_child)
        return executor.execute(delivery.spec, delivery.cancel)

    def _frees_wanted_slot(self, delivery: Delivery) -> bool:
        """Whether settling ``delivery`` at once may let waiting work start: it holds a slot of
        its source's concurrency limit or of the child processes, or the claims are full (or
        no more are made)."""
        return (delivery.source.limit is not None or delivery.in_child
                or not self._short(delivery.source)
                or not self._claiming or len(self.inflight) >= self.threads * self.PREFETCH)

    def _short(self, source: Source) -> bool:
        """Whether ``source``'s deliveries are known to be short enough to claim ahead."""
        return source.took is not None and source.took < self.SHORT

    def _settle_done(self, *, wait: bool = False) -> int:
        """Settle the deliveries that finished; ``wait``: only once the first of them has
        waited `SETTLE_AFTER` (real time, whatever the runtime's clock), unless they are many
        or one of them frees a slot work may be waiting for."""
        if not self._done:
            return 0
        if wait:
            now = time.monotonic()
            if self._done_since is None:
                self._done_since = now
            done = list(self._done)  # one C call: safe while worker threads append
            if (now - self._done_since < self.SETTLE_AFTER
                    and len(done) < self.threads * self.PREFETCH // 2
                    and not any(self._frees_wanted_slot(d) for d in done)):
                return 0
        self._done_since = None
        batch = []
        while self._done:
            batch.append(self._done.popleft())
        try:
            self._settle(batch)
        except StateUnavailable:  # kept, and settled once the store is back
            self._done.extendleft(reversed(batch))
            raise
        for delivery in batch:
            self.inflight.pop(delivery.spec.run_id, None)
            delivery.source.inflight -= 1
            if delivery.in_child:
                self._process_inflight -= 1
        return len(batch)

    # -- claiming ---------------------------------------------------------------------
    def _capacity(self, source: Source, free: int, idle: int) -> int:
        cap = free if self._short(source) else min(free, idle)
        if source.limit is not None:
            cap = min(cap, source.limit - source.inflight)
        if source.in_process:
            cap = min(cap, self.processes - self._process_inflight)
        return max(0, cap)

    def _declaration_count(self) -> tuple[int, int]:
        return len(self.runtime.app.handlers), len(self.runtime.app.jobs)

    def _refresh_sources(self) -> None:
        """Add sources for handlers and jobs declared since the dispatcher was built."""
        if self._follow_app and self._declaration_count() != self._declared:
            known = {(type(s).__name__, s.target.name) for s in self.sources}
            self.sources += [s for s in build_sources(self.runtime)
                             if (type(s).__name__, s.target.name) not in known]
            self._declared = self._declaration_count()

    def _claim(self, free: int, *, one: bool = False) -> list[Delivery]:
        if free <= 0:
            return []
        self._refresh_sources()
        runtime = self.runtime
        now = runtime.clock.time()
        queues = runtime.state.queues
        queue_sources = [s for s in self.sources if isinstance(s, QueueSource)]
        # per queue: when its first message is visible, and whether it holds work that must run
        # alone (in a child process, or inline one at a time) or expired leases (a queue
        # without any skips recovering them in the transaction)
        ready = queues.ready([s.queue for s in queue_sources], now=now)
        wanted: list[Source] = [s for s in queue_sources
                                if ready.get(s.queue, (now + 1, False))[0] <= now - self.patience]
        stream_sources = [s for s in self.sources
                          if isinstance(s, StreamSource) and s.has_work(now)]
        wanted += stream_sources
        if not wanted:
            return []
        alone_sources = {id(s) for s in wanted if (isinstance(s, QueueSource) and ready[s.queue][1])
                         or (isinstance(s, StreamSource) and s.has_alone(now))}
        taken: list[tuple[Source, Sequence[Claimed]]] = []
        count = children = 0
        # a claim lost in a crash is found again; one that is a single statement is atomic by
        # itself (on PostgreSQL a transaction around it would cost two round trips)
        single = (len(wanted) == 1 and not alone_sources and isinstance(wanted[0], QueueSource)
                  and wanted[0].batch_size == 1)
        with nullcontext() if single else runtime.state.atomic(durable=False):
            for source in wanted:
                cap = self._capacity(source, free - count,
                                     self.threads - len(self.inflight) - count)
                if one:
                    cap = min(cap, 1)
                if cap <= 0:
                    continue
                alone = 0
                if id(source) in alone_sources:
                    alone = cap if one or not self._children else max(
                        0, self.processes - self._process_inflight - children)
                got = source.claim(now, cap, runtime.worker_id, alone=alone,
                                   expired=id(source) in alone_sources)
                taken.append((source, got))
                count += len(got)
                children += sum(source.in_process or (c.alone and self._children) for c in got)
                if one and count:
                    break
        # built after the commit: the write turn is held for the statements alone
        return [d for source, got in taken for d in source.deliver(got, runtime.worker_id)]

    def _give_back_waiting(self) -> None:
        """Return the claimed deliveries no thread has taken yet (up to `PREFETCH` per thread):
        a stopping process finishes the work in hand, not the work it fetched ahead."""
        with self._handing:
            waiting = [d for d in self.inflight.values() if not d.taken]
            for delivery in waiting:
                delivery.given_back = True
        if not waiting:
            return
        now = self.runtime.clock.time()
        with self.runtime.state.atomic():
            for delivery in waiting:
                delivery.source.release(delivery, now)
        for delivery in waiting:
            del self.inflight[delivery.spec.run_id]
        log.info("gave back %d run(s) that had not started", len(waiting))

    # -- settling ---------------------------------------------------------------------
    def _settle(self, deliveries: list[Delivery]) -> None:
        runtime = self.runtime
        now = runtime.clock.time()
        by_source: dict[int, list[Delivery]] = {}
        for delivery in deliveries:
            by_source.setdefault(id(delivery.source), []).append(delivery)
        writes = [group[0].source.settlement(group, now) for group in by_source.values()]
        if len(writes) == 1:
            writes[0]()  # atomic by itself: on PostgreSQL often one statement
        else:
            with runtime.state.atomic():
                for write in writes:
                    write()
        for delivery in deliveries:
            runtime.announce(delivery)

    def _heartbeat(self, now: float) -> None:
        by_source: dict[int, list[Delivery]] = {}
        for d in self.inflight.values():
            by_source.setdefault(id(d.source), []).append(d)
        with self.runtime.state.atomic(durable=False):  # longer leases: derived, like a claim
            for group in by_source.values():
                group[0].source.extend(group, now)

    def _check_cancellations(self) -> None:
        runtime = self.runtime
        runs = runtime.state.runs
        for run_id in runs.cancel_requested(list(self.inflight)):
            delivery = self.inflight.get(run_id)
            if delivery is not None and not delivery.cancel.is_set():
                delivery.cancel.set()
                log.info("cancelling run %s", run_id)
        if runs.queued_cancelled():
            drop_cancelled(runtime.state, runtime.clock.time())

    # -- the inline driver ------------------------------------------------------------
    def run_inline(self, max_deliveries: int = 1_000_000) -> int:
        """Execute every delivery that is ready now, in this thread; returns how many ran."""
        count = 0
        while count < max_deliveries:
            self._check_cancellations()
            claimed = self._claim(1, one=True)
            if not claimed:
                return count
            delivery = claimed[0]
            delivery.outcome = self._execute(delivery, inline=True)
            self._settle([delivery])
            self._record_started(self.runtime.clock.time())
            count += 1
        return count

    def next_wakeup(self) -> float | None:
        """The earliest future moment a delayed message, retry or stream window becomes due."""
        runtime = self.runtime
        now = runtime.clock.time()
        ready = runtime.state.queues.next_visible([s.queue for s in self.sources
                                                   if isinstance(s, QueueSource)])
        times = [t for t in ready.values() if t > now]
        for source in self.sources:
            if isinstance(source, StreamSource):
                due = source.next_wakeup(now)
                if due is not None:
                    times.append(due)
        return min(times) if times else None

    def idle(self) -> bool:
        """True when nothing is left to do, now or later: no work in hand, none ready, none
        delayed or waiting for a retry or a stream window."""
        return not self.pending()

    def pending(self) -> bool:
        """True if any source still holds messages or records (ready or later)."""
        return bool(self.inflight) or self.next_wakeup() is not None or bool(self._claimable_now())

    def _claimable_now(self) -> list[str]:
        now = self.runtime.clock.time()
        ready = self.runtime.state.queues.next_visible(
            [s.queue for s in self.sources if isinstance(s, QueueSource)])
        return [q for q, t in ready.items() if t <= now]

    # -- shutdown ---------------------------------------------------------------------
    def stop_claiming(self) -> None:
        self._claiming = False

    def shutdown(self, grace: float) -> None:
        """Stop taking work, give back at once what no thread has started, let work in hand
        finish for ``grace`` seconds, give back the rest."""
        self._claiming = False
        self._give_back_waiting()
        deadline = time.monotonic() + grace
        while self.inflight and time.monotonic() < deadline:
            self._settle_done()
            if self.inflight:
                self.runtime.wait(0.05)
        self._settle_done()
        if self.inflight:
            now = self.runtime.clock.time()
            with self.runtime.state.atomic():
                for delivery in self.inflight.values():
                    delivery.cancel.set()
                    delivery.source.release(delivery, now)
            log.warning("gave back %d unfinished run(s) for redelivery", len(self.inflight))
            self.inflight.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _passed(now: float, since: float, seconds: float) -> bool:
    """Whether ``seconds`` have passed since ``since`` on the runtime's clock, or the clock was
    stepped back past it: waiting for it to come back (an hour, after a one-hour step) left
    `cauce runs cancel` unheard and leases unrenewed all that time."""
    return now - since >= seconds or now < since
