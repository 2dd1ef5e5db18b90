"""Partitions: a run per day, week or month, named by the period's first date."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from cauce import DeclarationError, PartitionError, daily, monthly, weekly


def test_daily_keys_are_iso_dates() -> None:
    days = daily(start="2024-01-01")
    assert days.key(date(2024, 3, 5)) == "2024-03-05"
    assert days.parse("2024-03-05") == date(2024, 3, 5)


def test_weekly_keys_are_the_first_day_of_the_week_and_weeks_start_on_starts_weekday() -> None:
    weeks = weekly(start="2024-01-03")  # a Wednesday
    assert weeks.key(date(2024, 1, 9)) == "2024-01-03"
    assert weeks.key(date(2024, 1, 10)) == "2024-01-10"
    assert weeks.parse("2024-01-10") == date(2024, 1, 10)


def test_monthly_keys_are_year_and_month() -> None:
    months = monthly(start="2024-01")
    assert months.key(date(2024, 2, 29)) == "2024-02"
    assert months.parse("2024-02") == date(2024, 2, 1)


@pytest.mark.parametrize(
    ("partitions", "key", "example"),
    [
        (daily(start="2024-01-01"), "yesterday", "2021-04-22"),
        (monthly(start="2024-01"), "2024-01-01", "2021-04"),
        (weekly(start="2024-01-01"), "2024/01/08", "2021-04-22"),
        # other spellings of one period would be other partitions of it
        (daily(start="2024-01-01"), "20240108", "2021-04-22"),
        (daily(start="2024-01-01"), "2024-W02-1", "2021-04-22"),
        (weekly(start="2024-01-01"), "2024W021", "2021-04-22"),
        (monthly(start="2024-01"), "2024-2", "2021-04"),
        (monthly(start="2024-01"), "2024-002", "2021-04"),
    ],
)
def test_malformed_keys_say_how_to_write_one(partitions, key: str, example: str) -> None:
    with pytest.raises(PartitionError, match=f"is not a {partitions.unit} partition key") as info:
        partitions.parse(key)
    assert example in (info.value.hint or "")


@pytest.mark.parametrize(("partitions", "key", "check"), [
    (daily(start="2024-01-01"), "2021-02-30", "2021-02 has 28 days"),
    (daily(start="2024-01-01"), "2024-02-30", "2024-02 has 29 days"),
    (daily(start="2024-01-01"), "2024-13-01", "check its month and day"),
    (weekly(start="2024-01-01"), "2024-04-31", "2024-04 has 30 days"),
    (monthly(start="2024-01"), "2024-13", "check its month"),
])
def test_a_key_written_right_that_is_no_date_is_said_so(partitions, key: str,
                                                        check: str) -> None:
    """`--partition 2021-02-30` was told to be written like 2021-04-22, as it is."""
    with pytest.raises(PartitionError, match=f"'{key}' is no date of the calendar") as info:
        partitions.parse(key)
    assert (info.value.hint or "").startswith(f"{check} (keys are written like ")


def test_a_weekly_key_that_is_not_a_week_start_names_the_nearest_one() -> None:
    weeks = weekly(start="2024-01-01")  # Mondays
    with pytest.raises(PartitionError,
                       match="'2024-01-10' is not the start of a weekly partition") as info:
        weeks.parse("2024-01-10")
    assert info.value.hint == "the nearest one is 2024-01-08"


def test_partitions_before_the_first_one_are_refused() -> None:
    with pytest.raises(PartitionError,
                       match=r"partition 2019-12-31 is before the first one \(2020-01-01\)"):
        daily(start="2020-01-01").validate("2019-12-31")


def test_partitions_after_the_declared_end_are_refused() -> None:
    months = monthly(start="2024-01", end="2024-06")
    assert months.validate("2024-06") == date(2024, 6, 1)
    with pytest.raises(PartitionError,
                       match=r"partition 2024-07 is after the last one \(2024-06\)"):
        months.validate("2024-07")


def test_future_partitions_are_refused() -> None:
    days = daily(start="2024-01-01")
    assert days.validate("2024-05-01", today=date(2024, 5, 1)) == date(2024, 5, 1)
    with pytest.raises(PartitionError, match="partition 2024-05-02 is in the future") as info:
        days.validate("2024-05-02", today=date(2024, 5, 1))
    # the day is the app's: a user east of it, already on the 2nd, was told only the date
    assert info.value.hint == "today is 2024-05-01 in the app's time zone"


def test_a_month_that_started_mid_month_still_has_its_first_partition() -> None:
    months = monthly(start="2024-01-15")
    assert months.validate("2024-01") == date(2024, 1, 1)


def test_ranges_are_inclusive_and_cross_month_and_year_ends() -> None:
    assert daily(start="2023-01-01").range("2023-12-30", "2024-01-02") == [
        "2023-12-30", "2023-12-31", "2024-01-01", "2024-01-02"]
    assert monthly(start="2023-01").range("2023-11", "2024-02") == [
        "2023-11", "2023-12", "2024-01", "2024-02"]
    assert weekly(start="2024-01-01").range("2024-01-01", "2024-01-22") == [
        "2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]


def test_range_ends_inside_a_period_stand_for_that_period() -> None:
    assert weekly(start="2024-01-01").range("2024-01-03", "2024-01-09") == [
        "2024-01-01", "2024-01-08"]
    assert monthly(start="2024-01").range("2024-01-15", "2024-03-01") == [
        "2024-01", "2024-02", "2024-03"]


def test_a_month_as_a_range_end_stands_for_all_its_days() -> None:
    # `--to 2024-02` of a daily job stopped at 1 February
    assert daily(start="2024-01-01").range("2024-01", "2024-02")[-2:] == [
        "2024-02-28", "2024-02-29"]
    assert len(daily(start="2023-01-01").range("2023-02", "2023-02")) == 28
    assert weekly(start="2024-01-01").range("2024-01", "2024-01")[-1] == "2024-01-29"
    assert monthly(start="2024-01").range("2024-01", "2024-02") == ["2024-01", "2024-02"]


def test_backwards_ranges_are_empty_and_say_so() -> None:
    with pytest.raises(PartitionError, match=r"range 2024-01-05\.\.2024-01-01 is empty") as info:
        daily(start="2024-01-01").range("2024-01-05", "2024-01-01")
    assert "--from" in (info.value.hint or "")
    # inside one period too: it ran that month as if written the right way round
    with pytest.raises(PartitionError, match=r"range 2024-01-31\.\.2024-01-01 is empty"):
        monthly(start="2024-01").range("2024-01-31", "2024-01-01")


def test_ranges_are_validated_at_both_ends() -> None:
    days = daily(start="2024-01-01")
    with pytest.raises(PartitionError, match="before the first one"):
        days.range("2023-12-30", "2024-01-02")
    with pytest.raises(PartitionError, match="in the future"):
        days.range("2024-01-01", "2024-01-09", today=date(2024, 1, 8))
    with pytest.raises(PartitionError, match="'someday' is not a date"):
        days.range("someday", "2024-01-02")


@pytest.mark.parametrize(
    ("partitions", "today", "expected"),
    [
        (daily(start="2024-01-01"), date(2024, 3, 10), "2024-03-09"),
        (daily(start="2024-01-01"), date(2024, 1, 1), None),
        (daily(start="2024-01-01"), date(2024, 1, 2), "2024-01-01"),
        (weekly(start="2024-01-01"), date(2024, 1, 17), "2024-01-08"),
        (weekly(start="2024-01-01"), date(2024, 1, 7), None),
        (monthly(start="2024-01"), date(2024, 3, 1), "2024-02"),
        (monthly(start="2023-11"), date(2024, 1, 31), "2023-12"),
        (daily(start="2024-01-01", end="2024-01-31"), date(2024, 6, 1), "2024-01-31"),
        (weekly(start="2024-01-01", end="2024-01-10"), date(2024, 6, 1), "2024-01-08"),
    ],
)
def test_last_complete_is_the_newest_period_that_ended_before_today(partitions, today,
                                                                    expected) -> None:
    assert partitions.last_complete(today) == expected


def test_declaring_an_end_before_the_start_fails() -> None:
    with pytest.raises(DeclarationError,
                       match="daily partitions end 2023-01-01 before they start 2024-01-01"):
        daily(start="2024-01-01", end="2023-01-01")


@pytest.mark.parametrize("start", ["01/01/2024", 20240101, "20240101", "2024-W01-1"])
def test_declaring_an_invalid_start_fails_at_declaration(start: object) -> None:
    with pytest.raises(DeclarationError, match=r"daily partitions: .* is not a date"):
        daily(start=start)  # type: ignore[arg-type]


def test_dates_and_datetimes_are_accepted_as_bounds() -> None:
    from datetime import datetime

    days = daily(start=date(2024, 1, 1), end=datetime(2024, 1, 3, 12, 0))
    assert days.range("2024-01-01", "2024-01-03") == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert days.last_complete(date(2024, 2, 1)) == "2024-01-03"


@pytest.mark.parametrize(
    ("partitions", "key", "expected"),
    [
        (daily(start="2024-01-01"), None, date(2024, 1, 2)),
        (daily(start="2024-02-28"), "2024-02-28", date(2024, 3, 1)),
        (weekly(start="2024-01-03"), "2024-01-03", date(2024, 1, 17)),
        (monthly(start="2023-11"), "2023-12", date(2024, 2, 1)),
    ],
)
def test_completed_from_is_the_first_day_the_next_partition_has_ended(partitions, key,
                                                                     expected) -> None:
    assert partitions.completed_from(key) == expected
    assert partitions.last_complete(expected) != key
    assert partitions.last_complete(expected - timedelta(days=1)) == key


@pytest.mark.parametrize(
    ("end", "message", "hint"),
    [
        # read by date.fromisoformat as 1 April, where 2021/04/01 was refused
        ("20210401", "'20210401' is not a date", "write dates as YYYY-MM-DD, e.g. 2021-04-01"),
        ("2021-W13-4", "'2021-W13-4' is not a date", "write dates as YYYY-MM-DD"),
        ("2021-091", "'2021-091' is not a date", "write dates as YYYY-MM-DD"),
        ("01-04-2021", "'01-04-2021' is not a date", "write dates as YYYY-MM-DD"),
        # written as asked, yet told to "write dates as YYYY-MM-DD"
        ("2021-02-29", "'2021-02-29' is no date of the calendar", "2021-02 has 28 days"),
        ("2021-04-31", "'2021-04-31' is no date of the calendar", "2021-04 has 30 days"),
        ("2021-13-01", "'2021-13-01' is no date of the calendar", "check its month and day"),
        ("2021-13", "'2021-13' is no date of the calendar", "check its month"),
        ("2021-04-01T00:00", "is a date and a time; partitions are whole days",
         "give the date alone: 2021-04-01"),
        ("2021-04-01 10:00-04:00", "is a date and a time", "give the date alone: 2021-04-01"),
    ],
)
def test_range_ends_written_otherwise_say_how_to_write_them(end: str, message: str,
                                                            hint: str) -> None:
    with pytest.raises(PartitionError, match=re.escape(message)) as info:
        daily(start="2021-01-01").range(end, "2021-05-01")
    assert hint in (info.value.hint or "")


def test_a_range_of_29_february_in_a_leap_year_is_one_day() -> None:
    assert daily(start="2024-01-01").range("2024-02-29", "2024-02-29") == ["2024-02-29"]
    assert monthly(start="2024-01").range("2024-02-29", "2024-03-01") == ["2024-02", "2024-03"]


def test_a_range_reaching_a_period_not_ended_yet_is_refused() -> None:
    """Run mid-period, a partition held part of its data and succeeded: the schedule, which runs
    each period once it has ended, then skipped it as done. `--to 2024-03` of a monthly job was
    refused as in the future, `--to 2024-03-10` of the same month went through."""
    months, days = monthly(start="2024-01"), daily(start="2024-01-01")
    with pytest.raises(PartitionError) as info:
        months.ended_range("2024-01", "2024-03-10", today=date(2024, 3, 20))
    assert info.value.message == "partition 2024-03 has not ended yet"
    assert info.value.hint == ("today is 2024-03-20 in the app's time zone; the newest "
                               "partition that has ended is 2024-02 (run one not ended by "
                               "hand, with cauce run --partition)")
    with pytest.raises(PartitionError, match="partition 2024-03-20 has not ended yet"):
        days.ended_range("2024-03-01", "2024-03-20", today=date(2024, 3, 20))
    assert days.ended_range("2024-03-18", "2024-03-19", today=date(2024, 3, 20)) == [
        "2024-03-18", "2024-03-19"]
    assert months.ended_range("2024-01", "2024-02-10", today=date(2024, 3, 1)) == [
        "2024-01", "2024-02"]
    # a grid of partitions (the web UI's) may still end at today's
    assert days.range("2024-03-19", "2024-03-20", today=date(2024, 3, 20)) == [
        "2024-03-19", "2024-03-20"]


def test_range_ends_written_with_spaces_around_them_are_read() -> None:
    """As a job's date options are (`--from " 2024-03-01"`, pasted): before, "is not a date"."""
    assert daily(start="2024-01-01").range(" 2024-03-01", "2024-03-02\n") == [
        "2024-03-01", "2024-03-02"]
    assert monthly(start="2024-01").range("2024-01 ", " 2024-02") == ["2024-01", "2024-02"]
    assert daily(start="2024-01-01").range("2024-02-28", " 2024-02") == [
        "2024-02-28", "2024-02-29"]


def test_a_backfill_from_a_period_not_ended_without_a_last_one_says_so() -> None:
    """`--from` today and no `--to`: before, "range 2024-03-20..2024-03-19 is empty", with a
    hint about a --to never given."""
    with pytest.raises(PartitionError) as info:
        daily(start="2024-01-01").ended_range("2024-03-20", None, today=date(2024, 3, 20))
    assert info.value.message == "partition 2024-03-20 has not ended yet"
    assert (info.value.hint or "").startswith("today is 2024-03-20 in the app's time zone; the "
                                              "newest partition that has ended is 2024-03-19")
