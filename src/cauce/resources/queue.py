"""Queue: durable, at-least-once, with a visibility timeout and a dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..backends.state import StoredMessage
from ..durations import DurationLike, parse_duration
from ..errors import DeclarationError, InvalidKey, ResourceError
from ..events import Message
from .base import Resource, check_count, to_json_many, unstorable

if TYPE_CHECKING:
    from ..app import App


_UNPARSED: Any = object()
# Groups are indexed; a longer one does not fit an entry of PostgreSQL's btree (about 2.7 kB),
# and 1 kB is a table key's limit too.
MAX_GROUP = 1024


def message_from(stored: StoredMessage, body: Any = _UNPARSED) -> Message:
    """The message a handler (or `Queue.receive`) gets; ``body``: the stored body already
    parsed."""
    return Message(
        id=str(stored.id),
        body=json.loads(stored.body) if body is _UNPARSED else body,
        event_id=stored.event_id,
        receive_count=stored.receive_count,
        group=stored.group,
        sent_at=datetime.fromtimestamp(stored.sent_at, UTC),
        queue=stored.queue,
        lease=stored.lease,
    )


def messages_from(stored: Sequence[StoredMessage]) -> list[Message]:
    """`message_from` for many, their bodies (JSON texts cauce wrote) parsed by one call: a
    call per body costs about twice as much. One by one if they do not parse together."""
    try:
        bodies = json.loads("[" + ",".join(m.body for m in stored) + "]")
    except ValueError:
        bodies = None
    if not isinstance(bodies, list) or len(bodies) != len(stored):
        return [message_from(m) for m in stored]
    return [message_from(m, body) for m, body in zip(stored, bodies, strict=True)]


class Queue(Resource):
    """A durable queue. After ``max_receives`` failed deliveries a message moves to
    ``<name>.dlq``."""

    kind = "queue"

    def __init__(
        self,
        app: App,
        name: str,
        *,
        max_receives: int = 5,
        visibility_timeout: DurationLike = "30s",
        fifo: bool = False,
    ) -> None:
        super().__init__(app, name)
        if not isinstance(max_receives, int) or max_receives < 1:
            raise DeclarationError(f"queue {name!r}: max_receives must be a positive integer",
                                   hint="the deliveries before its dead-letter queue, e.g. 5")
        self.max_receives = max_receives
        self.visibility_timeout = parse_duration(visibility_timeout,
                                                 what=f"queue {name!r} visibility_timeout")
        if self.visibility_timeout <= 0:
            raise DeclarationError(f"queue {name!r}: visibility_timeout must be positive",
                                   hint='how long a received message stays hidden, e.g. "30s"')
        self.fifo = fifo

    @property
    def store_name(self) -> str:
        """The name its messages carry in the state database."""
        return self.qualified

    @property
    def dlq(self) -> DeadLetterQueue:
        return DeadLetterQueue(self)

    def send(self, body: Any, *, delay: DurationLike | None = None,
             group: str | None = None) -> str:
        """Send one message; returns its id. ``body`` must be JSON-serialisable."""
        return self.send_batch([body], delay=delay, group=group)[0]

    def send_batch(
        self, bodies: Iterable[Any], *, delay: DurationLike | None = None, group: str | None = None
    ) -> list[str]:
        """Send several messages in one transaction; returns their ids."""
        if isinstance(bodies, str | bytes | dict):  # iterated, each key or character a message
            raise ResourceError(f"queue {self.name!r}: send_batch takes a list of bodies, "
                                f"not a {type(bodies).__name__}",
                                hint=f"send one body with {self.name}.send(body), or "
                                "send_batch([body, ...])")
        texts = to_json_many(bodies, f"a message for queue {self.name!r}")
        if group is not None and not self.fifo:
            raise ResourceError(f"queue {self.name!r} is not FIFO, so it has no message groups",
                                hint=f"declare app.queue({self.name!r}, fifo=True)")
        if self.fifo and group is None:
            group = "default"
        if group is not None and not isinstance(group, str):
            raise InvalidKey(f"queue {self.name!r}: a message group is text, not {group!r}",
                             hint=f"group=str({group!r}) if that is what tells groups apart")
        if group is not None and (why := unstorable(group)) is not None:
            raise InvalidKey(f"queue {self.name!r}: message group {why}",
                             hint="use text without it, e.g. its escaped or hex form")
        if group is not None and len(group) > MAX_GROUP // 4 and len(group.encode()) > MAX_GROUP:
            raise InvalidKey(f"queue {self.name!r}: a message group of {len(group.encode()):,} "
                             f"bytes is too long (at most {MAX_GROUP:,} in UTF-8)",
                             hint="group messages by a shorter value, e.g. a digest of this one")
        seconds = parse_duration(delay, what="delay") if delay is not None else 0.0
        return self._runtime().enqueue(self.store_name, texts, delay=seconds, group=group)

    def receive(self, max: int = 1, *,
                visibility_timeout: DurationLike | None = None) -> list[Message]:
        """Lease up to ``max`` messages; each must be acked before its visibility timeout ends."""
        check_count(max, f"queue {self.name!r}: max")
        visibility = (parse_duration(visibility_timeout) if visibility_timeout is not None
                      else self.visibility_timeout)
        if visibility <= 0:
            raise ResourceError(f"queue {self.name!r}: a visibility timeout must be positive",
                                hint="one of 0 would lease messages already due again")
        stored = self._runtime().receive(self, limit=max, visibility=visibility)
        return [message_from(m) for m in stored]

    def ack(self, messages: Message | Sequence[Message]) -> int:
        """Delete received messages; returns how many were still leased (others were
        redelivered). A message received from another queue is refused, and none is acked."""
        items = [messages] if isinstance(messages, Message) else list(messages)
        for message in items:
            self._check_own(message, "ack")
        return self._runtime().state.queues.ack([(int(m.id), m.lease or "") for m in items])

    def nack(self, message: Message, *, delay: DurationLike | None = None) -> bool:
        """Give a message back now, or after ``delay``; it moves to the DLQ at max_receives."""
        if not isinstance(message, Message):
            raise ResourceError(f"queue {self.name!r}: nack takes one received message, "
                                f"not a {type(message).__name__}",
                                hint="for message in messages: queue.nack(message)")
        self._check_own(message, "nack")
        runtime = self._runtime()
        now = runtime.clock.time()
        if message.receive_count >= self.max_receives:
            return runtime.state.queues.dead_letter(
                int(message.id), message.lease or "", dlq=self.dlq.store_name, now=now,
                error="given back (nack) after the last allowed receive")
        seconds = parse_duration(delay) if delay is not None else 0.0
        return runtime.state.queues.release(int(message.id), message.lease or "",
                                            visible_at=now + seconds)

    def _check_own(self, message: Message, verb: str) -> None:
        """Refuse a message this queue did not deliver: its id and lease alone would delete
        or give back another queue's message (under this queue's max_receives and DLQ)."""
        if not isinstance(message, Message):
            raise ResourceError(f"queue {self.name!r}: {verb} takes received messages, "
                                f"not a {type(message).__name__}",
                                hint=f"messages = {self.name}.receive(); "
                                f"{self.name}.{verb}(messages[0])")
        if message.queue != self.store_name:
            source = f"from {message.queue}" if message.queue else "from no queue"
            raise ResourceError(f"queue {self.name!r}: message {message.id} was received "
                                f"{source}, not from this queue; nothing was {verb}ed",
                                hint=f"{verb} a message on the queue it was received from")

    def depth(self) -> int:
        """Messages waiting or in flight (not counting the dead-letter queue)."""
        runtime = self._runtime()
        counts = runtime.state.queues.stats([self.store_name], now=runtime.clock.time())
        visible, later, _ = counts.get(self.store_name, (0, 0, 0))
        return visible + later


class DeadLetterQueue:
    """Messages a queue gave up on, with their last error; they can be replayed or dropped."""

    def __init__(self, source: Queue) -> None:
        self.source = source
        self.name = source.name + ".dlq"
        self.store_name = source.store_name + ".dlq"

    def messages(self, limit: int | None = None) -> list[Message]:
        """The dead-lettered messages, oldest first (the first ``limit`` of them)."""
        if limit is not None:
            check_count(limit, f"dead-letter queue {self.name!r}: limit")
            if limit == 0:  # the state engines take a limit of 0 as none
                return []
        stored = self.source._runtime().state.queues.listing(self.store_name, limit)
        return [message_from(m) for m in stored]

    def errors(self) -> list[str | None]:
        """The last error of each dead-lettered message, oldest first."""
        return [m.last_error for m in self.source._runtime().state.queues.listing(self.store_name)]

    def depth(self) -> int:
        runtime = self.source._runtime()
        counts = runtime.state.queues.stats([self.store_name], now=runtime.clock.time())
        return sum(counts.get(self.store_name, (0, 0, 0))[:2])

    def replay(self, ids: Sequence[int | str] | int | str | None = None) -> int:
        """Send dead-lettered messages back to their queue (all, or those of ``ids``: one id
        or several); returns how many moved."""
        return self.source._runtime().replay(self.source, ids)

    def drop(self, ids: Sequence[int | str] | int | str | None = None) -> int:
        """Delete dead-lettered messages for good (all, or those of ``ids``: one id or
        several); returns how many. An id that is not in this dead-letter queue is refused
        with `NotFound` before any message goes."""
        return self.source._runtime().purge_dead_letters(self.source, ids)
