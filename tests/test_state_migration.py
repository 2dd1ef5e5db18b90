"""An older SQLite state file is brought up to date when opened, keeping what it holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from cauce.backends.state import StateStore, open_state, sqlite_url
from cauce.runs import RunRecord, RunStatus


def test_a_version_2_file_keeps_its_stream_numbering(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "state.db")
    state = open_state(url)
    state.streams.append("app:s", 0, [("a", "1"), ("a", "2")], now=1.0)
    state.close()
    con = sqlite3.connect(tmp_path / "state.db")  # as version 2 left it
    con.executescript(
        "DROP TABLE stream_shards; ALTER TABLE stream_consumers DROP COLUMN upto; "
        "ALTER TABLE runs DROP COLUMN in_child; ALTER TABLE bucket_objects DROP COLUMN tag; "
        "PRAGMA user_version = 2;"
    )
    con.close()
    state = open_state(url)
    try:
        assert state.streams.append("app:s", 0, [("a", "3")], now=2.0) == [3]
        assert state.streams.consumers("app:s", "c", 1)[0].upto == 0
    finally:
        state.close()


def _entries_found_by_key(path: Path) -> bool:
    """Whether replacing an item's index entries reads them by key, not the whole table's."""
    con = sqlite3.connect(path)
    try:
        plan = con.execute("EXPLAIN QUERY PLAN DELETE FROM item_index "
                           "WHERE tbl = 'app:t' AND key = 'k'").fetchall()
    finally:
        con.close()
    return any("item_index_by_key" in row[-1] for row in plan)


def test_an_item_write_finds_its_index_entries_by_key_in_new_and_version_3_files(
        tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "state.db")
    state = open_state(url)
    state.tables.put("app:t", "k", '{"a": 1}', indexes={"a": "1"}, now=1.0)
    state.close()
    assert _entries_found_by_key(tmp_path / "state.db")
    con = sqlite3.connect(tmp_path / "state.db")  # as version 3 left it
    con.executescript("DROP INDEX item_index_by_key; ALTER TABLE runs DROP COLUMN in_child; "
                      "ALTER TABLE bucket_objects DROP COLUMN tag; PRAGMA user_version = 3;")
    con.close()
    assert not _entries_found_by_key(tmp_path / "state.db")
    state = open_state(url)
    try:
        assert state.tables.by_index("app:t", "a", "1") == ['{"a": 1}']
    finally:
        state.close()
    assert _entries_found_by_key(tmp_path / "state.db")


def test_a_version_4_file_learns_which_runs_ran_in_a_child_process(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "state.db")
    state = open_state(url)
    running = RunRecord("r1", "app", "handler", "h", RunStatus.RUNNING, message_id=7,
                        started_at=1.0)
    state.runs.upsert([running])
    state.close()
    con = sqlite3.connect(tmp_path / "state.db")  # as version 4 left it
    con.executescript("ALTER TABLE runs DROP COLUMN in_child; "
                      "ALTER TABLE bucket_objects DROP COLUMN tag; PRAGMA user_version = 4;")
    con.close()
    state = open_state(url)
    try:
        assert state.runs.started(worker=None, lease=None, head="7", message_id=7) == running
        state.runs.upsert([running.but(id="r2", message_id=8, in_child=True)])
        found = state.runs.started(worker=None, lease=None, head="8", message_id=8)
        assert found is not None and found.in_child
    finally:
        state.close()


def _plans(state: StateStore, listing: Callable[[], object]) -> list[str]:
    """The query plans of the statements ``listing`` runs on this thread's connection."""
    con = state.runs.db.connection()
    statements: list[str] = []
    con.set_trace_callback(statements.append)
    try:
        listing()
    finally:
        con.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects
    return [row[-1] for s in selects for row in con.execute("EXPLAIN QUERY PLAN " + s)]


def test_a_version_5_file_lists_its_newest_runs_from_an_index(tmp_path: Path) -> None:
    """Not by reading and sorting every run it ever recorded to show the newest 20."""
    url = sqlite_url(tmp_path / "state.db")
    state = open_state(url)
    state.runs.insert([RunRecord(f"r{i}", "app", "job", "j", RunStatus.SUCCEEDED,
                                 started_at=float(i)) for i in range(5)])
    state.close()
    con = sqlite3.connect(tmp_path / "state.db")  # as version 5 left it
    con.executescript("DROP INDEX runs_by_time; ALTER TABLE bucket_objects DROP COLUMN tag; "
                      "PRAGMA user_version = 5;")
    con.close()
    state = open_state(url)
    try:
        plan = _plans(state, lambda: state.runs.query(limit=2))
        assert any("runs_by_time" in step for step in plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan
        assert [r.id for r in state.runs.query(limit=2)] == ["r4", "r3"]
    finally:
        state.close()
