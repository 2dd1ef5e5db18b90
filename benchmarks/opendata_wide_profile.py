"""Opendata: how long the profile of a wide dataset takes, by column count.

Writes a CSV of ``--rows`` rows for each column count (a third of the columns dates, the rest
numbers) and times `profile_csv` on it, once each, in this process.

    python benchmarks/opendata_wide_profile.py [--rows 200] [--columns 200 500 1000 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cauce.apps.opendata.profile import COLUMNS_PER_QUERY, profile_csv


def wide_csv(path: Path, rows: int, columns: int) -> Path:
    header = ",".join(f"c{i}" for i in range(columns))
    lines = (",".join(f"2021-01-{row % 28 + 1:02d}" if i % 3 == 0 else str((row * columns + i) % 97)
                      for i in range(columns)) for row in range(rows))
    path.write_text(header + "\n" + "\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--columns", type=int, nargs="+", default=[200, 500, 1000, 2000])
    args = parser.parse_args()
    print(f"profile of {args.rows} rows, {COLUMNS_PER_QUERY} columns per query")
    with tempfile.TemporaryDirectory(prefix="wide-profile-") as scratch:
        for columns in args.columns:
            path = wide_csv(Path(scratch) / f"wide{columns}.csv", args.rows, columns)
            start = time.perf_counter()
            profile = profile_csv(path)
            print(f"  {columns:>6,} columns  {time.perf_counter() - start:6.1f} s  "
                  f"{len(profile.columns):,} profiled")


if __name__ == "__main__":
    main()
