"""Schedules fire on the runtime's clock: eight simulated weeks take a moment and are exact."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from cauce import App, PartitionError, Runtime, daily, monthly
from cauce.durations import parse_duration
from cauce.runtime.scheduler import Scheduler
from cauce.testing import TestRuntime
from state_targets import TARGETS, target_url
from waiting import wait_for


def test_advance_8_weeks_fires_8_weekly_and_56_daily_runs() -> None:
    app = App("cron", timezone="America/Santiago")
    app.job(schedule="0 4 * * 1", name="weekly-report")(
        lambda ctx: ctx.local_now().strftime("%a %H:%M"))
    app.job(schedule="0 3 * * *", name="nightly")(lambda ctx: ctx.local_now().strftime("%H:%M"))
    with TestRuntime(app, start="2024-01-01T00:00:00") as rt:  # a Monday, at midnight in Santiago
        rt.advance("8w")
        weekly, nightly = rt.runs("weekly-report"), rt.runs("nightly")
    assert len(weekly) == 8
    assert len(nightly) == 56
    assert {r.result for r in weekly} == {"Mon 04:00"}
    assert {r.result for r in nightly} == {"03:00"}
    assert all(r.succeeded and r.trigger == "schedule" for r in weekly + nightly)


def test_six_field_cron_fires_every_ten_seconds() -> None:
    app = App("cron")
    app.job(schedule="*/10 * * * * *", name="tick")(lambda ctx: ctx.now().second)
    with TestRuntime(app, start="2024-01-01T00:00:05") as rt:
        rt.advance("1m")
        assert [r.result for r in rt.runs("tick")] == [10, 20, 30, 40, 50, 0]


def test_intervals_and_intervals_from_settings() -> None:
    app = App("cron")
    every = app.setting("every", str, default="15m", help="how often to poll")
    app.job(every="1h", name="hourly")(lambda ctx: None)
    app.job(every=every, name="poll")(lambda ctx: None)
    with TestRuntime(app, settings={"every": "30m"}) as rt:
        rt.advance("3h")
        assert Counter(r.name for r in rt.runs()) == {"hourly": 3, "poll": 6}


def test_every_zero_turns_a_schedule_off() -> None:
    app = App("cron")
    every = app.setting("every", str, default="1m")
    app.job(every=every, name="poll")(lambda ctx: None)
    with TestRuntime(app, settings={"every": "0"}) as rt:
        rt.advance("1h")
        assert rt.runs() == []


def test_a_partitioned_schedule_runs_the_period_that_just_ended_and_its_after_jobs() -> None:
    app = App("cron", timezone="America/Santiago")

    @app.job(schedule="0 2 * * *", partitions=daily(start="2024-01-01"))
    def extract(ctx) -> str:
        return ctx.partition

    @app.job(after=[extract])
    def publish(ctx) -> str:
        return f"published {ctx.partition}"

    with TestRuntime(app, start="2024-01-01T00:00:00") as rt:
        rt.advance("3d")
        extracted = rt.runs(extract)
        published = rt.runs(publish)
    # Jan 1 at 02:00 has no finished day yet (partitions start that day): nothing runs.
    assert [r.partition for r in extracted] == ["2024-01-01", "2024-01-02"]
    assert [(r.partition, r.result, r.trigger) for r in published] == [
        ("2024-01-01", "published 2024-01-01", "after extract"),
        ("2024-01-02", "published 2024-01-02", "after extract"),
    ]


def serve_stopped_for(rt: TestRuntime, span: str) -> None:
    """Move the clock as a serve that stops, and starts again after ``span``, sees it."""
    rt.clock.advance(parse_duration(span))
    rt.advance("1s")


def test_a_serve_down_for_days_runs_each_missed_partition_once_and_other_jobs_once() -> None:
    app = App("cron", timezone="America/Santiago")
    app.job(schedule="0 3 * * *", partitions=daily(start="2024-01-01"), name="per-day")(
        lambda ctx: ctx.partition)
    app.job(schedule="0 3 * * *", name="nightly")(lambda ctx: None)
    with TestRuntime(app, start="2024-03-04T12:00:00") as rt:
        rt.advance("1d")
        serve_stopped_for(rt, "3d")  # the ticks of 6, 7 and 8 March were missed
        caught_up = [r.partition for r in rt.runs("per-day")]
        nightly = len(rt.runs("nightly"))
        said = [line.message for line in rt.logs(stream="general") if "catching" in line.message]
    assert said == ["per-day: catching up the 3 partitions whose ticks were missed while "
                    "nothing served, 2024-03-05 to 2024-03-07"]
    # before, only 2024-03-05 ran: the 6th and the 7th were never run by the schedule
    assert caught_up == ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"]
    assert nightly == 2  # the missed ticks of a job without partitions are one run


def test_a_schedule_changed_while_nothing_served_still_catches_up(tmp_path: Path) -> None:
    """The ticks the old schedule missed while the serve was down count, as they would have
    had the schedule stayed: before, a new spec started afresh from now, and the days between
    were never run by the schedule, without a word."""

    def declared(expression: str) -> App:
        app = App("cron", timezone="Europe/Berlin")
        app.job(schedule=expression, partitions=daily(start="2024-01-01"), name="per-day")(
            lambda ctx: None)
        app.job(schedule=expression, name="nightly")(lambda ctx: None)
        return app

    with TestRuntime(declared("0 3 * * *"), start="2024-03-04T12:00:00", home=tmp_path) as rt:
        rt.advance("1d")
    # down from the 5th at noon; back on the 9th at noon with the jobs moved to 04:00
    with TestRuntime(declared("0 4 * * *"), start="2024-03-09T12:00:00", home=tmp_path) as rt:
        rt.advance("1s")
        per_day = [r.partition for r in rt.runs("per-day")]
        nightly = len(rt.runs("nightly"))
    assert per_day == ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
    assert nightly == 2  # its missed ticks, one run


def test_a_schedule_resumed_in_a_test_fires_at_its_next_tick_as_in_a_serve() -> None:
    """A serve reads the schedules' state at least every second; the test runtime's clock
    does not move by itself, so it read it again only at the next tick due — where the resume
    (which fires from the next tick after it) was seen, and that tick skipped."""
    app = App("cron")
    per_day = app.job(schedule="0 3 * * *", partitions=daily(start="2020-01-01"),
                      name="per-day")(lambda ctx: None)
    with TestRuntime(app, start="2024-03-04T12:00:00") as rt:
        rt.runtime.pause_schedule(app, "per-day", "not yet")
        rt.runtime.resume_schedule(per_day)
        rt.advance("1d")
        assert [r.partition for r in rt.runs("per-day")] == ["2024-03-04"]


def test_catching_up_reads_the_jobs_queue_once_not_once_a_partition(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = App("cron")
    app.job(schedule="0 3 * * *", partitions=daily(start="2024-01-01"), name="per-day")(
        lambda ctx: None)
    with TestRuntime(app, start="2024-03-04T12:00:00") as rt:
        rt.clock.advance(parse_duration("30d"))
        queues, reads = rt.runtime.state.queues, []
        for name in ("holds", "text_values"):
            def counted(*args, _read=getattr(queues, name), **kwargs):
                reads.append(args[0])
                return _read(*args, **kwargs)
            monkeypatch.setattr(queues, name, counted)
        rt.advance("1s")
        assert len(rt.runs("per-day")) == 30
    assert reads.count(app.jobs["per-day"].store_queue) == 1  # was one per partition, 30


def test_catching_up_runs_the_partitions_of_the_missed_ticks_only() -> None:
    app = App("cron", timezone="America/Santiago")
    days = daily(start="2024-01-01", end="2024-03-20")
    app.job(schedule="*/10 * * * * *", partitions=days, name="often")(lambda ctx: None)
    app.job(schedule="0 3 * * 1", partitions=days, name="mondays")(lambda ctx: None)
    with TestRuntime(app, start="2024-03-04T12:00:00") as rt:  # a Monday
        serve_stopped_for(rt, "30d")  # a month of 10 s ticks, past the last day
        often = [r.partition for r in rt.runs("often")]
        mondays = [r.partition for r in rt.runs("mondays")]
    assert often == [f"2024-03-{day:02}" for day in range(3, 21)]
    # each Monday's tick runs the Sunday before; the last two run the declared last day
    assert mondays == ["2024-03-10", "2024-03-17", "2024-03-20"]


def test_a_clock_stepped_back_neither_repeats_a_fire_nor_hides_a_resumed_schedule() -> None:
    app = App("cron", timezone="Europe/Berlin")
    app.job(schedule="0 3 * * *", name="nightly")(lambda ctx: None)
    poll = app.job(every="10s", name="poll")(lambda ctx: None)
    with TestRuntime(app, start="2024-03-04T02:59:55") as rt:
        rt.advance("10s")
        assert len(rt.runs("nightly")) == 1
        rt.runtime.pause_schedule(app, "poll", "source down")
        rt.advance("1s")
        rt.clock.set_back(3600)  # 02:00:06: 03:00 comes again
        rt.runtime.resume_schedule(poll)
        rt.advance("1h")
        nightly, polls = len(rt.runs("nightly")), len(rt.runs("poll"))
    assert nightly == 1  # 03:00 fired once, not again an hour later
    # before, the schedules were not read again until the clock was back where it had been
    # read last: the resumed schedule first fired an hour later, its ticks meanwhile lost
    assert polls >= 350


def test_ticks_skipped_behind_a_pending_run_are_said_once_then_counted() -> None:
    app = App("cron")

    @app.job(every="1s", retries=1, retry_delay="1h")
    def poll(ctx) -> None:
        if ctx.attempt == 1:
            raise RuntimeError("source down")  # its retry waits 2.5 to 5 min: the run is pending

    with TestRuntime(app) as rt:
        rt.advance("10m")
        said = [line.message for line in rt.logs(stream="general") if "skipped" in line.message]
        fired = len({r.id for r in rt.runs("poll") if r.attempt == 1})
    first = ("poll: tick skipped, its previous run is still queued or running (the next skipped "
             "ticks are counted)")
    # before, a line a tick: 599 - fired in these ten minutes
    assert said[0::2] == [first] * len(said[0::2]) and len(said) <= 2 * fired
    assert all(re.fullmatch(r"poll: \d+ ticks were skipped while its previous run was queued "
                            r"or running", m) for m in said[1::2])


def test_a_partitioned_job_run_without_a_partition_is_shown_the_newest_that_has_ended() -> None:
    app = App("cron", timezone="America/Santiago")
    app.job(partitions=daily(start="2024-01-01"), name="per-day")(lambda ctx: None)
    app.job(partitions=monthly(start="2024-01"), name="per-month")(lambda ctx: None)
    with TestRuntime(app, start="2024-03-04T12:00:00") as rt:
        # it showed today's, whose data is not all in yet
        with pytest.raises(PartitionError, match="runs per daily partition") as daily_info:
            rt.run("per-day")
        with pytest.raises(PartitionError) as monthly_info:
            rt.run("per-month")
    assert daily_info.value.hint == ("pass --partition, e.g. --partition 2024-03-03 (the newest "
                                     "that has ended)")
    assert "--partition 2024-02 " in (monthly_info.value.hint or "")


def test_a_job_after_two_jobs_waits_for_both_in_the_same_partition() -> None:
    app = App("cron")
    days = daily(start="2024-01-01")
    app.job(partitions=days, name="weather")(lambda ctx: None)
    app.job(partitions=days, name="traffic")(lambda ctx: None)
    weather, traffic = app.jobs["weather"], app.jobs["traffic"]
    app.job(after=[weather, traffic], name="join")(lambda ctx: ctx.partition)
    with TestRuntime(app, start="2024-01-10T00:00:00") as rt:
        rt.run(weather, partition="2024-01-01")
        rt.run(traffic, partition="2024-01-02")
        rt.drain()
        assert rt.runs("join") == []
        rt.run(traffic, partition="2024-01-01")
        rt.drain()
        assert [r.result for r in rt.runs("join")] == ["2024-01-01"]


def test_a_failed_upstream_run_does_not_trigger_its_after_jobs() -> None:
    app = App("cron")

    @app.job(partitions=daily(start="2024-01-01"), retries=0)
    def extract(ctx) -> None:
        raise RuntimeError("source down")

    app.job(after=[extract], name="report")(lambda ctx: None)
    with TestRuntime(app, start="2024-01-10T00:00:00") as rt:
        assert not rt.run(extract, partition="2024-01-02").succeeded
        rt.drain()
        assert rt.runs("report") == []


def test_pause_schedule_stops_the_job_until_resumed() -> None:
    app = App("cron")
    polls = []

    @app.job(every="1h")
    def poll(ctx) -> None:
        polls.append(ctx.now())
        if len(polls) >= 3:
            ctx.pause_schedule("the source stopped publishing")

    with TestRuntime(app) as rt:
        rt.advance("10h")
        assert len(rt.runs(poll)) == 3
        (state,) = rt.runtime.schedule_states()
        assert state["paused"] == "the source stopped publishing"
        general = [line.message for line in rt.logs(stream="general")]
        assert "poll: schedule paused: the source stopped publishing" in general
        assert rt.runtime.resume_schedule(poll)
        rt.advance("2h")
        assert len(rt.runs(poll)) == 4  # it ran once more, and paused itself again


def test_a_job_can_resume_a_paused_schedule_and_leaves_an_active_one_alone() -> None:
    app = App("cron")
    polls = []

    @app.job(every="1h")
    def poll(ctx) -> None:
        polls.append(ctx.now())
        ctx.pause_schedule("paused")

    @app.job(name="wake")
    def wake(ctx) -> bool:
        return ctx.resume_schedule(poll)

    with TestRuntime(app) as rt:
        rt.advance("3h")
        assert len(polls) == 1
        assert rt.run(wake).result is True
        assert rt.run(wake).result is False  # not paused any more: nothing to do
        rt.advance("1h")
        assert len(polls) == 2


def test_run_at_start_runs_once_when_serving_starts() -> None:
    app = App("cron")
    app.job(run_at_start=True, name="warm-up")(lambda ctx: "warm")
    app.job(name="by-hand")(lambda ctx: None)
    with TestRuntime(app) as rt:
        rt.runtime.serve(until=lambda: bool(rt.runs("warm-up", status="succeeded")), timeout="10s")
        (run,) = rt.runs("warm-up")
        assert (run.result, run.trigger) == ("warm", "start")
        assert rt.runs("by-hand") == []


def test_drain_counts_the_job_runs_it_executed() -> None:
    app = App("cron")
    app.job(name="later")(lambda ctx: None)
    with TestRuntime(app) as rt:
        rt.submit("later")
        rt.submit("later")
        assert rt.drain() == 2


def _ticking_app() -> App:
    app = App("ticking")

    @app.job(every="1s")
    def tick(ctx) -> None:
        """Fired by the schedule."""

    return app


SERVE_FOR = "30s"  # a first tick comes within a second or two; a lease's wait is far longer
LEASE = 600.0  # seconds a scheduler's lease lasts here: a serve that waits one out fires nothing


@pytest.fixture
def long_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Scheduler, "LEASE", LEASE)


def _ticks_on_start(runtime: Runtime) -> bool:
    """Whether a serve started now fires the schedule while it serves (SERVE_FOR at most)."""
    before = len(runtime.runs("tick"))
    runtime.serve(until=lambda: len(runtime.runs("tick")) > before, timeout=SERVE_FOR)
    return len(runtime.runs("tick")) > before


def test_a_serve_that_stops_gives_the_schedules_to_the_next_at_once(
        tmp_path: Path, long_leases: None) -> None:
    """The scheduler's lease (15 s) outlived a `cauce serve` stopped in order: a serve started
    again on that home fired nothing for up to 15 s. Here a lease lasts ten minutes, so the
    next serve fires the schedule only if the stopped one gave its lease up."""
    app = _ticking_app()
    with Runtime(app, home=tmp_path / "home") as first:
        assert _ticks_on_start(first)
    with Runtime(app, home=tmp_path / "home") as second:
        assert _ticks_on_start(second)


@pytest.mark.parametrize("engine", TARGETS)
def test_a_second_serve_says_where_the_first_one_is(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest,
        caplog: pytest.LogCaptureFixture) -> None:
    """Homes on several machines may share one state store: a second serve said the first was
    "live on this home" when it was on another home, on another machine."""
    app = _ticking_app()
    url = target_url(engine, tmp_path / "state", request)
    with Runtime(app, home=tmp_path / "home-a", state=url) as other:
        other.state.workers.register("serve-machine-b", app=app.name, pid=4242,
                                     host="machine-b", role="serve", now=time.time())
    with (Runtime(app, home=tmp_path / "home-b", state=url) as runtime,
          caplog.at_level(logging.WARNING, logger=f"cauce.general.{app.name}")):
        runtime.serve(until=lambda: True, timeout=SERVE_FOR)
    [said] = [r.getMessage() for r in caplog.records if "another `cauce serve" in r.getMessage()]
    assert said.startswith("another `cauce serve ticking` is live on the same state store: "
                           "pid 4242 on machine-b (another machine); this one works as an "
                           "extra worker")


def test_a_serve_killed_on_this_machine_leaves_its_schedules_to_the_next_at_once(
        tmp_path: Path, long_leases: None) -> None:
    """A killed serve cannot give its lease up: one started after it on this machine sees
    that the holder is gone and takes the lease, instead of waiting for it to run out."""
    app = _ticking_app()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id no process holds now
    with Runtime(app, home=tmp_path / "home") as runtime:
        now = time.time()
        runtime.state.workers.register("killed", app=app.name, pid=dead.pid,
                                       host=socket.gethostname(), role="serve", now=now)
        assert runtime.state.leases.acquire("scheduler:ticking", "killed:token", now=now,
                                            until=now + LEASE)
        assert _ticks_on_start(runtime)


def test_a_watched_bucket_slow_to_list_holds_up_no_schedule(tmp_path: Path) -> None:
    """A look into a watched bucket was made in the serve's loop: an S3 endpoint that took
    80 s (7 minutes before) to fail stopped schedules, dispatch and heartbeats meanwhile."""
    app = _ticking_app()
    app.bucket("inbox", url=str(tmp_path / "inbox"), watch="1m")
    looking, released = threading.Event(), threading.Event()

    def stuck_listing(bucket) -> int:
        looking.set()
        released.wait(60)
        return 0

    with Runtime(app, home=tmp_path / "home") as runtime:
        runtime.scan_bucket = stuck_listing  # type: ignore[method-assign]
        try:
            assert _ticks_on_start(runtime)
        finally:
            released.set()
    assert looking.is_set()


def test_serving_until_idle_waits_for_a_look_under_way(tmp_path: Path) -> None:
    """A look into a watched bucket runs beside the serving loop: `serve(until="idle")` must
    not end before it has queued the events of what it found."""
    app = App("dropbox")
    inbox = app.bucket("inbox", url=str(tmp_path / "inbox"), watch="1m")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "dropped.csv").write_bytes(b"1\n")
    seen: list[str] = []

    @app.on(inbox)
    def arrived(obj, ctx) -> None:
        seen.append(obj.key)

    looped = threading.Event()
    with Runtime(app, home=tmp_path / "home") as runtime:
        scan, wait = runtime.scan_bucket, runtime.wait

        def look_once_the_loop_waited(bucket) -> int:
            looped.wait(60)
            return scan(bucket)

        def loop_waits(timeout: float) -> None:
            looped.set()
            wait(timeout)

        runtime.scan_bucket = look_once_the_loop_waited  # type: ignore[method-assign]
        runtime.wait = loop_waits  # type: ignore[method-assign]
        try:
            runtime.serve(until="idle", timeout=SERVE_FOR)
        finally:
            looped.set()
    assert seen == ["dropped.csv"]


def test_a_watched_bucket_whose_listing_breaks_says_so_in_the_log_not_on_the_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A look made beside the serving loop that raised an unexpected error ended its thread
    with Python's traceback printed on the terminal, and nothing in the app's log."""
    app = _ticking_app()
    app.bucket("inbox", url=str(tmp_path / "inbox"), watch="1m")

    def broken_listing(bucket) -> int:
        raise ValueError("a listing that makes no sense")

    with Runtime(app, home=tmp_path / "home") as runtime:
        runtime.scan_bucket = broken_listing  # type: ignore[method-assign]
        assert _ticks_on_start(runtime)
        wait_for(lambda: any("looking for new objects failed" in line.message
                             for line in runtime.logs(stream="general")),
                 what="the failed look in the general log")
        [said] = [line.message for line in runtime.logs(stream="general")
                  if "looking for new objects failed" in line.message]
    assert said.startswith("bucket inbox: looking for new objects failed: ValueError: a "
                           "listing that makes no sense\nTraceback")
    assert "Traceback" not in capsys.readouterr().err
