"""Census: the critical path of one `load --all`, step by step.

Wraps the steps of a census load (fetching the files, the Description, splitting the lines,
opening the connection, the checkpoint, DDL, each batch's check and insert, commit, close,
the report) in `perf_counter` marks, runs `cauce run census load --all` on a fresh SQLite
file `--repeat` times after a warm-up, and prints, per step, the median start and end (ms from
the start of `Runtime.run`), its median duration and the thread it ran in. Steps that run more
than once in a load (batches) are numbered in call order.

    python benchmarks/census_timeline.py [--data ../shared/data/census] [--repeat 7]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from census_load import DEFAULT_DATA

from cauce import Runtime
from cauce.apps import census
from cauce.apps.census import app, load
from cauce.apps.census import loader as census_loader
from cauce.warehouse import base, sqlite

Marks = list[tuple[str, str, float, float]]  # step, thread, start, end

_marks: Marks = []
_calls: dict[str, int] = defaultdict(int)


def _wrap(owner: Any, attribute: str, label: str) -> None:
    """Replace `owner.attribute` by the same callable, timed as `label`."""
    original: Callable[..., Any] = getattr(owner, attribute)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        _calls[label] += 1
        name = f"{label} #{_calls[label]}" if _calls[label] > 1 else label
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _marks.append((name, threading.current_thread().name, start, time.perf_counter()))

    setattr(owner, attribute, timed)


STEPS = [
    (census, "_fetch", "fetch + sha256 a file"),
    (census, "_description", "Description"),
    (census, "_log_report", "log report"),
    (census_loader, "load_chunk", "load_chunk (all)"),
    (census_loader, "read_lines", "split a file's lines"),
    (census_loader, "next_chunk", "next chunk"),
    (census_loader, "prepare", "DDL and views"),
    (census_loader, "_refuse_unknown_rows", "count existing rows"),
    (census_loader, "_checked", "check batch"),
    (sqlite.SQLiteBackend, "_open", "open connection"),
    (sqlite.SQLiteSession, "begin", "begin"),
    (sqlite.SQLiteSession, "commit", "commit"),
    (sqlite._Connection, "close", "close connection"),
    (base.Transaction, "checkpoint", "read checkpoint"),
    (base.Transaction, "set_checkpoint", "set checkpoint"),
    (base.Transaction, "load", "insert batch"),
]


def one_run(files: list[Path], folder: Path) -> tuple[float, Marks]:
    """One load on a fresh database: its wall time and its marks, relative to its start."""
    _marks.clear()
    _calls.clear()
    settings = {"db": f"sqlite:///{folder / 'census.db'}", "source": [str(f) for f in files]}
    with Runtime(app, settings=settings, home=folder / "home") as runtime:
        start = time.perf_counter()
        run = runtime.run(load, all=True)
        end = time.perf_counter()
    if run.error:
        raise SystemExit(f"the census load failed: {run.error}")
    return end - start, [(n, t, s - start, e - start) for n, t, s, e in _marks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for owner, attribute, label in STEPS:
        _wrap(owner, attribute, label)
    files = [args.data / "Adult.data", args.data / "Adult.test"]
    totals: list[float] = []
    steps: dict[str, list[tuple[float, float]]] = defaultdict(list)
    threads: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="census-timeline-") as scratch:
        for repetition in range(args.repeat + 1):
            total, marks = one_run(files, Path(scratch) / str(repetition))
            if repetition:  # the first run warms caches
                totals.append(total)
                for name, thread, start, end in marks:
                    steps[name].append((start, end))
                    threads[name] = thread
    print(f"census load --all, median of {args.repeat}: {statistics.median(totals) * 1000:.1f} ms")
    print(f"{'from':>7} {'to':>7} {'takes':>6}  step (thread)")
    ordered = sorted(steps.items(), key=lambda item: statistics.median(s for s, _ in item[1]))
    for name, spans in ordered:
        start = statistics.median(s for s, _ in spans) * 1000
        end = statistics.median(e for _, e in spans) * 1000
        took = statistics.median(e - s for s, e in spans) * 1000
        print(f"{start:7.1f} {end:7.1f} {took:6.1f}  {name} ({threads[name]})")


if __name__ == "__main__":
    main()
