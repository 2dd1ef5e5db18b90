"""The stream handler's work on one batch: alerts computed, stored and published once.

What a process keeps between batches: the reference key sets (`ReferenceCache`, one per raw
bucket) and the abuse pair counts of each shard as of its warehouse checkpoint (`PairCounts`),
read back from the warehouse whenever the checkpoint is not the one this process wrote last
(first batch, another process took the shard over).

A record the alerts cannot be keyed by (not a JSON object, no ``id_no_contrato``, or one longer
than the alerts table's 100 characters) is not alerted: it is written to bucket quarantine
(``t_streaming_contracts/shard=<n>/seq=<seq>.json``, with the reason) and the batch goes on;
one such record would otherwise fail its whole batch, good records included.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np

from cauce import Bucket, Context, Record, Stream, Topic, Warehouse

from .alerts import LONE_SURROGATE, evaluate, frame, text_of
from .reference import ReferenceCache
from .store import (
    PAIRS_TABLE,
    PairCounts,
    apply,
    checkpoint_name,
    create_tables,
    mark,
    messages,
    pending,
    unapplied,
)

_lock = threading.Lock()
_references: dict[str, ReferenceCache] = {}
_pairs: dict[tuple[str, int], PairCounts] = {}
_ready: set[str] = set()


def reference_cache(raw: Bucket, every: float, ctx: Context) -> ReferenceCache:
    """The process's reference cache for bucket ``raw``."""
    with _lock:
        key = f"{ctx.home}:{raw.name}"
        if key not in _references:
            _references[key] = ReferenceCache(raw, every, log=ctx.log)
        return _references[key]


def wait_for_reference() -> None:
    """Wait for the reference reloads in progress in this process (tests, clean shutdown)."""
    with _lock:
        caches = list(_references.values())
    for cache in caches:
        cache.wait()


MAX_ID = 100  # id_no_contrato varchar(100) in the original's DDL


def _keyed(record: Record, quarantine: Bucket, shard: int) -> bool:
    """Whether ``record`` can be alerted (keyed by its contract id); if not, it is written to
    bucket quarantine with the reason (one object per record: a redelivery rewrites it)."""
    data = record.data
    text = (text_of(data.get("id_no_contrato")) if isinstance(data, dict) else None) or ""
    if text.strip() and len(text) <= MAX_ID:  # the length stored, spaces included
        return True
    reason = (
        "not a JSON object" if not isinstance(data, dict)
        else "no id_no_contrato" if not text.strip()
        else f"id_no_contrato longer than {MAX_ID} characters"
    )
    body = {"seq": record.seq, "shard": shard, "reason": reason, "record": data}
    text = json.dumps(body, ensure_ascii=False, default=str)
    if not text.isascii() and LONE_SURROGATE.search(text):  # no UTF-8 form: JSON escapes
        text = json.dumps(body, default=str)
    quarantine.put(f"t_streaming_contracts/shard={shard}/seq={record.seq}.json", text)
    return False


def handle(
    records: list[Record],
    ctx: Context,
    *,
    stream: Stream,
    wh: Warehouse,
    raw: Bucket,
    topic: Topic,
    every: float,
    quarantine: Bucket,
) -> dict[str, Any]:
    """Apply one delivered batch (one shard, in order); returns what it did."""
    shard, first, last = records[0].shard, records[0].seq, records[-1].seq
    url = wh.resolved_url
    with _lock:
        if url not in _ready:
            create_tables(wh, stream.shards)
            _ready.add(url)
        pairs = _pairs.setdefault((url, shard), PairCounts())
    reference = reference_cache(raw, every, ctx).get(ctx.now().timestamp())
    name = checkpoint_name(stream.name, shard)
    fresh: list[Record] = []
    texts: list[str] = []
    late = 0
    with wh.transaction() as tx:
        at = tx.checkpoint(name)
        done = at["seq"] if at else 0
        gaps: list[tuple[int, int]] = []
        if done >= first:  # applied before a crash (its messages wait in the outbox), or
            # dead-lettered while the shard moved on, and now replayed
            texts = pending(tx, shard, first, min(done, last))
            gaps = unapplied(tx, shard, first, min(done, last))
        fresh = [
            r for r in records
            if (r.seq > done or any(low <= r.seq <= high for low, high in gaps))
            and _keyed(r, quarantine, shard)
        ]
        mark(tx, shard, first, last, done, gaps)
        # the outbox rows of the batches since the last one applied in order; a replay's are
        # kept, as it may be delivered again before it publishes them
        ahead = last > done
        trim = ((at or {}).get("first", 0), first - 1) if ahead else None
        if fresh:
            if pairs.at != at or not pairs.loaded:
                pairs.load(
                    tx.query(
                        f"SELECT id_nit_entidad, id_nit_proveedor, contratos FROM {PAIRS_TABLE}"
                    ),
                    at,
                )
            arrival = np.array([r.ts.timestamp() for r in fresh])
            df = frame([r.data if isinstance(r.data, dict) else {} for r in fresh], arrival)
            ev = evaluate(df, reference, pairs.counts, at["watermark"] if at else None, ctx.now(),
                          arrival)
            outbox = messages(ev, df, np.array([r.seq for r in fresh]), arrival, shard)
            apply(wh, tx, ev, outbox, shard, published=trim)
            late = ev.late
            moved = {
                "seq": max(done, last),
                "watermark": ev.watermark,
                "late": (at["late"] if at else 0) + late,
                "first": first if ahead else (at or {}).get("first", 0),
            }
            tx.set_checkpoint(name, moved, expect=at)
        elif ahead:  # only records it cannot alert: the checkpoint moves past them
            tx.set_checkpoint(name, {**(at or {"watermark": None, "late": 0}), "seq": last},
                              expect=at)
    if fresh:
        pairs.counts.update(zip(ev.pairs.tolist(), ev.pair_totals.tolist(), strict=True))
        pairs.at = moved
        texts += outbox.column("mensaje").to_pylist()
    # a topic nobody subscribes to drops its messages (as SNS does): skip encoding them
    listened = bool(topic.queues or topic.app.handlers_of(topic))
    with ctx.atomic():
        for text in texts if listened else ():
            topic.publish(json.loads(text))
    if late:
        ctx.log.warning(
            "%d late record(s) in shard %d (event time over 5 minutes behind the "
            "latest seen): alerted in their own windows",
            late,
            shard,
        )
    return {
        "records": len(records),
        "applied": len(fresh),
        "si": len(texts),
        "late": late,
        "reference": {t: d for t, d, _ in reference.version if d},
    }
