"""Putting work in: messages sent, topics published, objects created (by cauce or found in a
watched bucket), stream records appended — each committed in one transaction, then announced to
the serving processes of the home."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..backends.objects import StoredObject
from ..backends.state import SeenObject, StoredMessage, new_token
from ..events import ObjectRef
from ..resources.bucket import Bucket
from ..resources.queue import Queue
from ..resources.stream import Stream
from ..resources.topic import Topic
from .execute import log_general
from .sources import record_lost, recover_queue

if TYPE_CHECKING:
    from .runtime import Runtime


def enqueue(rt: Runtime, queue: str, texts: list[str], *, delay: float = 0.0,
            group: str | None = None) -> list[str]:
    ids = rt.state.queues.send(queue, texts, now=rt.clock.time(), delay=delay, group=group)
    rt.new_work()
    return [str(i) for i in ids]


def receive(rt: Runtime, queue: Queue, *, limit: int, visibility: float) -> list[StoredMessage]:
    """Lease messages of ``queue`` by hand (`Queue.receive`), after settling expired leases."""
    now = rt.clock.time()
    with rt.state.atomic():
        record_lost(rt, recover_queue(rt, queue.store_name, max_receives=queue.max_receives,
                                      now=now))
        return rt.state.queues.receive(queue.store_name, now=now, limit=limit,
                                       visibility=visibility, alone=None)


def publish(rt: Runtime, topic: Topic, text: str) -> str:
    """One copy for each subscribed handler and queue, all or none; returns the event id. A
    FIFO queue's copy is in its ``default`` group, as a message sent there without one: a copy
    without a group would be delivered beside the others, out of order."""
    event_id = new_token() + new_token()
    targets = ([h.store_queue for h in rt.app.handlers_of(topic)]
               + [q.store_name for q in topic.queues if not q.fifo])
    fifo = [q.store_name for q in topic.queues if q.fifo]
    if not targets and not fifo:
        return event_id
    now = rt.clock.time()
    with rt.state.atomic():
        if targets:
            rt.state.queues.publish(targets, text, now=now, event_id=event_id)
        for name in fifo:
            rt.state.queues.send(name, [text], now=now, group="default", event_ids=[event_id])
    rt.new_work()
    return event_id


def _body(obj: StoredObject) -> str:
    return json.dumps({"key": obj.key, "size": obj.size, "mtime": obj.mtime})


def object_created(rt: Runtime, bucket: Bucket, ref: ObjectRef, stored: StoredObject, *,
                   begun: float | None = None) -> None:
    """Queue the object-created event of a write made through cauce (begun at ``begun``); a
    watched bucket also remembers the object as listings show it, so its watch does not
    announce it again. A look that listed this very object once it appeared, and recorded it
    before this write could, announced it already: it is not announced twice."""
    handlers = [h for h in rt.app.handlers_of(bucket) if h.matches(ref.key)]
    watched = rt.watch_of(bucket) is not None
    if not handlers and not watched:
        return
    body = json.dumps({"key": ref.key, "size": ref.size, "mtime": ref.created_at.timestamp()})
    now = rt.clock.time()
    with rt.state.atomic():
        if watched:
            seen = rt.state.watches.seen(rt.app.name, bucket.name, key=stored.key)
            looked = seen.get(stored.key)
            if (begun is not None and looked is not None and looked.seen_at >= begun
                    and not _changed(looked, stored) and looked.tag == stored.tag):
                return  # that look's event is this write's
            rt.state.watches.remember(rt.app.name, bucket.name, [_seen(stored)], now=now)
        for handler in handlers:
            rt.state.queues.send(handler.store_queue, [body], now=now)
    if handlers:
        rt.new_work()


def _seen(obj: StoredObject) -> tuple[str, int, float, str | None]:
    return obj.key, obj.size, obj.mtime, obj.tag


def _changed(seen: SeenObject, obj: StoredObject) -> bool:
    """Whether a listed object is another than the one seen: another size or time, or another
    tag (S3's ETag, a file's mtime_ns and inode) where both have one. A row of a state written
    before tags were kept has none: the object is the one seen when size and time agree."""
    return ((seen.size, seen.mtime) != (obj.size, obj.mtime)
            or (seen.tag is not None and obj.tag is not None and seen.tag != obj.tag))


def scan_bucket(rt: Runtime, bucket: Bucket) -> int:
    """List a watched bucket and queue object-created events for every object that is new or
    changed (size, time or tag) since the bucket was last seen; returns how many.

    The comparison and the events are one transaction, so processes watching the same bucket
    announce each object once; objects that disappeared are forgotten, so one written again
    under the same key is announced again. An object that cauce itself wrote after the listing
    began is left as that write recorded it: the listing may predate it.
    """
    started = rt.clock.time()
    store = rt.bucket_store(bucket)
    listed = {stored.key: stored for stored in store.list()}
    now = rt.clock.time()
    app, watches = rt.app.name, rt.state.watches
    with rt.state.atomic():
        known = watches.seen(app, bucket.name)
        recent = {key for key, seen in known.items() if seen.seen_at >= started}
        fresh = [obj for key, obj in listed.items() if key not in recent
                 and (key not in known or _changed(known[key], obj))]
        # objects seen before their tag was kept learn it, unannounced
        tagged = [obj for key, obj in listed.items() if key in known and key not in recent
                  and obj.tag is not None and known[key].tag is None
                  and not _changed(known[key], obj)]
        watches.forget(app, bucket.name,
                       [key for key in known if key not in listed and key not in recent])
        watches.remember(app, bucket.name, [_seen(o) for o in fresh + tagged], now=now)
        handlers = rt.app.handlers_of(bucket)
        for obj in fresh:
            for handler in (h for h in handlers if h.matches(obj.key)):
                rt.state.queues.send(handler.store_queue, [_body(obj)], now=now)
    if fresh:
        log_general(rt, app, logging.INFO,
                    "bucket %s: %d object(s) new or changed since the last look",
                    bucket.name, len(fresh))
        rt.new_work()
    keep = getattr(store, "keep_copies", None)  # optional in the ObjectStore protocol
    try:  # local copies of objects other programs deleted, unless a run holds them
        if keep is not None:
            keep(listed.keys())
    except OSError as error:
        log_general(rt, app, logging.WARNING, "bucket %s: cannot clean its local copies: %s",
                    bucket.name, error)
    return len(fresh)


def append(rt: Runtime, stream: Stream,
           by_shard: Mapping[int, list[tuple[str, str]]]) -> dict[int, list[int]]:
    """Append records to several shards of a stream in one transaction; their sequence
    numbers by shard."""
    now = rt.clock.time()
    with rt.state.atomic():
        seqs = {shard: rt.state.streams.append(stream.qualified, shard, items, now=now)
                for shard, items in by_shard.items()}
    rt.new_work()
    return seqs
