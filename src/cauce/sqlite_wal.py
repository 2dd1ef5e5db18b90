"""Switching a SQLite file to WAL mode when several processes open it at once."""

from __future__ import annotations

import sqlite3
import time


def use_wal(con: sqlite3.Connection, timeout: float) -> None:
    """Put the database in WAL mode (it stays so in the file), waiting out other openers.

    Switching modes needs an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy handler, when several processes open a new file together; so a
    file already in WAL mode is left alone and the switch is retried until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() >= deadline:
                raise
            attempt += 1
            time.sleep(min(0.2, 0.005 * attempt))
