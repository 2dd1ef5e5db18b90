"""An older SQLite state file is brought up to date when opened, keeping what it holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cauce.backends.state import open_state, sqlite_url


def test_a_version_2_file_keeps_its_stream_numbering(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "state.db")
    state = open_state(url)
    state.streams.append("app:s", 0, [("a", "1"), ("a", "2")], now=1.0)
    state.close()
    con = sqlite3.connect(tmp_path / "state.db")  # as version 2 left it
    con.executescript(
        "DROP TABLE stream_shards; ALTER TABLE stream_consumers DROP COLUMN upto; "
        "PRAGMA user_version = 2;"
    )
    con.close()
    state = open_state(url)
    try:
        assert state.streams.append("app:s", 0, [("a", "3")], now=2.0) == [3]
        assert state.streams.consumers("app:s", "c", 1)[0].upto == 0
    finally:
        state.close()
