"""Census: the full-load benchmark with some of the loader's overlaps undone, to measure each.

Runs `census_load.py` (same contenders, same rounds) after patching the census app:

- ``split-in-turn``: the files are split into lines one after the other, in one thread;
- ``read-in-turn``: the local sources are read and hashed one after the other;
- ``one-batch``: every chunk is checked, then written, in one batch (no overlap).

Variants combine with commas; ``none`` runs the code as it is.

    python benchmarks/census_variants.py split-in-turn,read-in-turn --repeat 9
"""

from __future__ import annotations

import sys
from concurrent.futures import Executor, Future

import census_load

import cauce.apps.census as census
from cauce.apps.census import loader

VARIANTS = ("none", "split-in-turn", "read-in-turn", "one-batch")


def split_in_turn(files: list, pool: Executor, encoding: str | None = None) -> list[Future]:
    """`loader.read_sources`, every file split in one thread, one after the other."""
    every = pool.submit(lambda: [loader.read_lines(f.name, f.data, encoding) for f in files])
    futures: list[Future] = [Future() for _ in files]

    def hand_out(done: Future) -> None:
        for future, lines in zip(futures, done.result(), strict=True):
            future.set_result(lines)

    every.add_done_callback(hand_out)
    return futures


def main() -> None:
    chosen = sys.argv.pop(1).split(",") if len(sys.argv) > 1 else ["none"]
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant(s) {sorted(unknown)}; choose from {VARIANTS}")
    if "split-in-turn" in chosen:
        loader.read_sources = split_in_turn
    if "read-in-turn" in chosen:
        census._fetch_sources = lambda ctx, origins: [census._fetch(ctx, o) for o in origins]
    if "one-batch" in chosen:
        loader.OVERLAP_FROM = loader.BATCH_RECORDS = sys.maxsize
    census_load.main()


if __name__ == "__main__":
    main()
