"""A loader run as a separate process by the tests (killed, raced, or holding locks); loaders.py
starts and drives it.

loader_process.py chunks URL CHUNKS ROWS   load chunks 0..CHUNKS-1, resuming from the checkpoint,
                                            once a line ("go") arrives on standard input
loader_process.py hold URL                 keep a write transaction open (its table "held" has
                                            one row) until a line arrives on standard input
"""

from __future__ import annotations

import json
import sys

import pyarrow as pa

from cauce.errors import CheckpointConflict
from cauce.warehouse import Checkpoint, connect

CHECKPOINT = "events-chunk"


def chunk(index: int, rows: int) -> pa.Table:
    """Chunk ``index``: ids ``index * rows`` up to the next chunk's first id."""
    first = index * rows
    return pa.table(
        {
            "id": pa.array(range(first, first + rows), pa.int64()),
            "label": pa.array([f"chunk {index}"] * rows),
            "value": pa.array([index / 3] * rows, pa.float64()),
        }
    )


def load_chunks(url: str, chunks: int, rows: int) -> dict[str, int]:
    loaded = conflicts = 0
    with connect(url) as warehouse:
        print("ready", flush=True)
        sys.stdin.readline()  # so that racing loaders start together
        while True:
            done = warehouse.checkpoint(CHECKPOINT)
            following = 0 if done is None else done + 1
            if following >= chunks:
                return {"loaded": loaded, "conflicts": conflicts}
            try:
                warehouse.load(
                    "events",
                    chunk(following, rows),
                    checkpoint=Checkpoint(CHECKPOINT, following, done),
                )
                loaded += 1
                print(f"loaded {following}", flush=True)
            except CheckpointConflict:
                conflicts += 1


def hold(url: str) -> None:
    """Hold the file, a row of table held written, until a line (or the end) on stdin."""
    with connect(url) as warehouse, warehouse.transaction() as tx:
        tx.load("held", [{"id": 1}])
        print("holding", flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "chunks":
        print(json.dumps(load_chunks(url, int(rest[0]), int(rest[1]))), flush=True)
    elif mode == "hold":
        hold(url)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
