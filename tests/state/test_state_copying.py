"""CopyStore: what is written into a store after `cauce state copy` follows what was copied."""

from __future__ import annotations

from pathlib import Path

from cauce.backends.copy import copy_state
from cauce.backends.state import StateStore, open_state, sqlite_url

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
