"""The 10-second schedule on the simulated clock: 30 runs of 1,630 records, then idle."""

from __future__ import annotations

from itertools import pairwise

from cauce.apps.census import app, load, target
from cauce.testing import TestRuntime


def test_thirty_runs_every_ten_seconds_then_the_schedule_pauses(tmp_path, full_synthetic):
    settings = {"db": f"sqlite:///{tmp_path / 'census.db'}",
                "source": [str(f.path) for f in full_synthetic]}
    with TestRuntime(app, settings=settings, start="2024-03-01T09:00:00") as rt:
        rt.advance("4m55s")
        runs = rt.runs(job=load)
        assert len(runs) == 29
        rt.advance("5s")
        runs = rt.runs(job=load)
        assert len(runs) == 30
        assert all(run.error is None for run in runs)
        reads = [run.result["chunk"]["read"] for run in runs]
        assert reads == [1630] * 29 + [1572]
        assert runs[-1].result["done"] and not runs[-2].result["done"]
        started = [run.started_at for run in runs]
        assert {(b - a).total_seconds() for a, b in pairwise(started)} == {10.0}
        rt.advance("10m")
        assert len(rt.runs(job=load)) == 30  # paused: idle ever after
        loaded = target.query('SELECT COUNT(*) FROM "adult"').column(0)[0].as_py()
        assert loaded == 48_842 - sum(len(f.injections) for f in full_synthetic)
