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
        source.streams.consumers(S, "reader", 2)
        assert source.streams.take_shard(S, "reader", 1, lease="L", now=10.0, until=70.0)
        assert source.streams.commit(S, "reader", 1, "L", seq=2)
        assert source.streams.trim(S, older_than=11.0) == 4  # shard 1: none kept
        copy_state(source, state)
    finally:
        source.close()
    # the copied record 3 of shard 0 was numbered again (a duplicate key on SQLite)
    assert state.streams.append(S, 0, [("k", '"d"')], now=20.0) == [4]
    # nothing of shard 1 was left but the checkpoint at 2: the next record is 3, not 1
    assert state.streams.append(S, 1, [("k", '"z"')], now=20.0) == [3]
    fresh = state.streams.read(S, 1, after=2, limit=10)
    assert [(r.seq, r.data) for r in fresh] == [(3, '"z"')]
