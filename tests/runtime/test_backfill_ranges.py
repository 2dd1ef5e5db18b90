"""A backfill's range as people give it: with no last partition it runs up to the newest one
that has ended."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cauce import App, PartitionError, Runtime, daily
from cauce.clock import SimulatedClock
from cauce.runtime.backfill import backfill


def _app() -> App:
    app = App("refill", timezone="America/Santiago")
    app.job(partitions=daily(start="2024-03-01"), name="per-day")(lambda ctx: ctx.partition)
    return app


def _at(app: App, moment: str) -> SimulatedClock:
    return SimulatedClock(datetime.fromisoformat(moment).replace(tzinfo=app.tz).timestamp())


def test_a_backfill_without_a_last_partition_runs_up_to_the_newest_that_has_ended(
    tmp_path: Path,
) -> None:
    app = _app()
    # 00:30 on 5 March in Santiago (03:30 UTC): the 4th has ended there, the 5th has not
    with Runtime(app, home=tmp_path / "home", clock=_at(app, "2024-03-05T00:30")) as runtime:
        report = backfill(runtime, app.jobs["per-day"], "2024-03-02", None)
    assert report.succeeded == ["2024-03-02", "2024-03-03", "2024-03-04"]


def test_a_backfill_without_a_last_partition_when_none_has_ended(tmp_path: Path) -> None:
    app = _app()
    with (
        Runtime(app, home=tmp_path / "home", clock=_at(app, "2024-03-01T12:00")) as runtime,
        pytest.raises(PartitionError) as info,
    ):
        backfill(runtime, app.jobs["per-day"], "2024-03-01", None)
    assert info.value.message == "no daily partition has ended yet"
    assert info.value.hint == (
        "the first one, 2024-03-01, ends with its day; today is 2024-03-01 in the app's time zone"
    )
