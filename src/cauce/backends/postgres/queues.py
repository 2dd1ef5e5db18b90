"""Queues in PostgreSQL (`cauce.backends.state.QueueStore`).

A claim is one statement: the oldest visible, unleased messages are locked with ``FOR UPDATE
SKIP LOCKED`` (so concurrent claimers pass each other by instead of waiting) and leased in the
same ``UPDATE … RETURNING``. A send, an acknowledgement of a whole batch and a release are one
statement each too. As in SQLite, a lease sets ``visible_at`` to its expiry, so an expired lease
is a row whose ``visible_at`` passed with a token still set. Attributes are jsonb (U+0000 and
lone surrogates escaped, `cauce.backends.postgres.jsonb`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ..state import QueueStore, StoredMessage, by_queue, new_token
from . import jsonb
from .database import Database, text

COLUMNS = ("id, queue, body, event_id, grp, sent_at, receive_count, lease, last_error, attrs, "
           "visible_at, worker, batch_head, isolation, lost")

_CLAIM = """
UPDATE messages AS m SET lease = %(lease)s, visible_at = %(until)s,
       receive_count = m.receive_count + 1, worker = %(worker)s, batch_head = NULL
FROM (SELECT c.id FROM messages AS c
      WHERE c.queue = %(queue)s AND c.lease IS NULL AND c.visible_at <= %(now)s AND {isolation}
        AND (c.grp IS NULL OR c.id = (SELECT min(g.id) FROM messages AS g
                                      WHERE g.queue = c.queue AND g.grp = c.grp))
      ORDER BY c.visible_at, c.id
      LIMIT %(limit)s
      FOR UPDATE SKIP LOCKED) AS claimed
WHERE m.id = claimed.id
RETURNING {columns}
"""
_RETURNED = ", ".join(f"m.{c}" for c in COLUMNS.split(", "))
_CLAIM_TOGETHER = _CLAIM.format(isolation="c.isolation < 2", columns=_RETURNED)
_CLAIM_ALONE = _CLAIM.format(isolation="c.isolation = 2", columns=_RETURNED)
_CLAIM_ANY = _CLAIM.format(isolation="true", columns=_RETURNED)

_INSERT = """
INSERT INTO messages (queue, body, event_id, grp, visible_at, sent_at, attrs, last_error,
                      receive_count)
SELECT q, b, e, %(grp)s, %(visible)s, %(now)s, %(attrs)s::jsonb, %(error)s, %(receives)s
FROM unnest(%(queues)s::text[], %(bodies)s::text[], %(events)s::text[]) WITH ORDINALITY
     AS u(q, b, e, n)
ORDER BY n
RETURNING id
"""

# next_visible's two index-only minimums per queue (computed once: OFFSET 0 keeps the planner
# from copying the subquery into each use of ``at``), then alone_ready's probes for the queues
# ready now
_READY = """
SELECT q, at, at <= %(now)s AND (
         EXISTS (SELECT 1 FROM messages WHERE queue = q AND isolation = 2
                 AND visible_at <= %(now)s)
         OR EXISTS (SELECT 1 FROM messages WHERE queue = q AND lease IS NOT NULL
                    AND visible_at <= %(now)s))
FROM (SELECT q, least((SELECT min(visible_at) FROM messages WHERE queue = q AND lease IS NULL),
                      (SELECT min(visible_at) FROM messages
                       WHERE queue = q AND lease IS NOT NULL)) AS at
      FROM unnest(%(queues)s::text[]) AS q OFFSET 0) AS r
