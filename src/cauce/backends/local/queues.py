"""Durable queues in the state database: at-least-once delivery with leases that expire.

A message is *visible* when ``visible_at <= now``. Receiving it takes a lease: a random token
and a new ``visible_at`` one visibility timeout away. Acknowledging deletes it if the lease is
still held; if the receiver dies, the lease simply expires and the message is delivered again.
In a message group only the oldest message can be received, which gives FIFO order per group.

Each function takes a connection; write functions expect to run inside ``StateDB.write()`` so a
caller can group them with other writes (a topic fan-out, an ack plus its run record).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


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
# whole), or alone in its process (after a worker died while handling it).
TOGETHER, OWN_BATCH, OWN_PROCESS = 0, 1, 2


def new_token() -> str:
    return secrets.token_hex(8)


def send(
    con: sqlite3.Connection,
    queue: str,
    bodies: Sequence[str],
    *,
    now: float,
    delay: float = 0.0,
    group: str | None = None,
    event_ids: Sequence[str] | None = None,
    attrs: dict[str, Any] | None = None,
    error: str | None = None,
) -> list[int]:
    """Insert messages; returns their ids (in order)."""
    ids = event_ids or [new_token() + new_token() for _ in bodies]
    attrs_text = json.dumps(attrs) if attrs else None
    rows = [(queue, body, eid, group, now + delay, now, attrs_text, error)
            for body, eid in zip(bodies, ids, strict=True)]
    inserted: list[int] = []
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        sql = ("INSERT INTO messages "
               "(queue, body, event_id, grp, visible_at, sent_at, attrs, last_error) VALUES "
               + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)) + " RETURNING id")
        params = [v for row in chunk for v in row]
        inserted.extend(sorted(row[0] for row in con.execute(sql, params)))
    return inserted


_ROWS_PER_INSERT = 500  # 8 parameters a row, well under SQLite's limit of variables per statement


_COLUMNS = """id, queue, body, event_id, grp, sent_at, receive_count, lease, last_error, attrs,
          visible_at, worker, batch_head, isolation, lost"""

_CLAIM = """
UPDATE messages SET lease = :lease, visible_at = :until, receive_count = receive_count + 1,
                    worker = :worker, batch_head = NULL
