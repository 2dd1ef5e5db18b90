"""Where deliveries come from: a queue (user queues, and the internal queues behind bucket
events, topic subscriptions and job runs) or the shards of a stream.

A source claims work inside a transaction of the state store (taking leases) and settles it
inside another (ack, retry later, or dead-letter, and the run's record); the dispatcher opens
them. Before claiming it settles the leases that expired: deliveries whose worker died or
stopped renewing them. A delivery that had really started (its worker noted the start, see
`cauce.backends.state.RunStore.note_started`) was *lost*: its
run is recorded as such, it counts toward the message's ``max_receives``, and the message is
delivered alone in a process of its own from then on, so a message that kills its worker is
found and dead-lettered ("worker lost while handling it N times") while the messages claimed
with it are handled. A delivery that never started does not count at all.

A delivery that ran in a child process (the start says so: ``RunRecord.in_child``) is judged by
that child alone. If the child dies while its parent lives, the parent settles it as lost and it
counts. If the parent is killed instead — a `cauce serve` or `cauce worker` of this machine,
restarted or running beside it, finds it gone and takes its message and shard leases back at
once (`expire_gone_workers_leases`) — the message or stream batch cannot have caused that
death: its run is recorded lost with `KILLED`, and it is delivered again (alone, in a child; a
batch exactly as it was) without counting toward ``max_receives`` or ``max_attempts``. A lease
that expired by itself (its worker hung, or died on another machine) counts, wherever it ran.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from ..app import Handler, Job
from ..backends.state import (
    OWN_BATCH,
    OWN_PROCESS,
    ConsumerState,
    Start,
    StoredMessage,
    StoredRecord,
    new_token,
)
from ..errors import first_line
from ..events import ObjectRef, Record
from ..pids import gone
from ..resources.bucket import Bucket
from ..resources.queue import messages_from
from ..resources.stream import Stream
from ..runs import RunRecord, RunStatus, new_run_id, new_run_ids
from .buffering import Pending
from .execute import Outcome, Position, RunSpec, log_general
from .retry import backoff

if TYPE_CHECKING:
    from .runtime import Runtime

# A job run's lease: renewed by its live worker's heartbeats (every third of the shortest
# lease it holds), so it bounds only how long a dead machine's run waits to come back.
JOB_VISIBILITY = 30.0
LOST = "worker lost: its lease expired before the run finished"
KILLED = ("worker process killed while the run went on in a child process of its own; "
          "delivered again, not counted as a receive")
STOPPED = "worker stopped before the run finished; delivered again"
_RUNNING = RunStatus.RUNNING.value


@dataclass(eq=False)
class Delivery:
    """Work claimed by this process: the run to execute and what to settle afterwards."""

    source: Source
    spec: RunSpec
    run: RunRecord
    lease: str
    head: str
    messages: list[StoredMessage] = field(default_factory=list)
    last_seq: int | None = None
    alone: bool = False  # delivered alone in a process of its own: its last worker died
    cancel: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    started_at: float | None = None
    recorded: bool = False  # its run row says running
    in_child: bool = False  # runs in a child process (the dispatcher decides when it starts it)
    # a worker thread took it / a shutdown gave it back before any thread did (one or the other,
    # decided under the dispatcher's hand-off lock)
    taken: bool = False
    given_back: bool = False

    def start(self, at: float) -> Start:
        """Mark the delivery started (where it runs, ``in_child``, decided); returns the line
        its worker logs before calling it."""
        self.started_at = at
        return Start(self.lease, self.head, {**self.run.__dict__, "status": _RUNNING,
                                             "started_at": at, "in_child": self.in_child})

    def running(self) -> RunRecord:
        return self.run.but(status=RunStatus.RUNNING, started_at=self.started_at,
                            in_child=self.in_child)

    def ended(self, status: RunStatus, now: float, error: str | None = None,
              result: Any = None) -> RunRecord:
        return self.run.but(status=status, started_at=self.started_at, ended_at=now,
                            error=error, result=result, in_child=self.in_child)


class Claimed(Protocol):
    """Work a claim took: a delivery, or what one is built from after the claim commits."""

    alone: bool


@dataclass(eq=False)
class Taken:
    """The messages a queue's claim leased for one delivery."""

    messages: list[StoredMessage]
    alone: bool


