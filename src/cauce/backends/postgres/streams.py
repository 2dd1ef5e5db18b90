"""Streams in PostgreSQL (`cauce.backends.state.StreamStore`). Each shard has a head row holding
its last sequence number: an append moves the head and inserts its records in one statement,
and the head's row lock keeps appenders to a shard in line until they commit, so sequence
numbers are consecutive and their order is the order of commits (and never reused, even
after a trim). One row per consumer and shard holds its checkpoint and lease."""

from __future__ import annotations

from collections.abc import Sequence

from ..state import ConsumerState, StoredRecord, StreamStore
from .database import Database, text

_STATE = ("SELECT shard, seq, lease, lease_until, attempts, retry_at, last_error, worker, "
          "run_id, isolated FROM stream_consumers WHERE stream = %s AND consumer = %s "
          "ORDER BY shard")
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
             before_ts: float | None = None) -> list[StoredRecord]:
        rows = self.db.rows("SELECT shard, seq, pkey, data, ts FROM stream_records "
                            "WHERE stream = %s AND shard = %s AND seq > %s "
                            "AND (%s::double precision IS NULL OR ts < %s) "
                            "ORDER BY seq LIMIT %s",
                            (stream, shard, after, before_ts, before_ts, limit))
        return [StoredRecord(*row) for row in rows]

    def consumers(self, stream: str, consumer: str, shards: int) -> list[ConsumerState]:
        with self.db.atomic() as con:
            con.execute("INSERT INTO stream_consumers (stream, consumer, shard) "
                        "SELECT %s, %s, s FROM generate_series(0, %s - 1) AS s "
                        "ON CONFLICT DO NOTHING", (stream, consumer, shards))
            return [ConsumerState(*row) for row in con.execute(_STATE, (stream, consumer))]

    def consumer_states(self, stream: str, consumer: str) -> list[ConsumerState]:
        return [ConsumerState(*row) for row in self.db.rows(_STATE, (stream, consumer))]

    def take_shard(self, stream: str, consumer: str, shard: int, *, lease: str, now: float,
                   until: float, worker: str | None = None, run_id: str | None = None) -> bool:
        return self.db.change(
            "UPDATE stream_consumers SET lease = %s, lease_until = %s, worker = %s, run_id = %s "
            "WHERE stream = %s AND consumer = %s AND shard = %s "
            "AND (lease IS NULL OR lease_until <= %s)",
            (lease, until, worker, run_id, stream, consumer, shard, now)) == 1

    def commit(self, stream: str, consumer: str, shard: int, lease: str, *, seq: int) -> bool:
        return self.db.change(
            "UPDATE stream_consumers SET seq = %s, lease = NULL, lease_until = 0, "
            f"attempts = 0, retry_at = 0, last_error = NULL, isolated = 0 {_HELD}",
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

    def trim(self, stream: str, *, older_than: float) -> int:
        return self.db.change("DELETE FROM stream_records WHERE stream = %s AND ts < %s",
                              (stream, older_than))
