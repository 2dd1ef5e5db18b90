"""Table writes with secondary indexes on the SQLite state: microseconds per put as the table
grows, on a fresh state file and on one without the index of entries by key (as schema
version 3 had it, when each write of an item read every index entry of its table to replace
its own), interleaved in the same run.

    python benchmarks/indexed_puts.py                  # up to 20,000 items, two indexes each
    python benchmarks/indexed_puts.py --items 40000
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from cauce.backends.state import StateStore, open_state, sqlite_url

TABLE = "bench:t"
MEASURED = 500  # puts timed at each size, one transaction each


def _fill(state: StateStore, first: int, last: int) -> None:
    with state.atomic():
        for i in range(first, last):
            _put(state, i)


def _put(state: StateStore, i: int) -> None:
    state.tables.put(TABLE, f"k{i:08d}", f'{{"n": {i}}}',
                     indexes={"group": f'"g{i % 100}"', "kind": '"x"'}, now=0.0)


def _open(folder: Path, name: str, without_key_index: bool) -> StateStore:
    path = folder / f"{name}.db"
    open_state(sqlite_url(path)).close()
    if without_key_index:
        con = sqlite3.connect(path)
        con.execute("DROP INDEX item_index_by_key")
        con.close()
    return open_state(sqlite_url(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    args = parser.parse_args()
    sizes = [s for s in (1_000, 5_000, 10_000, 20_000, 40_000) if s <= args.items]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="indexed-puts-") as scratch:
        stores = {"by key": _open(Path(scratch), "new", False),
                  "no key index": _open(Path(scratch), "old", True)}
        done = 0
        print(f"{'items':>7} " + " ".join(f"{name:>14}" for name in stores))
        for size in sizes:
            figures = []
            for state in stores.values():
                _fill(state, done, size - MEASURED)
                start = time.perf_counter()
                for i in range(size - MEASURED, size):
                    _put(state, i)
                figures.append((time.perf_counter() - start) / MEASURED * 1e6)
            done = size
            print(f"{size:>7,} " + " ".join(f"{us:>11.0f} µs" for us in figures))
        for state in stores.values():
            state.close()
    print(f"load average {load:.1f} before / {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
