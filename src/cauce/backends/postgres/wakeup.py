"""Wake-ups through PostgreSQL's LISTEN/NOTIFY, for serving processes on any machine.

Each serving process listens on a channel of its own (on a connection of its own) and registers
it in ``wake_listeners`` with the server process of that connection. A notifier wakes one
listener per notification, in turn — as `cauce.backends.wakeup` does with sockets on one
machine — choosing among the registered listeners whose connection is still alive. It is only
an accelerator: polling finds every message, so a lost notification costs latency, never work;
a listener whose connection broke listens again on a new one.

A notifier sends from a thread of its own, so a send pays no round trip for it, and the
notifications asked for while one is on its way become one: a producer faster than the server
wakes a worker for a handful of messages, which it claims together, instead of each worker for
each message (claims that race for one message each cost four worker processes more than they
handle).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from ..wakeup import TURN_AFTER
from .database import Database

RESCAN = 1.0  # seconds between looks at the registered listeners


def channel(db: Database, name: str) -> str:
    """The channel of the serving process ``name`` (channels are database-wide: the schema is
    part of it)."""
    digest = hashlib.sha256(f"{db.location.schema}/{name}".encode()).hexdigest()[:24]
    return f"cauce_wake_{digest}"


class PostgresListener:
    """Listens on one serving process's channel and calls ``on_wake`` for each notification."""

    # Notifiers drop no wake-up, so a listening process polls only for delayed messages and
    # expired leases: 20 looks a second instead of 200 (four idle workers' polls would take a
    # core's tenth from the producers and the server).
    poll = 0.05
    RETRY = 1.0  # seconds between attempts to listen again after the connection broke

    def __init__(self, db: Database, name: str, on_wake: Callable[[], None]) -> None:
        self.db = db
        self.channel = channel(db, name)
        self._on_wake = on_wake
        self._con: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _listen(self) -> Any:
        con = self.db.connect()
        try:
            con.execute(f"LISTEN {self.channel}")
            con.execute("INSERT INTO wake_listeners (channel, backend) "
                        "VALUES (%s, pg_backend_pid()) ON CONFLICT (channel) DO UPDATE "
                        "SET backend = excluded.backend", (self.channel,))
        except BaseException:
            con.close()
            raise
        return con

    def start(self) -> bool:
        self._con = self._listen()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="cauce-pg-wake")
        self._thread.start()
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for _ in self._con.notifies(timeout=0.5, stop_after=1):
                    self._on_wake()
            except Exception:  # the connection broke (the server ended it, a restart):
                self._again()  # listen on a new one; polling carries on meanwhile

    def _again(self) -> None:
        with contextlib.suppress(Exception):
            self._con.close()
        while not self._stop.wait(self.RETRY):
            try:
                self._con = self._listen()
            except Exception:  # the server is still away: try again later
                continue
            self._on_wake()  # what was committed meanwhile woke nobody here
            return

    def close(self) -> None:
        if self._con is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(Exception):
            self._con.execute("DELETE FROM wake_listeners WHERE channel = %s", (self.channel,))
        with contextlib.suppress(Exception):
            self._con.close()
        self._con = None


class PostgresNotifier:
    """Wakes one listening serving process (not ``own``) per notification: the same one while
    notifications keep coming, the next in turn after `TURN_AFTER` without any (as
    `cauce.backends.wakeup.WakeNotifier` does)."""

    def __init__(self, db: Database, own: str | None = None) -> None:
        self.db = db
        self.own = channel(db, own) if own else None
        self._targets: list[str] = []
        self._scanned = -RESCAN
        self._turn = 0
        self._asked = float("-inf")  # when the last notification was asked for
        self._next = True  # the next wake-up goes to the next listener in turn
        self._wanted = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _listeners(self) -> list[str]:
        now = time.monotonic()
        if now - self._scanned >= RESCAN:
            rows = self.db.rows("SELECT channel FROM wake_listeners AS w WHERE EXISTS "
                                "(SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = w.backend) "
                                "ORDER BY channel")
            self._targets = [r[0] for r in rows if r[0] != self.own]
            self._scanned = now
        return self._targets

    def notify(self) -> None:
        """Ask for a wake-up; returns at once (the sending thread is started on first use, and
        again in a forked child, where it does not run)."""
        now = time.monotonic()
        if now - self._asked >= TURN_AFTER:
            self._next = True
        self._asked = now
        self._wanted.set()
        with self._lock:
            if self._closed:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._send, daemon=True,
                                                name="cauce-pg-notify")
                self._thread.start()

    def _send(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closed:
                return
            with contextlib.suppress(Exception):  # an accelerator: never fail the caller
                targets = self._listeners()
                if targets:
                    if self._next or self._turn >= len(targets):
                        self._turn, self._next = (self._turn + 1) % len(targets), False
                    self.db.change("SELECT pg_notify(%s, '')", (targets[self._turn],))

    def close(self) -> None:
        """Stop the sending thread once it sent what was asked for before."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            while self._wanted.is_set() and thread.is_alive():
                time.sleep(0.001)
            self._closed = True
            self._wanted.set()
            thread.join(timeout=2)
        self._closed = True
        self._targets = []
