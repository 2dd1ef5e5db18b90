"""Census: full load of both Adult files into SQLite, cauce's census app against pandas.

The census side is `cauce run census load --all`: read both files, validate every record
(types, listed values, field count), flag duplicates, create the typed table (STRICT, CHECK
constraints, primary key) and the views, write valid rows and quarantined lines and move the
checkpoint in one transaction. The peer is the original's "super easy" approach: pandas
`read_csv` of both files and `to_sql` into SQLite with no cleaning, run three ways:

- the original's loop exactly as written, without its 10 s sleep. Each round drops the last
  1,630 index labels and then appends the whole *remaining* frame, so it writes 382,147 rows
  (the early rows up to 20 times) and never the last ones; it is timed as the published code,
  not as a fair peer;
- that loop corrected to append each 1,630-row tail once, so every row is written once;
- one `to_sql` call for both files: the fastest form of the approach.

A last row measures the floor under any SQLite load driven from Python: the census load's
48,837 final rows, already built as Python tuples before the clock starts, inserted into a
table with no types or constraints in 64-row VALUES statements and committed. Nothing is read
or checked; it bounds how fast a load can be here, whatever it does before the insert.

Each repetition writes a fresh database file; the figure is the median, and the rows each
contender wrote are printed beside it.

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


def pandas_as_written(files: list[Path], database: Path) -> float:
    """The original's loop as published: drop the tail's labels, append what is left."""
    start = time.perf_counter()
    connection = sqlite3.connect(database)
    frame = pandas_frames(files)
    while len(frame) > 0:
        frame = frame.drop(frame.tail(CHUNK).index)
        frame.to_sql("df", con=connection, index=False, if_exists="append")
    connection.close()
    return time.perf_counter() - start


def pandas_corrected_loop(files: list[Path], database: Path) -> float:
    """The loop corrected: append the last 1,630 rows, drop them, repeat (no sleep)."""
    start = time.perf_counter()
    connection = sqlite3.connect(database)
    # After concat the two files' index labels repeat, so dropping by label would also drop
    # rows never written; unique labels make the loop write every row exactly once.
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


_PREBUILT: list[tuple] = []


def sqlite_insert_floor(files: list[Path], database: Path) -> float:
    """Insert the census rows, prebuilt untimed, into an unconstrained table, and commit."""
    if not _PREBUILT:
        reference = database.parent / "reference"
        reference.mkdir()
        cauce_census(files, reference / "census.db")
        connection = sqlite3.connect(reference / "census.db")
        _PREBUILT.extend(connection.execute('SELECT * FROM "adult"').fetchall())
        connection.close()
    width = len(_PREBUILT[0])
    start = time.perf_counter()
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"CREATE TABLE floor ({', '.join(f'c{i}' for i in range(width))})")
    connection.execute("BEGIN")
    row = "(" + ", ".join("?" * width) + ")"
    for first in range(0, len(_PREBUILT), 64):
        rows = _PREBUILT[first:first + 64]
        connection.execute(
            f"INSERT INTO floor VALUES {', '.join([row] * len(rows))}",
            [value for values in rows for value in values],
        )
    connection.execute("COMMIT")
    connection.close()
    return time.perf_counter() - start


def rows_written(database: Path) -> int:
    """Rows in the contender's table (`adult` for cauce, `df` for pandas, `floor`)."""
    connection = sqlite3.connect(database)
    try:
        [table] = connection.execute(
            "SELECT name FROM sqlite_master"
            " WHERE type = 'table' AND name IN ('adult', 'df', 'floor')"
        ).fetchone()
        return connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    finally:
        connection.close()


def timed(
    work: Callable[[list[Path], Path], float], files: list[Path], folder: Path
) -> tuple[float, int]:
    folder.mkdir(parents=True)
    elapsed = work(files, folder / "target.db")
    return elapsed, rows_written(folder / "target.db")


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
        "pandas, the original's loop as written": pandas_as_written,
        "pandas, the loop corrected (1,630-row appends)": pandas_corrected_loop,
        "pandas, one to_sql": pandas_one_call,
        "floor: insert prebuilt rows, nothing else": sqlite_insert_floor,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    written: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="census-bench-") as scratch:
        for repetition in range(args.repeat + 1):  # the first round warms caches, not counted
            for index, (name, work) in enumerate(contenders.items()):
                folder = Path(scratch) / f"{repetition}-{index}"
                elapsed, written[name] = timed(work, files, folder)
                if repetition:
                    times[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = medians["cauce census load --all"]
    print(f"census load benchmark, {datetime.date.today()}, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, pandas {pd.__version__}, median of {args.repeat}")
    for name, median in medians.items():
        ratio = "" if median is ours else f"  {median / ours:5.1f}x the census load's time"
        print(f"  {name:<48} {median * 1000:7.0f} ms  {written[name]:>8,} rows{ratio}")


if __name__ == "__main__":
    main()
