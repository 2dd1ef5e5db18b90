"""Backfills on a Dask cluster beside the same backfills here, in the same run.

Two workloads, each a fresh home per repetition:

- **overhead**: the example app's ``daily-summary`` (and ``publish-summary`` after it) over
  ``--days`` partitions, jobs that do almost nothing, so the figure is what a run costs to
  claim, ship, execute and settle: local worker threads against a Dask ``LocalCluster`` of two
  single-threaded worker processes, both at ``--parallel 2``;
- **transit**: three tiny synthetic transit days (``adatrap``, a ``worker="process"`` job):
  a child process per day here against the same cluster.

The cluster is started once, before the rounds (its start-up is reported on its own). Figures
are medians; the ratios are of medians in this run, so a busy machine slows both alike.

    .venv/bin/python benchmarks/dask_backfill.py [--days 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from distributed import LocalCluster

from cauce import Runtime
from cauce.apps.example import app as example
from cauce.apps.transit import app as transit
from cauce.runtime.backfill import backfill

FIRST = "2024-01-01"
TRANSIT_DAYS = ["2021-04-22", "2021-04-23", "2021-04-24"]


def overhead(days: int, executor: str) -> float:
    with tempfile.TemporaryDirectory() as folder, Runtime(
            example, home=Path(folder), executor=executor, role="backfill") as rt:
        job = example.get_job("daily-summary")
        last = job.partitions.range(FIRST, "2024-12-31", rt.today())[days - 1]
        started = time.perf_counter()
        report = backfill(rt, job, FIRST, last, parallel=2)
        seconds = time.perf_counter() - started
        assert report.ok and len(report.succeeded) == days, report.failed
        return seconds


def transit_days(inputs: Path, executor: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(shutil.copytree(inputs, Path(folder) / "home"))
        with Runtime(transit, home=home, executor=executor, role="backfill") as rt:
            started = time.perf_counter()
            report = backfill(rt, transit.get_job("adatrap"), TRANSIT_DAYS[0], TRANSIT_DAYS[-1],
                              parallel=2)
            seconds = time.perf_counter() - started
            assert report.ok, report.failed
            return seconds


def median(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} cores")
    started = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, tempfile.TemporaryDirectory() as work:
        print(f"LocalCluster of 2 processes started in {time.perf_counter() - started:.1f} s")
        dask = cluster.scheduler_address.replace("tcp://", "dask://")
        overhead(2, dask)  # warm the workers: import cauce and open the home once
        local_s = median(args.repeat, lambda: overhead(args.days, "local"))
        dask_s = median(args.repeat, lambda: overhead(args.days, dask))
        print(f"overhead, {args.days} partitions (+ the job after each): local "
              f"{local_s:.2f} s ({local_s / args.days * 1000:.0f} ms/partition), dask "
              f"{dask_s:.2f} s ({dask_s / args.days * 1000:.0f} ms/partition), "
              f"dask/local {dask_s / local_s:.2f}")
        inputs = Path(work) / "inputs"
        with Runtime(transit, home=inputs) as rt:
            for day in TRANSIT_DAYS:
                assert rt.run("synth", scale="tiny", date=day).succeeded
        transit_days(inputs, dask)  # warm: the workers import the transit engine
        local_t = median(args.repeat, lambda: transit_days(inputs, "local"))
        dask_t = median(args.repeat, lambda: transit_days(inputs, dask))
        print(f"transit, 3 tiny days: local (a process per day) {local_t:.2f} s, dask "
              f"{dask_t:.2f} s, dask/local {dask_t / local_t:.2f}")
    print(f"load after: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
