"""Opendata: CSV profiling speed, cauce's DuckDB profiler against Python's csv module and pandas.

A 1 GB SECOP-like contracts CSV (31 columns, the real field names, SODA wire format) is written
under a temporary folder. cauce's `profile_csv` profiles it whole: SHA-256, size, rows, and per
column the inferred type, nulls, distinct estimate and min/max, plus duplicate rows. It runs with
DuckDB limited to one thread (the per-core figure) and with every core.

The peers compute the same profile naively on a prefix of the same file (they are too slow for the
whole gigabyte): the `csv` module row by row (sets for distinct values, float()/fromisoformat()
tries for types) and pandas (`read_csv(dtype=str)`, `to_numeric`, `to_datetime`, `nunique`,
`duplicated`). Figures are MB/s of CSV; the ratio divides cauce's per-core speed by each peer's.

    .venv/bin/python benchmarks/opendata_profile.py [--size-mb 1024] [--prefix-mb 128] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cauce.apps.opendata.profile import profile_csv
from cauce.apps.opendata.synth import write_csv

MB = 1_000_000


def naive_csv(path: Path) -> int:
    """Row by row with the csv module: the same statistics, in plain Python."""
    hashlib.sha256(path.read_bytes()).hexdigest()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        width = len(header)
        nulls = [0] * width
        distinct: list[set[str]] = [set() for _ in range(width)]
        numeric = [True] * width
        low: list[float | None] = [None] * width
        high: list[float | None] = [None] * width
        dated = [True] * width
        rows = 0
        seen_rows: set[int] = set()
        duplicates = 0
        for row in reader:
            rows += 1
            key = hash(tuple(row))
            duplicates += key in seen_rows
            seen_rows.add(key)
            for i, value in enumerate(row):
                if not value:
                    nulls[i] += 1
                    continue
                distinct[i].add(value)
                if numeric[i]:
                    try:
                        number = float(value)
                    except ValueError:
                        numeric[i] = False
                    else:
                        low[i] = number if low[i] is None else min(low[i], number)
                        high[i] = number if high[i] is None else max(high[i], number)
                if dated[i] and not numeric[i]:
                    try:
                        datetime.datetime.fromisoformat(value)
                    except ValueError:
                        dated[i] = False
    return rows


def naive_pandas(path: Path) -> int:
    """pandas: read everything as text, then vectorised per-column statistics."""
    hashlib.sha256(path.read_bytes()).hexdigest()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    for name in frame.columns:
        column = frame[name]
        column.isna().sum()
        column.nunique()
        numbers = pd.to_numeric(column, errors="coerce")
        if numbers.notna().sum() == column.notna().sum():
            numbers.min(), numbers.max()
        else:
            moments = pd.to_datetime(column, errors="coerce", format="ISO8601")
            moments.min(), moments.max()
    frame.duplicated().sum()
    return len(frame)


def cut(source: Path, target: Path, size: int) -> None:
    """The first ``size`` bytes of ``source``, ending at a line end."""
    with source.open("rb") as src, target.open("wb") as out:
        out.write(src.read(size))
        out.write(src.readline())


def timed(label: str, func: Callable[[Path], object], path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func(path)
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    speed = path.stat().st_size / MB / seconds
    print(f"  {label:<38} {seconds:8.2f} s  {speed:8.1f} MB/s", flush=True)
    return speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the synthetic CSV")
    parser.add_argument(
        "--prefix-mb", type=int, default=128, help="part of it the naive peers profile"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, default=None, help="folder for the files (default: a temp folder)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="opendata-bench-", dir=args.dir))
    cores = os.cpu_count() or 1
    try:
        big = folder / "contracts.csv"
        started = time.perf_counter()
        rows = write_csv(big, "secop-contracts", target_bytes=args.size_mb * 1024 * 1024, seed=7)
        print(
            f"{datetime.date.today()} · {platform.processor() or platform.machine()} · "
            f"{cores} cores · Python {sys.version.split()[0]}"
        )
        print(
            f"synthetic SECOP contracts: {big.stat().st_size / MB:,.0f} MB, {rows:,} rows, "
            f"31 columns (written in {time.perf_counter() - started:.1f} s)"
        )
        prefix = folder / "prefix.csv"
        cut(big, prefix, args.prefix_mb * 1024 * 1024)

        check = profile_csv(big, threads=1)
        assert check.rows == rows and not check.problems, (check.rows, check.problems)
        print(f"whole file ({big.stat().st_size / MB:,.0f} MB):")
        one = timed(
            "cauce profile_csv, DuckDB 1 thread",
            lambda p: profile_csv(p, threads=1),
            big,
            args.repeat,
        )
        every = timed(
            f"cauce profile_csv, DuckDB {cores} threads",
            lambda p: profile_csv(p, threads=cores),
            big,
            args.repeat,
        )
        print(f"prefix ({prefix.stat().st_size / MB:,.0f} MB):")
        prefix_one = timed(
            "cauce profile_csv, DuckDB 1 thread",
            lambda p: profile_csv(p, threads=1),
            prefix,
            args.repeat,
        )
        pandas_speed = timed("pandas read_csv + column statistics", naive_pandas, prefix, 1)
        csv_speed = timed("csv module, row by row", naive_csv, prefix, 1)
        print(
            f"cauce per core: {one:,.0f} MB/s on the whole file ({every / cores:,.0f} MB/s per "
            f"core with {cores} threads, {every:,.0f} MB/s in all)"
        )
        print(
            f"ratio on the prefix, one core each: {prefix_one / pandas_speed:.1f}× pandas, "
            f"{prefix_one / csv_speed:.1f}× the csv module"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
