"""Where deliveries come from: a queue (user queues, and the internal queues behind bucket
events, topic subscriptions and job runs) or the shards of a stream.

A source claims work inside a write transaction (taking leases and creating run records) and
settles it inside another (ack, retry later, or dead-letter, and the run's final status).
"""

from __future__ import annotations

import json
import math
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import runs
from ..app import Handler, Job
from ..backends.local import queues, streams
from ..backends.local.queues import StoredMessage
from ..events import ObjectRef, Record
from ..resources.bucket import Bucket
from ..resources.queue import message_from
from ..resources.stream import Stream
from ..runs import NewRun, RunStatus
from .execute import Outcome, RunSpec, log_general
from .retry import backoff

if TYPE_CHECKING:
    import sqlite3

    from .runtime import Runtime

JOB_VISIBILITY = 300.0


@dataclass(eq=False)
class Delivery:
    """Work claimed by this process: the run to execute and what to settle afterwards."""

    source: Source
    spec: RunSpec
    messages: list[StoredMessage] = field(default_factory=list)
    shard_lease: str | None = None
    last_seq: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None


class Source(ABC):
    """Base of the two kinds of source: claim work, settle it, keep or give back its leases."""

    @abstractmethod
    def claim(self, con: sqlite3.Connection, now: float, capacity: int,
              worker: str) -> list[Delivery]:
        """Take up to ``capacity`` deliveries (leases and run records) in the caller's
        transaction."""

    @abstractmethod
    def settle(self, con: sqlite3.Connection, delivery: Delivery, now: float) -> None:
        """Record how a delivery ended: ack, retry later, or dead-letter."""

    @abstractmethod
    def extend(self, con: sqlite3.Connection, deliveries: list[Delivery], now: float) -> None:
        """Keep the leases of deliveries still running."""

    @abstractmethod
    def release(self, con: sqlite3.Connection, delivery: Delivery, now: float) -> None:
        """Give back a delivery this process will not finish."""

    def settle_many(self, con: sqlite3.Connection, deliveries: list[Delivery], now: float) -> None:
        for delivery in deliveries:
            self.settle(con, delivery, now)

    target: Handler | Job
    limit: int | None
    inflight: int = 0

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def in_process(self) -> bool:
        return isinstance(self.target, Job) and self.target.worker == "process"

    def _retry(self, attempt: int) -> float:
        t = self.target
        cap = t.max_retry_delay
        return backoff(attempt, t.retry_delay, cap)


