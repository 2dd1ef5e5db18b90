"""Census: full load of both Adult files into SQLite, cauce's census app against pandas.

The census side is `cauce run census load --all`: read both files, validate every record
(types, listed values, field count), flag duplicates, create the typed table (STRICT, CHECK
constraints, primary key) and the views, write valid rows and quarantined lines and move the
checkpoint in one transaction. The peer is the original's "super easy" approach: pandas
`read_csv` of both files and `to_sql` into SQLite with no cleaning, run two ways: as the
original wrote it (1,630-row appends taken from the tail, without its 10 s sleep) and as a
single `to_sql` call. Each repetition writes a fresh database file; the figure is the median.

    .venv/bin/python benchmarks/census_load.py [--data ../shared/data/census] [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cauce import Runtime
from cauce.apps.census import app, load

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "census"
NAMES = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
    "native-country", "class",
]
CHUNK = 1630


def cauce_census(files: list[Path], database: Path) -> float:
    """`cauce run census load --all` on a fresh database, checked for the expected counts.

    Timed: the run (read, validate, create tables and views, write, checkpoint, run records);
    not timed: opening the in-process runtime, which `cauce run` does once at start-up.
    """
    settings = {"db": f"sqlite:///{database}", "source": [str(f) for f in files]}
    with Runtime(app, settings=settings, home=database.parent / "home") as runtime:
        start = time.perf_counter()
        run = runtime.run(load, all=True)
        elapsed = time.perf_counter() - start
    if run.error or not run.result:
        raise SystemExit(f"the census load failed: {run.error}")
    total = run.result["total"]
    if (total["read"], total["loaded"], total["quarantined"]) != (48_842, 48_837, 5):
        raise SystemExit(f"unexpected counts: {total}")
    return elapsed


def pandas_frames(files: list[Path]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(f, names=NAMES) for f in files])


def pandas_super_easy(files: list[Path], database: Path) -> float:
    """The original's loop: append the last 1,630 rows, drop them, repeat (no sleep)."""
    start = time.perf_counter()
    connection = sqlite3.connect(database)
    # The original drops by index label, and after concat the labels of the two files repeat,
    # so each drop also removes rows that were never written: it writes 32,561 of the 48,843
    # rows it reads (the comment line of Adult.test is one of them). Unique labels make it
    # write every row, so both sides write the whole files.
    frame = pandas_frames(files).reset_index(drop=True)
    while len(frame) > 0:
        tail = frame.tail(CHUNK)
        tail.to_sql("df", con=connection, index=False, if_exists="append")
        frame = frame.drop(tail.index)
    connection.close()
    return time.perf_counter() - start


def pandas_one_call(files: list[Path], database: Path) -> float:
    """Both files in one `to_sql` call: the fastest form of the same approach."""
    start = time.perf_counter()
    connection = sqlite3.connect(database)
    pandas_frames(files).to_sql("df", con=connection, index=False)
    connection.close()
    return time.perf_counter() - start


def timed(work: Callable[[list[Path], Path], float], files: list[Path], folder: Path) -> float:
    folder.mkdir(parents=True)
    return work(files, folder / "target.db")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    files = [args.data / "Adult.data", args.data / "Adult.test"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}; pass --data with the census folder")
    contenders = {
        "cauce census load --all": cauce_census,
        "pandas super easy (1,630-row appends)": pandas_super_easy,
        "pandas one to_sql": pandas_one_call,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory(prefix="census-bench-") as scratch:
        for repetition in range(args.repeat + 1):  # the first round warms caches, not counted
            for index, (name, work) in enumerate(contenders.items()):
                elapsed = timed(work, files, Path(scratch) / f"{repetition}-{index}")
                if repetition:
                    times[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = medians["cauce census load --all"]
    print(f"census load benchmark, {datetime.date.today()}, Python {platform.python_version()}, "
          f"pandas {pd.__version__}, median of {args.repeat}")
    for name, median in medians.items():
        ratio = "" if median is ours else f"  ({median / ours:.1f}x the census load)"
        print(f"  {name:<40} {median * 1000:8.0f} ms{ratio}")


if __name__ == "__main__":
    main()
