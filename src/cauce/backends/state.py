"""The state contract: every operation cauce performs on its state, written down once.

Queues (and the topics, bucket events and job runs built on them), tables, streams, runs and
their leases, log streams, schedule bookkeeping, the worker registry and watched-bucket state
all live in one *state store*, chosen by a URL: ``sqlite:///path/state.db`` (the default,
``<home>/state.db``) or, with another implementation, ``postgresql://…``. Resources, the
runtime and the command line call the operations below and nothing else; each engine
implements them once (`cauce.backends.sqlite`), and one contract test suite (tests/state)
runs against every implementation.

**Transactions.** Every call is one transaction: it happens entirely or not at all, and what it
wrote is visible to every process once it returns. ``with state.atomic():`` groups calls made
in the same thread into one transaction — committed when the block ends, rolled back (and the
exception re-raised) when it raises; an ``atomic()`` inside another is a savepoint, so an inner
failure can be caught without losing the outer work. Writes inside a block see each other; other
processes see none of them until the outermost block commits. This is how the dispatcher settles
a whole batch (acknowledgements, run records, downstream job runs) at once, how a publish
reaches every subscriber or none, and how a claim takes its leases and creates its runs together.

**Values.** What crosses the seam is plain Python: ``str``, ``int``, ``float``, ``None``, JSON-like
dicts and lists, and the record dataclasses of this module. Message bodies, table items and
stream records are JSON text, serialised above the seam by the resources; a store keeps them
as given (it may store them as a JSON type, e.g. jsonb, as long as the text read back parses to
the same value — strings holding ``\\u0000`` or a lone surrogate escape included, which jsonb
refuses as they are: tests/state/test_state_hostile_values.py). Structured values a store
keeps for cauce — message attributes, run parameters and results — are passed as Python values
and returned as equal ones.

**Time.** Every operation that depends on time takes ``now`` (epoch seconds of the runtime's
clock); a store never reads the system clock, so a simulated clock governs leases and
visibility in tests exactly as the real one does in production.

**Leases.** Receiving a message, taking a stream shard and leading a scheduler each take a lease:
a random token and an expiry. Only the holder of the current token can settle or extend it; an
expired lease is settled by whoever claims next (see `QueueStore.expired`), so a holder that dies
needs no detection.

**Errors.** A store raises `cauce.errors.StateError` (one line and a hint) when its engine is
unreachable, its storage damaged or full; other engine errors are bugs and propagate as they are.
"""

from __future__ import annotations

import importlib
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from ..errors import ConfigError
from ..logs import LogLine
from ..runs import Run, RunRecord, RunStatus
from ..textfiles import real_path

# Above every key of up to 4 kB (a table's keys are at most 1 kB) in code-point order.
_ABOVE_EVERY_KEY = "\U0010ffff" * 1024