def lost_reason(times: int, earlier: str | None) -> str:
    """The error a message dead-lettered for lost deliveries keeps."""
    text = f"worker lost while handling it {times} time{'s' if times != 1 else ''}"
    if earlier and earlier not in (LOST, KILLED):
        text += f"; an earlier attempt failed: {first_line(earlier)}"
    return text


class Source(ABC):
    """Base of the two kinds of source: claim work, settle it, keep or give back its leases.
    Each is called inside a transaction of the state store the dispatcher opened."""

    @abstractmethod
    def claim(self, now: float, capacity: int, worker: str, *, alone: int = 0,
              expired: bool = True) -> Sequence[Claimed]:
        """Take up to ``capacity`` deliveries, and up to ``alone`` of those that must run alone
        in a process of their own; `deliver` makes them deliveries after the transaction.
        ``expired=False``: the caller saw no expired lease at ``now`` (none can appear before
        that moment), so a source may skip recovering them."""

    def deliver(self, claimed: Sequence[Claimed], worker: str) -> list[Delivery]:
        """The deliveries of what `claim` took, built once its transaction committed, so that
        the write turn is not held for Python work (by default `claim` built them itself)."""
        return [c for c in claimed if isinstance(c, Delivery)]

    @abstractmethod
    def settle(self, delivery: Delivery, now: float) -> None:
        """Record how a delivery ended: ack, retry later, or dead-letter."""

    @abstractmethod
    def extend(self, deliveries: list[Delivery], now: float) -> None:
        """Keep the leases of deliveries still running."""

    @abstractmethod
    def release(self, delivery: Delivery, now: float) -> None:
        """Give back a delivery this process will not finish."""

    def settlement(self, deliveries: list[Delivery], now: float) -> Callable[[], None]:
        """The writes settling ``deliveries``, in one transaction of their own (or of the
        caller's): what can be built before it is built here, so that the write turn is held
        for the statements."""
        def write() -> None:
            with self.runtime.state.atomic():
                for delivery in deliveries:
                    self.settle(delivery, now)
        return write

    runtime: Runtime
    target: Handler | Job
    limit: int | None
    inflight: int = 0
    # seconds its deliveries take (a moving average measured by the dispatcher), None before
    # the first: how far ahead a process may claim from it
    took: float | None = None

    def timed(self, seconds: float) -> None:
        """Count one delivery's duration into `took`."""
        self.took = seconds if self.took is None else 0.8 * self.took + 0.2 * seconds

    @property
    def name(self) -> str:
        return self.target.name

    @cached_property
    def in_process(self) -> bool:
        return isinstance(self.target, Job) and self.target.worker == "process"

    def _retry(self, attempt: int) -> float:
        t = self.target
        cap = t.max_retry_delay
        return backoff(attempt, t.retry_delay, cap)


def recover_queue(runtime: Runtime, queue: str, *, max_receives: int, now: float,
                  killed: Collection[str] = ()) -> list[RunRecord]:
    """Settle the expired leases of ``queue`` (see the module's docstring); returns the runs
    found lost, for the caller to record. ``killed``: workers known killed, whose leases
    `expire_gone_workers_leases` took back; a delivery of theirs that ran in a child process
    is given back without counting. Call it inside a transaction."""
    state = runtime.state
    found = state.queues.expired(queue, now=now)
    lost: dict[str, RunRecord] = {}
    for message in found:
        run = state.runs.started(worker=message.worker, lease=message.lease,
                                 head=str(message.head), message_id=message.head)
        by_hand = message.worker is None  # received with Queue.receive(): it was handed over
        if run is None and not by_hand:
            state.queues.unclaim(message, now=now)
            continue
        if run is not None and run.in_child and message.worker in killed:
            # the child cannot have killed its parent: the message did nothing wrong
            state.queues.release(message.id, message.lease or "", visible_at=now, error=KILLED,
                                 isolation=OWN_PROCESS, counted=False)
            lost.setdefault(run.id, replace(run, status=RunStatus.FAILED, ended_at=now,
                                            error=KILLED))
            continue
        if message.receive_count >= max_receives:
            reason = (lost_reason(message.lost + 1, message.last_error) if not by_hand else
                      f"not acknowledged within its visibility timeout {message.receive_count} "
                      f"time{'s' if message.receive_count != 1 else ''}")
            state.queues.dead_letter(message.id, message.lease or "", dlq=queue + ".dlq",
                                     now=now, error=reason)
            status = RunStatus.DEAD_LETTERED
            log_general(runtime, runtime.app.name, 40, "%s: message %d dead-lettered: %s",
                        queue.split(":", 1)[1], message.id, reason)
        else:
            reason = LOST
            state.queues.release(message.id, message.lease or "", visible_at=now, error=LOST,
                                 isolation=None if by_hand else OWN_PROCESS, lost=True)
            status = RunStatus.FAILED
        if run is not None:
            earlier = lost.get(run.id)
            if earlier is None or status is RunStatus.DEAD_LETTERED:
                lost[run.id] = replace(run, status=status, ended_at=now, error=reason)
    return list(lost.values())


