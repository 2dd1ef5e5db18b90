"""A backfill reads its job's queue a few times a turn, whatever the number of partitions: it
asked the queue about each partition still running, each a pass over the queue, so 4,000
partitions took two minutes and 18,000 did not end in an hour."""

from __future__ import annotations

from pathlib import Path

import pytest

from cauce import App, Runtime, daily
from cauce.runtime.backfill import backfill
from cauce.runtime.dispatcher import Dispatcher


def test_a_backfill_reads_its_queue_a_few_times_a_turn_not_once_a_partition(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = App("refill")
    app.job(partitions=daily(start="2023-01-01"), name="per-day")(lambda ctx: None)
    counts = {"reads": 0, "turns": 0}
    pump = Dispatcher.pump

    def counted_pump(self: Dispatcher) -> int:
        counts["turns"] += 1
        return pump(self)

    monkeypatch.setattr(Dispatcher, "pump", counted_pump)
    with Runtime(app, home=tmp_path / "home") as runtime:
        queues = runtime.state.queues
        for name in ("holds", "text_values"):
            def counted(*args, _read=getattr(queues, name), **kwargs):
                counts["reads"] += 1
                return _read(*args, **kwargs)
            monkeypatch.setattr(queues, name, counted)
        report = backfill(runtime, app.jobs["per-day"], "2023-01-01", "2023-12-31", parallel=2)
    assert len(report.succeeded) == 365
    assert counts["reads"] <= 2 * counts["turns"] + 1, counts
