"""Deliveries whose worker died: told apart from those that never started, counted toward
max_receives, dead-lettered "worker lost while handling it N times", the rest handled."""

from __future__ import annotations

import socket
import subprocess

import pytest

from cauce import App
from cauce.runtime.dispatcher import Dispatcher
from cauce.runtime.execute import execute
from cauce.runtime.sources import expire_gone_workers_leases, lost_reason
from cauce.settings import ConfigSources
from cauce.testing import TestRuntime


def _app(max_receives: int = 3, batch_size: int = 1) -> tuple[App, object, object]:
    app = App("lost")
    work = app.queue("work", max_receives=max_receives, visibility_timeout="30s")
    done = app.table("done", key="n")

    @app.on(work, batch_size=batch_size)
    def handle(message, ctx):
        for m in message if isinstance(message, list) else [message]:
            done.put({"n": m.body, "attempt": ctx.attempt})

    return app, work, done


def _die_while_running(rt: TestRuntime, claim: int, started: int, lease: float = 30) -> None:
    """A worker claims ``claim`` deliveries, starts the first ``started``, and dies: nothing is
    settled, and its leases run out."""
    dead = Dispatcher(rt.runtime, threads=1, processes=1)
    claimed = dead._claim(claim)
    for delivery in claimed[:started]:
        dead._begin(delivery)
    rt.clock.advance(lease + 1)


def test_only_deliveries_that_started_are_lost(config: ConfigSources) -> None:
    app, work, done = _app()
    with TestRuntime(app, config=config) as rt:
        work.send_batch(list(range(5)))
        _die_while_running(rt, claim=5, started=1)
        rt.drain()
        runs = rt.runs("handle")
        assert sorted(item["n"] for item in done.scan()) == [0, 1, 2, 3, 4]
    lost = [r for r in runs if r.status.value == "failed"]
    assert len(lost) == 1 and lost[0].error.startswith("worker lost")
    assert lost[0].started_at is not None and lost[0].ended_at is not None
    succeeded = [r for r in runs if r.succeeded]
    assert sorted(r.attempt for r in succeeded) == [1, 1, 1, 1, 2], \
        "a claim that never started does not count as an attempt"
    assert len(runs) == 6


def test_a_lost_run_says_so_at_the_end_of_its_log_and_in_the_general_log(
        config: ConfigSources) -> None:
    """A lost run's log stopped at its start (`cauce logs RUN_ID` showed the job started and
    nothing more), and no line anywhere said a worker on another machine had been lost; the
    run's row alone said so."""
    app, work, _ = _app(max_receives=2)

    @app.job(retries=1)
    def slow(ctx):
        ctx.log.info("working")

    with TestRuntime(app, config=config) as rt:
        work.send(1)
        _die_while_running(rt, claim=1, started=1)
        rt.drain()
        run_id = rt.submit("slow")
        _die_while_running(rt, claim=1, started=1)
        rt.drain()
        lost = [r for r in rt.runs() if not r.succeeded]
        assert sorted(r.name for r in lost) == ["handle", "slow"]
        for run in lost:
            assert rt.logs(run.id)[-1].message == f"run {run.id} failed: worker lost: its " \
                                                  "lease expired before the run finished"
        general = [line.message for line in rt.logs(stream="general")]
        assert f"run {run_id} slow failed (attempt 1): worker lost: its lease expired before " \
               "the run finished" in general


def test_a_message_that_keeps_killing_its_worker_is_dead_lettered(config: ConfigSources) -> None:
    app, work, done = _app(max_receives=2)
    with TestRuntime(app, config=config) as rt:
        work.send("killer")
        _die_while_running(rt, claim=1, started=1)
        _die_while_running(rt, claim=1, started=1)
        rt.drain()
        assert list(done.scan()) == []
        assert [m.body for m in rt.dlq("work")] == ["killer"]
        assert rt.dlq_errors("work") == ["worker lost while handling it 2 times"]
        runs = rt.runs("handle")
    assert [(r.attempt, r.status.value) for r in runs] == [(1, "failed"), (2, "dead-lettered")]
    assert runs[1].error == "worker lost while handling it 2 times"


def _not_listed(queue: str, limit: int | None = None) -> list:
    raise AssertionError("a takeback reads the leased messages alone, not whole queues")