WHERE id IN (
    SELECT m.id FROM messages AS m
    WHERE m.queue = :queue AND m.visible_at <= :now AND {isolation}
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


def receive(
    con: sqlite3.Connection, queue: str, *, now: float, limit: int, visibility: float,
    worker: str | None = None, alone: bool | None = False,
) -> list[StoredMessage]:
    """Lease up to ``limit`` visible messages for ``visibility`` seconds (oldest first): those
    delivered with others (``alone=False``), those that must be delivered alone in a process of
    their own (``alone=True``), or any (``None``). Leases that expired must be settled first
    (`expired`): this claims only messages no one holds."""
    sql = _CLAIM_ANY if alone is None else _CLAIM_ALONE if alone else _CLAIM_TOGETHER
    rows = con.execute(
        sql,
        {"lease": new_token(), "until": now + visibility, "queue": queue, "now": now,
         "limit": limit, "worker": worker},
    ).fetchall()
    messages = [_from_row(row) for row in rows]
    messages.sort(key=lambda m: m.id)
    return messages


def _from_row(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        id=row["id"],
        queue=row["queue"],
        body=row["body"],
        event_id=row["event_id"],
        group=row["grp"],
        sent_at=row["sent_at"],
        receive_count=row["receive_count"],
        lease=row["lease"],
        last_error=row["last_error"],
        attrs=json.loads(row["attrs"]) if row["attrs"] else {},
        visible_at=row["visible_at"],
        worker=row["worker"],
        batch_head=row["batch_head"],
        isolation=row["isolation"],
        lost=row["lost"],
    )


def expired(con: sqlite3.Connection, queue: str, now: float) -> list[StoredMessage]:
    """Messages whose lease ran out unsettled: their holder died, or stopped renewing it."""
    rows = con.execute(f"SELECT {_COLUMNS} FROM messages "
                       "WHERE queue = ? AND lease IS NOT NULL AND visible_at <= ? ORDER BY id",
                       (queue, now)).fetchall()
    return [_from_row(row) for row in rows]


def unclaim(con: sqlite3.Connection, message: StoredMessage, *, now: float) -> bool:
    """Give back a message whose delivery never started: visible at once, and the receive that
    took it not counted."""
    cur = con.execute("UPDATE messages SET lease = NULL, visible_at = ?, "
                      "receive_count = max(0, receive_count - 1) WHERE id = ? AND lease = ?",
                      (now, message.id, message.lease))
    return cur.rowcount == 1


def join_batches(con: sqlite3.Connection, batches: Sequence[Sequence[StoredMessage]]) -> None:
    """Remember which messages were delivered together, so a lost batch is found as one."""
    rows = [(batch[0].id, m.id) for batch in batches if len(batch) > 1 for m in batch[1:]]
    if rows:
        con.executemany("UPDATE messages SET batch_head = ? WHERE id = ?", rows)
    for batch in batches:
        for m in batch[1:]:
            m.batch_head = batch[0].id


def ack(con: sqlite3.Connection, leases: Iterable[tuple[int, str]]) -> int:
    """Delete messages whose lease is still held; returns how many were deleted."""
    cur = con.executemany("DELETE FROM messages WHERE id = ? AND lease = ?", list(leases))
    return cur.rowcount


def release(
    con: sqlite3.Connection, message_id: int, lease: str, *, visible_at: float,
    error: str | None = None, isolation: int | None = None, lost: bool = False,
) -> bool:
    """Give a message back, visible again at ``visible_at`` (a retry back-off, or now); with
    ``isolation``, delivered at least that much apart from others from then on; ``lost`` counts
    a delivery whose worker died."""
    cur = con.execute(
        "UPDATE messages SET lease = NULL, visible_at = ?, last_error = coalesce(?, last_error), "
        "isolation = max(isolation, coalesce(?, 0)), lost = lost + ? WHERE id = ? AND lease = ?",
        (visible_at, error, isolation, int(lost), message_id, lease),
    )
    return cur.rowcount == 1


def dead_letter(
    con: sqlite3.Connection, message_id: int, lease: str, *, dlq: str, now: float, error: str
) -> bool:
    """Move a message to its dead-letter queue, remembering where it came from and why."""
    cur = con.execute(
        "UPDATE messages SET attrs = json_set(coalesce(attrs, '{}'), '$.source_queue', queue), "
        "queue = ?, lease = NULL, visible_at = ?, last_error = ? WHERE id = ? AND lease = ?",
        (dlq, now, error, message_id, lease),
    )
    return cur.rowcount == 1


def extend(con: sqlite3.Connection, leases: Iterable[tuple[int, str]], until: float) -> int:
    """Push back the expiry of leases still held (a heartbeat for long handlers)."""
    cur = con.executemany(
        "UPDATE messages SET visible_at = ? WHERE id = ? AND lease = ?",
        [(until, mid, lease) for mid, lease in leases],
    )
    return cur.rowcount


def next_visible(con: sqlite3.Connection, queues: Sequence[str]) -> dict[str, float]:
    """For each queue holding messages, the earliest time one of them is visible.

    One indexed ``min()`` per queue (SQLite answers each from the index without scanning), joined
    with UNION ALL: this runs on every poll, so it must not grow with the queues' depth.
    """
    if not queues:
        return {}
    sql = " UNION ALL ".join("SELECT ?, (SELECT min(visible_at) FROM messages WHERE queue = ?)"
                             for _ in queues)
    rows = con.execute(sql, [v for q in queues for v in (q, q)]).fetchall()
    return {row[0]: row[1] for row in rows if row[1] is not None}


def alone_ready(con: sqlite3.Connection, queues: Sequence[str], now: float) -> list[str]:
    """Queues holding a message ready to be delivered alone in a process of its own, or one
    whose lease expired (which may turn out to need that)."""
    if not queues:
        return []
    sql = " UNION ALL ".join(
        "SELECT ? WHERE EXISTS (SELECT 1 FROM messages WHERE queue = ? AND isolation = 2 "
        "AND visible_at <= ?) OR EXISTS (SELECT 1 FROM messages WHERE queue = ? "
        "AND lease IS NOT NULL AND visible_at <= ?)" for _ in queues)
    rows = con.execute(sql, [v for q in queues for v in (q, q, now, q, now)]).fetchall()
    return [row[0] for row in rows]


def stats(con: sqlite3.Connection, queues: Sequence[str],
          now: float) -> dict[str, tuple[int, int, int]]:
    """(visible, in flight or delayed, oldest age in seconds) per queue."""
    if not queues:
        return {}
    marks = ",".join("?" * len(queues))
    rows = con.execute(
        f"SELECT queue, sum(visible_at <= ?), sum(visible_at > ?), min(sent_at) "
        f"FROM messages WHERE queue IN ({marks}) GROUP BY queue",
        [now, now, *queues],
    ).fetchall()
    return {r[0]: (int(r[1] or 0), int(r[2] or 0), int(now - r[3]) if r[3] else 0) for r in rows}


def listing(con: sqlite3.Connection, queue: str, limit: int | None = None) -> list[StoredMessage]:
    """Messages of a queue, oldest first, without leasing them."""
    sql = f"SELECT {_COLUMNS} FROM messages WHERE queue = ? ORDER BY id"
    rows = con.execute(sql + (" LIMIT ?" if limit else ""), (queue, limit) if limit else (queue,))
    return [_from_row(row) for row in rows.fetchall()]


def replay(
    con: sqlite3.Connection, dlq: str, *, now: float, ids: Sequence[int] | None = None
) -> list[StoredMessage]:
    """Move dead-lettered messages back to the queue they came from, with a fresh count."""
    messages = [m for m in listing(con, dlq) if ids is None or m.id in set(ids)]
    for m in messages:
        source = m.attrs.pop("source_queue", None) or dlq.removesuffix(".dlq")
        m.attrs["replayed"] = m.attrs.get("replayed", 0) + 1
        con.execute(
            "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, lease = NULL, "
            "attrs = ?, isolation = 0, lost = 0, batch_head = NULL WHERE id = ?",
            (source, now, json.dumps(m.attrs), m.id),
        )
        m.queue = source
    return messages


def purge(con: sqlite3.Connection, queue: str) -> int:
    return con.execute("DELETE FROM messages WHERE queue = ?", (queue,)).rowcount