def key_range_end(prefix: str) -> str:
    """The exclusive end of the range of keys that start with ``prefix``, in code-point order
    (SQLite's binary and PostgreSQL's "C" collation): the prefix with its last character raised
    by one. ``prefix + "\U0010ffff"`` is not it: a key may hold U+10FFFF after the prefix."""
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return _ABOVE_EVERY_KEY
    following = ord(stem[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters: U+E000 comes next
        following = 0xE000
    return stem[:-1] + chr(following)


def new_token() -> str:
    """A random token: a lease, a worker's or an event's identity."""
    return secrets.token_hex(8)


def by_queue(rows: Iterable[Sequence[Any]]) -> dict[str, list[tuple[int, str]]]:
    """Rows ``(queue, id, lease)`` as `QueueStore.held_by` returns them."""
    held: dict[str, list[tuple[int, str]]] = {}
    for queue, message_id, lease in rows:
        held.setdefault(queue, []).append((message_id, lease))
    return held


# -- records ------------------------------------------------------------------------------


@dataclass
class StoredMessage:
    """A message as stored, with the lease of the receive that returned it."""

    id: int
    queue: str
    body: str
    event_id: str
    group: str | None
    sent_at: float
    receive_count: int
    lease: str | None = None
    last_error: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    visible_at: float = 0.0
    worker: str | None = None
    batch_head: int | None = None
    isolation: int = 0
    lost: int = 0

    @property
    def head(self) -> int:
        """The first message of the batch this one was delivered in (itself when alone)."""
        return self.batch_head or self.id


# How a message is delivered: with others, in a batch of its own (after its batch failed as a
# whole), or alone in a process of its own (after a worker died while handling it).
TOGETHER, OWN_BATCH, OWN_PROCESS = 0, 1, 2


@dataclass
class StoredRecord:
    """A stream record: its shard, sequence number, partition key, JSON text and time."""

    shard: int
    seq: int
    pkey: str
    data: str
    ts: float


@dataclass
class ConsumerState:
    """A stream consumer's checkpoint and lease on one shard."""

    shard: int
    seq: int
    lease: str | None
    lease_until: float
    attempts: int
    retry_at: float
    last_error: str | None
    worker: str | None = None
    run_id: str | None = None
    isolated: int = 0
    upto: int = 0  # the last record of the batch claimed (0: none), redelivered as it was

    def held(self, now: float) -> bool:
        """Whether a worker holds its lease at ``now`` (taken, not run out)."""
        return bool(self.lease) and self.lease_until > now

    def expired(self, now: float) -> bool:
        """Whether its lease was taken and ran out by ``now``."""
        return bool(self.lease) and self.lease_until <= now


@dataclass(frozen=True)
class Start:
    """A delivery a worker started: the lease it was claimed under, the message (or stream shard)
    that heads it, and its run record as it began (`RunRecord.as_dict`, whose ``worker`` names
    the process that started it and ``in_child`` says whether it runs in a child process of
    that one)."""

    lease: str
    head: str
    run: dict[str, Any]


@dataclass(frozen=True)
class ScheduleState:
    """The bookkeeping of one job's schedule: its spec, next fire time, and why it is paused."""

    job: str
    spec: str
    next_at: float
    paused: str | None


@dataclass(frozen=True)
class SeenObject:
    """An object of a watched bucket as the last look saw it."""

    key: str
    size: int
    mtime: float
    seen_at: float
    tag: str | None = None  # `StoredObject.tag`; None where the storage keeps none, or not yet


@dataclass
class Verdict:
    """What a full check of a state store found (`cauce state check`)."""

    where: str
    problems: list[str] = field(default_factory=list)
    version: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    hint: str | None = None  # how to recover, when it is damaged
    newer: bool = False  # its one problem: a newer cauce wrote it (not damage)

    @property
    def sound(self) -> bool:
        return not self.problems

    def newer_than(self, known: int) -> None:
        """Note that the schema version found is newer than ``known``, this cauce's. Alone, that
        is no damage: the advice is to upgrade cauce, not to restore the state from a backup
        or move it aside, which would lose the work a newer cauce keeps in it."""
        self.problems.append(f"its schema version {self.version} is newer than this cauce's "
                             f"({known}): upgrade cauce")
        if len(self.problems) == 1:
            self.newer = True
            self.hint = ("upgrade cauce on this machine to the version that wrote it; "
                         "the state is not damaged, so keep it as it is")


# -- the contract, by concept ---------------------------------------------------------------


class QueueStore(ABC):
    """Durable queues: at-least-once delivery with leases that expire; topics are sends to
    several queues in one transaction. A message is *visible* when ``visible_at <= now`` and
    nobody holds its lease; in a message group only the oldest message can be received."""

    @abstractmethod
    def send(self, queue: str, bodies: Sequence[str], *, now: float, delay: float = 0.0,
             group: str | None = None, event_ids: Sequence[str] | None = None,
             attrs: Mapping[str, Any] | None = None, error: str | None = None,
             receives: int = 0) -> list[int]:
        """Store messages, visible at ``now + delay``; returns their ids, in order. Ids increase
        and are never reused. Without ``event_ids`` each message gets a new random event id.
        ``receives`` starts the receive count (records dead-lettered from a stream keep their
        attempts)."""

    @abstractmethod
    def publish(self, queues: Sequence[str], body: str, *, now: float, event_id: str) -> None:
        """A topic's fan-out: one copy of ``body`` in each of ``queues``, all with ``event_id``,
        in one transaction (every subscriber gets it, or none does)."""

    @abstractmethod
    def receive(self, queue: str, *, now: float, limit: int, visibility: float,
                worker: str | None = None, alone: bool | None = False) -> list[StoredMessage]:
        """Lease up to ``limit`` visible messages for ``visibility`` seconds, oldest first:
        each gets one token (the same for this call), ``receive_count + 1`` and ``worker``.
        ``alone=False`` takes messages delivered with others, ``True`` those kept apart in a
        process of their own (``isolation == OWN_PROCESS``), ``None`` any. Atomic: two callers
        never lease the same message. Expired leases are not taken: settle them first. Called
        outside `StateStore.atomic` it is a claim of its own, which an engine may commit
        without waiting for its disk (see ``durable=False`` there)."""

    @abstractmethod
    def expired(self, queue: str, *, now: float) -> list[StoredMessage]:
        """Messages whose lease ran out unsettled (their holder died, or stopped renewing it),
        with that lease, oldest first. Reading them changes nothing."""

    @abstractmethod
    def held_by(self, queues: Sequence[str], workers: Collection[str], *,
                now: float) -> dict[str, list[tuple[int, str]]]:
        """The leases ``(id, token)`` that ``workers`` hold, unexpired at ``now``, on messages
        of ``queues``: per queue holding any, by id (a killed worker's, to take back). One read
        of the leased messages of those queues alone: the waiting ones are never read, so it
        costs the same behind a million of them."""

    @abstractmethod
    def join_batches(self, batches: Sequence[Sequence[StoredMessage]]) -> None:
        """Remember which leased messages were delivered together (each one's ``batch_head`` is
        the first of its batch), so a lost batch is found as one."""

    @abstractmethod
    def ack(self, leases: Sequence[tuple[int, str]]) -> int:
        """Delete messages whose lease ``(id, token)`` is still held; returns how many. A lease
        that expired (and perhaps was taken again) deletes nothing."""

    @abstractmethod
    def release(self, message_id: int, lease: str, *, visible_at: float,
                error: str | None = None, isolation: int | None = None,
                lost: bool = False, counted: bool = True) -> bool:
        """Give back a leased message, visible at ``visible_at``, keeping ``error`` as its last
        error; ``isolation`` raises (never lowers) how apart it is delivered from then on;
        ``lost`` counts a delivery whose worker died; ``counted=False`` takes back the receive
        that leased it, as `unclaim` does (a delivery whose end says nothing about the message:
        it ran in a child process whose parent was killed). False if the lease is no longer
        held."""

    @abstractmethod
    def unclaim(self, message: StoredMessage, *, now: float) -> bool:
        """Give back a message whose delivery never started: visible at ``now``, and the
        receive that leased it not counted. False if the lease is no longer held."""

    @abstractmethod
    def dead_letter(self, message_id: int, lease: str, *, dlq: str, now: float,
                    error: str) -> bool:
        """Move a leased message to the queue ``dlq`` with ``error``, remembering its queue in
        the attribute ``source_queue``; False if the lease is no longer held."""

    @abstractmethod
    def extend(self, leases: Sequence[tuple[int, str]], *, until: float) -> int:
        """Move the expiry of leases still held to ``until``; returns how many."""

    @abstractmethod
    def drop_unclaimed(self, message_id: int) -> bool:
        """Delete a message nobody holds (a queued job run cancelled); False if it is leased or
        gone."""

    @abstractmethod
    def next_visible(self, queues: Sequence[str]) -> dict[str, float]:
        """For each queue holding messages, the earliest ``visible_at`` among them (leased ones
        included: their lease's expiry). Called on every poll: it must not grow with depth."""

    @abstractmethod
    def alone_ready(self, queues: Sequence[str], *, now: float) -> list[str]:
        """The queues holding, now, a message kept apart in a process of its own or one whose
        lease expired (which may turn out to need that)."""

    def ready(self, queues: Sequence[str], *, now: float) -> dict[str, tuple[float, bool]]:
        """`next_visible` and `alone_ready` asked together, as a claim asks them: per queue
        holding messages, its earliest ``visible_at`` and whether it holds, now, work kept apart
        or a lease that expired. One statement where the engine can (every claim asks it)."""
        found = self.next_visible(queues)
        apart = set(self.alone_ready([q for q in queues if found.get(q, now + 1) <= now],
                                     now=now))
        return {q: (at, q in apart) for q, at in found.items()}

    @abstractmethod
    def holds(self, queue: str, field: str, value: Any) -> bool:
        """Whether a message of ``queue`` (visible, leased or delayed) has a JSON body whose
        top-level ``field`` equals ``value`` (``None``: the field is null or missing). Text is
        compared as the engine's JSON functions read it: SQLite's stop at a U+0000, PostgreSQL's
        read U+0000 and lone surrogates as U+FFFD; a body's own text always matches."""

    @abstractmethod
    def text_values(self, queue: str, field: str) -> set[str]:
        """The text values of the top-level ``field`` of the JSON bodies of ``queue``'s messages
        (visible, leased or delayed), read as `holds` reads them; values of other types are
        left out. One read, where a `holds` per value costs a pass over the queue each."""

    @abstractmethod
    def stats(self, queues: Sequence[str], *, now: float) -> dict[str, tuple[int, int, int]]:
        """Per queue holding messages: (visible, leased or delayed, age of the oldest in whole
        seconds)."""

    @abstractmethod
    def listing(self, queue: str, limit: int | None = None) -> list[StoredMessage]:
        """The messages of a queue, oldest first, without leasing them."""

    @abstractmethod
    def replay(self, dlq: str, *, now: float,
               ids: Sequence[int] | None = None) -> list[StoredMessage]:
        """Move dead-lettered messages (all, or ``ids``) back to the queue each came from (its
        ``source_queue``, else ``dlq`` without ``.dlq``), visible now, with a fresh receive
        count and isolation, and the attribute ``replayed`` counting replays; returns them as
        moved."""

    @abstractmethod
    def purge(self, queue: str, ids: Sequence[int] | None = None) -> int:
        """Delete every message of a queue, or those of ``ids`` that are in it (an id of
        another queue's message is left alone); returns how many."""


class TableStore(ABC):
    """Key–value tables of JSON text, with a version per item for conditional writes. Keys are
    text (a composite key's parts joined by U+001F by the resource), compared as text."""

    @abstractmethod
    def get(self, table: str, key: str) -> tuple[str, int] | None:
        """The item's JSON text and version, or None."""

    @abstractmethod
    def put(self, table: str, key: str, value: str, *, indexes: Mapping[str, str], now: float,
            if_absent: bool = False, if_version: int | None = None) -> int | None:
        """Write an item and its index entries (``{index: value text}``, replacing the old
        ones); returns its new version (1 for a new item, then +1 per write), or None — and
        nothing written — when ``if_absent`` and it exists, or ``if_version`` is not its
        version. The check and the write are one atomic step."""

    @abstractmethod
    def delete(self, table: str, key: str, *, if_version: int | None = None) -> bool:
        """Delete an item (only at ``if_version``, if given) and its index entries; False when
        nothing was deleted."""

    @abstractmethod
    def by_prefix(self, table: str, prefix: str, limit: int | None = None) -> list[str]:
        """Items whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def by_index(self, table: str, index: str, value: str,
                 limit: int | None = None) -> list[str]:
        """Items whose ``index`` entry equals ``value``, in key order."""

    @abstractmethod
    def scan(self, table: str, page: int = 1000) -> Iterator[str]:
        """Every item in key order, read a page at a time (each page its own read, so a long
        scan never holds up writers; items written meanwhile may or may not appear)."""

    @abstractmethod
    def count(self, table: str) -> int:
        """How many items the table holds."""


class StreamStore(ABC):
    """Append-only, sharded, ordered logs, and per-consumer checkpoints with shard leases.

    Sequence numbers start at 1 in each shard and never go back: trimming drops the oldest
    records but the next append still continues after the newest number ever given."""

    @abstractmethod
    def append(self, stream: str, shard: int, items: Sequence[tuple[str, str]], *,
               now: float) -> list[int]:
        """Append ``(partition key, JSON text)`` records to a shard, stamped ``now``; returns
        their sequence numbers: consecutive, after every number given before (trimmed ones
        too), so order within a shard is the order of commits. Several shards in one
        transaction: call it per shard inside ``atomic()``."""

    @abstractmethod
    def read(self, stream: str, shard: int, *, after: int, limit: int,
             before_ts: float | None = None, through: int | None = None) -> list[StoredRecord]:
        """Up to ``limit`` records of a shard after sequence ``after`` (up to ``through``, and
        stamped before ``before_ts``, when given), in order."""

    @abstractmethod
    def shards(self, stream: str, shards: int) -> list[ShardState]:
        """Each shard of a stream: the oldest and newest record kept, the newest sequence
        number given, and every consumer's checkpoint. Costs the same for any length."""

    @abstractmethod
    def consumers(self, stream: str, consumer: str, shards: int, *,
                  latest: bool = False) -> list[ConsumerState]:
        """The consumer's state on every shard, by shard; missing states are created (at
        sequence 0 — or, with ``latest``, at the shard's newest sequence number — unleased) in
        the same transaction."""

    @abstractmethod
    def consumer_states(self, stream: str, consumer: str) -> list[ConsumerState]:
        """The consumer's states that exist, by shard (a read: nothing is created)."""

    @abstractmethod
    def take_shard(self, stream: str, consumer: str, shard: int, *, lease: str, now: float,
                   until: float, worker: str | None = None, run_id: str | None = None,
                   upto: int = 0) -> bool:
        """Lease a shard for a consumer until ``until`` unless someone holds it unexpired;
        records ``worker``, ``run_id`` and the batch's last sequence ``upto`` (kept until the
        next commit, so a batch that fails or is lost is delivered again exactly as it was)
        with the lease. True if taken."""

    @abstractmethod
    def commit(self, stream: str, consumer: str, shard: int, lease: str, *, seq: int) -> bool:
        """Move the checkpoint to ``seq`` and release the shard (attempts, retry time, error,
        isolation and ``upto`` cleared); False if the lease is no longer held."""

    @abstractmethod
    def advance(self, stream: str, consumer: str, shard: int, lease: str, *, seq: int) -> bool:
        """Move the checkpoint to ``seq`` keeping the lease (inside ``atomic()`` with a
        handler's own writes: its effects and its checkpoint commit together); False if the
        lease is no longer held."""

    @abstractmethod
    def fail(self, stream: str, consumer: str, shard: int, lease: str, *, retry_at: float,
             error: str | None) -> bool:
        """Release the shard without moving the checkpoint: one more attempt counted, the
        next not before ``retry_at``; False if the lease is no longer held."""

    @abstractmethod
    def give_back(self, stream: str, consumer: str, shard: int, lease: str, *, started: bool,
                  error: str | None = None) -> bool:
        """Release a shard whose delivery ended unsettled, ready at once: one that started
        counts an attempt and is delivered alone in a process of its own from then on; one
        that did not (or whose end says nothing about its batch: it ran in a child process of
        a killed worker) keeps its attempts, error, isolation and batch (``upto``) as they
        were."""

    @abstractmethod
    def extend(self, stream: str, consumer: str, shard: int, lease: str, *, until: float) -> bool:
        """Move the shard lease's expiry to ``until``; False if it is no longer held."""

    @abstractmethod
    def trim(self, stream: str, *, older_than: float, keep: int | None = None) -> int:
        """Delete records stamped before ``older_than`` and, with ``keep``, all but the newest
        ``keep`` of each shard; returns how many. Sequence numbering is not affected."""


# A run's place in the listing of runs: its start (or queue) time as stored, and its id.
RunKey = tuple[float | None, str | None]


class RunStore(ABC):
    """Runs: one attempt of a job or handler each, and the marks of deliveries that started."""

    @abstractmethod
    def insert(self, runs: Sequence[RunRecord]) -> None:
        """Create runs; an id that exists is an error."""

    @abstractmethod
    def upsert(self, runs: Sequence[RunRecord]) -> None:
        """Write runs that may exist (a queued job run, a run marked running): status, attempt,
        worker, timings, outcome and ``in_child`` are replaced; how and when it was queued are
        kept."""

    @abstractmethod
    def finish(self, run_id: str, status: RunStatus, *, now: float, error: str | None = None,
               result: Any = None) -> None:
        """Record the end of a run: its status, end time, error and result."""

    @abstractmethod
    def note_started(self, start: Start) -> None:
        """Record that a delivery starts now. When this returns the mark survives the death of
        the calling process, and `started` finds it; the run's row may say ``running`` only
        later (it must by the time the run is upserted or `record_running` is called)."""

    @abstractmethod
    def record_running(self, runs: Sequence[RunRecord]) -> None:
        """Make the rows of started runs say ``running`` (for `cauce runs` and cancellation)."""

    @abstractmethod
    def started(self, *, worker: str | None, lease: str | None, head: str,
                message_id: int | None = None, run_id: str | None = None) -> RunRecord | None:
        """The run of a delivery that started before its lease
        expired — found by its row (running, for ``message_id`` or ``run_id``) or by the start
        ``worker`` noted under ``lease`` for ``head`` — or None if it never started. Its
        ``in_child`` is the start's: whether it ran in a child process of ``worker``, whose
        death then says nothing about it."""

    @abstractmethod
    def get(self, run_id: str) -> Run | None:
        """The run with this id, or None."""

    @abstractmethod
    def find_by_prefix(self, prefix: str, limit: int = 3) -> list[Run]:
        """Up to ``limit`` runs whose id starts with ``prefix``."""

    @abstractmethod
    def query(self, *, app: str | None = None, name: str | None = None,
              status: str | None = None, partition: str | None = None,
              kind: str | None = None, limit: int | None = None,
              newest_first: bool = True) -> list[Run]:
        """Runs matching every given filter, ordered by start (or queue) time then id."""

    @abstractmethod
    def keyed_page(self, *, app: str | None = None, name: str | None = None,
                   status: str | None = None, partition: str | None = None,
                   kind: str | None = None, after: RunKey | None = None,
                   limit: int) -> list[tuple[RunKey, Run]]:
        """Up to ``limit`` runs `query` lists newest first, each with its place in that order
        (its start, or queue, time as stored, and its id; a run with neither time comes after
        every timed one); with ``after``, only the runs after that place (``(None, None)``: the
        untimed runs)."""

    def pages(self, *, app: str | None = None, name: str | None = None,
              status: str | None = None, partition: str | None = None,
              kind: str | None = None, limit: int | None = None,
              size: int = 1000) -> Iterator[list[Run]]:
        """The runs `query` lists newest first, up to ``limit`` of them, ``size`` at a time:
        each page is one query that starts after the last run of the page before (by its place
        in the order, not by an offset), so a year's runs are read as they are printed, never
        held whole, and none is read twice or skipped when runs are added meanwhile."""
        after: RunKey | None = None
        left = limit
        while left is None or left > 0:
            want = size if left is None else min(size, left)
            keyed = self.keyed_page(app=app, name=name, status=status, partition=partition,
                                    kind=kind, after=after, limit=want)
            if keyed:
                yield [run for _, run in keyed]
            if left is not None:
                left -= len(keyed)
            if len(keyed) == want:
                after = keyed[-1][0]
            elif after is None or after[0] is None:
                return  # the whole order was read (a first page, or the untimed runs)
            else:  # the timed runs are done: on to those with no time, if any
                after = (None, None)

    @abstractmethod
    def queued_for(self, message_id: int) -> str | None:
        """The id of the queued run waiting for a job message, if any."""

    @abstractmethod
    def succeeded_partitions(self, app: str, name: str) -> set[str]:
        """The partitions of a job that have a succeeded run."""

    @abstractmethod
    def partition_succeeded(self, app: str, name: str, partition: str | None) -> bool:
        """Whether a job has a succeeded run for ``partition`` (None: unpartitioned)."""

    @abstractmethod
    def request_cancel(self, run_id: str) -> None:
        """Mark a queued or running run to be cancelled (finished runs are left alone)."""

    @abstractmethod
    def cancel_requested(self, run_ids: Sequence[str]) -> set[str]:
        """Which of these runs someone asked to cancel."""

    @abstractmethod
    def queued_cancelled(self) -> list[tuple[str, int | None]]:
        """Queued runs someone asked to cancel: (run id, message id)."""

    @abstractmethod
    def prune(self, *, ended_before: float, app: str | None = None) -> int:
        """Delete finished runs (of ``app``, if given) that ended before ``ended_before``;
        queued and running runs are kept whatever their age. Returns how many were deleted."""


class LogStore(ABC):
    """Log streams: lines of a run, a worker or an app's general stream."""

    @abstractmethod
    def append(self, lines: Sequence[tuple[str, str, float, int, str, str | None]]) -> None:
        """Store lines ``(app, stream, time, level, message, run id)``; each gets an id greater
        than every id before it."""

    @abstractmethod
    def read(self, *, app: str | None = None, stream: str | None = None,
             run_id: str | None = None, since: float | None = None,
             until: float | None = None, after_id: int = 0, after_line: int | None = None,
             limit: int | None = None, upto_id: int | None = None) -> list[LogLine]:
        """Lines matching every given filter, ``since`` included and
        ``until`` excluded, with ids over ``after_id`` (and up to ``upto_id``), oldest first;
        with ``after_line``, only those after that line in this order (to read a page at a
        time)."""

    @abstractmethod
    def newest_id(self) -> int:
        """The id of the newest line of any stream (0: none): where `newer` starts from."""

    @abstractmethod
    def newer(self, *, after_id: int, app: str | None = None, stream: str | None = None,
              run_id: str | None = None, since: float | None = None,
              until: float | None = None) -> tuple[list[LogLine], int]:
        """To follow a stream: its lines written since line ``after_id`` of any stream (oldest
        first), and the id of the newest line of any stream, to ask from next time. Reads the
        lines written since, not the stream's whole history."""

    @abstractmethod
    def streams(self, app: str | None = None, limit: int = 50) -> list[tuple[str, str, float, int]]:
        """Recent streams: (app, stream, time of the last line, line count), newest first;
        as quick with a year of lines as with a day's (the counts are kept as lines are
        written)."""

    @abstractmethod
    def prune(self, *, before: float, app: str | None = None) -> int:
        """Delete the lines (of ``app``, if given) stamped before ``before``, in every stream;
        returns how many were deleted."""


class ScheduleStore(ABC):
    """What the scheduler keeps between runs: each job's spec, next fire time and pause."""

    @abstractmethod
    def states(self, app: str) -> list[ScheduleState]:
        """The schedule state of every job of an app that has one, by job name."""

    @abstractmethod
    def set(self, app: str, job: str, *, spec: str, next_at: float) -> None:
        """Create or replace a job's spec and next fire time (its pause is kept)."""

    @abstractmethod
    def advance(self, app: str, job: str, *, next_at: float) -> None:
        """Move a job's next fire time."""

    @abstractmethod
    def pause(self, app: str, job: str, reason: str) -> None:
        """Pause a job's schedule with a reason (creating its state if needed)."""

    @abstractmethod
    def resume(self, app: str, job: str) -> bool:
        """Clear a pause and the spec (so the next tick is computed afresh); False if the job
        has no schedule state."""


class LeaseStore(ABC):
    """Named leases, for work one process of a home does at a time (firing schedules)."""

    @abstractmethod
    def acquire(self, name: str, owner: str, *, now: float, until: float) -> bool:
        """Take or renew the lease ``name`` for ``owner`` until ``until``, if it is free,
        expired or already ``owner``'s; True if ``owner`` holds it now."""

    @abstractmethod
    def holder(self, name: str, *, now: float) -> str | None:
        """The owner of the lease ``name`` if it has not expired at ``now``, else None."""

    @abstractmethod
    def release(self, name: str, owner: str) -> None:
        """Give up the lease ``name`` if ``owner`` holds it, so that another process takes it
        at once instead of once it expires (a process stopping, or one killed)."""


@dataclass(frozen=True)
class WorkerRecord:
    """A registered process: a server, a worker, or a `cauce run` in the foreground."""

    id: str
    app: str
    pid: int
    host: str
    role: str
    started_at: float
    heartbeat_at: float
    stopped_at: float | None = None


class WorkerStore(ABC):
    """The registry of serving processes (and of `cauce run` processes), with heartbeats."""

    @abstractmethod
    def register(self, worker: str, *, app: str, pid: int, host: str, role: str,
                 now: float) -> None:
        """Record a serving process as started (replacing a record with its id)."""

    @abstractmethod
    def beat(self, worker: str, *, now: float) -> None:
        """Record that a registered process is alive at ``now`` (its heartbeat)."""

    @abstractmethod
    def listing(self, *, stopped: bool = False) -> list[WorkerRecord]:
        """Registered processes not recorded as stopped (every one with ``stopped``), oldest
        start first."""

    @abstractmethod
    def stopped(self, worker: str, *, now: float) -> None:
        """Record that a serving process stopped."""

    @abstractmethod
    def running(self, role: str | None = None) -> list[str]:
        """Ids of serving processes registered and not stopped (of one role, if given)."""


class WatchStore(ABC):
    """What the last look into each watched bucket saw."""

    @abstractmethod
    def seen(self, app: str, bucket: str, *, key: str | None = None) -> dict[str, SeenObject]:
        """The objects remembered for a bucket (only ``key``, if given), by key."""

    @abstractmethod
    def remember(self, app: str, bucket: str,
                 objects: Sequence[tuple[str, int, float, str | None]], *, now: float) -> None:
        """Remember objects ``(key, size, mtime, tag)`` as seen at ``now``."""

    @abstractmethod
    def forget(self, app: str, bucket: str, keys: Sequence[str]) -> None:
        """Forget objects that are gone."""



@dataclass(frozen=True)
class RunFilter:
    """What a page of runs is restricted to (None: anything)."""

    apps: Sequence[str] | None = None
    name: str | None = None
    status: str | None = None
    partition: str | None = None
    kind: str | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True)
class ShardState:
    """One shard of a stream: records kept (``first_seq``..``last_seq`` when any), the newest
    sequence number given, and each consumer's checkpoint."""

    shard: int
    records: int
    last_seq: int
    last_ts: float | None
    consumers: dict[str, int]
    first_seq: int = 0
    first_ts: float | None = None

    def lag(self, consumer: str) -> int:
        """How many records the consumer has still to read in this shard."""
        return self.last_seq - self.consumers.get(consumer, 0)


class ViewStore(ABC):
    """Bounded read-only looks at a home, for people (the web UI): every call reads committed
    state, changes nothing, and costs the same with a hundred runs or a hundred thousand (a
    LIMIT and an indexed range; runs are paged by keyset on their time-ordered id, never by
    OFFSET)."""

    @abstractmethod
    def runs_page(self, f: RunFilter, *, before: str | None = None, after: str | None = None,
                  limit: int = 50) -> list[Run]:
        """Up to ``limit`` runs matching ``f``, newest first, older than run id ``before`` (the
        next page) or newer than ``after`` (the previous page)."""

    @abstractmethod
    def run_counts(self, f: RunFilter) -> dict[tuple[str, str], int]:
        """(app, status) → number of runs matching ``f`` (give ``since``: it bounds the scan)."""

    @abstractmethod
    def latest_by_partition(self, app: str, name: str, first: str,
                            last: str) -> dict[str, Run]:
        """The newest run of job ``name`` for each partition key from ``first`` to ``last``."""

    @abstractmethod
    def newest_partition(self, app: str, name: str) -> str | None:
        """The greatest partition key any run of job ``name`` had."""

    @abstractmethod
    def run_activity(self, app: str, names: Sequence[str], since: float,
                     bucket: float) -> dict[str, dict[int, int]]:
        """Runs started per time bucket of ``bucket`` seconds since ``since``, per handler or
        job name: name → {bucket index → count}."""

    @abstractmethod
    def log_tail(self, *, app: str, stream: str, limit: int = 200,
                 before_id: int | None = None) -> list[LogLine]:
        """The last ``limit`` lines of one stream of an app (older than line ``before_id``),
        oldest first."""

    @abstractmethod
    def log_streams(self, app: str, limit: int = 50) -> list[str]:
        """Streams of an app other than runs': ``general`` and one per serve or worker process,
        newest first (named from the worker registry: no log line is scanned)."""

    @abstractmethod
    def workers(self, apps: Sequence[str], limit: int = 100) -> list[dict[str, Any]]:
        """Registered serve and worker processes of ``apps`` (``id``, ``app``, ``pid``, ``host``,
        ``role``, ``started_at``, ``heartbeat_at``, ``stopped_at``), running ones first, newest
        first."""

    @abstractmethod
    def schedules(self, apps: Sequence[str]) -> list[dict[str, Any]]:
        """Schedule bookkeeping of ``apps`` (``app``, ``job``, ``spec``, ``next_at``,
        ``paused``), soonest first."""

    @abstractmethod
    def messages_page(self, queue: str, *, after_id: int = 0,
                      limit: int = 50) -> list[StoredMessage]:
        """Messages of one queue (a DLQ too) after id ``after_id``, oldest first."""

    @abstractmethod
    def items_page(self, table: str, *, prefix: str = "", after: str | None = None,
                   limit: int = 50) -> list[tuple[str, str, int, float]]:
        """(stored key, JSON value, version, updated at) of a table's items whose key starts
        with ``prefix``, in key order after key ``after``."""

    @abstractmethod
    def item_count(self, table: str) -> int:
        """How many items a table holds."""

    @abstractmethod
    def stream_shards(self, stream: str, shards: int) -> list[ShardState]:
        """Each shard of a stream: records kept, newest sequence and time, consumer positions."""


# What `CopyStore` moves, by kind: the fields of its rows, the first ones its key. Bodies, item
# values and stream data are JSON text; ``attrs``, ``params`` and ``result`` Python values.
COPIED: dict[str, tuple[str, ...]] = {
    "messages": ("id", "queue", "body", "event_id", "grp", "visible_at", "sent_at",
                 "receive_count", "lease", "last_error", "attrs", "worker", "batch_head",
                 "isolation", "lost"),
    "items": ("tbl", "key", "value", "version", "updated_at"),
    "item_index": ("tbl", "idx", "value", "key"),
    "stream_heads": ("stream", "shard", "seq"),  # each shard's newest number, trimmed or not
    "stream_records": ("stream", "shard", "seq", "pkey", "data", "ts"),
    "stream_consumers": ("stream", "consumer", "shard", "seq", "lease", "lease_until",
                         "attempts", "retry_at", "last_error", "worker", "run_id", "isolated"),
    "runs": ("id", "app", "kind", "name", "partition", "attempt", "status", "trigger",
             "message_id", "event_id", "queued_at", "started_at", "ended_at", "error", "params",
             "result", "worker", "cancel", "in_child"),
    "logs": ("id", "app", "stream", "ts", "level", "message", "run_id"),
    "schedules": ("app", "job", "spec", "next_at", "paused"),
    "bucket_objects": ("app", "bucket", "key", "size", "mtime", "seen_at", "tag"),
}


class CopyStore(ABC):
    """A whole store as plain rows, for moving a home to another engine (`cauce state copy`):
    every kind of `COPIED` except the registry of serving processes and named leases, which
    belong to the processes of the source."""

    @abstractmethod
    def rows(self, kind: str, page: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Every row of ``kind`` (a key of `COPIED`, with those fields) in key order, a page at a
        time, from one consistent read."""

    @abstractmethod
    def load(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write rows as they are, ids included; message and log ids given later are greater
        than every id loaded, and a stream record appended later is numbered after the
        shard's head loaded. Meant for an empty store: a key that exists is an error."""

    @abstractmethod
    def count(self, kind: str) -> int:
        """How many rows of ``kind`` the store holds."""

    def loading(self) -> None:  # noqa: B027 - optional: most stores need nothing
        """Called first in the one transaction a copy loads into this store, which waits for
        the source between its statements: an engine may lift there a limit meant for short
        transactions (nothing by default)."""


class Listener(Protocol):
    """Receives wake-ups for one serving process (`StateStore.listener`). ``poll``: how long
    the process may wait between looks for work while it listens — None: as long as it would
    without (wake-ups may be dropped); seconds: its notifiers drop none, so polling only finds
    delayed messages and expired leases, and a lost connection's work."""

    poll: float | None

    def start(self) -> bool: ...

    def close(self) -> None: ...


class Notifier(Protocol):
    """Wakes a serving process when work was committed (`StateStore.notifier`)."""

    def notify(self) -> None: ...

    def close(self) -> None: ...


class StateStore(ABC):
    """One state store: the operations by concept, transactions, and its own care."""

    url: str
    queues: QueueStore
    tables: TableStore
    streams: StreamStore
    runs: RunStore
    logs: LogStore
    schedules: ScheduleStore
    leases: LeaseStore
    workers: WorkerStore
    watches: WatchStore
    views: ViewStore
    copying: CopyStore  # optional: an engine without it cannot be copied from or to

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, *, serving: bool = False) -> StateStore:
        """Open (creating if needed) the store a URL names; ``serving`` for a process that
        serves (it may keep background threads, e.g. for checkpoints)."""

    @classmethod
    @abstractmethod
    def examine(cls, url: str) -> Verdict:
        """A full check of the store a URL names — readable, sound, cauce's — never creating,
        changing or refusing it (`cauce state check`)."""

    @classmethod
    def exists(cls, url: str) -> bool:
        """Whether the store a URL names was created (commands that only look at a home refuse
        to create one)."""
        return True

    @classmethod
    def holds_nothing(cls, url: str) -> bool:
        """Whether the store a URL names holds no row at all: created, never written to (a
        command that created it and failed removes it again). False when that is not known."""
        return False

    @classmethod
    def migrate(cls, url: str) -> tuple[int, int]:
        """Create the store a URL names, or bring its schema to this cauce's version, now
        (opening it does the same); returns the schema version before (0: none) and after. A
        schema newer than this cauce's is a StateError."""
        before = (cls.examine(url).version or 0) if cls.exists(url) else 0
        cls.from_url(url).close()
        return before, cls.examine(url).version or 0

    @abstractmethod
    def atomic(self, *, durable: bool = True) -> AbstractContextManager[None]:
        """A block whose calls (in this thread) share one transaction; nested: a savepoint.

        ``durable=False`` (it counts on the outermost block, which commits) marks a block whose
        writes all derive from the state itself — a claim: leases taken, the runs they create,
        expired leases settled — so that losing it in a crash of the engine only undoes it and
        its work is found again. An engine may then commit without waiting for its disk; any
        durable commit after it makes it durable too (an engine's log is written in order)."""

    def acknowledge(self, leases: Sequence[tuple[int, str]], runs: Sequence[RunRecord]) -> None:
        """`QueueStore.ack` the leases and `RunStore.upsert` the runs in one transaction: how
        deliveries that succeeded are settled (one statement where the engine can)."""
        with self.atomic():
            self.queues.ack(leases)
            self.runs.upsert(runs)

    @abstractmethod
    def close(self) -> None:
        """Release connections and threads; the store is unusable afterwards."""

    def backup(self, target: Path) -> None:
        """A consistent copy of the whole state at ``target``, taken while others work."""
        raise ConfigError(f"the state at {self.url} is backed up with its engine's own tools",
                          hint="cauce state backup copies SQLite state files")

    def maintain(self, now: float) -> None:  # noqa: B027 - optional: most stores need none
        """Housekeeping a serving process runs every few minutes (nothing by default)."""

    def listener(self, name: str, on_wake: Callable[[], None]) -> Listener | None:
        """Wake-ups for the serving process ``name`` (None: it polls only)."""
        return None

    def notifier(self, own: str) -> Notifier | None:
        """Something that wakes one serving process (not ``own``) when work was committed."""
        return None


# -- choosing an implementation --------------------------------------------------------------

# scheme -> "module:class" of its implementation, imported when first used
ENGINES = {
    "sqlite": "cauce.backends.sqlite:SQLiteState",
    "postgresql": "cauce.backends.postgres:PostgresState",
    "postgres": "cauce.backends.postgres:PostgresState",
}


def engine(url: str) -> type[StateStore]:
    """The implementation a state URL names (``sqlite:///path``, ``postgresql://…``)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    target = ENGINES.get(scheme)
    if target is None:
        raise ConfigError(f"state URL {redact(url)!r} names no state engine cauce knows",
                          hint="use sqlite:///path/to/state.db (the default is "
                          "<home>/state.db) or postgresql://user@host/db")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise ConfigError(f"state URL {redact(url)!r}: this cauce has no {scheme} state engine yet",
                          hint="use sqlite:///path/to/state.db") from None
    found: type[StateStore] = getattr(module, class_name)
    return found


def open_state(url: str, *, serving: bool = False) -> StateStore:
    """The state store a URL names, opened (and created if it does not exist)."""
    return engine(url).from_url(url, serving=serving)


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite state file."""
    return f"sqlite:///{real_path(path)}"


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///path`` state URL names (`sqlite_url`'s inverse)."""
    if not url.startswith("sqlite:///") or url in ("sqlite:///", "sqlite:///:memory:"):
        raise ConfigError(f"state URL {url!r} names no SQLite file",
                          hint="use sqlite:///path/to/state.db (four slashes for an absolute "
                          "path: sqlite:////srv/cauce/state.db)")
    return real_path(url.removeprefix("sqlite:///"))


# the password of a URL's user (scheme://user:password@host, up to the last @ before the
# path), or given as a query parameter (libpq's ?password=)
_PASSWORDS = (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^\s/]*)(@)"),
              re.compile(r"([?&]password=)([^&\s]*)()"))


def redact(text: str) -> str:
    """``text`` with the password of every URL in it masked, for messages and logs: a state
    URL (``postgresql://cauce:secret@db/cauce``) is shown, its password never."""
    for pattern in _PASSWORDS:
        text = pattern.sub(lambda m: m.group(1) + "********" + m.group(3), text)
    return text


def url_passwords(url: str) -> list[str]:
    """The passwords a URL carries, as written and decoded (to mask wherever they might show)."""
    found = [m.group(2) for pattern in _PASSWORDS for m in pattern.finditer(url) if m.group(2)]
    return sorted({*found, *(unquote(f) for f in found)})
