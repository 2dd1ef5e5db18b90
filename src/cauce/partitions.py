"""Time partitions: a job run per day, week or month, named by the period's first date.

A partitioned job is idempotent per partition; backfills run a range of them. Keys are
``YYYY-MM-DD`` for days and weeks (the week's first day) and ``YYYY-MM`` for months.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .errors import DeclarationError, PartitionError

# a key written the right way whatever its numbers (`2021-02-30`), and what to check in one
# that is no date of the calendar
_MONTH_SHAPE = (re.compile(r"\d{4}-\d{2}", re.ASCII), "its month")
_DAY_SHAPE = (re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII), "its month and day")


@dataclass(frozen=True)
class Partitions:
    """A range of periods of one size, from ``start`` to ``end`` (inclusive, open if None)."""

    unit: str
    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise DeclarationError(f"{self.unit} partitions end {self.end} "
                                   f"before they start {self.start}")

    # -- keys ---------------------------------------------------------------------------
    def key(self, day: date) -> str:
        """The key of the partition holding ``day``."""
        return self._format(self._period_start(day))

    def parse(self, key: str) -> date:
        """The first day of partition ``key``; PartitionError when malformed or misaligned.

        Only the one spelling `key` gives is a key: ``20210422``, ``2021-W16-4`` or ``2021-4``
        name the same period, and as keys of their own they would be a second partition of
        it (run again, not skipped by a backfill)."""
        try:
            if self.unit == "monthly":
                first = datetime.strptime(key, "%Y-%m").date()
            else:
                first = date.fromisoformat(key)
        except (ValueError, TypeError):
            first = None
        if first is None or self._format(first) != key:
            example = "2021-04" if self.unit == "monthly" else "2021-04-22"
            shape, parts = _MONTH_SHAPE if self.unit == "monthly" else _DAY_SHAPE
            if isinstance(key, str) and shape.fullmatch(key):
                raise PartitionError(f"{key!r} is no date of the calendar",
                                     hint=f"{_calendar_hint(key, parts)} (keys are written "
                                     f"like {example})")
            raise PartitionError(
                f"{key!r} is not a {self.unit} partition key", hint=f"write it like {example}"
            )
        if self._period_start(first) != first:
            raise PartitionError(
                f"{key!r} is not the start of a {self.unit} partition",
                hint=f"the nearest one is {self.key(first)}",
            )
        return first

    def validate(self, key: str, today: date | None = None) -> date:
        """Parse ``key`` and check it lies in the declared range (and not after ``today``)."""
        first = self.parse(key)
        if first < self._period_start(self.start):
            raise PartitionError(
                f"partition {key} is before the first one ({self.key(self.start)})",
                hint=f"partitions start at {self.key(self.start)}",
            )
        if self.end is not None and first > self.end:
            raise PartitionError(
                f"partition {key} is after the last one ({self.key(self.end)})",
                hint=f"partitions end at {self.key(self.end)}",
            )
        if today is not None and first > today:
            raise PartitionError(f"partition {key} is in the future",
                                 hint=f"today is {today} in the app's time zone")
        return first

    def range(self, first: str, last: str, today: date | None = None) -> list[str]:
        """Every key from ``first`` to ``last`` inclusive, each validated. A month
        (``2021-02``) stands for all its days: as ``last``, for its last one."""
        begin, end = _as_date(first), _as_date(last)
        if isinstance(last, str) and len(last.strip()) == 7:  # the month's last day
            end = end.replace(day=calendar.monthrange(end.year, end.month)[1])
        lo = self.validate(self.key(begin), today)
        hi = self.validate(self.key(end), today)
        if end < begin:  # backwards, if inside one period too (--from 2024-01-31 --to 2024-01-01)
            raise PartitionError(f"range {first}..{last} is empty",
                                 hint="the first partition must come before the last "
                                 "(--from before --to)")
        keys, cur = [], lo
        while cur <= hi:
            keys.append(self._format(cur))
            cur = self._next(cur)
        return keys

    def last_complete(self, today: date) -> str | None:
        """The newest partition that has fully ended before ``today`` (None if none has)."""
        current = self._period_start(today)
        previous = self._period_start(current - timedelta(days=1))
        if previous < self._period_start(self.start):
            return None
        if self.end is not None and previous > self.end:
            previous = self._period_start(self.end)
        return self._format(previous)

    def ended_range(self, first: str, last: str | None, today: date) -> list[str]:
        """`range` for a backfill: up to ``last`` (None: the newest partition that has ended),
        every partition of it ended before ``today``. Run before its period ends, a partition
        would hold part of it and, succeeded, be skipped by the schedule that runs it once it
        has ended."""
        if last is None:
            last = self.newest_ended(today)
            # from a period not ended: said so, not as a range the wrong way round
            self._check_ended(self.validate(self.key(_as_date(first)), today), today)
        keys = self.range(first, last, today)
        self._check_ended(self.parse(keys[-1]), today)
        return keys

    def _check_ended(self, period: date, today: date) -> None:
        if self._next(period) > today:
            newest = self.last_complete(today)
            raise PartitionError(
                f"partition {self._format(period)} has not ended yet",
                hint=f"today is {today} in the app's time zone; "
                + (f"the newest partition that has ended is {newest}" if newest is not None
                   else "no partition has ended yet")
                + " (run one not ended by hand, with cauce run --partition)")

    def newest_ended(self, today: date) -> str:
        """The newest partition that has ended before ``today`` (where a backfill given no last
        one stops); PartitionError saying why when none has."""
        newest = self.last_complete(today)
        if newest is None:
            period = {"daily": "day", "weekly": "week", "monthly": "month"}[self.unit]
            raise PartitionError(f"no {self.unit} partition has ended yet",
                                 hint=f"the first one, {self.key(self.start)}, ends with its "
                                 f"{period}; today is {today} in the app's time zone")
        return newest

    def completed_from(self, key: str | None) -> date:
        """The first day on which the partition after ``key`` (the first one when None) has
        ended: from that day on, `last_complete` is that partition or a later one."""
        first = self._period_start(self.start) if key is None else self._next(self.parse(key))
        return self._next(first)

    # -- period arithmetic --------------------------------------------------------------
    def _period_start(self, day: date) -> date:
        if self.unit == "daily":
            return day
        if self.unit == "weekly":
            return day - timedelta(days=(day.weekday() - self.start.weekday()) % 7)
        return day.replace(day=1)

    def _next(self, first: date) -> date:
        if self.unit == "daily":
            return first + timedelta(days=1)
        if self.unit == "weekly":
            return first + timedelta(days=7)
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1)

    def _format(self, first: date) -> str:
        return first.strftime("%Y-%m") if self.unit == "monthly" else first.isoformat()


def _as_date(value: str | date) -> date:
    """A date written ``YYYY-MM-DD`` (or a month, ``YYYY-MM``, standing for its first day).

    Only those spellings: ``date.fromisoformat`` also reads ``20210401``, ``2021-W13-4`` and
    ``2021-091``, so ``--from 2021-091`` was a backfill from 1 April while ``2021/04/01`` was
    refused."""
    if isinstance(value, datetime):  # a datetime is a date too, but does not compare with one
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        value = value.strip()  # as a job's date options are read: a pasted " 2024-03-01"
        shape = _MONTH_SHAPE if len(value) == 7 else _DAY_SHAPE
        if shape[0].fullmatch(value):
            try:
                if len(value) == 7:
                    return datetime.strptime(value, "%Y-%m").date()
                return date.fromisoformat(value)
            except ValueError:
                raise PartitionError(f"{value!r} is no date of the calendar",
                                     hint=_calendar_hint(value, shape[1])) from None
        if _DAY_SHAPE[0].match(value) and _has_time(value):
            raise PartitionError(f"{value!r} is a date and a time; partitions are whole "
                                 "days, weeks or months", hint=f"give the date alone: "
                                 f"{value[:10]}")
    raise PartitionError(f"{value!r} is not a date",
                         hint="write dates as YYYY-MM-DD, e.g. 2021-04-01")


def _calendar_hint(value: str, parts: str) -> str:
    """How many days the month of a day that is none has (``2021-02-29``: 28)."""
    year, month = int(value[:4]), int(value[5:7])
    if len(value) == 7 or not 1 <= month <= 12 or year == 0:
        return f"check {parts}"
    return f"{value[:7]} has {calendar.monthrange(year, month)[1]} days"


def _has_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _declared(unit: str, start: str | date, end: str | date | None) -> Partitions:
    try:
        first = _as_date(start)
        last = _as_date(end) if end is not None else None
    except PartitionError as err:
        raise DeclarationError(f"{unit} partitions: {err.message}", hint=err.hint) from None
    return Partitions(unit, first, last)


def daily(start: str | date, end: str | date | None = None) -> Partitions:
    """One partition per day from ``start`` (``"2020-01-01"``); keys ``YYYY-MM-DD``."""
    return _declared("daily", start, end)


def weekly(start: str | date, end: str | date | None = None) -> Partitions:
    """One partition per week; weeks begin on ``start``'s weekday; keys are their first day."""
    return _declared("weekly", start, end)


def monthly(start: str | date, end: str | date | None = None) -> Partitions:
    """One partition per calendar month; keys ``YYYY-MM``."""
    return _declared("monthly", start, end)
