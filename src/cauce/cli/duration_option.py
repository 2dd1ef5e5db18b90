"""Options that take a duration (`--for 30s`, `--grace 1m`, `--older-than 30d`, a job's
`Duration` parameter): read by the one duration parser, a value it refuses is a usage error
(exit status 2) before anything starts, not a failed run. The options built per app and job
use `options.DurationOption`, which asks `refusal` too."""

from __future__ import annotations

from typing import Any

import typer

from ..durations import parse_duration
from ..errors import CauceError


def refusal(value: Any, *, positive: bool) -> str | None:
    """Why ``value`` is no duration an option takes, with what to write; None when it is one.
    ``positive`` refuses 0 too, for how long to run or how old."""
    try:
        parse_duration(value, what="value", positive=positive)
    except CauceError as err:
        return f"{err.message.removeprefix('value: ')}; {err.hint}"
    return None


def positive_duration(value: str) -> str:
    """How long or how old, as a typer parser (typer raises its own click's errors) for the
    options of the fixed commands."""
    why = refusal(value, positive=True)
    if why is not None:
        raise typer.BadParameter(why)
    return value
