"""Durations are written the way people write them: "10s", "5m", "1h30m", "8w"."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest
from annotated_types import Gt

from cauce import DeclarationError, Duration
from cauce.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("2d", 172_800.0),
        ("8w", 4_838_400.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
        ("30", 30.0),
        (" 10S ", 10.0),
    ],
)
def test_text_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_numbers_and_timedeltas_are_seconds() -> None:
    assert parse_duration(7) == 7.0
    assert parse_duration(0.5) == 0.5
    assert parse_duration(timedelta(minutes=2)) == 120.0


@pytest.mark.parametrize("text", ["", "ten seconds", "10x", "10s5", "s", "1h-30m", "5 m s"])
def test_text_that_is_not_a_duration_says_how_to_write_one(text: str) -> None:
    with pytest.raises(DeclarationError, match="is not a duration") as info:
        parse_duration(text, what="every")
    assert info.value.message.startswith("every:")
    assert "10s" in (info.value.hint or "")


def test_negative_durations_are_rejected() -> None:
    with pytest.raises(DeclarationError, match="is negative"):
        parse_duration(-1)
    with pytest.raises(DeclarationError, match="is negative"):
        parse_duration(timedelta(seconds=-5))


@pytest.mark.parametrize("text", ["-1s", "-1h30m", "- 5m", "-2"])
def test_negative_text_is_said_to_be_negative(text: str) -> None:
    with pytest.raises(DeclarationError, match=r"--for: '.*' is negative"):
        parse_duration(text, what="--for")


def test_a_double_minus_is_no_duration() -> None:
    with pytest.raises(DeclarationError, match="is not a duration"):
        parse_duration("--1s")


def test_how_long_to_run_is_more_than_no_time() -> None:
    assert parse_duration("0s") == 0
    with pytest.raises(DeclarationError, match=r"--for: '0s' is no time at all") as info:
        parse_duration("0s", what="--for", positive=True)
    assert info.value.hint == 'give a duration of more than 0, e.g. "30s"'


@pytest.mark.parametrize(("value", "seconds"), [("1m30s", 90.0), (2, 2.0),
                                                (timedelta(minutes=1), 60.0)])
def test_a_duration_parameter_is_seconds(value: object, seconds: float) -> None:
    from pydantic import TypeAdapter

    checked = TypeAdapter(Annotated[Duration, Gt(0)])
    assert checked.validate_python(value) == seconds
    for wrong, why in (("-1s", "'-1s' is negative"), ("0s", "greater than 0"),
                       ("soon", "'soon' is not a duration")):
        with pytest.raises(ValueError, match=why):
            checked.validate_python(wrong)


@pytest.mark.parametrize("value", ["nan", "inf", " Infinity ", "-inf", float("nan"), float("inf"),
                                   "1e400", "1e309s"])
def test_not_a_number_and_infinity_are_not_durations(value: object) -> None:
    # float() reads these words, and nan passes a "< 0" check; no wait lasts that long
    with pytest.raises(DeclarationError, match="is not a duration"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, None, [10], object()])
def test_other_types_are_not_durations(value: object) -> None:
    with pytest.raises(DeclarationError, match="is not a duration"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (1, "1s"), (90, "1m30s"), (3600, "1h"), (86_400 + 61, "1d1m1s"),
     (604_800, "7d")],
)
def test_format_duration_is_short(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_formatted_durations_parse_back() -> None:
    for seconds in (1, 59, 61, 3599, 3601, 90_061):
        assert parse_duration(format_duration(seconds)) == seconds


def test_a_moment_with_spaces_around_reads_as_an_age_with_them_does() -> None:
    # "2h " was an age, "2021-04-22 " no date ("not a date, a time or an age")
    from datetime import UTC, datetime

    from cauce.durations import parse_moment

    day = datetime(2021, 4, 22, tzinfo=UTC).timestamp()
    assert parse_moment(" 2021-04-22 ", UTC, 0.0) == parse_moment("2021-04-22", UTC, 0.0) == day
    assert parse_moment("2h ", UTC, 7200.0) == 0.0
