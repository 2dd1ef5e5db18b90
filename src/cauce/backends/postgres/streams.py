"""Streams in PostgreSQL (`cauce.backends.state.StreamStore`). Each shard has a head row holding
its last sequence number: an append moves the head and inserts its records in one statement,
and the head's row lock keeps appenders to a shard in line until they commit, so sequence
numbers are consecutive and their order is the order of commits (and never reused, even
after a trim). One row per consumer and shard holds its checkpoint and lease."""

from __future__ import annotations

from collections.abc import Sequence

from ..state import ConsumerState, ShardState, StoredRecord, StreamStore
from .database import Database, text

_STATE = ("SELECT shard, seq, lease, lease_until, attempts, retry_at, last_error, worker, "
          "run_id, isolated, upto FROM stream_consumers WHERE stream = %s AND consumer = %s "
          "ORDER BY shard")
# each shard's oldest and newest record kept: two index look-ups a shard, whatever its length
_EDGES = """
SELECT s, head.seq, old.seq, old.ts, new.seq, new.ts
FROM generate_series(0, %(shards)s - 1) AS s
LEFT JOIN stream_heads head ON head.stream = %(stream)s AND head.shard = s
LEFT JOIN LATERAL (SELECT seq, ts FROM stream_records WHERE stream = %(stream)s AND shard = s
                   ORDER BY seq LIMIT 1) old ON true
LEFT JOIN LATERAL (SELECT seq, ts FROM stream_records WHERE stream = %(stream)s AND shard = s
                   ORDER BY seq DESC LIMIT 1) new ON true
ORDER BY s
"""
_HELD = "WHERE stream = %s AND consumer = %s AND shard = %s AND lease = %s"
_APPEND = """
WITH head AS (
    INSERT INTO stream_heads (stream, shard, seq) VALUES (%(stream)s, %(shard)s, %(n)s)
    ON CONFLICT (stream, shard) DO UPDATE SET seq = stream_heads.seq + excluded.seq
    RETURNING seq)
INSERT INTO stream_records (stream, shard, seq, pkey, data, ts)
SELECT %(stream)s, %(shard)s, head.seq - %(n)s + u.n, u.pkey, u.data, %(now)s
FROM head, unnest(%(pkeys)s::text[], %(data)s::text[]) WITH ORDINALITY AS u(pkey, data, n)
RETURNING seq
"""


