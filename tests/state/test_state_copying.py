"""CopyStore: what is written into a store after `cauce state copy` follows what was copied."""

from __future__ import annotations

from pathlib import Path

from cauce.backends.copy import copy_state
from cauce.backends.state import StateStore, open_state, sqlite_url
from cauce.runs import RunRecord, RunStatus

S = "app:clicks"


def test_records_appended_after_a_copy_are_numbered_after_the_copied_ones(
        state: StateStore, tmp_path: Path) -> None:
    source = open_state(sqlite_url(tmp_path / "source.db"))
    try:
        source.streams.append(S, 0, [("k", '"a"'), ("k", '"b"')], now=10.0)
        source.streams.append(S, 0, [("k", '"c"')], now=12.0)
        source.streams.append(S, 1, [("k", '"x"'), ("k", '"y"')], now=10.0)
        source.streams.append("app:unread", 0, [("k", '"u"')], now=10.0)  # no consumer at all
        source.streams.consumers(S, "reader", 2)
        assert source.streams.take_shard(S, "reader", 1, lease="L", now=10.0, until=70.0)
        assert source.streams.commit(S, "reader", 1, "L", seq=2)
        assert source.streams.trim(S, older_than=11.0) == 4  # shard 1: none kept
        assert source.streams.trim("app:unread", older_than=11.0) == 1
        copy_state(source, state)
    finally:
        source.close()
    # the copied record 3 of shard 0 was numbered again (a duplicate key on SQLite)
    assert state.streams.append(S, 0, [("k", '"d"')], now=20.0) == [4]
    # nothing of shard 1 was left but the checkpoint at 2: the next record is 3, not 1
    assert state.streams.append(S, 1, [("k", '"z"')], now=20.0) == [3]
    fresh = state.streams.read(S, 1, after=2, limit=10)
    assert [(r.seq, r.data) for r in fresh] == [(3, '"z"')]
    # a stream trimmed empty that no consumer reads: its head was lost, so it began at 1 again
    assert state.streams.append("app:unread", 0, [("k", '"v"')], now=20.0) == [2]


def test_a_shard_head_is_copied_out_of_every_engine(state: StateStore, tmp_path: Path) -> None:
    state.streams.append(S, 0, [("k", '"a"'), ("k", '"b"')], now=10.0)
    assert state.streams.trim(S, older_than=11.0) == 2
    target = open_state(sqlite_url(tmp_path / "target.db"))
    try:
        assert copy_state(state, target)["stream_heads"] == 1
        assert target.streams.append(S, 0, [("k", '"c"')], now=20.0) == [3]
    finally:
        target.close()


def test_free_text_an_older_sqlite_state_kept_with_u0000_is_copied(
        state: StateStore, tmp_path: Path) -> None:
    """A SQLite state written before free text was made storable on every engine may hold
    U+0000 in log lines and errors; a copy into PostgreSQL failed on the first of them
    (psycopg's DataError, "report it"). It is stored as PostgreSQL stores such text when it is
    written: U+FFFD."""
    source = open_state(sqlite_url(tmp_path / "source.db"))
    try:
        # as an older cauce wrote them: straight into the store, with nothing replaced
        source.logs.append([("app", "general", 1.0, 20, "line\x00one", None)])
        source.queues.send("app:q", ['"m"'], now=1.0, error="sent\x00back")
        source.runs.insert([RunRecord(id="r1", app="app", kind="job", name="load",
                                      status=RunStatus.FAILED, error="boom\x00")])
        source.streams.append(S, 0, [("k", '"a"')], now=1.0)
        source.streams.consumers(S, "reader", 1)
        assert source.streams.take_shard(S, "reader", 0, lease="L", now=1.0, until=60.0)
        assert source.streams.fail(S, "reader", 0, "L", retry_at=2.0, error="bad\x00")
        copy_state(source, state)
    finally:
        source.close()

    def read(text: str | None) -> str | None:  # U+0000 as the engine keeps it
        return text.replace("\ufffd", "\x00") if text else text

    assert [read(line.message) for line in state.logs.read(app="app")] == ["line\x00one"]
    assert state.logs.streams() == [("app", "general", 1.0, 1)], "the stream's count copied"
    assert read(state.queues.listing("app:q")[0].last_error) == "sent\x00back"
    assert read(state.runs.get("r1").error) == "boom\x00"  # type: ignore[union-attr]
    assert [read(c.last_error) for c in state.streams.consumer_states(S, "reader")] == [
        "bad\x00"]
