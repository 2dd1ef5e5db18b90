"""Durations written the way people write them: ``"10s"``, ``"5m"``, ``"1h30m"``, ``"8w"``."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from .errors import CauceError, DeclarationError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

DurationLike = str | int | float | timedelta


def parse_duration(value: DurationLike, *, what: str = "duration",
                   positive: bool = False) -> float:
    """Seconds in ``value``: a number of seconds, a timedelta, or text such as ``"1h30m"``;
    never negative, and with ``positive`` (how long to run, to wait) never 0 either."""
    if isinstance(value, bool):
        raise DeclarationError(f"{what}: {value!r} is not a duration", hint='write e.g. "30s"')
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip().lower(), what)
    else:
        raise DeclarationError(f"{what}: {value!r} is not a duration", hint='write e.g. "30s"')
    if not math.isfinite(seconds):  # float() reads "nan" and "inf"; no wait lasts that long
        raise DeclarationError(f"{what}: {value!r} is not a duration",
                               hint="write a finite number of seconds or units, e.g. \"10s\"")
    if seconds < 0:
        raise DeclarationError(f"{what}: {value!r} is negative",
                               hint='a duration is 0 or more, e.g. "30s"')
    if positive and seconds == 0:
        raise DeclarationError(f"{what}: {value!r} is no time at all",
                               hint='give a duration of more than 0, e.g. "30s"')
    return seconds


def _parse_text(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass  # not a bare number of seconds: read units below
    rest = text.removeprefix("-").lstrip()
    if rest != text and not rest.startswith("-"):  # "-1s": said to be negative
        return -_parse_text(rest, what)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise DeclarationError(
            f"{what}: {text!r} is not a duration",
            hint='use a number of seconds or units ms, s, m, h, d, w, e.g. "10s", "1h30m", "8w"',
        )
    return sum(float(n) * _UNITS[u] for n, u in parts)


class Duration(float):
    """The type of a job parameter that is a duration, given to the job as seconds: written
    ``30s``, ``5m``, ``1h30m`` or as seconds on the command line, a number or a timedelta
    from Python. Bounds apply to the seconds: ``Annotated[Duration, "how long", Gt(0)]``."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema  # when a job's options are checked

        return core_schema.no_info_plain_validator_function(cls._checked)

    @classmethod
    def _checked(cls, value: Any) -> Duration:
        try:
            return cls(parse_duration(value, what="value"))
        except CauceError as err:  # pydantic reports a ValueError as the value's problem
            raise ValueError(err.message.removeprefix("value: ")) from None


def format_duration(seconds: float) -> str:
    """A short human form: 0.25 → ``250ms``, 90 → ``1m30s``, 3600 → ``1h``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    out, rest = [], round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out)


def parse_moment(text: str | None, tz: tzinfo | None, now: float) -> float | None:
    """A moment as a timestamp, for ``--since`` / ``--until`` and the UI's filters:
    ``2021-04-22`` or ``2021-04-22T10:30`` (in ``tz``, or the machine's time zone when None),
    or an age such as ``2h`` (that long before ``now``); None for no text (no bound). Every
    date from 0001-01-01 to 9999-12-31 is one, and an age longer than history is simply long
    ago: a bound, never an error."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())  # as ages, spaces around are nothing
    except ValueError:
        try:
            return now - parse_duration(text)
        except CauceError:
            raise CauceError(f"{text!r} is not a date, a time or an age",
                             hint="use 2021-04-22, 2021-04-22T10:30 or an age like 15m, 2h, "
                             "1d") from None
    if moment.tzinfo is None and tz is not None:
        moment = moment.replace(tzinfo=tz)
    try:
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        # the machine's zone cannot place a moment at the very ends of the calendar (its
        # offset would push it past year 1 or 9999): there, read it in UTC
        return moment.replace(tzinfo=UTC).timestamp()
