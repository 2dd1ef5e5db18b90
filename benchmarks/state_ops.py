"""State store operations per second: send, claim and ack through the state contract, on SQLite
and on PostgreSQL, in the same run (one process, one thread: the cost of the store itself,
without the dispatcher).

- one by one: a send per message, then a claim of one and its ack (two transactions);
- in batches: sends of 10, then a claim of 10 and their ack in one ``atomic()`` block;

and PostgreSQL once more with ``synchronous_commit=off`` (what commits cost on the server's disk).

    python benchmarks/state_ops.py                      # N=5000, PostgreSQL at 127.0.0.1:5432/test
    python benchmarks/state_ops.py --n 20000 --postgres postgresql://user@host/db
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

from cauce.backends.state import StateStore, open_state, sqlite_url

Q = "bench:q"


def _drain(state: StateStore, batch: int) -> int:
    done = 0
    while True:
        with state.atomic():
            got = state.queues.receive(Q, now=1.0, limit=batch, visibility=60.0, worker="w")
            if got:
                state.queues.ack([(m.id, m.lease or "") for m in got])
        if not got:
            return done
        done += len(got)


def measure(url: str, n: int, batch: int) -> dict[str, float]:
    """Messages per second of each phase on the store at ``url``."""
    state = open_state(url)
    try:
        rates = {}
        start = time.perf_counter()
        for i in range(n):
            state.queues.send(Q, [f'{{"n": {i}}}'], now=0.0)
        rates["send 1"] = n / (time.perf_counter() - start)
        start = time.perf_counter()
        while got := state.queues.receive(Q, now=1.0, limit=1, visibility=60.0, worker="w"):
            state.queues.ack([(m.id, m.lease or "") for m in got])
        rates["claim+ack 1"] = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for first in range(0, n, batch):
            state.queues.send(Q, [f'{{"n": {i}}}' for i in range(first, first + batch)], now=0.0)
        rates[f"send {batch}"] = n / (time.perf_counter() - start)
        start = time.perf_counter()
        _drain(state, batch)
        rates[f"claim+ack {batch}"] = n / (time.perf_counter() - start)
        return rates
    finally:
        state.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    schema = f"bench_{secrets.token_hex(4)}"
    separator = "&" if "?" in args.postgres else "?"
    with tempfile.TemporaryDirectory() as folder:
        postgres = f"{args.postgres}{separator}schema={schema}"
        urls = {"sqlite": sqlite_url(Path(folder) / "state.db"), "postgresql": postgres,
                "postgresql, commits not waiting for the disk":
                postgres + "&options=-c%20synchronous_commit%3Doff"}
        try:
            for engine, url in urls.items():
                rates = measure(url, args.n, args.batch)
                print(engine)
                print("    " + "  ".join(f"{k}: {v:8,.0f}/s" for k, v in rates.items()))
        finally:
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as con:
                con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
