"""Streams: ordered per shard, read by handlers in batches or time windows, with checkpoints."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from cauce import App, DeclarationError, InvalidKey, NotSerializable, Record, ResourceError
from cauce.runtime.serving import housekeeping
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


def test_put_many_places_each_record_by_its_key_in_one_transaction() -> None:
    app = App("sensors")
    readings = app.stream("readings", shards=2)
    with TestRuntime(app):
        placed = readings.put_many([({"n": n}, (SHARD_1 + SHARD_0)[n % 4]) for n in range(6)])
        assert placed == [(1, 1), (1, 2), (0, 1), (0, 2), (1, 3), (1, 4)]
        with pytest.raises(NotSerializable):
            readings.put_many([({"n": 6}, "a"), ({"at": datetime(2024, 1, 1)}, "a")])
        with pytest.raises(InvalidKey):
            readings.put_many([({"n": 6}, "a"), ({"n": 7}, "")])
        assert readings.put_many([]) == []
        assert readings.put({"n": 8}, "a") == (1, 5), "nothing of the refused calls was kept"


def test_a_dict_key_that_is_not_text_is_refused_and_nothing_is_put() -> None:
    """{1: "a"} was read as {"1": "a"}: JSON's keys are text."""
    app = App("sensors")
    readings = app.stream("readings")
    with TestRuntime(app):
        message = re.escape("a record for stream 'readings' has the key 1.5 (in by_depth), "
                            "which is no text")
        with pytest.raises(NotSerializable, match=message):
            readings.put({"by_depth": {1.5: 20}}, "a")
        with pytest.raises(NotSerializable, match=message):
            readings.put_many([({"n": 1}, "a"), ({"by_depth": {1.5: 20}}, "a")])
        assert readings.put({"n": 2}, "a") == (0, 1), "nothing of the refused calls was kept"


@pytest.mark.parametrize("wrong", [{"station": "A", "v": 1}, "ab", ("a",), ({"v": 1}, "k", 2)])
def test_put_many_refuses_what_is_no_pair_and_puts_nothing(wrong) -> None:
    app = App("sensors")
    readings = app.stream("readings")
    with TestRuntime(app):
        with pytest.raises(ResourceError, match="takes \\(record, partition key\\) pairs"):
            readings.put_many([({"v": 0}, "A"), wrong])  # a dict was put as record "station"
        assert readings.put_many([[{"v": 1}, "A"]]) == [(0, 1)], "a list of two is a pair"


def test_describe_shows_checkpoints_and_lag_per_consumer() -> None:
    app = App("sensors")
    readings = app.stream("readings", shards=2)
    app.on(readings, batch_size=10, name="collect")(lambda records, ctx: None)
    with TestRuntime(app, start="2024-01-01T00:00:00") as rt:
        readings.put_many([(n, "a") for n in range(3)] + [(9, "d")])
        rt.clock.advance(30)
        before = readings.describe()
        assert before.lag == {"collect": 4}
        one = before.shards[1]
        assert (one.records, one.first_seq, one.last_seq) == (3, 1, 3)
        assert one.consumers["collect"].behind_seconds == 30.0
        rt.drain()
        after = readings.describe()
        assert after.lag == {"collect": 0}
        assert after.shards[1].consumers["collect"].checkpoint == 3
        assert after.as_dict()["shards"][0]["newest"] == "2024-01-01T00:00:00+00:00"


def test_retention_trims_by_age_and_count_and_numbering_goes_on() -> None:
    app = App("sensors")
    readings = app.stream("readings", retention="1h", max_records=2)
    seen: list[int] = []
    with TestRuntime(app) as rt:
        readings.put_many([(n, "a") for n in range(5)])
        housekeeping(rt.runtime)
        assert [(s.first_seq, s.last_seq, s.records) for s in readings.describe().shards] == [
            (4, 5, 2)]
        rt.clock.advance(3601)
        housekeeping(rt.runtime)
        assert readings.describe().shards[0].records == 0
        assert readings.put(5, "a") == (0, 6)
        app.on(readings, name="late")(lambda records, ctx: seen.extend(r.data for r in records))
        rt.drain()
        readings.put_many([(n, "a") for n in range(6, 10)])
        housekeeping(rt.runtime)
        rt.drain()
        warned = [line.message for line in rt.logs(stream="general")]
    assert seen == [5, 8, 9], "a consumer goes on from the oldest record kept"
    assert "stream readings shard 0: records 7-8 were dropped by its retention before late " \
        "read them" in warned