class PostgresStreams(StreamStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, stream: str, shard: int, items: Sequence[tuple[str, str]], *,
               now: float) -> list[int]:
        if not items:
            return []
        rows = self.db.rows(_APPEND, {"stream": stream, "shard": shard, "n": len(items),
                                      "pkeys": [p for p, _ in items],
                                      "data": [d for _, d in items], "now": now})
        return sorted(r[0] for r in rows)

    def read(self, stream: str, shard: int, *, after: int, limit: int,
             before_ts: float | None = None, through: int | None = None) -> list[StoredRecord]:
        rows = self.db.rows("SELECT shard, seq, pkey, data, ts FROM stream_records "
                            "WHERE stream = %s AND shard = %s AND seq > %s "
                            "AND (%s::bigint IS NULL OR seq <= %s) "
                            "AND (%s::double precision IS NULL OR ts < %s) "
                            "ORDER BY seq LIMIT %s",
                            (stream, shard, after, through, through, before_ts, before_ts, limit))
        return [StoredRecord(*row) for row in rows]

    def shards(self, stream: str, shards: int) -> list[ShardState]:
        return shard_states(self.db, stream, shards)

    def consumers(self, stream: str, consumer: str, shards: int, *,
                  latest: bool = False) -> list[ConsumerState]:
        with self.db.atomic() as con:
            con.execute("INSERT INTO stream_consumers (stream, consumer, shard, seq) "
                        "SELECT %(stream)s, %(consumer)s, s, CASE WHEN %(latest)s THEN "
                        "coalesce((SELECT seq FROM stream_heads WHERE stream = %(stream)s "
                        "AND shard = s), 0) ELSE 0 END "
                        "FROM generate_series(0, %(shards)s - 1) AS s ON CONFLICT DO NOTHING",
                        {"stream": stream, "consumer": consumer, "shards": shards,
                         "latest": latest})
            return [ConsumerState(*row) for row in con.execute(_STATE, (stream, consumer))]

    def consumer_states(self, stream: str, consumer: str) -> list[ConsumerState]:
        return [ConsumerState(*row) for row in self.db.rows(_STATE, (stream, consumer))]

    def take_shard(self, stream: str, consumer: str, shard: int, *, lease: str, now: float,
                   until: float, worker: str | None = None, run_id: str | None = None,
                   upto: int = 0) -> bool:
        return self.db.change(
            "UPDATE stream_consumers SET lease = %s, lease_until = %s, worker = %s, run_id = %s, "
            "upto = %s WHERE stream = %s AND consumer = %s AND shard = %s "
            "AND (lease IS NULL OR lease_until <= %s)",
            (lease, until, worker, run_id, upto, stream, consumer, shard, now)) == 1

    def commit(self, stream: str, consumer: str, shard: int, lease: str, *, seq: int) -> bool:
        return self.db.change(
            "UPDATE stream_consumers SET seq = %s, lease = NULL, lease_until = 0, "
            f"attempts = 0, retry_at = 0, last_error = NULL, isolated = 0, upto = 0 {_HELD}",
            (seq, stream, consumer, shard, lease)) == 1

    def advance(self, stream: str, consumer: str, shard: int, lease: str, *, seq: int) -> bool:
        return self.db.change(f"UPDATE stream_consumers SET seq = %s {_HELD}",
                              (seq, stream, consumer, shard, lease)) == 1

    def fail(self, stream: str, consumer: str, shard: int, lease: str, *, retry_at: float,
             error: str | None) -> bool:
        return self.db.change(
            "UPDATE stream_consumers SET lease = NULL, lease_until = 0, "
            f"attempts = attempts + 1, retry_at = %s, last_error = %s {_HELD}",
            (retry_at, text(error), stream, consumer, shard, lease)) == 1

    def give_back(self, stream: str, consumer: str, shard: int, lease: str, *, started: bool,
                  error: str | None = None) -> bool:
        if started:
            return self.db.change(
                "UPDATE stream_consumers SET lease = NULL, lease_until = 0, retry_at = 0, "
                "attempts = attempts + 1, last_error = coalesce(%s, last_error), isolated = 1 "
                + _HELD, (text(error), stream, consumer, shard, lease)) == 1
        return self.db.change(f"UPDATE stream_consumers SET lease = NULL, lease_until = 0 {_HELD}",
                              (stream, consumer, shard, lease)) == 1

    def extend(self, stream: str, consumer: str, shard: int, lease: str, *, until: float) -> bool:
        return self.db.change(f"UPDATE stream_consumers SET lease_until = %s {_HELD}",
                              (until, stream, consumer, shard, lease)) == 1

    def trim(self, stream: str, *, older_than: float, keep: int | None = None) -> int:
        with self.db.atomic():
            gone = self.db.change("DELETE FROM stream_records WHERE stream = %s AND ts < %s",
                                  (stream, older_than))
            if keep is not None:
                gone += self.db.change(
                    "DELETE FROM stream_records r USING stream_heads h "
                    "WHERE r.stream = %s AND h.stream = r.stream AND h.shard = r.shard "
                    "AND r.seq <= h.seq - %s", (stream, keep))
        return gone


def shard_states(db: Database, stream: str, shards: int) -> list[ShardState]:
    """Each shard's first and last record kept, newest number and checkpoints (index look-ups
    only, so it costs the same for any length)."""
    positions: dict[int, dict[str, int]] = {}
    for shard, consumer, seq in db.rows(
            "SELECT shard, consumer, seq FROM stream_consumers WHERE stream = %s", (stream,)):
        positions.setdefault(shard, {})[consumer] = seq
    states = []
    for shard, head, first, first_ts, last, last_ts in db.rows(
            _EDGES, {"stream": stream, "shards": shards}):
        states.append(ShardState(shard, last - first + 1 if last is not None else 0, head or 0,
                                 last_ts, positions.get(shard, {}), first or 0, first_ts))
    return states
