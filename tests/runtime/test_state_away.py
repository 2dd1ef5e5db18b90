"""A serving process whose state store cannot be reached for a while (a lost connection, a
server restarting) waits for it to come back instead of stopping, and loses nothing: what
finished meanwhile is settled once it is back."""

from __future__ import annotations

from pathlib import Path

import pytest

from cauce import App, Runtime
from cauce.errors import StateConflict, StateUnavailable
from cauce.runtime import serving


def test_a_worker_waits_for_its_state_store_and_settles_what_finished_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = App("away")
    work = app.queue("work")
    handled: list[int] = []

    @app.on(work)
    def handle(message, ctx) -> None:
        handled.append(message.body["n"])

    monkeypatch.setattr(serving, "AWAY_RETRY", 0.05, raising=False)
    with Runtime(app, home=tmp_path / "home") as runtime:
        work.send_batch([{"n": n} for n in range(6)])
        store = runtime.state
        failures = {"receive": 2, "acknowledge": 2}

        def failing(name, call):
            def wrapper(*args, **kwargs):
                if failures[name]:
                    failures[name] -= 1
                    raise StateUnavailable("lost the connection to the state (for the test)")
                return call(*args, **kwargs)
            return wrapper

        monkeypatch.setattr(store.queues, "receive", failing("receive", store.queues.receive))
        monkeypatch.setattr(store, "acknowledge", failing("acknowledge", store.acknowledge))
        runtime.serve(until="idle", timeout="60s")
        assert failures == {"receive": 0, "acknowledge": 0}
        assert sorted(handled) == list(range(6)), "each handled once"
        assert store.queues.listing("away:work") == [], "none left leased or waiting"
        runs = runtime.runs("handle")
        assert len(runs) == 6 and {r.status for r in runs} == {"succeeded"}
        lines = [line.message for line in runtime.logs(stream="general")]
        assert any("the state store cannot be reached" in m for m in lines)
        assert any("the state store is back" in m for m in lines)


