"""Queues in the SQLite state file (`cauce.backends.state.QueueStore`).

A message row is visible when ``visible_at <= now``; receiving it sets its lease token and moves
``visible_at`` one visibility timeout away, so an expired lease is simply a row whose
``visible_at`` passed with a token still set (found through a partial index, as are the rare
messages kept apart). In a message group only the row with the smallest id can be received.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from ..state import QueueStore, StoredMessage, by_queue, new_token
from .database import StateDB, marks

_COLUMNS = """id, queue, body, event_id, grp, sent_at, receive_count, lease, last_error, attrs,
          visible_at, worker, batch_head, isolation, lost"""

_CLAIM = """
UPDATE messages SET lease = :lease, visible_at = :until, receive_count = receive_count + 1,
                    worker = :worker, batch_head = NULL
WHERE id IN (
    SELECT m.id FROM messages AS m
    WHERE m.queue = :queue AND m.visible_at <= :now AND m.lease IS NULL AND {isolation}
      AND (m.grp IS NULL OR m.id = (SELECT min(g.id) FROM messages AS g
                                    WHERE g.queue = m.queue AND g.grp = m.grp))
    ORDER BY m.visible_at, m.id
    LIMIT :limit)
RETURNING {columns}
"""
# Literal conditions, so that SQLite uses the partial index for the (rare) messages kept apart.
_CLAIM_TOGETHER = _CLAIM.format(isolation="m.isolation < 2", columns=_COLUMNS)
_CLAIM_ALONE = _CLAIM.format(isolation="m.isolation = 2", columns=_COLUMNS)
_CLAIM_ANY = _CLAIM.format(isolation="1", columns=_COLUMNS)

_ROWS_PER_INSERT = 500  # 9 parameters a row, well under SQLite's limit of variables per statement
_LEASES_PER_STATEMENT = 500  # 3 parameters a lease


def _message(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        id=row["id"], queue=row["queue"], body=row["body"], event_id=row["event_id"],
        group=row["grp"], sent_at=row["sent_at"], receive_count=row["receive_count"],
        lease=row["lease"], last_error=row["last_error"],
        attrs=json.loads(row["attrs"]) if row["attrs"] else {}, visible_at=row["visible_at"],
        worker=row["worker"], batch_head=row["batch_head"], isolation=row["isolation"],
        lost=row["lost"],
    )


def _insert(con: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    inserted: list[int] = []
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        sql = ("INSERT INTO messages "
               "(queue, body, event_id, grp, visible_at, sent_at, attrs, last_error, "
               "receive_count) VALUES "
               + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)) + " RETURNING id")
        inserted.extend(sorted(row[0] for row in con.execute(sql, [v for r in chunk for v in r])))
    return inserted


def _leased(leases: Sequence[tuple[int, str]]) -> Iterator[tuple[str, list[Any]]]:
    """Conditions matching messages by id and lease, one statement per chunk of leases.

    One statement rather than ``executemany``: each statement step releases the GIL, and on a
    busy process another thread may then keep it for a whole switch interval while this one
    holds the write turn. The id list lets SQLite look rows up by primary key."""
    for start in range(0, len(leases), _LEASES_PER_STATEMENT):
        chunk = leases[start:start + _LEASES_PER_STATEMENT]
        ids = marks(chunk)
        pairs = ",".join(["(?, ?)"] * len(chunk))
        yield (f"id IN ({ids}) AND (id, lease) IN (VALUES {pairs})",
               [mid for mid, _ in chunk] + [v for pair in chunk for v in pair])


class SQLiteQueues(QueueStore):
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def send(self, queue: str, bodies: Sequence[str], *, now: float, delay: float = 0.0,
             group: str | None = None, event_ids: Sequence[str] | None = None,
             attrs: Mapping[str, Any] | None = None, error: str | None = None,
             receives: int = 0) -> list[int]:
        ids = event_ids or [new_token() + new_token() for _ in bodies]
        attrs_text = json.dumps(dict(attrs)) if attrs else None
        rows = [(queue, body, eid, group, now + delay, now, attrs_text, error, receives)
                for body, eid in zip(bodies, ids, strict=True)]
        with self.db.atomic() as con:
            return _insert(con, rows)

    def publish(self, queues: Sequence[str], body: str, *, now: float, event_id: str) -> None:
        with self.db.atomic() as con:
            _insert(con, [(queue, body, event_id, None, now, now, None, None, 0)
                          for queue in queues])

    def receive(self, queue: str, *, now: float, limit: int, visibility: float,
                worker: str | None = None, alone: bool | None = False) -> list[StoredMessage]:
        sql = _CLAIM_ANY if alone is None else _CLAIM_ALONE if alone else _CLAIM_TOGETHER
        with self.db.atomic() as con:
            rows = con.execute(sql, {"lease": new_token(), "until": now + visibility,
                                     "queue": queue, "now": now, "limit": limit,
                                     "worker": worker}).fetchall()
        return sorted((_message(row) for row in rows), key=lambda m: m.id)

    def expired(self, queue: str, *, now: float) -> list[StoredMessage]:
        with self.db.reading() as con:
            rows = con.execute(f"SELECT {_COLUMNS} FROM messages WHERE queue = ? "
                               "AND lease IS NOT NULL AND visible_at <= ? ORDER BY id",
                               (queue, now)).fetchall()
        return [_message(row) for row in rows]

    def held_by(self, queues: Sequence[str], workers: Collection[str], *,
                now: float) -> dict[str, list[tuple[int, str]]]:
        if not queues or not workers:
            return {}
        # the partial index of leased messages (messages_leased), searched per queue from now
        sql = (f"SELECT queue, id, lease FROM messages WHERE queue IN ({marks(queues)}) "
               f"AND lease IS NOT NULL AND visible_at > ? AND worker IN ({marks(workers)}) "
               "ORDER BY id")
        with self.db.reading() as con:
            rows = con.execute(sql, [*queues, now, *workers]).fetchall()
        return by_queue(rows)

    def join_batches(self, batches: Sequence[Sequence[StoredMessage]]) -> None:
        rows = [(batch[0].id, m.id) for batch in batches if len(batch) > 1 for m in batch[1:]]
        if rows:
            with self.db.atomic() as con:
                con.executemany("UPDATE messages SET batch_head = ? WHERE id = ?", rows)
        for batch in batches:
            for m in batch[1:]:
                m.batch_head = batch[0].id

    def ack(self, leases: Sequence[tuple[int, str]]) -> int:
        with self.db.atomic() as con:
            return sum(con.execute("DELETE FROM messages WHERE " + where, values).rowcount
                       for where, values in _leased(leases))

    def release(self, message_id: int, lease: str, *, visible_at: float,
                error: str | None = None, isolation: int | None = None,
                lost: bool = False, counted: bool = True) -> bool:
        with self.db.atomic() as con:
            return con.execute(
                "UPDATE messages SET lease = NULL, visible_at = ?, "
                "last_error = coalesce(?, last_error), isolation = max(isolation, coalesce(?, 0)), "
                "lost = lost + ?, receive_count = max(0, receive_count - ?) "
                "WHERE id = ? AND lease = ?",
                (visible_at, error, isolation, int(lost), int(not counted), message_id,
                 lease)).rowcount == 1

    def unclaim(self, message: StoredMessage, *, now: float) -> bool:
        with self.db.atomic() as con:
            return con.execute(
                "UPDATE messages SET lease = NULL, visible_at = ?, "
                "receive_count = max(0, receive_count - 1) WHERE id = ? AND lease = ?",
                (now, message.id, message.lease)).rowcount == 1

    def dead_letter(self, message_id: int, lease: str, *, dlq: str, now: float,
                    error: str) -> bool:
        with self.db.atomic() as con:
            return con.execute(
                "UPDATE messages SET attrs = json_set(coalesce(attrs, '{}'), '$.source_queue', "
                "queue), queue = ?, lease = NULL, visible_at = ?, last_error = ? "
                "WHERE id = ? AND lease = ?",
                (dlq, now, error, message_id, lease)).rowcount == 1

    def extend(self, leases: Sequence[tuple[int, str]], *, until: float) -> int:
        with self.db.atomic() as con:
            return sum(con.execute("UPDATE messages SET visible_at = ? WHERE " + where,
                                   [until, *values]).rowcount
                       for where, values in _leased(leases))

    def drop_unclaimed(self, message_id: int) -> bool:
        with self.db.atomic() as con:
            return con.execute("DELETE FROM messages WHERE id = ? AND lease IS NULL",
                               (message_id,)).rowcount == 1

    def next_visible(self, queues: Sequence[str]) -> dict[str, float]:
        # One indexed min() per queue (answered from the index without scanning), joined with
        # UNION ALL: this runs on every poll, so it must not grow with the queues' depth.
        if not queues:
            return {}
        sql = " UNION ALL ".join("SELECT ?, (SELECT min(visible_at) FROM messages WHERE queue = ?)"
                                 for _ in queues)
        with self.db.reading() as con:
            rows = con.execute(sql, [v for q in queues for v in (q, q)]).fetchall()
        return {row[0]: row[1] for row in rows if row[1] is not None}

    def ready(self, queues: Sequence[str], *, now: float) -> dict[str, tuple[float, bool]]:
        # one statement, asked before every claim: a message kept apart or an expired lease has
        # visible_at <= now, so where it is found the queue's first message is visible too
        if not queues:
            return {}
        sql = " UNION ALL ".join(
            "SELECT ?, (SELECT min(visible_at) FROM messages WHERE queue = ?), "
            "EXISTS (SELECT 1 FROM messages WHERE queue = ? AND isolation = 2 "
            "AND visible_at <= ?) OR EXISTS (SELECT 1 FROM messages WHERE queue = ? "
            "AND lease IS NOT NULL AND visible_at <= ?)" for _ in queues)
        with self.db.reading() as con:
            rows = con.execute(sql, [v for q in queues for v in (q, q, q, now, q, now)]).fetchall()
        return {row[0]: (row[1], bool(row[2])) for row in rows if row[1] is not None}

    def alone_ready(self, queues: Sequence[str], *, now: float) -> list[str]:
        if not queues:
            return []
        sql = " UNION ALL ".join(
            "SELECT ? WHERE EXISTS (SELECT 1 FROM messages WHERE queue = ? AND isolation = 2 "
            "AND visible_at <= ?) OR EXISTS (SELECT 1 FROM messages WHERE queue = ? "
            "AND lease IS NOT NULL AND visible_at <= ?)" for _ in queues)
        with self.db.reading() as con:
            rows = con.execute(sql, [v for q in queues for v in (q, q, now, q, now)]).fetchall()
        return [row[0] for row in rows]

    def holds(self, queue: str, field: str, value: Any) -> bool:
        with self.db.reading() as con:
            # the value as JSON, read by the same function as the body: text holding U+0000
            # or a lone surrogate (no UTF-8) compares as SQLite reads it in the body
            return con.execute("SELECT 1 FROM messages WHERE queue = ? "
                               "AND json_extract(body, ?) IS json_extract(?, '$') LIMIT 1",
                               (queue, f"$.{field}", json.dumps(value))).fetchone() is not None

    def text_values(self, queue: str, field: str) -> set[str]:
        path = f"$.{field}"
        with self.db.reading() as con:
            rows = con.execute("SELECT DISTINCT json_extract(body, ?) FROM messages "
                               "WHERE queue = ? AND json_type(body, ?) = 'text'",
                               (path, queue, path)).fetchall()
        return {r[0] for r in rows}

    def stats(self, queues: Sequence[str], *, now: float) -> dict[str, tuple[int, int, int]]:
        if not queues:
            return {}
        with self.db.reading() as con:
            rows = con.execute(
                f"SELECT queue, sum(visible_at <= ?), sum(visible_at > ?), min(sent_at) "
                f"FROM messages WHERE queue IN ({marks(queues)}) GROUP BY queue",
                [now, now, *queues]).fetchall()
        return {r[0]: (int(r[1] or 0), int(r[2] or 0),
                       int(now - r[3]) if r[3] is not None else 0) for r in rows}

    def listing(self, queue: str, limit: int | None = None) -> list[StoredMessage]:
        sql = f"SELECT {_COLUMNS} FROM messages WHERE queue = ? ORDER BY id"
        with self.db.reading() as con:
            rows = con.execute(sql + (" LIMIT ?" if limit else ""),
                               (queue, limit) if limit else (queue,)).fetchall()
        return [_message(row) for row in rows]

    def replay(self, dlq: str, *, now: float,
               ids: Sequence[int] | None = None) -> list[StoredMessage]:
        wanted = set(ids) if ids is not None else None
        with self.db.atomic() as con:
            messages = [m for m in self.listing(dlq) if wanted is None or m.id in wanted]
            for m in messages:
                source = m.attrs.pop("source_queue", None) or dlq.removesuffix(".dlq")
                m.attrs["replayed"] = m.attrs.get("replayed", 0) + 1
                con.execute(
                    "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, "
                    "lease = NULL, attrs = ?, isolation = 0, lost = 0, batch_head = NULL "
                    "WHERE id = ?", (source, now, json.dumps(m.attrs), m.id))
                m.queue = source
        return messages

    def purge(self, queue: str, ids: Sequence[int] | None = None) -> int:
        with self.db.atomic() as con:
            if ids is None:
                return con.execute("DELETE FROM messages WHERE queue = ?", (queue,)).rowcount
            # the ids as one JSON array: no limit on how many, as a list of ? has
            return con.execute("DELETE FROM messages WHERE queue = ? AND id IN "
                               "(SELECT value FROM json_each(?))",
                               (queue, json.dumps(list(ids)))).rowcount