def _killed_while_running(rt: TestRuntime, *, in_child: bool, expired: bool = False) -> None:
    """A serve of this machine starts a delivery (in a child process of its own, or in its own
    thread) and is killed; a restarted one takes its lease back at once (``expired``: the
    lease ran out first, and there is nothing left to take back)."""
    runtime, killed = rt.runtime, subprocess.Popen(["true"])
    killed.wait()  # its process id is free: the serve is gone
    own, runtime.worker_id = runtime.worker_id, f"serve-{killed.pid}"
    try:
        dead = Dispatcher(runtime, threads=1, processes=1)
        [delivery] = dead._claim(1)
        delivery.in_child = in_child
        dead._begin(delivery)
        runtime.state.workers.register(runtime.worker_id, app=runtime.app.name, pid=killed.pid,
                                       host=socket.gethostname(), role="serve",
                                       now=rt.clock.time())
    finally:
        runtime.worker_id = own
    if expired:
        rt.clock.advance(601)
    queues = runtime.state.queues
    queues.listing = _not_listed  # type: ignore[method-assign]
    try:
        taken = expire_gone_workers_leases(runtime, dead.sources, rt.clock.time())
    finally:
        del queues.listing
    assert taken == (0 if expired else 1)


@pytest.mark.parametrize("in_child", [True, False])
def test_a_killed_serve_counts_only_against_the_runs_in_its_own_process(
        in_child: bool, config: ConfigSources) -> None:
    app, work, done = _app(max_receives=2)
    with TestRuntime(app, config=config) as rt:
        work.send("innocent")
        for _ in range(3 if in_child else 2):
            _killed_while_running(rt, in_child=in_child)
        rt.drain()
        runs = rt.runs("handle")
        handled, dead = [item["n"] for item in done.scan()], rt.dlq_errors("work")
    if in_child:  # the child cannot have killed its parent: the message did nothing wrong
        assert (handled, dead) == (["innocent"], [])
        assert [(r.attempt, r.status.value) for r in runs] == [(1, "failed")] * 3 + [
            (1, "succeeded")]
        assert all(r.error.startswith("worker process killed") for r in runs[:3])
    else:  # it may have killed the process it ran in
        assert (handled, dead) == ([], ["worker lost while handling it 2 times"])
        assert [(r.attempt, r.status.value) for r in runs] == [(1, "failed"),
                                                               (2, "dead-lettered")]


@pytest.mark.parametrize("killed", ["in a child", "in its own thread", "lease ran out"])
def test_a_killed_serve_counts_only_against_the_stream_batches_in_its_own_process(
        killed: str, config: ConfigSources) -> None:
    app = App("lostream")
    readings = app.stream("readings")
    seen: list[tuple[list[int], int]] = []

    @app.on(readings, batch_size=10, max_attempts=2, visibility="10m")
    def consume(records, ctx):
        seen.append(([r.data for r in records], ctx.attempt))

    innocent = killed == "in a child"
    with TestRuntime(app, config=config) as rt:
        readings.put_many([(n, "a") for n in range(3)])
        for _ in range(3 if innocent else 2):
            _killed_while_running(rt, in_child=killed != "in its own thread",
                                  expired=killed == "lease ran out")
        rt.drain()
        runs = [(r.attempt, r.status.value, r.error) for r in rt.runs("consume")]
        dead = rt.dlq_errors("consume")
    if innocent:  # the child cannot have killed its parent: the batch did nothing wrong
        assert (seen, dead) == ([([0, 1, 2], 1)], [])
        assert [r[:2] for r in runs] == [(1, "failed")] * 3 + [(1, "succeeded")]
        assert all(error.startswith("worker process killed") for _, _, error in runs[:3])
    else:  # it may have killed the process it ran in, or its worker hung: it counts
        assert (seen, dead) == ([], ["worker lost while handling it 2 times"])
        assert [r[:2] for r in runs] == [(1, "failed"), (2, "dead-lettered")]


def test_a_lost_message_is_delivered_alone_afterwards(config: ConfigSources) -> None:
    app, work, done = _app(batch_size=10)
    with TestRuntime(app, config=config) as rt:
        work.send_batch(list(range(4)))
        _die_while_running(rt, claim=1, started=1)  # one batch of four, lost
        work.send_batch([10, 11])
        rt.drain()
        runs = rt.runs("handle")
        assert sorted(item["n"] for item in done.scan()) == [0, 1, 2, 3, 10, 11]
    assert [r.status.value for r in runs].count("succeeded") == 5, \
        "the four lost messages one by one, the two new ones together"


def test_a_run_that_runs_a_while_is_recorded_running(config: ConfigSources) -> None:
    app, work, _ = _app()
    with TestRuntime(app, config=config) as rt:
        work.send(1)
        dispatcher = Dispatcher(rt.runtime, threads=1, processes=1)
        [delivery] = dispatcher._claim(1)
        dispatcher.inflight[delivery.spec.run_id] = delivery
        dispatcher._begin(delivery)
        dispatcher._record_started(rt.clock.time())
        assert rt.runs("handle") == [], "not yet: most runs end sooner"
        rt.clock.advance(1)
        dispatcher._record_started(rt.clock.time())
        [run] = rt.runs("handle")
        assert run.status.value == "running" and run.started_at is not None


