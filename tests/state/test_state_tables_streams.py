"""TableStore and StreamStore: versions and conditions, key order, prefixes and indexes;
ordered appends, checkpoints and shard leases."""

from __future__ import annotations

import json
import threading

import pytest

from cauce.backends.state import StateStore

T, S = "app:items", "app:readings"


def test_put_versions_and_conditions(state: StateStore) -> None:
    tables = state.tables
    assert tables.put(T, "a", '{"v":1}', indexes={}, now=0.0, if_absent=True) == 1
    assert tables.put(T, "a", '{"v":2}', indexes={}, now=0.0, if_absent=True) is None
    assert tables.put(T, "a", '{"v":2}', indexes={}, now=0.0, if_version=5) is None
    assert tables.put(T, "a", '{"v":2}', indexes={}, now=0.0, if_version=1) == 2
    assert tables.put(T, "b", "{}", indexes={}, now=0.0, if_version=1) is None
    text, version = tables.get(T, "a") or ("null", 0)
    assert (json.loads(text), version) == ({"v": 2}, 2), "the same JSON (its text may differ)"
    assert tables.put(T, "a", '{"v":3}', indexes={}, now=0.0) == 3
    assert not tables.delete(T, "a", if_version=2)
    assert tables.delete(T, "a", if_version=3)
    assert tables.get(T, "a") is None and not tables.delete(T, "a")


def test_prefixes_indexes_scan_and_count_in_key_order(state: StateStore) -> None:
    tables = state.tables
    for key, status in (("in/b", "new"), ("in/a", "old"), ("out/c", "new"), ("in", "new")):
        tables.put(T, key, f'"{key}"', indexes={"status": f'"{status}"'}, now=0.0)
    tables.put("app:other", "in/z", '"other table"', indexes={}, now=0.0)
    assert tables.by_prefix(T, "in/") == ['"in/a"', '"in/b"']
    assert tables.by_prefix(T, "in", limit=2) == ['"in"', '"in/a"']
    assert tables.by_index(T, "status", '"new"') == ['"in"', '"in/b"', '"out/c"']
    tables.put(T, "in/b", '"in/b"', indexes={"status": '"old"'}, now=0.0)
    assert tables.by_index(T, "status", '"new"', limit=5) == ['"in"', '"out/c"']
    tables.delete(T, "out/c")
    assert tables.by_index(T, "status", '"new"') == ['"in"']
    assert list(tables.scan(T, page=2)) == ['"in"', '"in/a"', '"in/b"']
    assert tables.count(T) == 3


# the highest character, after a prefix or as one; the last character below the surrogates
HIGHEST = ["a\U0010ffff", "a\U0010ffffb", "\U0010ffff", "\U0010ffff\x1f\U0010ffff", "\ud7ffz"]


@pytest.mark.parametrize("key", HIGHEST)
def test_a_prefix_finds_keys_that_hold_the_highest_character(state: StateStore, key: str) -> None:
    tables = state.tables
    for each in (key, "b", "\ue000"):
        tables.put(T, each, json.dumps(each), indexes={}, now=0.0)
    for cut in range(1, len(key) + 1):
        assert [json.loads(text) for text in tables.by_prefix(T, key[:cut])] == [key], cut
        assert [row[0] for row in state.views.items_page(T, prefix=key[:cut])] == [key], cut
    assert sorted(json.loads(text) for text in tables.by_prefix(T, "")) == sorted(
        [key, "b", "\ue000"])


