"""When a scheduled job fires: cron expressions (5 fields, or 6 with seconds first) or intervals.

Cron is evaluated in the app's time zone, so ``0 3 * * *`` means 03:00 in Santiago across
daylight-saving changes; times are stored in UTC. A set time that a DST change skips runs at
the first moment after the gap; one that it repeats runs once.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .durations import format_duration, parse_duration
from .errors import DeclarationError

MIN_INTERVAL = 0.01  # seconds: the shortest every= a schedule keeps

# The nicknames cron implementations share (Vixie cron, cronie, systemd's OnCalendar, Airflow),
# read as the expressions they stand for; "@reboot" names no time and is refused.
CRON_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class Schedule(ABC):
    """Something that knows the next fire time strictly after a given instant."""

    @property
    @abstractmethod
    def spec(self) -> str:
        """A stable text form, stored with the schedule's state to notice changes."""

    @abstractmethod
    def next_after(self, timestamp: float) -> float:
        """The first fire time strictly after ``timestamp`` (epoch seconds)."""


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """A cron expression; six fields means the first one is seconds. A nickname (``@daily``)
    is kept as written and read as the expression it stands for."""

    expression: str
    timezone: str

    def __post_init__(self) -> None:
        from croniter import croniter  # imported by the apps that declare a cron schedule

        if self.expression.strip().startswith("@"):
            self._check_nickname()
        fields = self.fields.split()
        if len(fields) not in (5, 6) or not croniter.is_valid(
            self.fields, second_at_beginning=len(fields) == 6
        ):
            raise DeclarationError(
                f"invalid cron expression {self.expression!r}",
                hint='use 5 fields (min hour day month weekday) or 6 with seconds first, '
                'e.g. "*/10 * * * * *"',
            )
        self._check_it_fires()

    @property
    def fields(self) -> str:
        """The expression in fields: a nickname's expansion, or the expression itself."""
        return CRON_NICKNAMES.get(self.expression.strip().lower(), self.expression)

    def _check_nickname(self) -> None:
        if self.expression.strip().lower() in CRON_NICKNAMES:
            return
        raise DeclarationError(
            f"unknown cron nickname {self.expression.strip()!r}",
            hint="a schedule fires at times; use one of "
            + ", ".join(sorted(set(CRON_NICKNAMES))) + ', or 5 fields such as "0 3 * * *"'
            + ("; work to do once when `cauce serve` starts is @app.job(run_at_start=True)"
               if self.expression.strip().lower() == "@reboot" else ""),
        )

    def _check_it_fires(self) -> None:
        """Refuse a valid expression that names no day of the calendar ("0 0 30 2 *"): its next
        fire time cannot be found, which stopped `serve` and `cauce schedules` at their start."""
        from croniter import CroniterBadDateError

        try:
            self.next_after(0.0)
        except CroniterBadDateError:
            raise DeclarationError(
                f"cron expression {self.expression!r} never fires",
                hint="its day of the month is in none of its months (30 or 31 February, "
                '31 April…); give days every month has, e.g. "0 0 28 2 *"',
            ) from None

    @property
    def spec(self) -> str:
        return f"cron {self.fields} {self.timezone}"

    def next_after(self, timestamp: float) -> float:
        from croniter import croniter

        tz = ZoneInfo(self.timezone)
        expression = self.fields
        six = len(expression.split()) == 6
        # When clocks go back an hour, wall times in that hour happen twice. A job at a set
        # hour ("30 23 * * *") runs once, at the first of them, as cron does; a job for every
        # hour keeps running on real time through the repeated hour, however its hours are
        # written ("*", "*/1", "0-23": croniter reads them all as "*", hours' index 1).
        moment = timestamp
        while True:
            start = datetime.fromtimestamp(moment, tz)
            cron = croniter(expression, start, second_at_beginning=six)
            moment = float(cron.get_next(float))
            if cron.expanded[1] == ["*"] or not _repeated_wall_time(moment, tz):
                return moment


def _repeated_wall_time(timestamp: float, tz: ZoneInfo) -> bool:
    """True for the second occurrence of a local time that a DST change made happen twice."""
    local = datetime.fromtimestamp(timestamp, tz)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    """Every ``seconds``, on multiples of the interval since the epoch (so restarts keep step)."""

    seconds: float

    @property
    def spec(self) -> str:
        # the short form rounds to whole seconds (1.5 s read "every 2s", and a change from
        # 1.5 s to 2 s went unnoticed): the seconds themselves when it would
        short = format_duration(self.seconds)
        exact = parse_duration(short, what="every") == self.seconds
        return f"every {short}" if exact else f"every {self.seconds:g}s"

    def next_after(self, timestamp: float) -> float:
        return (math.floor(timestamp / self.seconds + 1e-9) + 1) * self.seconds


def make_schedule(*, cron: str | None, every: object, timezone: str) -> Schedule | None:
    """The schedule for ``cron`` or ``every`` (an interval of 0 means no schedule)."""
    if cron is not None and every is not None:
        raise DeclarationError("a job takes schedule= or every=, not both")
    if cron is not None:
        return CronSchedule(cron, timezone)
    if every is None:
        return None
    seconds = parse_duration(every, what="every")  # type: ignore[arg-type]
    if 0 < seconds < MIN_INTERVAL:
        # ticks closer than a serving loop's turn cannot be kept; below a microsecond or so
        # they are not even told apart (epoch seconds over the interval pass 2**53), and a
        # serve fired its job and said "tick skipped" thousands of times a second
        raise DeclarationError(f"every: {every!r} is shorter than "
                               f"{format_duration(MIN_INTERVAL)}",
                               hint=f'a schedule ticks at most every '
                               f'{format_duration(MIN_INTERVAL)}, e.g. every="100ms"; '
                               "0 turns it off")
    return IntervalSchedule(seconds) if seconds > 0 else None