def test_a_worker_tries_again_at_once_after_a_deadlock_even_in_its_first_takeback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transaction the state store ended to break a deadlock (two workers starting at once
    both take back a killed worker's leases) committed nothing: the worker says so and does
    it again, where it used to stop, the first takeback running before the loop's guard."""
    app = App("busy")
    work = app.queue("work")
    handled: list[int] = []

    @app.on(work)
    def handle(message, ctx) -> None:
        handled.append(message.body["n"])

    takebacks = []
    take_back = serving.expire_gone_workers_leases

    def deadlocked_once(*args, **kwargs):
        takebacks.append(1)
        if len(takebacks) == 1:
            raise StateConflict("PostgreSQL ended a transaction (for the test)")
        return take_back(*args, **kwargs)

    monkeypatch.setattr(serving, "expire_gone_workers_leases", deadlocked_once)
    with Runtime(app, home=tmp_path / "home") as runtime:
        work.send_batch([{"n": n} for n in range(3)])
        receive, conflicts = runtime.state.queues.receive, [1]

        def receive_after_a_conflict(*args, **kwargs):
            if conflicts:
                conflicts.pop()
                raise StateConflict("PostgreSQL ended a transaction (for the test)")
            return receive(*args, **kwargs)

        monkeypatch.setattr(runtime.state.queues, "receive", receive_after_a_conflict)
        runtime.serve(until="idle", timeout="30s")
        assert sorted(handled) == [0, 1, 2] and len(takebacks) == 2 and not conflicts
        lines = [line.message for line in runtime.logs(stream="general")]
        assert sum("ended a transaction (for the test); trying again" in m for m in lines) == 2
        assert not any("cannot be reached" in m for m in lines)


def test_a_worker_stops_with_the_error_once_the_store_stays_away(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = App("gone")
    work = app.queue("work")

    @app.on(work)
    def handle(message, ctx) -> None:
        """Nothing to do: the test is about the store going away."""

    monkeypatch.setattr(serving, "AWAY_RETRY", 0.01, raising=False)
    monkeypatch.setattr(serving, "AWAY_LIMIT", 0.2, raising=False)
    with Runtime(app, home=tmp_path / "home") as runtime:
        work.send({"n": 1})

        def away(*args, **kwargs):
            raise StateUnavailable("cannot reach the state (for the test)")

        monkeypatch.setattr(runtime.state.queues, "receive", away)
        with pytest.raises(StateUnavailable, match="cannot reach the state"):
            runtime.serve(timeout="30s")


def test_log_lines_wait_for_the_store_and_writers_do_not_fail_meanwhile() -> None:
    from types import SimpleNamespace

    from cauce.clock import SystemClock
    from cauce.logs import LogSink

    stored: list[tuple] = []
    away = {"calls": 0, "on": True}

    def append(rows) -> None:
        away["calls"] += 1
        if away["on"]:
            raise StateUnavailable("lost the connection to the state (for the test)")
        stored.extend(rows)

    sink = LogSink(SimpleNamespace(logs=SimpleNamespace(append=append)), SystemClock())
    sink.write("a", "general", 20, "first")
    with pytest.raises(StateUnavailable):
        sink.flush()
    for n in range(2 * LogSink.MAX_BUFFER):  # a full buffer while away: no flush, no error
        sink.write("a", "general", 20, f"line {n}")
    assert away["calls"] == 1
    away["on"] = False
    sink.flush()
    assert [row[4] for row in stored] == ["first"] + [f"line {n}"
                                                      for n in range(2 * LogSink.MAX_BUFFER)]


def test_the_log_flusher_outlives_a_statement_the_store_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A write of log lines the store refused once (a lock held past its timeout, a cancelled
    statement) used to end the background flusher with a traceback and drop those lines: every
    later line of the process was kept in memory only. The lines wait, the thread goes on."""
    import threading
    from types import SimpleNamespace

    from cauce.clock import SystemClock
    from cauce.errors import StateError
    from cauce.logs import LogSink

    stored: list[tuple] = []
    refusals = [StateError("the state stayed locked (for the test)")]
    written = threading.Event()

    def append(rows) -> None:
        if refusals:
            raise refusals.pop()
        stored.extend(rows)
        written.set()

    monkeypatch.setattr(LogSink, "FLUSH_EVERY", 0.01)
    sink = LogSink(SimpleNamespace(logs=SimpleNamespace(append=append)), SystemClock())
    sink.write("a", "general", 20, "kept")
    sink.start()
    try:
        assert written.wait(10), "the flusher stopped"
        assert [row[4] for row in stored] == ["kept"] and not refusals
    finally:
        sink.close()


def test_a_backfill_waits_for_its_state_store_instead_of_stopping(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection lost under a backfill (a PostgreSQL session ended, a server restarting)
    stopped it with the error, its partitions in hand left to their leases; it waits, as a
    serving process does, and every partition runs once."""
    from cauce import daily
    from cauce.runtime.backfill import backfill

    app = App("refill")
    ran: list[str] = []

    @app.job(partitions=daily(start="2024-01-01"))
    def per_day(ctx) -> None:
        ran.append(ctx.partition)

    monkeypatch.setattr(serving, "AWAY_RETRY", 0.01, raising=False)
    with Runtime(app, home=tmp_path / "home") as runtime:
        store = runtime.state
        failures = {"left": 2}
        receive = store.queues.receive

        def away_twice(*args, **kwargs):
            if failures["left"]:
                failures["left"] -= 1
                raise StateUnavailable("lost the connection to the state (for the test)")
            return receive(*args, **kwargs)

        monkeypatch.setattr(store.queues, "receive", away_twice)
        enqueue, lost_once = runtime.enqueue_job, []

        def enqueue_lost_once(*args, **kwargs):
            # the second partition's: the first one's is rolled back with it
            queued = runtime.state.queues.stats([app.jobs["per-day"].store_queue], now=0.0)
            if not lost_once and queued:
                lost_once.append(True)
                raise StateUnavailable("lost the connection to the state (for the test)")
            return enqueue(*args, **kwargs)

        monkeypatch.setattr(runtime, "enqueue_job", enqueue_lost_once)
        report = backfill(runtime, app.jobs["per-day"], "2024-01-01", "2024-01-04", poll=0.01)
        assert report.ok and failures == {"left": 0} and lost_once
        assert sorted(ran) == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
        lines = [line.message for line in runtime.logs(stream="general")]
        assert any("the state store cannot be reached" in m for m in lines)
        assert any("the state store is back" in m for m in lines)
