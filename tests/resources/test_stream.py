"""Streams: ordered per shard, read by handlers in batches or time windows, with checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cauce import App, InvalidKey, NotSerializable, Record
from cauce.testing import TestRuntime

# With two shards, "a" and "b" land on shard 1 and "d" and "e" on shard 0.
SHARD_1, SHARD_0 = ("a", "b"), ("d", "e")


def test_partition_keys_pick_a_stable_shard() -> None:
    readings = App("sensors").stream("readings", shards=2)
    assert [readings.shard_for(k) for k in SHARD_1 + SHARD_0] == [1, 1, 0, 0]


def test_put_returns_shard_and_sequence() -> None:
    app = App("sensors")
    readings = app.stream("readings", shards=2)
    with TestRuntime(app):
        assert readings.put({"v": 1}, "a") == (1, 1)
        assert readings.put({"v": 2}, "d") == (0, 1)
        assert readings.put({"v": 3}, "b") == (1, 2)


def test_bad_records_and_keys_are_refused() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    with TestRuntime(app):
        with pytest.raises(NotSerializable, match="a record for stream 'readings'"):
            readings.put({"at": datetime(2024, 1, 1)}, "a")
        with pytest.raises(InvalidKey, match="stream 'readings': partition_key must be non-empty "
                                             "text, got ''"):
            readings.put({"v": 1}, "")


def test_batches_by_count_keep_order_within_each_shard() -> None:
    app = App("sensors")
    readings = app.stream("readings", shards=2)
    batches: list[tuple[int, list[int]]] = []

    @app.on(readings, batch_size=3)
    def per_batch(records: list[Record], ctx) -> None:
        assert len({r.shard for r in records}) == 1
        batches.append((records[0].shard, [r.data["n"] for r in records]))

    with TestRuntime(app) as rt:
        for n in range(10):
            readings.put({"n": n}, (SHARD_1 + SHARD_0)[n % 4])
        rt.drain()
    by_shard = {shard: [n for s, batch in batches if s == shard for n in batch] for shard in (0, 1)}
    assert by_shard == {1: [0, 1, 4, 5, 8, 9], 0: [2, 3, 6, 7]}
    assert all(len(batch) <= 3 for _, batch in batches)


def test_records_carry_their_metadata() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    got: list[Record] = []
    app.on(readings, batch_size=10, name="collect")(lambda records, ctx: got.extend(records))
    with TestRuntime(app, start="2024-01-01T00:00:00") as rt:
        readings.put({"v": 1.5}, "station-7")
        rt.drain()
    (record,) = got
    assert (record.data, record.partition_key, record.shard, record.seq) == ({"v": 1.5},
                                                                             "station-7", 0, 1)
    assert record.ts == datetime(2024, 1, 1, tzinfo=UTC)


def test_five_minute_windows_close_as_the_clock_moves() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    windows: list[tuple[str, str, list[int]]] = []

    @app.on(readings, window="5m")
    def per_window(records: list[Record], ctx) -> None:
        start, end = ctx.window
        windows.append((f"{start:%H:%M}", f"{end:%H:%M}", [r.data for r in records]))

    with TestRuntime(app, start="2024-01-01T00:00:00") as rt:
        for seconds, value in [(30, 1), (60, 2), (200, 3), (20, 4)]:  # 00:00:30 .. 00:05:10
            rt.clock.advance(seconds)
            readings.put(value, "a")
        # the clock is at 00:05:10: the first window has closed, nothing ran yet
        assert windows == []
        rt.advance("1s")
        assert windows == [("00:00", "00:05", [1, 2, 3])]
        rt.advance("4m")  # 00:09:11: the second window is still open
        assert len(windows) == 1
        rt.advance("1m")
        assert windows[-1] == ("00:05", "00:10", [4])


def test_checkpoints_mean_nothing_is_delivered_twice() -> None:
    app = App("sensors")
    readings = app.stream("readings", shards=2)
    seen: list[int] = []
    app.on(readings, batch_size=2, name="collect")(
        lambda records, ctx: seen.extend(r.data for r in records))
    with TestRuntime(app) as rt:
        for n in range(5):
            readings.put(n, (SHARD_1 + SHARD_0)[n % 4])
        rt.drain()
        assert rt.drain() == 0
        readings.put(5, "a")
        rt.drain()
    assert sorted(seen) == [0, 1, 2, 3, 4, 5]


def test_two_handlers_keep_their_own_checkpoints() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    fast, slow = [], []
    app.on(readings, batch_size=100, name="fast")(
        lambda records, ctx: fast.extend(r.data for r in records))
    app.on(readings, window="1h", name="slow")(
        lambda records, ctx: slow.extend(r.data for r in records))
    with TestRuntime(app) as rt:
        readings.put(1, "a")
        rt.advance("1s")
        assert (fast, slow) == ([1], [])
        rt.advance("1h")
        assert (fast, slow) == ([1], [1])


def test_a_failing_window_is_retried_then_dead_lettered_and_replayable() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    broken = {"yes": True}
    delivered: list[list[int]] = []

    @app.on(readings, window="5m", max_attempts=3)
    def per_window(records: list[Record], ctx) -> None:
        if broken["yes"]:
            raise ArithmeticError("bad reading")
        delivered.append([r.data for r in records])

    with TestRuntime(app, start="2024-01-01T00:00:00") as rt:
        readings.put(1, "a")
        readings.put(2, "a")
        rt.advance("5m")
        rt.drain()
        runs = rt.runs("per_window")
        assert [(r.attempt, r.status.value) for r in runs] == [(1, "failed"), (2, "failed"),
                                                               (3, "dead-lettered")]
        assert len({r.event_id for r in runs}) == 1
        assert rt.dlq_errors("per_window")[0].startswith("ArithmeticError: bad reading")
        broken["yes"] = False
        readings.put(3, "a")  # the stream moved on past the dead-lettered window
        rt.advance("5m")
        assert delivered == [[3]]
        assert rt.replay("per_window") == 1
        rt.drain()
        assert delivered == [[3], [1, 2]]
        assert rt.dlq("per_window") == []