def test_a_failed_batch_comes_again_as_it_was_even_if_more_records_arrived() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    batches: list[list[int]] = []

    @app.on(readings, batch_size=10, max_attempts=5)
    def flaky(records: list[Record], ctx) -> None:
        batches.append([r.data for r in records])
        if len(batches) == 1:
            raise ConnectionError("the sink is down")

    with TestRuntime(app) as rt:
        readings.put_many([(1, "a"), (2, "a")])
        rt.advance("0s")
        readings.put(3, "a")
        rt.drain()
        assert len({r.event_id for r in rt.runs("flaky")}) == 2
    assert batches == [[1, 2], [1, 2], [3]]


def test_records_that_keep_failing_go_to_the_dlq_with_their_attempts() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    broken = {"yes": True}
    handled: list[int] = []

    @app.on(readings, batch_size=10, max_attempts=2)
    def strict(records: list[Record], ctx) -> None:
        if broken["yes"]:
            raise ValueError("bad reading")
        handled.extend(r.data for r in records)

    with TestRuntime(app) as rt:
        readings.put_many([(1, "a"), (2, "a")])
        rt.drain()
        [dead] = rt.dlq("strict")
        assert dead.receive_count == 2
        assert rt.dlq_errors("strict")[0].startswith("ValueError: bad reading")
        assert readings.describe().lag == {"strict": 0}, "the stream moves on"
        broken["yes"] = False
        assert rt.replay("strict") == 1
        rt.drain()
    assert handled == [1, 2]


def test_ctx_atomic_commits_a_handlers_writes_with_its_checkpoint() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    totals = app.table("totals", key="key")
    alerts = app.queue("alerts")
    crash = {"after": True}

    @app.on(readings, batch_size=10, max_attempts=5)
    def count(records: list[Record], ctx) -> None:
        with ctx.atomic():
            for r in records:
                row = totals.get(r.partition_key) or {"key": r.partition_key, "n": 0}
                totals.put({**row, "n": row["n"] + 1})
                alerts.send({"seq": r.seq})
        if crash["after"]:
            crash["after"] = False
            raise RuntimeError("the process dies after the block committed")

    with TestRuntime(app) as rt:
        readings.put_many([(n, "a") for n in range(3)])
        rt.drain()
        assert totals.get("a") == {"key": "a", "n": 3}, "no record counted twice"
        assert len(alerts.receive(10)) == 3
        assert readings.describe().lag == {"count": 0}


def test_ctx_atomic_writes_nothing_when_the_block_fails() -> None:
    app = App("sensors")
    readings = app.stream("readings")
    totals = app.table("totals", key="key")
    failures = {"left": 1}

    @app.on(readings, batch_size=10, max_attempts=5)
    def count(records: list[Record], ctx) -> None:
        with ctx.atomic():
            for r in records:
                totals.put({"key": str(r.seq), "attempt": ctx.attempt})
            if failures["left"]:
                failures["left"] -= 1
                raise RuntimeError("failed inside the block")

    with TestRuntime(app) as rt:
        readings.put_many([(n, "a") for n in range(2)])
        rt.drain()
        assert [item["attempt"] for item in totals.scan()] == [2, 2]


def test_a_handler_may_start_with_what_arrives_after_it() -> None:
    app = App("sensors")
    readings = app.stream("readings", shards=2)
    seen: list[int] = []
    with TestRuntime(app) as rt:
        readings.put_many([(n, (SHARD_1 + SHARD_0)[n % 4]) for n in range(4)])
        app.on(readings, name="tail", start="latest")(
            lambda records, ctx: seen.extend(r.data for r in records))
        rt.drain()
        readings.put_many([(n, (SHARD_1 + SHARD_0)[n % 4]) for n in range(4, 8)])
        rt.drain()
    assert sorted(seen) == [4, 5, 6, 7]
    with pytest.raises(DeclarationError, match="start= applies to stream handlers"):
        app.on(app.queue("work"), start="latest")(lambda message, ctx: None)
