"""Schedules: 5-field cron, 6-field cron with seconds first, and intervals, in the app's time
zone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cauce import DeclarationError
from cauce.schedules import CronSchedule, IntervalSchedule, make_schedule

SANTIAGO = ZoneInfo("America/Santiago")


def fires(schedule, start: datetime, count: int, tz: ZoneInfo = SANTIAGO) -> list[str]:
    """The next ``count`` fire times after ``start``, as local ISO text."""
    moment, out = start.timestamp(), []
    for _ in range(count):
        moment = schedule.next_after(moment)
        out.append(datetime.fromtimestamp(moment, tz).isoformat())
    return out


def test_five_fields_are_minute_hour_day_month_weekday() -> None:
    every_quarter = CronSchedule("*/15 * * * *", "UTC")
    start = datetime(2024, 1, 1, 10, 7, tzinfo=UTC)
    assert fires(every_quarter, start, 3, ZoneInfo("UTC")) == [
        "2024-01-01T10:15:00+00:00", "2024-01-01T10:30:00+00:00", "2024-01-01T10:45:00+00:00"]


def test_six_fields_put_seconds_first() -> None:
    every_ten_seconds = CronSchedule("*/10 * * * * *", "UTC")
    start = datetime(2024, 1, 1, 0, 0, 3, tzinfo=UTC)
    assert fires(every_ten_seconds, start, 3, ZoneInfo("UTC")) == [
        "2024-01-01T00:00:10+00:00", "2024-01-01T00:00:20+00:00", "2024-01-01T00:00:30+00:00"]


def test_next_after_is_strictly_after() -> None:
    daily_at_three = CronSchedule("0 3 * * *", "UTC")
    three = datetime(2024, 1, 1, 3, 0, tzinfo=UTC).timestamp()
    assert daily_at_three.next_after(three) == three + 86_400


@pytest.mark.parametrize(
    "expression",
    ["", "* * *", "* * * * * * *", "61 * * * *", "0 25 * * *", "0 0 32 * *", "every day",
     "*/0 * * * *"],
)
def test_invalid_cron_is_a_declaration_error_with_an_example(expression: str) -> None:
    with pytest.raises(DeclarationError, match="invalid cron expression") as info:
        CronSchedule(expression, "UTC")
    assert "*/10 * * * * *" in (info.value.hint or "")


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4,6 *", "0 0 0 31 11 *"])
def test_a_cron_naming_no_day_of_the_calendar_is_refused_when_declared(expression: str) -> None:
    # its next fire time cannot be found: `cauce serve` and `cauce schedules` stopped with
    # "unexpected CroniterBadDateError"
    with pytest.raises(DeclarationError, match="never fires") as info:
        CronSchedule(expression, "UTC")
    assert "0 0 28 2 *" in (info.value.hint or "")


def test_a_cron_on_29_february_is_kept() -> None:
    leap_day = CronSchedule("0 0 29 2 *", "UTC")
    assert leap_day.next_after(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) == datetime(
        2028, 2, 29, tzinfo=UTC).timestamp()


def test_cron_runs_on_local_time_across_daylight_saving_changes() -> None:
    # Chile left summer time at 2024-04-07 00:00 (UTC-3 → UTC-4): 03:00 stays 03:00 locally.
    at_three = CronSchedule("0 3 * * *", "America/Santiago")
    got = fires(at_three, datetime(2024, 4, 5, 12, tzinfo=SANTIAGO), 3)
    assert got == ["2024-04-06T03:00:00-03:00", "2024-04-07T03:00:00-04:00",
                   "2024-04-08T03:00:00-04:00"]


def test_a_time_skipped_by_the_spring_change_runs_once_after_the_gap() -> None:
    # 2024-09-08 00:00 → 01:00 in Santiago: 00:30 does not exist that day.
    at_half_past_midnight = CronSchedule("30 0 * * *", "America/Santiago")
    got = fires(at_half_past_midnight, datetime(2024, 9, 6, 12, tzinfo=SANTIAGO), 3)
    assert got == ["2024-09-07T00:30:00-04:00", "2024-09-08T01:00:00-03:00",
                   "2024-09-09T00:30:00-03:00"]


@pytest.mark.parametrize(
    ("zone", "expression", "start", "expected"),
    [
        # 23:00–24:00 of 2024-04-06 happens twice in Santiago.
        ("America/Santiago", "30 23 * * *", datetime(2024, 4, 6, 12),
         ["2024-04-06T23:30:00-03:00", "2024-04-07T23:30:00-04:00"]),
        # 02:00–03:00 of 2024-10-27 happens twice in Berlin.
        ("Europe/Berlin", "30 2 * * *", datetime(2024, 10, 26, 12),
         ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"]),
    ],
)
def test_a_time_repeated_by_the_autumn_change_runs_once(zone, expression, start, expected) -> None:
    tz = ZoneInfo(zone)
    assert fires(CronSchedule(expression, zone), start.replace(tzinfo=tz), 2, tz) == expected


@pytest.mark.parametrize("expression", ["0 * * * *", "0 */1 * * *", "0 0-23 * * *",
                                        "0 0 * * * *", "0 0 0-11,12-23 * * *"])
def test_an_hourly_job_keeps_real_time_through_the_repeated_hour(expression: str) -> None:
    # "*/1" and "0-23" were read as set hours: the repeated 02:00 was left out, two hours apart
    tz = ZoneInfo("Europe/Berlin")
    hourly = CronSchedule(expression, "Europe/Berlin")
    start = datetime(2024, 10, 27, 0, 30, tzinfo=tz)
    moments = [datetime.fromisoformat(t) for t in fires(hourly, start, 4, tz)]
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(moments)}
    assert gaps == {3600.0}


def test_intervals_keep_step_on_multiples_of_the_interval() -> None:
    every_ten = IntervalSchedule(10)
    assert every_ten.next_after(100.0) == 110.0
    assert every_ten.next_after(104.2) == 110.0
    assert every_ten.next_after(109.9999) == 110.0
    assert every_ten.spec == "every 10s"


def test_make_schedule_reads_cron_or_every_and_zero_means_none() -> None:
    assert isinstance(make_schedule(cron="0 3 * * *", every=None, timezone="UTC"), CronSchedule)
    assert make_schedule(cron=None, every="1h", timezone="UTC") == IntervalSchedule(3600.0)
    assert make_schedule(cron=None, every=0, timezone="UTC") is None
    assert make_schedule(cron=None, every=None, timezone="UTC") is None
    with pytest.raises(DeclarationError, match="schedule= or every=, not both"):
        make_schedule(cron="* * * * *", every="1m", timezone="UTC")
    with pytest.raises(DeclarationError, match="every: 'often' is not a duration"):
        make_schedule(cron=None, every="often", timezone="UTC")


@pytest.mark.parametrize("every", ["0.0000001s", "0.0000001", 0.001, "9ms"])
def test_an_interval_shorter_than_10ms_is_refused(every: object) -> None:
    # 1e-7 s: the next tick after now was now again, and a serve fired its job and wrote
    # "tick skipped" about 4,000 times a second
    with pytest.raises(DeclarationError, match="is shorter than 10ms") as info:
        make_schedule(cron=None, every=every, timezone="UTC")
    assert 'every="100ms"' in (info.value.hint or "")
    assert make_schedule(cron=None, every="10ms", timezone="UTC") == IntervalSchedule(0.01)


@pytest.mark.parametrize(("every", "spec"), [
    ("1.5s", "every 1.5s"), ("90.4", "every 90.4s"), ("100ms", "every 100ms"),
    ("1h30m", "every 1h30m"), ("15.5ms", "every 0.0155s"), (0.25, "every 250ms")])
def test_an_interval_is_named_exactly(every: object, spec: str) -> None:
    # 1.5 s was named "every 2s", in `cauce schedules` and in the spec kept to notice changes
    schedule = make_schedule(cron=None, every=every, timezone="UTC")
    assert schedule is not None and schedule.spec == spec


def test_specs_change_when_the_schedule_or_zone_does() -> None:
    assert (CronSchedule("0 3 * * *", "UTC").spec
            != CronSchedule("0 3 * * *", "America/Santiago").spec)
    assert CronSchedule("0 3 * * *", "UTC").spec != CronSchedule("0 4 * * *", "UTC").spec


@pytest.mark.parametrize(("nickname", "expression"), [
    ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ("@weekly", "0 0 * * 0"), ("@monthly", "0 0 1 * *"), ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"), ("@Daily", "0 0 * * *"),
])
def test_a_cron_nickname_fires_as_the_expression_it_stands_for(nickname: str,
                                                               expression: str) -> None:
    # cron, cronie and Airflow read them; "@daily" was refused as an invalid expression
    named, written = CronSchedule(nickname, "America/Santiago"), CronSchedule(
        expression, "America/Santiago")
    assert named.spec == written.spec  # a change from one to the other is no change
    moment = datetime(2024, 3, 30, 12, 0, tzinfo=UTC).timestamp()
    for _ in range(3):
        assert named.next_after(moment) == written.next_after(moment)
        moment = named.next_after(moment)


@pytest.mark.parametrize("nickname", ["@reboot", "@dailly", "@"])
def test_an_unknown_cron_nickname_names_the_ones_there_are(nickname: str) -> None:
    with pytest.raises(DeclarationError, match="unknown cron nickname") as info:
        CronSchedule(nickname, "UTC")
    assert "@daily" in (info.value.hint or "")


def test_reboot_is_pointed_at_run_at_start() -> None:
    # @reboot means "once at start": the hint names the job option that does that
    with pytest.raises(DeclarationError) as info:
        CronSchedule("@reboot", "UTC")
    assert "run_at_start=True" in (info.value.hint or "")