WHERE at IS NOT NULL
"""


def message(row: Sequence[Any]) -> StoredMessage:
    """A StoredMessage from a row of `COLUMNS`."""
    return StoredMessage(
        id=row[0], queue=row[1], body=row[2], event_id=row[3], group=row[4], sent_at=row[5],
        receive_count=row[6], lease=row[7], last_error=row[8], attrs=row[9] or {},
        visible_at=row[10], worker=row[11], batch_head=row[12], isolation=row[13], lost=row[14])

# JSON text as jsonb, to look at one field: jsonb refuses the escapes of U+0000 and of lone
# surrogates, which a body may hold, so they read as U+FFFD here (the body itself stays as it
# was sent). Escaped backslashes are spelled ``\u005c`` first, so that every backslash left
# starts an escape and a surrogate pair is told from a lone half; text without those escapes
# (nearly all) is cast as it is, after one search.
_AS_JSONB = (r"(CASE WHEN {0} ~ '\\u(0000|[dD][89a-fA-F])' "
             r"THEN regexp_replace(replace({0}, '\\', '\u005c'), '\\u0000"
             r"|\\u[dD][89abAB][0-9a-fA-F]{{2}}(?!\\u[dD][c-fC-F])"
             r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{{2}})\\u[dD][c-fC-F][0-9a-fA-F]{{2}}', "
             r"'\\ufffd', 'g') ELSE {0} END)::jsonb")
_BODY = _AS_JSONB.format("body")
# a value to compare with a body's field, read the same way
_VALUE = _AS_JSONB.format("%(value)s")


class PostgresQueues(QueueStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self, queues: list[str], bodies: Sequence[str], events: Sequence[str], *,
                now: float, visible: float, group: str | None = None,
                attrs: str | None = None, error: str | None = None,
                receives: int = 0) -> list[int]:
        rows = self.db.rows(_INSERT, {"queues": queues, "bodies": list(bodies),
                                      "events": list(events), "grp": group, "visible": visible,
                                      "now": now, "attrs": attrs, "error": error,
                                      "receives": receives})
        return sorted(r[0] for r in rows)

    def send(self, queue: str, bodies: Sequence[str], *, now: float, delay: float = 0.0,
             group: str | None = None, event_ids: Sequence[str] | None = None,
             attrs: Mapping[str, Any] | None = None, error: str | None = None,
             receives: int = 0) -> list[int]:
        events = event_ids or [new_token() + new_token() for _ in bodies]
        if len(events) != len(bodies):
            raise ValueError("send: one event id per body")
        return self._insert([queue] * len(bodies), bodies, events, now=now, visible=now + delay,
                            group=group, attrs=jsonb.dump_value(dict(attrs)) if attrs else None,
                            error=text(error), receives=receives)

    def publish(self, queues: Sequence[str], body: str, *, now: float, event_id: str) -> None:
        if queues:
            self._insert(list(queues), [body] * len(queues), [event_id] * len(queues), now=now,
                         visible=now)

    def receive(self, queue: str, *, now: float, limit: int, visibility: float,
                worker: str | None = None, alone: bool | None = False) -> list[StoredMessage]:
        sql = _CLAIM_ANY if alone is None else _CLAIM_ALONE if alone else _CLAIM_TOGETHER
        rows = self.db.rows(sql, {"lease": new_token(), "until": now + visibility,
                                  "queue": queue, "now": now, "limit": limit, "worker": worker},
                            durable=False)
        return sorted((message(r) for r in rows), key=lambda m: m.id)

    def expired(self, queue: str, *, now: float) -> list[StoredMessage]:
        rows = self.db.rows(f"SELECT {COLUMNS} FROM messages WHERE queue = %s "
                            "AND lease IS NOT NULL AND visible_at <= %s ORDER BY id",
                            (queue, now))
        return [message(r) for r in rows]

    def held_by(self, queues: Sequence[str], workers: Collection[str], *,
                now: float) -> dict[str, list[tuple[int, str]]]:
        if not queues or not workers:
            return {}
        # the partial index of leased messages (messages_leased), searched per queue from now
        rows = self.db.rows("SELECT queue, id, lease FROM messages WHERE queue = ANY(%s) "
                            "AND lease IS NOT NULL AND visible_at > %s AND worker = ANY(%s) "
                            "ORDER BY id", (list(queues), now, list(workers)))
        return by_queue(rows)

    def join_batches(self, batches: Sequence[Sequence[StoredMessage]]) -> None:
        heads = [(batch[0].id, m.id) for batch in batches if len(batch) > 1 for m in batch[1:]]
        if heads:
            self.db.change("UPDATE messages AS m SET batch_head = u.head FROM "
                           "unnest(%s::bigint[], %s::bigint[]) AS u(head, id) WHERE m.id = u.id",
                           ([h for h, _ in heads], [i for _, i in heads]))
        for batch in batches:
            for m in batch[1:]:
                m.batch_head = batch[0].id

    def ack(self, leases: Sequence[tuple[int, str]]) -> int:
        if not leases:
            return 0
        return self.db.change("DELETE FROM messages AS m USING unnest(%s::bigint[], %s::text[]) "
                              "AS u(id, lease) WHERE m.id = u.id AND m.lease = u.lease",
                              ([i for i, _ in leases], [t for _, t in leases]))

    def release(self, message_id: int, lease: str, *, visible_at: float,
                error: str | None = None, isolation: int | None = None,
                lost: bool = False, counted: bool = True) -> bool:
        return self.db.change(
            "UPDATE messages SET lease = NULL, visible_at = %s, "
            "last_error = coalesce(%s, last_error), "
            "isolation = greatest(isolation, coalesce(%s::smallint, 0)), lost = lost + %s, "
            "receive_count = greatest(0, receive_count - %s) WHERE id = %s AND lease = %s",
            (visible_at, text(error), isolation, int(lost), int(not counted), message_id,
             lease)) == 1

    def unclaim(self, message: StoredMessage, *, now: float) -> bool:
        return self.db.change(
            "UPDATE messages SET lease = NULL, visible_at = %s, "
            "receive_count = greatest(0, receive_count - 1) WHERE id = %s AND lease = %s",
            (now, message.id, message.lease)) == 1

    def dead_letter(self, message_id: int, lease: str, *, dlq: str, now: float,
                    error: str) -> bool:
        return self.db.change(
            "UPDATE messages SET attrs = coalesce(attrs, '{}'::jsonb) || "
            "jsonb_build_object('source_queue', queue), queue = %s, lease = NULL, "
            "visible_at = %s, last_error = %s WHERE id = %s AND lease = %s",
            (dlq, now, text(error), message_id, lease)) == 1

    def extend(self, leases: Sequence[tuple[int, str]], *, until: float) -> int:
        if not leases:
            return 0
        return self.db.change("UPDATE messages AS m SET visible_at = %s "
                              "FROM unnest(%s::bigint[], %s::text[]) AS u(id, lease) "
                              "WHERE m.id = u.id AND m.lease = u.lease",
                              (until, [i for i, _ in leases], [t for _, t in leases]))

    def drop_unclaimed(self, message_id: int) -> bool:
        return self.db.change("DELETE FROM messages WHERE id = %s AND lease IS NULL",
                              (message_id,)) == 1

    def next_visible(self, queues: Sequence[str]) -> dict[str, float]:
        # Per queue, the smaller of two index-only minimums (unleased; leased: their expiry).
        if not queues:
            return {}
        rows = self.db.rows(
            "SELECT q, least((SELECT min(visible_at) FROM messages "
            "                 WHERE queue = q AND lease IS NULL), "
            "                (SELECT min(visible_at) FROM messages "
            "                 WHERE queue = q AND lease IS NOT NULL)) "
            "FROM unnest(%s::text[]) AS q", (list(queues),))
        return {q: at for q, at in rows if at is not None}

    def ready(self, queues: Sequence[str], *, now: float) -> dict[str, tuple[float, bool]]:
        if not queues:
            return {}
        rows = self.db.rows(_READY, {"queues": list(queues), "now": now})
        return {q: (at, apart) for q, at, apart in rows}

    def alone_ready(self, queues: Sequence[str], *, now: float) -> list[str]:
        if not queues:
            return []
        rows = self.db.rows(
            "SELECT q FROM unnest(%(queues)s::text[]) WITH ORDINALITY AS u(q, n) "
            "WHERE EXISTS (SELECT 1 FROM messages WHERE queue = q AND isolation = 2 "
            "              AND visible_at <= %(now)s) "
            "   OR EXISTS (SELECT 1 FROM messages WHERE queue = q AND lease IS NOT NULL "
            "              AND visible_at <= %(now)s) ORDER BY n",
            {"queues": list(queues), "now": now})
        return [r[0] for r in rows]

    def holds(self, queue: str, field: str, value: Any) -> bool:
        if value is None:
            sql = ("SELECT 1 FROM messages WHERE queue = %s "
                   f"AND coalesce({_BODY} -> %s, 'null'::jsonb) = 'null'::jsonb LIMIT 1")
            return self.db.row(sql, (queue, field)) is not None
        return self.db.row("SELECT 1 FROM messages WHERE queue = %(queue)s "
                           f"AND {_BODY} -> %(field)s = {_VALUE} LIMIT 1",
                           {"queue": queue, "field": field,
                            "value": json.dumps(value)}) is not None

    def text_values(self, queue: str, field: str) -> set[str]:
        rows = self.db.rows(f"SELECT DISTINCT value #>> '{{}}' FROM (SELECT {_BODY} -> %(field)s "
                            "AS value FROM messages WHERE queue = %(queue)s) AS fields "
                            "WHERE jsonb_typeof(value) = 'string'",
                            {"queue": queue, "field": field})
        return {r[0] for r in rows}

    def stats(self, queues: Sequence[str], *, now: float) -> dict[str, tuple[int, int, int]]:
        if not queues:
            return {}
        rows = self.db.rows(
            "SELECT queue, count(*) FILTER (WHERE visible_at <= %s), "
            "count(*) FILTER (WHERE visible_at > %s), min(sent_at) "
            "FROM messages WHERE queue = ANY(%s::text[]) GROUP BY queue",
            (now, now, list(queues)))
        return {r[0]: (int(r[1]), int(r[2]), int(now - r[3]) if r[3] is not None else 0)
                for r in rows}

    def listing(self, queue: str, limit: int | None = None) -> list[StoredMessage]:
        rows = self.db.rows(f"SELECT {COLUMNS} FROM messages WHERE queue = %s ORDER BY id "
                            "LIMIT %s", (queue, limit or None))
        return [message(r) for r in rows]

    def replay(self, dlq: str, *, now: float,
               ids: Sequence[int] | None = None) -> list[StoredMessage]:
        # One statement: each message goes back to its source queue (else the DLQ's name
        # without ".dlq"), its replays counted in its attributes.
        sql = (f"UPDATE messages SET queue = coalesce(attrs ->> 'source_queue', %(fallback)s), "
               "visible_at = %(now)s, receive_count = 0, lease = NULL, isolation = 0, lost = 0, "
               "batch_head = NULL, attrs = (coalesce(attrs, '{}'::jsonb) - 'source_queue') || "
               "jsonb_build_object('replayed', "
               "coalesce((attrs ->> 'replayed')::integer, 0) + 1) "
               "WHERE queue = %(dlq)s AND (%(all)s OR id = ANY(%(ids)s::bigint[])) "
               f"RETURNING {COLUMNS}")
        rows = self.db.rows(sql, {"fallback": dlq.removesuffix(".dlq"), "now": now, "dlq": dlq,
                                  "all": ids is None, "ids": list(ids or [])})
        return sorted((message(r) for r in rows), key=lambda m: m.id)

    def purge(self, queue: str, ids: Sequence[int] | None = None) -> int:
        return self.db.change("DELETE FROM messages WHERE queue = %(queue)s AND "
                              "(%(all)s OR id = ANY(%(ids)s::bigint[]))",
                              {"queue": queue, "all": ids is None, "ids": list(ids or [])})
