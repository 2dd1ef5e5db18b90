"""A runtime's life cycle (new → open → closed) and `serve(until="idle")`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cauce import App, CauceError, NotAttached, Runtime


def _chain_app() -> tuple[App, object, object]:
    app = App("idle")
    work = app.queue("work")
    done = app.table("done", key="n")
    events = app.topic("events")

    @app.on(work)
    def handle(message, ctx):
        events.publish({"n": message.body})

    @app.on(events, retry_delay="1s")
    def record(message, ctx):
        if ctx.attempt == 1 and message.body["n"] == 3:
            raise ConnectionError("once")  # retried a second later: idle waits for it
        done.put({"n": message.body["n"]})

    return app, work, done


def test_serve_until_idle_returns_once_every_chain_is_done(tmp_path: Path) -> None:
    app, work, done = _chain_app()
    with Runtime(app, home=tmp_path) as rt:
        work.send_batch(list(range(5)))
        started = time.monotonic()
        rt.serve(until="idle", timeout="60s", scheduler=False, grace="1s")
        assert time.monotonic() - started < 30
        assert sorted(item["n"] for item in done.scan()) == [0, 1, 2, 3, 4]
        assert all(q["visible"] == q["in_flight_or_delayed"] == 0 for q in rt.queue_stats())


def test_serve_until_idle_with_nothing_to_do_returns_at_once(tmp_path: Path) -> None:
    app, _, _ = _chain_app()
    with Runtime(app, home=tmp_path) as rt:
        started = time.monotonic()
        rt.serve(until="idle", timeout="60s", grace="1s")
        assert time.monotonic() - started < 10


def test_serve_refuses_an_until_it_cannot_use(tmp_path: Path) -> None:
    app, _, _ = _chain_app()
    with Runtime(app, home=tmp_path) as rt, pytest.raises(CauceError, match="until"):
        rt.serve(until="done")  # type: ignore[arg-type]


def test_serve_refuses_a_grace_that_is_no_duration_before_it_starts(tmp_path: Path) -> None:
    app, _, _ = _chain_app()
    with Runtime(app, home=tmp_path) as rt:
        with pytest.raises(CauceError, match="grace: 'soon' is not a duration"):
            rt.serve(timeout="60s", grace="soon")
        assert rt.state.workers.listing(stopped=True) == [], "refused before it registered"


def test_using_a_runtime_before_open_or_after_close_is_a_clear_error(tmp_path: Path) -> None:
    app, work, _ = _chain_app()
    rt = Runtime(app, home=tmp_path)
    assert rt.lifecycle.value == "new"
    with pytest.raises(CauceError, match="the runtime is not open yet") as info:
        rt.queue_stats()
    assert "with Runtime(app) as rt" in (info.value.hint or "")
    with rt:
        assert rt.lifecycle.value == "open"
        with pytest.raises(CauceError, match="already open"):
            rt.open()
        work.send(1)
    assert rt.lifecycle.value == "closed"
    with pytest.raises(CauceError, match="the runtime was closed"):
        rt.runs()
    with pytest.raises(CauceError, match="already closed"):
        rt.open()
    with pytest.raises(NotAttached):
        work.send(2)
    rt.close()  # closing again does nothing