def record_lost(runtime: Runtime, runs: Sequence[RunRecord]) -> None:
    """Record ``runs``, found lost, and end each one's log with why (its process died before
    it could: the log stopped at its start) and say it in the general log, where the
    dispatcher says how the runs it settles end."""
    runtime.state.runs.upsert(runs)
    for run in runs:
        level = logging.ERROR if run.status is RunStatus.DEAD_LETTERED else logging.WARNING
        what = run.name + (f"[{run.partition}]" if run.partition else "")
        runtime.sink.write(run.app, f"{run.name}/{run.id}", level,
                           f"run {run.id} {run.status.value}: {run.error}", run.id)
        log_general(runtime, run.app, level, "run %s %s %s (attempt %d): %s", run.id, what,
                    run.status.value, run.attempt, run.error)


def expire_gone_workers_leases(runtime: Runtime, sources: Sequence[Source], now: float) -> int:
    """Take back now the leases held by this app's workers (serving processes and backfills)
    that were killed on this machine, so that a restarted or a live `cauce serve`, `cauce
    worker` or `cauce backfill` redelivers their deliveries
    and stream batches at once instead of waiting out the visibility timeout, and settle them
    (``sources``: the dispatcher's, whose limits apply): lost, as any expired lease, except the
    deliveries that ran in a child process, which the killed worker's death says nothing about
    (`recover_queue`, `StreamSource.take_back`). Returns how many were taken back."""
    state = runtime.state
    dead = {w.id for w in state.workers.listing() if w.app == runtime.app.name
            and w.role in ("serve", "worker", "backfill") and w.id != runtime.worker_id
            and gone(w.host, w.pid)}
    if not dead:
        return 0
    queues = {s.queue: s.max_attempts for s in sources if isinstance(s, QueueSource)}
    # read before the transaction (the leased messages only: a long queue costs nothing); a
    # lease settled meanwhile is not extended, its token no longer held
    held = state.queues.held_by(list(queues), dead, now=now)
    shards = [(s, s.held_by(dead, now)) for s in sources if isinstance(s, StreamSource)]
    with state.atomic():  # taken back and settled together: no claim counts them meanwhile
        taken = state.queues.extend([lease for leases in held.values() for lease in leases],
                                    until=now) if held else 0
        for queue in held:
            record_lost(runtime, recover_queue(runtime, queue, max_receives=queues[queue],
                                               now=now, killed=dead))
        taken += sum(source.take_back(leases, now, killed=dead) for source, leases in shards
                     if leases)
        # in one order: two workers starting at once take back together, and on PostgreSQL
        # rows locked in each process's own set order could deadlock them
        for worker in sorted(dead):
            state.workers.stopped(worker, now=now)
    return taken


