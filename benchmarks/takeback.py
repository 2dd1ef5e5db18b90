"""How long a restarted `cauce serve` takes to take back the leases of a worker killed on this
machine (`expire_gone_workers_leases`) when a queue is deep: N messages waiting, the killed
worker holding 10 leases; on SQLite and on PostgreSQL. The median of five takebacks, each
after a fresh killed worker leased 10 more messages.

    python benchmarks/takeback.py                      # N=200000, PostgreSQL at 127.0.0.1:5432/test
    python benchmarks/takeback.py --n 50000 --postgres postgresql://user@host/db
"""

from __future__ import annotations

import argparse
import secrets
import socket
import statistics
import subprocess
import time

from cauce import App
from cauce.runtime.dispatcher import Dispatcher
from cauce.runtime.sources import expire_gone_workers_leases
from cauce.settings import ConfigSources
from cauce.testing import TestRuntime

HELD, ROUNDS = 10, 5


def _app() -> App:
    app = App("bench")
    work = app.queue("work", visibility_timeout="10m")

    @app.on(work)
    def handle(message: object, ctx: object) -> None:
        """Never called: the benchmark claims and takes back, it does not run."""

    return app


def _killed_worker(rt: TestRuntime) -> str:
    """A worker of the app registered with a process id that is gone, holding `HELD` leases."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    worker = f"serve-{gone.pid}-{secrets.token_hex(2)}"
    state, queue = rt.runtime.state, rt.app.handlers["handle"].store_queue
    state.queues.receive(queue, now=rt.clock.time(), limit=HELD, visibility=600.0, worker=worker)
    state.workers.register(worker, app=rt.app.name, pid=gone.pid, host=socket.gethostname(),
                           role="serve", now=rt.clock.time())
    return worker


def measure(config: ConfigSources, n: int) -> list[float]:
    """Seconds each of `ROUNDS` takebacks took, behind ``n`` waiting messages."""
    app = _app()
    with TestRuntime(app, config=config) as rt:
        queue = app.handlers["handle"].store_queue
        for start in range(0, n + HELD * ROUNDS, 10_000):
            count = min(10_000, n + HELD * ROUNDS - start)
            rt.runtime.state.queues.send(queue, ['{"n": 1}'] * count, now=rt.clock.time())
        sources = Dispatcher(rt.runtime, threads=1, processes=1).sources
        times = []
        for _ in range(ROUNDS):
            _killed_worker(rt)
            began = time.perf_counter()
            taken = expire_gone_workers_leases(rt.runtime, sources, rt.clock.time())
            times.append(time.perf_counter() - began)
            assert taken == HELD, taken
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="messages waiting in the queue")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    schema = f"bench_{secrets.token_hex(4)}"
    separator = "&" if "?" in args.postgres else "?"
    engines = {"sqlite": ConfigSources(environ={}),
               "postgresql": ConfigSources(environ={
                   "CAUCE_STATE": f"{args.postgres}{separator}schema={schema}"})}
    try:
        for name, config in engines.items():
            times = measure(config, args.n)
            print(f"{name:10} {args.n} waiting, {HELD} held: takeback median "
                  f"{statistics.median(times) * 1000:.1f} ms (min {min(times) * 1000:.1f}, "
                  f"max {max(times) * 1000:.1f})")
    finally:
        import psycopg

        with psycopg.connect(args.postgres, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

if __name__ == "__main__":
    main()
