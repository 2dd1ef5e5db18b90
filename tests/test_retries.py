"""A run that raises is retried with exponential back-off and jitter, then dead-lettered; never
lost."""

from __future__ import annotations

import itertools

import pytest

from cauce import App, PartitionError, daily
from cauce.testing import TestRuntime


def gaps(runs) -> list[float]:
    starts = [r.started_at.timestamp() for r in runs]
    return [b - a for a, b in itertools.pairwise(starts)]


def test_a_handler_is_retried_with_growing_delays_then_dead_lettered() -> None:
    app = App("retry")
    events = app.topic("events")

    @app.on(events, max_attempts=4, retry_delay="10s")
    def deliver(msg, ctx) -> None:
        raise ConnectionRefusedError("endpoint down")

    with TestRuntime(app) as rt:
        events.publish({"id": 7})
        rt.drain()
        runs = rt.runs("deliver")
        assert [(r.attempt, r.status.value) for r in runs] == [
            (1, "failed"), (2, "failed"), (3, "failed"), (4, "dead-lettered")]
        # base · 2^(attempt-1), times a jitter between 0.5 and 1
        for gap, base in zip(gaps(runs), (10, 20, 40), strict=True):
            assert base * 0.5 <= gap <= base
        last_log = [line.message for line in rt.logs(runs[-1].id)]
        assert last_log[0].startswith("attempt 4 failed: ConnectionRefusedError: endpoint down\n"
                                      "Traceback")
        assert [m.body for m in rt.dlq("deliver")] == [{"id": 7}]
        general = [line.message for line in rt.logs(stream="general")]
        assert any("dead-lettered after 4 attempt(s): ConnectionRefusedError: endpoint down" in m
                   for m in general)


def test_jitter_spreads_retries_apart() -> None:
    app = App("retry")
    work = app.queue("work", max_receives=2)
    app.on(work, retry_delay="60s", name="handle")(lambda msg, ctx: 1 / 0)
    with TestRuntime(app) as rt:
        work.send_batch(list(range(8)))
        rt.drain()
        runs = rt.runs("handle")
    first = {r.event_id: r.started_at for r in runs if r.attempt == 1}
    delays = {round((r.started_at - first[r.event_id]).total_seconds(), 3)
              for r in runs if r.attempt == 2}
    assert len(delays) > 1
    assert all(30 <= d <= 60 for d in delays)


def test_a_job_that_recovers_on_a_retry_succeeds() -> None:
    app = App("retry")
    attempts = []

    @app.job(retries=2, retry_delay="1m")
    def flaky(ctx) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise TimeoutError("slow server")
        return "ok"

    with TestRuntime(app) as rt:
        rt.submit(flaky)
        rt.drain()
        runs = rt.runs(flaky)
    assert attempts == [1, 2]
    assert [(r.attempt, r.status.value, r.result) for r in runs] == [(1, "failed", None),
                                                                     (2, "succeeded", "ok")]


def test_a_job_that_keeps_failing_is_dead_lettered_and_can_be_replayed() -> None:
    app = App("retry")
    fixed = {"yes": False}

    @app.job(retries=1, partitions=daily(start="2024-01-01"))
    def load(ctx) -> str:
        if not fixed["yes"]:
            raise ValueError(f"bad file for {ctx.partition}")
        return ctx.partition

    with TestRuntime(app, start="2024-02-01T00:00:00") as rt:
        rt.submit(load, partition="2024-01-15")
        rt.drain()
        assert [r.status.value for r in rt.runs(load)] == ["failed", "dead-lettered"]
        assert rt.dlq_errors(load)[0].startswith("ValueError: bad file for 2024-01-15")
        fixed["yes"] = True
        assert rt.replay(load) == 1
        rt.drain()
        last = rt.runs(load)[-1]
    assert (last.partition, last.status.value, last.result, last.trigger) == (
        "2024-01-15", "succeeded", "2024-01-15", "replay")


def test_a_foreground_run_is_not_retried() -> None:
    app = App("retry")
    calls = []

    @app.job(retries=3)
    def once(ctx) -> None:
        calls.append(ctx.attempt)
        raise RuntimeError("no")

    with TestRuntime(app) as rt:
        run = rt.run(once)
        rt.drain()
    assert (run.status.value, calls) == ("failed", [1])


@pytest.mark.parametrize(
    ("partition", "message"),
    [
        ("2023-12-31", r"partition 2023-12-31 is before the first one \(2024-01-01\)"),
        ("2024-03-01", "partition 2024-03-01 is in the future"),
        ("2024-1-5", "'2024-1-5' is not a daily partition key"),
        (None, "job 'per-day' runs per daily partition"),
    ],
)
def test_a_partition_outside_the_range_fails_before_anything_runs(partition, message: str) -> None:
    app = App("retry")
    ran = []
    app.job(partitions=daily(start="2024-01-01"), name="per-day")(
        lambda ctx: ran.append(ctx.partition))
    with TestRuntime(app, start="2024-02-01T00:00:00") as rt:
        with pytest.raises(PartitionError, match=message):
            rt.run("per-day", partition=partition)
        with pytest.raises(PartitionError, match=message):
            rt.submit("per-day", partition=partition)
        assert rt.runs() == []
    assert ran == []


def test_a_partition_for_a_job_without_partitions() -> None:
    app = App("retry")
    app.job(name="plain")(lambda ctx: None)
    with (TestRuntime(app) as rt,
          pytest.raises(PartitionError, match="job 'plain' is not partitioned") as info):
        rt.run("plain", partition="2024-01-01")
    assert info.value.hint == "drop --partition"


def test_a_message_retried_past_a_thousand_times_waits_the_longest_delay() -> None:
    # the 1,026th receive's back-off, 2**1024 times the first delay, was "OverflowError: int
    # too large to convert to float", raised where the failed delivery was settled
    app = App("forever")
    work = app.queue("work", max_receives=2_000)
    receives: list[int] = []

    @app.on(work, retry_delay="1s")
    def flaky(message, ctx) -> None:
        receives.append(message.receive_count)
        if message.receive_count < 1_100:
            raise ConnectionRefusedError("endpoint down")

    with TestRuntime(app) as rt:
        work.send({"id": 7})
        rt.drain()
        assert receives[-1] == 1_100
        assert work.depth() == 0 and work.dlq.depth() == 0