class QueueSource(Source):
    """Deliveries from one queue of the state store."""

    def __init__(self, runtime: Runtime, target: Handler | Job) -> None:
        self.runtime = runtime
        self.target = target
        self.queue = target.store_queue
        if isinstance(target, Job):
            self.batch_size, self.max_attempts = 1, target.max_attempts
            self.visibility = JOB_VISIBILITY
            self.limit = target.concurrency
        else:
            self.batch_size = target.batch_size if target.kind == "queue" else 1
            self.max_attempts = target.attempts
            self.visibility = target.visibility
            self.limit = target.concurrency
        self.inflight = 0

    # -- claiming ---------------------------------------------------------------------
    def claim(self, now: float, capacity: int, worker: str, *, alone: int = 0,
              expired: bool = True) -> list[Taken]:
        queues = self.runtime.state.queues
        if expired:
            record_lost(self.runtime, recover_queue(self.runtime, self.queue,
                                                    max_receives=self.max_attempts, now=now))
        stored = []
        if alone > 0:
            stored = queues.receive(self.queue, now=now, limit=min(alone, capacity),
                                    visibility=self.visibility, worker=worker, alone=True)
        if capacity - len(stored) > 0:
            stored += queues.receive(self.queue, now=now,
                                     limit=(capacity - len(stored)) * self.batch_size,
                                     visibility=self.visibility, worker=worker)
        if not stored:
            return []
        batches = [[m] for m in stored if m.isolation]
        together = [m for m in stored if not m.isolation]
        batches += [together[i:i + self.batch_size]
                    for i in range(0, len(together), self.batch_size)]
        for surplus in batches[capacity:]:  # messages kept apart made more batches than asked
            for m in surplus:
                queues.unclaim(m, now=now)
        batches = batches[:capacity]
        queues.join_batches(batches)
        return [Taken(batch, batch[0].isolation == OWN_PROCESS) for batch in batches]

    def deliver(self, claimed: Sequence[Claimed], worker: str) -> list[Delivery]:
        batches = [c.messages for c in claimed if isinstance(c, Taken)]
        if isinstance(self.target, Job):
            return [self._delivery(b, worker, *self._job_spec(b)) for b in batches]
        # per claim rather than per message: the run ids, and the bodies parsed by one call
        kind, handler = self.target.kind, self.target
        return [self._delivery(b, worker, RunSpec(run_id, handler,
                                                  max(m.receive_count for m in b),
                                                  b[0].event_id, payload=payload), kind)
                for b, run_id, payload in zip(batches, new_run_ids(len(batches)),
                                              self._payloads(batches), strict=True)]

    def _job_spec(self, batch: list[StoredMessage]) -> tuple[RunSpec, str | None]:
        first = batch[0]
        body = json.loads(first.body)
        run_id = self.runtime.state.runs.queued_for(first.id) or new_run_id()
        return RunSpec(run_id, self.target, max(m.receive_count for m in batch), first.event_id,
                       body.get("partition"), body.get("params") or {}), body.get("trigger")

    def _delivery(self, batch: list[StoredMessage], worker: str, spec: RunSpec,
                  trigger: str | None) -> Delivery:
        first = batch[0]
        run = RunRecord(
            id=spec.run_id, app=self.target.app.name, kind="job" if spec.is_job else "handler",
            name=self.target.name, status=RunStatus.QUEUED, attempt=spec.attempt,
            partition=spec.partition, trigger=trigger, message_id=first.id,
            event_id=first.event_id, queued_at=first.sent_at,
            params=spec.params if spec.is_job else None, worker=worker,
        )
        return Delivery(self, spec, run, first.lease or "", str(first.id), batch,
                        alone=first.isolation == OWN_PROCESS)

    def _payloads(self, batches: list[list[StoredMessage]]) -> list[Any]:
        """What each batch's handler call receives."""
        handler = self.target
        assert isinstance(handler, Handler)
        resource = handler.resource
        if isinstance(resource, Bucket):
            bodies = [json.loads(b[0].body) for b in batches]
            return [ObjectRef(resource, body["key"], body["size"],
                              datetime.fromtimestamp(body["mtime"], UTC)) for body in bodies]
        if isinstance(resource, Stream):
            return [[_record(r) for r in json.loads(b[0].body)["records"]] for b in batches]
        messages = iter(messages_from([m for b in batches for m in b]))
        grouped = [[next(messages) for _ in b] for b in batches]
        if handler.kind == "queue" and handler.batch_size > 1:
            return grouped
        return [group[0] for group in grouped]

    # -- settling ---------------------------------------------------------------------
    def settlement(self, deliveries: list[Delivery], now: float) -> Callable[[], None]:
        """Plain successes of handlers share one acknowledgement, built beforehand (the hot
        path)."""
        state = self.runtime.state
        quick: list[Delivery] = []
        others: list[Delivery] = []
        handler = isinstance(self.target, Handler)
        for d in deliveries:
            plain = handler and d.outcome is not None and d.outcome.ok and d.outcome.result is None
            (quick if plain else others).append(d)
        leases = [(m.id, m.lease or "") for d in quick for m in d.messages]
        ended = [d.ended(RunStatus.SUCCEEDED, now) for d in quick]

        def write() -> None:
            if not others:
                state.acknowledge(leases, ended)
                return
            with state.atomic():
                if leases:
                    state.acknowledge(leases, ended)
                for delivery in others:
                    self.settle(delivery, now)
        return write

    def settle(self, delivery: Delivery, now: float) -> None:
        outcome = delivery.outcome
        assert outcome is not None
        spec, state = delivery.spec, self.runtime.state
        if outcome.ok or outcome.cancelled:
            state.queues.ack([(m.id, m.lease or "") for m in delivery.messages])
            status = RunStatus.SUCCEEDED if outcome.ok else RunStatus.CANCELLED
            state.runs.upsert([delivery.ended(status, now, outcome.error, outcome.result)])
            if outcome.ok and isinstance(self.target, Job):
                self.runtime.trigger_downstream(self.target, spec.partition, now)
            return
        failing, error, detail = delivery.messages, outcome.error or "failed", _detail(outcome)
        isolation = OWN_BATCH if len(failing) > 1 else None
        if outcome.failed is not None:  # the handler named the messages that failed
            failing = [m for m in delivery.messages if str(m.id) in outcome.failed]
            state.queues.ack([(m.id, m.lease or "") for m in delivery.messages
                              if m not in failing])
            error = f"{len(failing)} of {len(delivery.messages)} message(s) failed: {error}"
            detail, isolation = outcome.error or "failed", None
        retry_at = now + self._retry(spec.attempt)
        dead = 0
        for m in failing:
            if m.receive_count >= self.max_attempts:
                state.queues.dead_letter(m.id, m.lease or "", dlq=self.queue + ".dlq", now=now,
                                         error=(lost_reason(m.lost + 1, m.last_error)
                                                if outcome.lost else detail))
                dead += 1
            else:
                state.queues.release(m.id, m.lease or "", visible_at=retry_at, error=error,
                                     isolation=isolation, lost=outcome.lost)
        status = RunStatus.DEAD_LETTERED if dead == len(failing) else RunStatus.FAILED
        state.runs.upsert([delivery.ended(status, now, error)])
        if dead:
            log_general(self.runtime, self.target.app.name, 40,
                        "%s run %s dead-lettered after %d attempt(s): %s",
                        self.target.name, spec.run_id, spec.attempt, error)

    def extend(self, deliveries: list[Delivery], now: float) -> None:
        leases = [(m.id, m.lease or "") for d in deliveries for m in d.messages]
        self.runtime.state.queues.extend(leases, until=now + self.visibility)

    def release(self, delivery: Delivery, now: float) -> None:
        """Give back work this process will not finish (shutdown): visible again at once; work
        that never started does not count as a receive."""
        queues = self.runtime.state.queues
        if delivery.started_at is None:
            for m in delivery.messages:
                queues.unclaim(m, now=now)
            return
        for m in delivery.messages:
            queues.release(m.id, m.lease or "", visible_at=now)
        self.runtime.state.runs.upsert([delivery.ended(RunStatus.FAILED, now, STOPPED)])


