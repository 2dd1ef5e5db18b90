"""Every run has a log stream: ctx.log and standard logging calls land there with level and time."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cauce import App, LogLine, Runtime
from cauce.testing import TestRuntime
from state_targets import TARGETS, target_url

library_log = logging.getLogger("some.library")


def test_ctx_log_and_plain_logging_land_in_the_runs_stream() -> None:
    app = App("logs")

    @app.job
    def load(ctx) -> None:
        ctx.log.debug("details for the curious")
        ctx.log.info("read %d rows", 42)
        library_log.warning("retrying the download")
        logging.getLogger().error("from the root logger")

    with TestRuntime(app, start="2024-01-01T08:00:00") as rt:
        run = rt.run(load)
        lines = rt.logs(run.id)
    assert all(isinstance(line, LogLine) for line in lines)
    body = [(line.level, line.message) for line in lines[1:-1]]
    assert body == [
        ("DEBUG", "details for the curious"),
        ("INFO", "read 42 rows"),
        ("WARNING", "retrying the download"),
        ("ERROR", "from the root logger"),
    ]
    assert lines[0].message == f"run {run.id} of load started (attempt 1)"
    assert lines[-1].message == f"run {run.id} succeeded"
    assert {line.ts for line in lines} == {datetime(2024, 1, 1, 8, 0, tzinfo=UTC)}
    assert {line.run_id for line in lines} == {run.id}
    assert lines[1].format() == "2024-01-01 08:00:00\tDEBUG: details for the curious"


def test_handler_logs_are_kept_per_run() -> None:
    app = App("logs")
    events = app.topic("events")

    @app.on(events)
    def notify(msg, ctx) -> None:
        ctx.log.info("got %s", msg.body)

    with TestRuntime(app) as rt:
        events.publish("one")
        events.publish("two")
        rt.drain()
        first, second = rt.runs("notify")
        assert [line.message for line in rt.logs(first.id)] == ["got one"]
        assert [line.message for line in rt.logs(second.id)] == ["got two"]


def test_logging_outside_a_run_stays_out_of_run_streams() -> None:
    app = App("logs")
    app.job(name="quiet")(lambda ctx: None)
    with TestRuntime(app) as rt:
        library_log.warning("not in any run")
        run = rt.run("quiet")
        assert all("not in any run" not in line.message for line in rt.logs(run.id))


def test_a_failure_leaves_its_traceback_in_the_runs_stream() -> None:
    app = App("logs")

    @app.job(retries=0)
    def explode(ctx) -> None:
        ctx.log.info("about to fail")
        {}["missing"]

    with TestRuntime(app) as rt:
        run = rt.run(explode)
        lines = rt.logs(run.id)
    assert (run.status.value, run.error) == ("failed", "KeyError: 'missing'")
    error = next(line for line in lines if line.level == "ERROR")
    assert error.message.startswith("attempt 1 failed: KeyError: 'missing'\n"
                                    "Traceback (most recent call last):")
    assert '{}["missing"]' in error.message


def test_the_general_stream_tells_the_story_of_the_app() -> None:
    app = App("logs")
    app.job(name="quiet")(lambda ctx: None)
    with TestRuntime(app) as rt:
        run = rt.run("quiet")
        general = [line.message for line in rt.logs(stream="general")]
    assert general == [f"run {run.id} quiet started by hand", f"run {run.id} quiet succeeded"]


def test_a_log_line_of_a_run_can_be_found_by_a_prefix_of_its_id() -> None:
    app = App("logs")
    app.job(name="quiet")(lambda ctx: ctx.log.info("hello"))
    with TestRuntime(app) as rt:
        run = rt.run("quiet")
        assert "hello" in [line.message for line in rt.logs(run.id[:14])]


@pytest.mark.parametrize("engine", TARGETS)
def test_lines_and_errors_no_engine_can_store_as_they_are_are_stored_alike(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # A lone surrogate is what os.fsdecode gives for an undecodable byte of a file name.
    app = App("odd")

    @app.job(retries=0)
    def read(ctx) -> None:
        ctx.log.info("reading %s", "f\udc80.csv\x00")
        raise ValueError("cannot read f\udc80.csv\x00")

    state = target_url(engine, tmp_path / "state", request)
    with Runtime(app, home=tmp_path / "home", state=state) as rt:
        run = rt.run(read)
        messages = [line.message for line in rt.logs(run.id)]
    assert run.error == "ValueError: cannot read f\\udc80.csv\ufffd"
    assert "reading f\\udc80.csv\ufffd" in messages


@pytest.mark.parametrize("separator", ["\r", "\x0b", "\x1e", "\x85", "\u2028"])
def test_a_runs_error_line_ends_only_at_a_line_feed(separator: str) -> None:
    # str.splitlines ends a line at these too: "50%" alone was kept of the error below
    app = App("logs")
    said = f"50%{separator}done: row 7 is bad"

    @app.job(retries=0)
    def report(ctx) -> None:
        raise ValueError(f"{said}\r\nsee rows.csv")

    with TestRuntime(app) as rt:
        run = rt.run(report)
        (stored,) = rt.runs("report")
        lines = rt.logs(run.id)
    assert run.error == stored.error == f"ValueError: {said}"
    error = next(line for line in lines if line.level == "ERROR")
    assert error.message.startswith(f"attempt 1 failed: ValueError: {said}\nTraceback")
    assert error.message.endswith(f"ValueError: {said}\r\nsee rows.csv")
