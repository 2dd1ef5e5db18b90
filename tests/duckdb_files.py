"""For tests of DuckDB files that several processes use: the opens DuckDB is asked for, and a
file beside which no lock file can be made, as in a read-only folder."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest


def note_opens(monkeypatch: pytest.MonkeyPatch,
               opening: threading.Event | None = None) -> list[str]:
    """The databases ``duckdb.connect`` is asked to open for the rest of the test, each noted
    (and ``opening`` set) before DuckDB opens it."""
    opened: list[str] = []
    open_file = duckdb.connect

    def noting(database: str, **options: Any) -> duckdb.DuckDBPyConnection:
        opened.append(database)
        if opening is not None:
            opening.set()
        return open_file(database, **options)

    monkeypatch.setattr(duckdb, "connect", noting)
    return opened


def refuse_lock_file(database: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Remove ``database``'s lock file and make opening it fail as in a read-only folder, for
    the rest of the test; returns the lock file's path."""
    lock_file = database.with_name(database.name + ".lock")
    lock_file.unlink(missing_ok=True)
    open_file = os.open

    def read_only_folder(file: Any, flags: int, *args: Any) -> int:
        if file == lock_file:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return open_file(file, flags, *args)

    monkeypatch.setattr(os, "open", read_only_folder)
    return lock_file