def _detail(outcome: Outcome) -> str:
    """The error a dead-lettered message keeps: the one-line error and the traceback."""
    error = outcome.error or "failed"
    return error + (f"\n{outcome.traceback}" if outcome.traceback else "")


def _record(data: dict[str, Any]) -> Record:
    return Record(json.loads(data["data"]), data["pkey"], data["shard"], data["seq"],
                  datetime.fromtimestamp(data["ts"], UTC))


class StreamSource(Source):
    """Deliveries of stream records to one handler: per shard, in order, by count or window."""

    MAX_WINDOW_RECORDS = 1_000_000

    def __init__(self, runtime: Runtime, handler: Handler) -> None:
        assert isinstance(handler.resource, Stream)
        self.runtime = runtime
        self.target = handler
        self.stream = handler.resource
        self.limit = handler.concurrency
        self.inflight = 0
        self._pending: dict[int, Pending] = {}  # buffered handlers: per shard

    @property
    def handler(self) -> Handler:
        assert isinstance(self.target, Handler)
        return self.target

    def _first_after(self, shard: int, seq: int) -> StoredRecord | None:
        found = self.runtime.state.streams.read(self.stream.qualified, shard, after=seq, limit=1)
        return found[0] if found else None

    def _span(self, first: StoredRecord) -> tuple[float, float]:
        assert self.handler.window is not None
        start = math.floor(first.ts / self.handler.window) * self.handler.window
        return start, start + self.handler.window

    def _batch(self, state: ConsumerState,
               now: float) -> tuple[list[StoredRecord], tuple[float, float] | float | None]:
        """The records to deliver next, and the window they span; or none yet, and when they
        may be due. A batch claimed before (``upto``) comes again exactly as it was."""
        handler, streams = self.handler, self.runtime.state.streams
        qualified = self.stream.qualified
        if state.upto > state.seq:
            again = streams.read(qualified, state.shard, after=state.seq, through=state.upto,
                                 limit=state.upto - state.seq)
            if again:
                return again, self._span(again[0]) if handler.window is not None else None
        if handler.buffer is not None:
            return self._buffered(state, now)
        if handler.window is None:
            return streams.read(qualified, state.shard, after=state.seq,
                                limit=handler.batch_size), None
        first = self._first_after(state.shard, state.seq)
        if first is None:
            return [], None
        start, end = self._span(first)
        if now < end:
            return [], end
        return streams.read(qualified, state.shard, after=state.seq,
                            limit=self.MAX_WINDOW_RECORDS, before_ts=end), (start, end)

    def _buffered(self, state: ConsumerState,
                  now: float) -> tuple[list[StoredRecord], float | None]:
        """A sink's batch: closed by size or age (`cauce.runtime.buffering`)."""
        pending, due = self._scan(state.shard, state.seq, now)
        if pending.closed is None:
            return [], due
        return self.runtime.state.streams.read(
            self.stream.qualified, state.shard, after=state.seq, through=pending.closed,
            limit=pending.closed - state.seq), None

    def _scan(self, shard: int, seq: int, now: float) -> tuple[Pending, float | None]:
        streams, qualified = self.runtime.state.streams, self.stream.qualified
        pending = self._pending.get(shard)
        if pending is None or pending.checkpoint != seq:
            pending = self._pending[shard] = Pending(seq, seq)
        assert self.handler.buffer is not None
        max_bytes, max_seconds = self.handler.buffer.limits(self.runtime.settings_for(
            self.handler.app))
        due = pending.scan(lambda after, limit: streams.read(qualified, shard, after=after,
                                                             limit=limit),
                           max_bytes=max_bytes, max_seconds=max_seconds, now=now)
        return pending, due

    def claim(self, now: float, capacity: int, worker: str, *, alone: int = 0,
              expired: bool = True) -> list[Delivery]:
        handler, streams = self.handler, self.runtime.state.streams
        states = streams.consumers(self.stream.qualified, handler.name, self.stream.shards,
                                   latest=handler.start == "latest")
        expired = [s for s in states if s.expired(now)]
        if expired:
            self._recover(expired, now)
            states = streams.consumer_states(self.stream.qualified, handler.name)
        deliveries: list[Delivery] = []
        for state in states:
            if len(deliveries) >= capacity:
                break
            if state.held(now) or state.retry_at > now:
                continue
            if state.isolated and alone <= 0:
                continue
            records, window = self._batch(state, now)
            if not records:
                continue
            lease, run_id = new_token(), new_run_id()
            if not streams.take_shard(self.stream.qualified, handler.name, state.shard,
                                      lease=lease, now=now, until=now + handler.visibility,
                                      worker=worker, run_id=run_id, upto=records[-1].seq):
                continue
            alone -= bool(state.isolated)
            attempt = state.attempts + 1
            span = None
            if isinstance(window, tuple):
                span = (datetime.fromtimestamp(window[0], UTC),
                        datetime.fromtimestamp(window[1], UTC))
            spec = RunSpec(run_id, handler, attempt,
                           f"{self.stream.name}:{state.shard}:{records[0].seq}-{records[-1].seq}",
                           payload=_records(records),
                           window=span, shard=state.shard,
                           position=Position(self.stream.qualified, handler.name, state.shard,
                                             lease, records[-1].seq))
            run = RunRecord(id=run_id, app=handler.app.name, kind="handler", name=handler.name,
                            status=RunStatus.QUEUED, attempt=attempt, trigger="stream",
                            event_id=spec.event_id, queued_at=now, worker=worker)
            deliveries.append(Delivery(self, spec, run, lease, _shard_head(state.shard),
                                       last_seq=records[-1].seq, alone=bool(state.isolated)))
        return deliveries

    def held_by(self, workers: Collection[str], now: float) -> list[ConsumerState]:
        """This consumer's shards that ``workers`` hold leased, unexpired at ``now`` (a read)."""
        return [s for s in self.runtime.state.streams.consumer_states(self.stream.qualified,
                                                                       self.handler.name)
                if s.worker in workers and s.held(now)]

    def take_back(self, held: list[ConsumerState], now: float, *,
                  killed: Collection[str]) -> int:
        """Expire now the shard leases of ``held`` still held (their worker was killed, see
        `expire_gone_workers_leases`) and settle them, with any other expired lease; returns
        how many were taken back. Call it inside a transaction."""
        streams, qualified = self.runtime.state.streams, self.stream.qualified
        taken = sum(streams.extend(qualified, self.handler.name, s.shard, s.lease or "",
                                   until=now) for s in held)
        if taken:
            self._recover([s for s in streams.consumer_states(qualified, self.handler.name)
                           if s.expired(now)], now, killed=killed)
        return taken

    def _recover(self, expired: list[ConsumerState], now: float, *,
                 killed: Collection[str] = ()) -> None:
        """Settle shard leases that expired (see the module's docstring). ``killed``: workers
        known killed, whose leases `take_back` took; a batch of theirs that ran in a child
        process is given back without counting an attempt."""
        handler, state_store = self.handler, self.runtime.state
        streams, lost = state_store.streams, []
        for state in expired:
            lease = state.lease or ""
            run = state_store.runs.started(worker=state.worker, lease=lease,
                                           head=_shard_head(state.shard), run_id=state.run_id)
            if run is None:
                streams.give_back(self.stream.qualified, handler.name, state.shard, lease,
                                  started=False)
                continue
            if state.upto and state.seq >= state.upto:
                # its ctx.atomic() block committed the batch's checkpoint: only the settling
                # was lost, so the next batch counts no attempt for it and is not kept apart
                streams.give_back(self.stream.qualified, handler.name, state.shard, lease,
                                  started=False)
                lost.append(replace(run, status=RunStatus.FAILED, ended_at=now, error=LOST))
                continue
            if run.in_child and state.worker in killed:
                # the child cannot have killed its parent: the batch did nothing wrong, and
                # comes again as it was, kept apart as it was
                streams.give_back(self.stream.qualified, handler.name, state.shard, lease,
                                  started=False)
                lost.append(replace(run, status=RunStatus.FAILED, ended_at=now, error=KILLED))
                continue
            if state.attempts + 1 >= handler.max_attempts:
                records, _ = self._batch(state, now)
                reason = lost_reason(state.attempts + 1, state.last_error)
                self._dead_letter(state.shard, records, run.event_id or "", reason, now,
                                  state.attempts + 1)
                streams.commit(self.stream.qualified, handler.name, state.shard, lease,
                               seq=records[-1].seq if records else state.seq)
                lost.append(replace(run, status=RunStatus.DEAD_LETTERED, ended_at=now,
                                    error=reason))
            else:
                streams.give_back(self.stream.qualified, handler.name, state.shard, lease,
                                  started=True, error=LOST)
                lost.append(replace(run, status=RunStatus.FAILED, ended_at=now, error=LOST))
        record_lost(self.runtime, lost)

    def has_work(self, now: float) -> bool:
        """Whether a shard has records to deliver now (a read, so idle polls take no write lock)."""
        return self._ready(now, alone=False)

    def has_alone(self, now: float) -> bool:
        """Whether a shard that must be delivered alone (its last worker died), or one whose
        lease expired, is ready."""
        return self._ready(now, alone=True)

    def _ready(self, now: float, *, alone: bool) -> bool:
        handler = self.handler
        known = {s.shard: s for s in self.runtime.state.streams.consumer_states(
            self.stream.qualified, handler.name)}
        for shard in range(self.stream.shards):
            state = known.get(shard)
            if alone and not (state and (state.isolated or state.expired(now))):
                continue  # neither kept apart nor (its lease expired) perhaps about to be
            seq = state.seq if state else 0
            if state and (state.held(now) or state.retry_at > now):
                continue
            first = self._first_after(shard, seq)
            if first is None:
                continue
            if handler.buffer is not None:
                if (state and state.upto > seq) or self._scan(shard, seq, now)[0].closed:
                    return True
                continue
            if handler.window is None:
                return True
            if now >= math.floor(first.ts / handler.window) * handler.window + handler.window:
                return True
        return False

    def next_wakeup(self, now: float) -> float | None:
        """The earliest future time a window closes or a retry is due."""
        times = []
        for state in self.runtime.state.streams.consumers(
                self.stream.qualified, self.handler.name, self.stream.shards,
                latest=self.handler.start == "latest"):
            if state.retry_at > now:
                times.append(state.retry_at)
                continue
            records, window = self._batch(state, now)
            if not records and isinstance(window, float):
                times.append(window)
        return min(times) if times else None

    def _dead_letter(self, shard: int, records: list[StoredRecord], event_id: str, error: str,
                     now: float, attempts: int) -> None:
        """Write a batch of records to the handler's dead-letter queue, to replay later."""
        handler = self.handler
        rows = [{"data": r.data, "pkey": r.pkey, "shard": r.shard, "seq": r.seq, "ts": r.ts}
                for r in records]
        body = json.dumps({"stream": self.stream.name, "shard": shard, "records": rows})
        self.runtime.state.queues.send(handler.store_queue + ".dlq", [body], now=now,
                                       event_ids=[event_id],
                                       attrs={"source_queue": handler.store_queue}, error=error,
                                       receives=attempts)

    def settle(self, delivery: Delivery, now: float) -> None:
        outcome = delivery.outcome
        assert outcome is not None and delivery.spec.shard is not None
        handler, spec = self.handler, delivery.spec
        streams, runs = self.runtime.state.streams, self.runtime.state.runs
        where = (self.stream.qualified, handler.name, spec.shard, delivery.lease)
        if outcome.ok or outcome.cancelled:
            streams.commit(*where, seq=delivery.last_seq or 0)
            status = RunStatus.SUCCEEDED if outcome.ok else RunStatus.CANCELLED
            runs.upsert([delivery.ended(status, now, outcome.error)])
            return
        if spec.attempt >= handler.max_attempts:
            error = (lost_reason(spec.attempt, None) if outcome.lost else _detail(outcome))
            self._dead_letter(spec.shard, [
                StoredRecord(r.shard, r.seq, r.partition_key, json.dumps(r.data),
                             r.ts.timestamp()) for r in spec.payload],
                spec.event_id or "", error, now, spec.attempt)
            streams.commit(*where, seq=delivery.last_seq or 0)
            runs.upsert([delivery.ended(RunStatus.DEAD_LETTERED, now, outcome.error)])
            log_general(self.runtime, handler.app.name, 40, "%s: records %s dead-lettered: %s",
                        handler.name, spec.event_id, outcome.error)
        else:
            streams.fail(*where, retry_at=now + self._retry(spec.attempt), error=outcome.error)
            runs.upsert([delivery.ended(RunStatus.FAILED, now, outcome.error)])

    def extend(self, deliveries: list[Delivery], now: float) -> None:
        for d in deliveries:
            self.runtime.state.streams.extend(self.stream.qualified, self.handler.name,
                                              d.spec.shard or 0, d.lease,
                                              until=now + self.handler.visibility)

    def release(self, delivery: Delivery, now: float) -> None:
        streams = self.runtime.state.streams
        where = (self.stream.qualified, self.target.name, delivery.spec.shard or 0, delivery.lease)
        if delivery.started_at is None:
            streams.give_back(*where, started=False)
            return
        streams.fail(*where, retry_at=now, error="worker stopped")
        self.runtime.state.runs.upsert([delivery.ended(RunStatus.FAILED, now, STOPPED)])


def _records(stored: list[StoredRecord]) -> list[Record]:
    """A batch's records, their JSON texts parsed in one call (a thousand calls of json.loads
    cost about twice as much)."""
    values = json.loads("[" + ",".join(r.data for r in stored) + "]")
    return [Record(value, r.pkey, r.shard, r.seq, datetime.fromtimestamp(r.ts, UTC))
            for value, r in zip(values, stored, strict=True)]


def _shard_head(shard: int) -> str:
    return f"shard {shard}"


def build_sources(runtime: Runtime) -> list[Source]:
    """Every source of the runtime's app, in declaration order: handlers, then jobs."""
    app = runtime.app
    found: list[Source] = []
    for handler in app.handlers.values():
        if isinstance(handler.resource, Stream):
            found.append(StreamSource(runtime, handler))
        found.append(QueueSource(runtime, handler))
    for job in app.jobs.values():
        found.append(QueueSource(runtime, job))
    return found