def test_concurrent_conditional_puts_let_exactly_one_win(state: StateStore,
                                                          other: StateStore) -> None:
    wins: list[int | None] = []

    def put(store: StateStore) -> None:
        for n in range(50):
            wins.append(store.tables.put(T, f"k{n}", "{}", indexes={}, now=0.0, if_absent=True))

    threads = [threading.Thread(target=put, args=(s,)) for s in (state, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(1) == 50 and wins.count(None) == 50


def test_appends_are_numbered_in_order_per_shard(state: StateStore) -> None:
    streams = state.streams
    assert streams.append(S, 0, [("a", "1"), ("a", "2")], now=10.0) == [1, 2]
    assert streams.append(S, 1, [("b", "x")], now=11.0) == [1]
    assert streams.append(S, 0, [("a", "3")], now=20.0) == [3]
    records = streams.read(S, 0, after=1, limit=10)
    assert [(r.seq, r.pkey, r.data, r.ts) for r in records] == [(2, "a", "2", 10.0),
                                                               (3, "a", "3", 20.0)]
    assert [r.seq for r in streams.read(S, 0, after=0, limit=10, before_ts=15.0)] == [1, 2]
    assert streams.trim(S, older_than=15.0) == 3
    assert [r.seq for r in streams.read(S, 0, after=0, limit=10)] == [3]


def test_checkpoints_and_shard_leases(state: StateStore, other: StateStore) -> None:
    streams = state.streams
    assert streams.consumer_states(S, "c") == []
    states = streams.consumers(S, "c", 2)
    assert [(s.shard, s.seq, s.lease, s.attempts) for s in states] == [(0, 0, None, 0),
                                                                       (1, 0, None, 0)]
    assert streams.take_shard(S, "c", 0, lease="L1", now=0.0, until=10.0, worker="w",
                              run_id="r")
    assert not other.streams.take_shard(S, "c", 0, lease="L2", now=5.0, until=15.0)
    assert streams.extend(S, "c", 0, "L1", until=20.0)
    assert not other.streams.take_shard(S, "c", 0, lease="L2", now=15.0, until=25.0)
    assert not streams.commit(S, "c", 0, "wrong", seq=3)
    assert streams.fail(S, "c", 0, "L1", retry_at=30.0, error="boom")
    [s0, _] = streams.consumer_states(S, "c")
    assert (s0.seq, s0.attempts, s0.retry_at, s0.last_error, s0.lease) == (
        0, 1, 30.0, "boom", None)
    assert streams.take_shard(S, "c", 0, lease="L3", now=30.0, until=40.0, worker="w2",
                              run_id="r2")
    assert streams.give_back(S, "c", 0, "L3", started=True, error="lost")
    [s0, _] = streams.consumer_states(S, "c")
    assert (s0.attempts, s0.isolated, s0.lease) == (2, 1, None)
    streams.take_shard(S, "c", 0, lease="L4", now=30.0, until=40.0)
    assert streams.commit(S, "c", 0, "L4", seq=7)
    [s0, _] = streams.consumer_states(S, "c")
    assert (s0.seq, s0.attempts, s0.retry_at, s0.last_error, s0.isolated) == (7, 0, 0, None, 0)
    streams.take_shard(S, "c", 1, lease="L5", now=0.0, until=10.0, worker="w3", run_id="r5")
    [_, s1] = streams.consumer_states(S, "c")
    assert (s1.lease, s1.worker, s1.run_id) == ("L5", "w3", "r5")
    assert streams.give_back(S, "c", 1, "L5", started=False)
    [_, s1] = streams.consumer_states(S, "c")
    assert (s1.lease, s1.attempts, s1.isolated) == (None, 0, 0)


def test_concurrent_appends_to_a_shard_are_numbered_once_each(state: StateStore,
                                                             other: StateStore) -> None:
    got: list[list[int]] = [[], []]

    def append(store: StateStore, into: list[int], tag: str) -> None:
        for n in range(30):
            into.extend(store.streams.append(S, 0, [(tag, f'"{tag}{n}"'), (tag, "0")], now=1.0))

    threads = [threading.Thread(target=append, args=(s, g, t))
               for s, g, t in ((state, got[0], "x"), (other, got[1], "y"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got[0] + got[1]) == list(range(1, 121))
    records = state.streams.read(S, 0, after=0, limit=200)
    assert [r.seq for r in records] == list(range(1, 121))
    for tag in ("x", "y"):
        assert [r.data for r in records if r.pkey == tag and r.data != "0"] == [
            f'"{tag}{n}"' for n in range(30)], "each appender's records in its order"


def test_numbering_continues_after_every_record_is_trimmed(state: StateStore) -> None:
    streams = state.streams
    assert streams.append(S, 0, [("a", "1"), ("a", "2"), ("a", "3")], now=10.0) == [1, 2, 3]
    assert streams.trim(S, older_than=11.0) == 3
    assert streams.append(S, 0, [("a", "4")], now=20.0) == [4]
    assert streams.append(S, 0, [], now=21.0) == []
    [shard] = streams.shards(S, 1)
    assert (shard.records, shard.first_seq, shard.last_seq, shard.first_ts) == (1, 4, 4, 20.0)


def test_trim_keeps_the_newest_records_of_each_shard(state: StateStore) -> None:
    streams = state.streams
    streams.append(S, 0, [("a", str(n)) for n in range(5)], now=10.0)
    streams.append(S, 1, [("b", "x"), ("b", "y")], now=10.0)
    assert streams.trim(S, older_than=0.0, keep=3) == 2
    assert [r.seq for r in streams.read(S, 0, after=0, limit=10)] == [3, 4, 5]
    assert [r.seq for r in streams.read(S, 1, after=0, limit=10)] == [1, 2]
    assert [r.seq for r in streams.read(S, 0, after=0, limit=10, through=4)] == [3, 4]


def test_shards_show_records_kept_and_checkpoints(state: StateStore) -> None:
    streams = state.streams
    streams.append(S, 1, [("b", "x"), ("b", "y"), ("b", "z")], now=5.0)
    streams.consumers(S, "c", 2)
    streams.take_shard(S, "c", 1, lease="L", now=0.0, until=10.0)
    streams.commit(S, "c", 1, "L", seq=2)
    zero, one = streams.shards(S, 2)
    assert (zero.records, zero.last_seq, zero.consumers, zero.last_ts) == (0, 0, {"c": 0}, None)
    assert (one.records, one.first_seq, one.last_seq, one.consumers) == (3, 1, 3, {"c": 2})
    assert (one.lag("c"), one.lag("other")) == (1, 3)


def test_a_claimed_batch_is_remembered_until_committed(state: StateStore) -> None:
    streams = state.streams
    streams.consumers(S, "c", 1)
    assert streams.take_shard(S, "c", 0, lease="L1", now=0.0, until=10.0, upto=5)
    assert streams.fail(S, "c", 0, "L1", retry_at=1.0, error="boom")
    assert streams.consumer_states(S, "c")[0].upto == 5
    assert streams.take_shard(S, "c", 0, lease="L2", now=2.0, until=10.0, upto=5)
    assert streams.advance(S, "c", 0, "L2", seq=5)
    assert not streams.advance(S, "c", 0, "L1", seq=9)
    [s0] = streams.consumer_states(S, "c")
    assert (s0.seq, s0.lease, s0.upto) == (5, "L2", 5)
    assert streams.commit(S, "c", 0, "L2", seq=5)
    [s0] = streams.consumer_states(S, "c")
    assert (s0.seq, s0.lease, s0.upto) == (5, None, 0)


def test_a_lease_taken_back_at_once_is_given_back_as_it_was(state: StateStore) -> None:
    # what a restarted serve does with a killed worker's batch that ran in a child process:
    # the lease expired now, then the shard given back with nothing counted or cleared
    streams = state.streams
    streams.consumers(S, "c", 2)
    assert streams.take_shard(S, "c", 0, lease="L1", now=0.0, until=10.0, worker="w", upto=4)
    assert streams.give_back(S, "c", 0, "L1", started=True, error="lost")
    assert streams.take_shard(S, "c", 0, lease="L2", now=1.0, until=600.0, worker="killed",
                              run_id="r2", upto=4)
    streams.take_shard(S, "c", 1, lease="L3", now=1.0, until=600.0, worker="killed")
    assert [s.shard for s in streams.consumer_states(S, "c") if s.worker == "killed"
            and s.lease_until > 2.0] == [0, 1]
    assert streams.extend(S, "c", 0, "L2", until=2.0)
    assert not streams.extend(S, "c", 0, "L1", until=2.0), "a lease no longer held"
    [s0, _] = streams.consumer_states(S, "c")
    assert (s0.lease, s0.lease_until) == ("L2", 2.0)
    assert streams.give_back(S, "c", 0, "L2", started=False)
    [s0, _] = streams.consumer_states(S, "c")
    assert (s0.lease, s0.attempts, s0.last_error, s0.isolated, s0.upto) == (
        None, 1, "lost", 1, 4)


def test_a_write_inside_atomic_rolls_back_with_the_checkpoint(state: StateStore) -> None:
    streams = state.streams
    streams.consumers(S, "c", 1)
    streams.take_shard(S, "c", 0, lease="L", now=0.0, until=10.0, upto=3)
    with pytest.raises(RuntimeError), state.atomic():
        state.tables.put("app:t", "k", "{}", indexes={}, now=1.0)
        streams.advance(S, "c", 0, "L", seq=3)
        raise RuntimeError("the handler failed after its writes")
    assert state.tables.get("app:t", "k") is None
    assert streams.consumer_states(S, "c")[0].seq == 0


def test_a_new_consumer_may_start_after_the_newest_record(state: StateStore) -> None:
    streams = state.streams
    streams.append(S, 1, [("b", "x"), ("b", "y")], now=5.0)
    assert [s.seq for s in streams.consumers(S, "late", 2, latest=True)] == [0, 2]
    streams.append(S, 1, [("b", "z")], now=6.0)
    assert [s.seq for s in streams.consumers(S, "late", 2, latest=True)] == [0, 2], \
        "an existing checkpoint is kept"