class QueueSource(Source):
    """Deliveries from one queue of the state database."""

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
    def claim(self, con: sqlite3.Connection, now: float, capacity: int,
              worker: str) -> list[Delivery]:
        stored = queues.receive(con, self.queue, now=now, limit=capacity * self.batch_size,
                                visibility=self.visibility)
        if not stored:
            return []
        runs.mark_lost(con, [m.id for m in stored if m.receive_count > 1], now)
        batches = [stored[i:i + self.batch_size] for i in range(0, len(stored), self.batch_size)]
        deliveries, new_runs = [], []
        for batch in batches:
            first = batch[0]
            attempt = max(m.receive_count for m in batch)
            if isinstance(self.target, Job):
                body = json.loads(first.body)
                run_id = runs.start_queued(con, first.id, now=now, worker=worker, attempt=attempt)
                spec = RunSpec(run_id or runs.new_run_id(), self.target, attempt, first.event_id,
                               body.get("partition"), body.get("params") or {})
                if run_id is None:
                    new_runs.append(self._new_run(spec, first, now, worker, body.get("trigger")))
            else:
                spec = RunSpec(runs.new_run_id(), self.target, attempt, first.event_id,
                               payload=self._payload(batch))
                new_runs.append(self._new_run(spec, first, now, worker, self.target.kind))
            deliveries.append(Delivery(self, spec, batch))
        runs.insert(con, new_runs)
        return deliveries

    def _new_run(self, spec: RunSpec, first: StoredMessage, now: float, worker: str,
                 trigger: str | None) -> NewRun:
        return NewRun(
            id=spec.run_id, app=self.target.app.name, kind="job" if spec.is_job else "handler",
            name=self.target.name, status=RunStatus.RUNNING, attempt=spec.attempt,
            partition=spec.partition, trigger=trigger, message_id=first.id,
            event_id=first.event_id, queued_at=first.sent_at, started_at=now,
            params=spec.params if spec.is_job else None, worker=worker,
        )

    def _payload(self, batch: list[StoredMessage]) -> Any:
        handler = self.target
        assert isinstance(handler, Handler)
        resource = handler.resource
        if isinstance(resource, Bucket):
            body = json.loads(batch[0].body)
            return ObjectRef(resource, body["key"], body["size"],
                             datetime.fromtimestamp(body["mtime"], UTC))
        if isinstance(resource, Stream):
            body = json.loads(batch[0].body)
            return [_record(r) for r in body["records"]]
        messages = [message_from(m) for m in batch]
        return messages if handler.kind == "queue" and handler.batch_size > 1 else messages[0]

    # -- settling ---------------------------------------------------------------------
    def settle_many(self, con: sqlite3.Connection, deliveries: list[Delivery], now: float) -> None:
        """Settle deliveries; plain successes of handlers share two statements (the hot path)."""
        quick = [d for d in deliveries
                 if isinstance(self.target, Handler) and d.outcome and d.outcome.ok
                 and d.outcome.result is None]
        if quick:
            queues.ack(con, [(m.id, m.lease or "") for d in quick for m in d.messages])
            runs.finish_many(con, [(d.spec.run_id, RunStatus.SUCCEEDED, None) for d in quick], now)
        for delivery in deliveries:
            if delivery not in quick:
                self.settle(con, delivery, now)

    def settle(self, con: sqlite3.Connection, delivery: Delivery, now: float) -> None:
        outcome = delivery.outcome
        assert outcome is not None
        spec = delivery.spec
        leases = [(m.id, m.lease or "") for m in delivery.messages]
        if outcome.ok or outcome.cancelled:
            queues.ack(con, leases)
            status = RunStatus.SUCCEEDED if outcome.ok else RunStatus.CANCELLED
            runs.finish(con, spec.run_id, status, now=now, error=outcome.error,
                        result=outcome.result)
            if outcome.ok and isinstance(self.target, Job):
                self.runtime.trigger_downstream(con, self.target, spec.partition, now)
            return
        error = outcome.error or "failed"
        if spec.attempt >= self.max_attempts:
            for mid, lease in leases:
                queues.dead_letter(con, mid, lease, dlq=self.queue + ".dlq", now=now,
                                   error=_detail(outcome))
            runs.finish(con, spec.run_id, RunStatus.DEAD_LETTERED, now=now, error=error)
            log_general(self.runtime, self.target.app.name, 40,
                        "%s run %s dead-lettered after %d attempt(s): %s",
                        self.target.name, spec.run_id, spec.attempt, error)
        else:
            retry_at = now + self._retry(spec.attempt)
            for mid, lease in leases:
                queues.release(con, mid, lease, visible_at=retry_at, error=error)
            runs.finish(con, spec.run_id, RunStatus.FAILED, now=now, error=error)

    def extend(self, con: sqlite3.Connection, deliveries: list[Delivery], now: float) -> None:
        leases = [(m.id, m.lease or "") for d in deliveries for m in d.messages]
        queues.extend(con, leases, now + self.visibility)

    def release(self, con: sqlite3.Connection, delivery: Delivery, now: float) -> None:
        """Give back work this process will not finish (shutdown): visible again at once."""
        for m in delivery.messages:
            queues.release(con, m.id, m.lease or "", visible_at=now)
        runs.finish(con, delivery.spec.run_id, RunStatus.FAILED, now=now,
                    error="worker stopped before the run finished; delivered again")


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

    def _batch(self, con: sqlite3.Connection, state: streams.ConsumerState, now: float):
        handler = self.target
        assert isinstance(handler, Handler)
        if handler.window is None:
            records = streams.read(con, self.stream.qualified, state.shard, state.seq,
                                   handler.batch_size)
            return records, None
        first = streams.first_after(con, self.stream.qualified, state.shard, state.seq)
        if first is None:
            return [], None
        start = math.floor(first.ts / handler.window) * handler.window
        end = start + handler.window
        if now < end:
            return [], end
        records = streams.read(con, self.stream.qualified, state.shard, state.seq,
                               self.MAX_WINDOW_RECORDS, before_ts=end)
        return records, (start, end)

    def claim(self, con: sqlite3.Connection, now: float, capacity: int,
              worker: str) -> list[Delivery]:
        handler = self.target
        assert isinstance(handler, Handler)
        deliveries: list[Delivery] = []
        for state in streams.consumer_states(con, self.stream.qualified, handler.name,
                                             self.stream.shards):
            if len(deliveries) >= capacity:
                break
            if (state.lease and state.lease_until > now) or state.retry_at > now:
                continue
            records, window = self._batch(con, state, now)
            if not records:
                continue
            lease = queues.new_token()
            if not streams.take_shard(con, self.stream.qualified, handler.name, state.shard, lease,
                                      now, now + handler.visibility):
                continue
            attempt = state.attempts + 1
            span = None
            if isinstance(window, tuple):
                span = (datetime.fromtimestamp(window[0], UTC),
                        datetime.fromtimestamp(window[1], UTC))
            spec = RunSpec(runs.new_run_id(), handler, attempt,
                           f"{self.stream.name}:{state.shard}:{records[0].seq}-{records[-1].seq}",
                           payload=[Record(json.loads(r.data), r.pkey, r.shard, r.seq,
                                           datetime.fromtimestamp(r.ts, UTC)) for r in records],
                           window=span, shard=state.shard)
            runs.insert(con, [NewRun(id=spec.run_id, app=handler.app.name, kind="handler",
                                     name=handler.name, status=RunStatus.RUNNING, attempt=attempt,
                                     trigger="stream", event_id=spec.event_id, started_at=now,
                                     worker=worker)])
            deliveries.append(Delivery(self, spec, shard_lease=lease, last_seq=records[-1].seq))
        return deliveries

    def has_work(self, con: sqlite3.Connection, now: float) -> bool:
        """Whether a shard has records to deliver now (a read, so idle polls take no write lock)."""
        handler = self.target
        assert isinstance(handler, Handler)
        rows = con.execute(
            "SELECT c.shard, c.seq, c.lease, c.lease_until, c.retry_at "
            "FROM stream_consumers AS c "
            "WHERE c.stream = ? AND c.consumer = ?",
            (self.stream.qualified, handler.name)).fetchall()
        known = {r[0]: r for r in rows}
        for shard in range(self.stream.shards):
            row = known.get(shard)
            seq = row[1] if row else 0
            if row and ((row[2] and row[3] > now) or row[4] > now):
                continue
            first = streams.first_after(con, self.stream.qualified, shard, seq)
            if first is None:
                continue
            if handler.window is None:
                return True
            if now >= math.floor(first.ts / handler.window) * handler.window + handler.window:
                return True
        return False

    def next_wakeup(self, con: sqlite3.Connection, now: float) -> float | None:
        """The earliest future time a window closes or a retry is due."""
        handler = self.target
        assert isinstance(handler, Handler)
        times = []
        for state in streams.consumer_states(con, self.stream.qualified, handler.name,
                                             self.stream.shards):
            if state.retry_at > now:
                times.append(state.retry_at)
                continue
            records, window = self._batch(con, state, now)
            if not records and isinstance(window, float):
                times.append(window)
        return min(times) if times else None

    def settle(self, con: sqlite3.Connection, delivery: Delivery, now: float) -> None:
        outcome = delivery.outcome
        assert outcome is not None and delivery.spec.shard is not None and delivery.shard_lease
        handler = self.target
        spec = delivery.spec
        args = (con, self.stream.qualified, handler.name, spec.shard, delivery.shard_lease)
        if outcome.ok or outcome.cancelled:
            streams.finish(*args, seq=delivery.last_seq)
            status = RunStatus.SUCCEEDED if outcome.ok else RunStatus.CANCELLED
            runs.finish(con, spec.run_id, status, now=now, error=outcome.error)
            return
        if spec.attempt >= handler.max_attempts:
            records = [{"data": json.dumps(r.data), "pkey": r.partition_key, "shard": r.shard,
                        "seq": r.seq, "ts": r.ts.timestamp()} for r in spec.payload]
            body = json.dumps({"stream": self.stream.name, "shard": spec.shard,
                               "records": records})
            queues.send(con, handler.store_queue + ".dlq", [body], now=now,
                        event_ids=[spec.event_id or ""],
                        attrs={"source_queue": handler.store_queue}, error=_detail(outcome))
            streams.finish(*args, seq=delivery.last_seq)
            runs.finish(con, spec.run_id, RunStatus.DEAD_LETTERED, now=now, error=outcome.error)
            log_general(self.runtime, handler.app.name, 40, "%s: records %s dead-lettered: %s",
                        handler.name, spec.event_id, outcome.error)
        else:
            streams.finish(*args, seq=None, retry_at=now + self._retry(spec.attempt),
                           error=outcome.error)
            runs.finish(con, spec.run_id, RunStatus.FAILED, now=now, error=outcome.error)

    def extend(self, con: sqlite3.Connection, deliveries: list[Delivery], now: float) -> None:
        handler = self.target
        for d in deliveries:
            streams.extend(con, self.stream.qualified, handler.name, d.spec.shard or 0,
                           d.shard_lease or "", now + handler.visibility)

    def release(self, con: sqlite3.Connection, delivery: Delivery, now: float) -> None:
        streams.finish(con, self.stream.qualified, self.target.name, delivery.spec.shard or 0,
                       delivery.shard_lease or "", seq=None, retry_at=now, error="worker stopped")
        runs.finish(con, delivery.spec.run_id, RunStatus.FAILED, now=now,
                    error="worker stopped before the run finished; delivered again")


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