@pytest.mark.parametrize("times", [1, 3])
def test_messages_received_by_hand_and_never_acked_go_to_the_dlq(
        times: int, config: ConfigSources) -> None:
    app = App("manual")
    work = app.queue("work", max_receives=3, visibility_timeout="10s")
    with TestRuntime(app, config=config) as rt:
        work.send("forgotten")
        for _ in range(times):
            assert len(work.receive()) == 1
            rt.clock.advance(10)
        assert len(work.receive()) == (1 if times < 3 else 0)
        if times == 3:
            assert rt.dlq_errors("work") == [
                "not acknowledged within its visibility timeout 3 times"]


def test_stream_records_whose_worker_died_are_delivered_again_then_dead_lettered(
        config: ConfigSources) -> None:
    app = App("lostream")
    readings = app.stream("readings", shards=2)
    seen: list[list[int]] = []

    @app.on(readings, batch_size=10, max_attempts=2)
    def consume(records, ctx):
        seen.append([r.data for r in records])

    with TestRuntime(app, config=config) as rt:
        readings.put(1, partition_key="a")
        readings.put(2, partition_key="a")
        _die_while_running(rt, claim=5, started=1, lease=60)
        rt.drain()
        assert seen == [[1, 2]], "redelivered once, after its worker died"
        runs = rt.runs("consume")
        assert [(r.attempt, r.status.value) for r in runs] == [(1, "failed"), (2, "succeeded")]
        assert runs[0].error.startswith("worker lost")
        readings.put(3, partition_key="a")
        _die_while_running(rt, claim=5, started=1, lease=60)
        _die_while_running(rt, claim=5, started=1, lease=60)
        rt.drain()
        assert seen == [[1, 2]]
        assert rt.dlq_errors("consume") == ["worker lost while handling it 2 times"]
        assert [m.body["records"][0]["seq"] for m in rt.dlq("consume")] == [3]


def test_a_batch_whose_atomic_block_committed_is_not_delivered_again() -> None:
    app = App("lostream")
    readings = app.stream("readings")
    totals = app.table("totals", key="key")
    batches: list[tuple[list[int], int]] = []

    @app.on(readings, batch_size=2, max_attempts=2)
    def count(records, ctx):
        batches.append(([r.data for r in records], ctx.attempt))
        with ctx.atomic():
            for r in records:
                row = totals.get(r.partition_key) or {"key": r.partition_key, "n": 0}
                totals.put({**row, "n": row["n"] + 1})

    with TestRuntime(app) as rt:
        readings.put_many([(n, "a") for n in range(4)])
        dead = Dispatcher(rt.runtime, threads=1, processes=1)
        [delivery] = dead._claim(1)
        dead._begin(delivery)
        execute(rt.runtime, delivery.spec)  # the block commits, then the worker dies unsettled
        rt.clock.advance(61)
        rt.drain()
        assert totals.get("a") == {"key": "a", "n": 4}
        assert batches == [([0, 1], 1), ([2, 3], 1)], "the next batch is a first attempt"
        assert [r.error for r in rt.runs("count") if not r.succeeded] == [
            "worker lost: its lease expired before the run finished"]


def test_the_earlier_error_named_is_its_whole_first_line() -> None:
    earlier = "ValueError: 50%\rdone: row 7 is bad\nTraceback (most recent call last):"
    assert lost_reason(2, earlier) == ("worker lost while handling it 2 times; an earlier "
                                       "attempt failed: ValueError: 50%\rdone: row 7 is bad")


def test_killed_workers_are_marked_stopped_in_one_order(config: ConfigSources) -> None:
    """Two workers starting at once both take back the same killed workers, each in one
    transaction: rows updated in each process's own set order could deadlock them on
    PostgreSQL, so every process marks them stopped in the same (sorted) order."""
    app, _, _ = _app(max_receives=2)
    with TestRuntime(app, config=config) as rt:
        runtime, killed = rt.runtime, []
        for _ in range(6):
            gone = subprocess.Popen(["true"])
            gone.wait()  # its process id is free: the worker is gone
            killed.append(f"worker-{gone.pid}-{len(killed)}")
            runtime.state.workers.register(killed[-1], app=app.name, pid=gone.pid,
                                           host=socket.gethostname(), role="worker",
                                           now=rt.clock.time())
        marked: list[str] = []
        stopped = runtime.state.workers.stopped
        runtime.state.workers.stopped = (  # type: ignore[method-assign]
            lambda worker, *, now: (marked.append(worker), stopped(worker, now=now))[1])
        try:
            expire_gone_workers_leases(runtime, [], rt.clock.time())
        finally:
            del runtime.state.workers.stopped
    assert marked == sorted(killed)
