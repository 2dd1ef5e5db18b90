"""Queue throughput: messages per second through send → handler → ack, durable.

cauce (its embedded SQLite state) against huey with its SQLite storage, the same workload in
the same run: producers send N messages while consumers handle them; the clock runs from the
first send to the moment the queue is empty. Both sides use one transaction per send (what a
producer calling send()/a task does); cauce is also measured with send_batch.

With ``--postgres URL`` the same run also measures cauce on a PostgreSQL state and
procrastinate (a PostgreSQL task queue) on the same server, each in a fresh schema; with
``--scale-out`` too, the N-message workload whose handler waits 5 ms on I/O, with 1, 2 and 4
worker processes on the PostgreSQL state.

    python benchmarks/queue_throughput.py            # N=20000
    python benchmarks/queue_throughput.py --n 50000 --json
    python benchmarks/queue_throughput.py --pairs 5     # `send`, 1 and 4 processes alternated
    python benchmarks/queue_throughput.py --postgres postgresql://postgres@127.0.0.1/test \
        --scale-out
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from peers import fresh_schema, split_schema, start_procrastinate

from cauce.backends.state import open_state, sqlite_url

CAUCE_APP = """
import time
from cauce import App
app = App("bench")
work = app.queue("work", visibility_timeout="60s")

@app.on(work, batch_size={batch})
def handle(messages, ctx):
    if {wait}:
        time.sleep({wait})  # waiting on I/O (the scale-out workload)
    # else nothing to do: what is measured is the delivery itself
"""

CAUCE_PRODUCER = """
import sys
from cauce import Runtime
from cauce.cli.loading import load_app
app, _ = load_app(sys.argv[1])
home, n, batch = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "batch"
work = app.resources["work"]
with Runtime(app, home=home, role="producer"):
    if batch:
        for start in range(0, n, 100):
            work.send_batch([{"n": i} for i in range(start, min(n, start + 100))])
    else:
        for i in range(n):
            work.send({"n": i})
"""

HUEY_APP = """
from huey import SqliteHuey
huey = SqliteHuey(filename={path!r}, results=False, timeout=60)  # cauce's busy timeout too

@huey.task()
def handle(n):
    pass  # nothing to do, as on the cauce side
"""

HUEY_PRODUCER = """
import sys
sys.path.insert(0, sys.argv[1])
from hueyapp import handle
for i in range(int(sys.argv[2])):
    handle(i)
"""

HUEY_CONSUMER = """
import sys
sys.path.insert(0, sys.argv[1])
from hueyapp import huey
consumer = huey.create_consumer(workers=int(sys.argv[2]), worker_type=sys.argv[3],
                                initial_delay=0.001, backoff=1.15, max_delay=0.05, periodic=False)
consumer.run()
"""


PROCRASTINATE_APP = """
from procrastinate import App, PsycopgConnector
app = App(connector=PsycopgConnector(conninfo={conninfo!r},
                                     kwargs={{"options": "-c search_path={schema}"}}))

@app.task(name="handle")
def handle(n):
    pass  # nothing to do, as on the cauce side
"""

PROCRASTINATE_PRODUCER = """
import sys
sys.path.insert(0, sys.argv[1])
from procapp import app, handle
with app.open():
    if sys.argv[2] == "schema":
        app.schema_manager.apply_schema()
    elif sys.argv[3] == "batch":
        n = int(sys.argv[2])
        for start in range(0, n, 100):
            handle.batch_defer(*({"n": i} for i in range(start, min(n, start + 100))))
    else:
        for i in range(int(sys.argv[2])):
            handle.defer(n=i)
"""

def bench_procrastinate(work: Path, n: int, processes: int, url: str,
                        batch_send: bool = False) -> float:
    import psycopg

    server, schema = split_schema(url)
    folder = work / f"procrastinate-{processes}-{batch_send}"
    workers = start_procrastinate(folder, PROCRASTINATE_APP, PROCRASTINATE_PRODUCER, url,
                                  processes=processes, concurrency=4)
    time.sleep(2.5)  # let the workers import and start listening
    remaining = ("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
    with psycopg.connect(server, autocommit=True, options=f"-c search_path={schema}") as con:
        started = time.perf_counter()
        prod = [subprocess.Popen([sys.executable, str(folder / "producer.py"), str(folder),
                                  str(n), "batch" if batch_send else "single"])]
        while any(p.poll() is None for p in prod) or con.execute(remaining).fetchone()[0]:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        done = con.execute("SELECT count(*) FROM procrastinate_jobs "
                           "WHERE status = 'succeeded'").fetchone()[0]
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(timeout=60)
    assert done >= n, f"only {done} tasks done"
    return elapsed


def _count(db: Path, sql: str) -> int:
    for _ in range(50):
        try:
            con = sqlite3.connect(db, timeout=30)
            try:
                return int(con.execute(sql).fetchone()[0])
            finally:
                con.close()
        except sqlite3.OperationalError:
            time.sleep(0.05)
    raise RuntimeError(f"cannot read {db}")


def _wait_empty(db: Path, sql: str, producers: list[subprocess.Popen[bytes]],
                timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.poll() is not None for p in producers) and _count(db, sql) == 0:
            if any(p.returncode for p in producers):  # a producer that died sent less
                raise RuntimeError("a producer failed")
            return
        time.sleep(0.01)
    raise RuntimeError("timed out")


def bench_cauce(work: Path, n: int, processes: int, batch_send: bool,
                state: str | None = None, wait: float = 0.0) -> float:
    """Seconds for n messages through ``processes`` workers on the home's SQLite state, or on
    ``state`` (a PostgreSQL URL); the handler waits ``wait`` seconds per message."""
    home = work / f"cauce-{processes}-{batch_send}-{wait}-{state is not None}"
    app = work / f"benchapp_{int(wait * 1000)}.py"
    app.write_text(textwrap.dedent(CAUCE_APP.format(batch=1, wait=wait)))
    producer = work / "cauce_producer.py"
    producer.write_text(textwrap.dedent(CAUCE_PRODUCER))
    ref = f"{app}:app"
    env = {**os.environ, "CAUCE_STATE": state or sqlite_url(home / "state.db")}
    # create the home
    subprocess.run([sys.executable, str(producer), ref, str(home), "0", "single"], check=True,
                   env=env)
    workers = [subprocess.Popen([sys.executable, "-m", "cauce.cli.main", "worker", ref,
                                 "--home", str(home), "--threads", "4"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for _ in range(processes)]
    store = open_state(env["CAUCE_STATE"])
    try:
        while len(store.workers.running()) < processes:  # every worker is up and polling
            time.sleep(0.05)
        started = time.perf_counter()
        prod = [subprocess.Popen([sys.executable, str(producer), ref, str(home), str(n),
                                  "batch" if batch_send else "single"], env=env)]
        while any(p.poll() is None for p in prod) or store.copying.count("messages"):
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
        handled = store.copying.count("runs")
    finally:
        store.close()
    assert handled >= n, f"only {handled} messages handled"
    return elapsed


def bench_huey(work: Path, n: int, processes: int) -> float:
    folder = work / f"huey-{processes}"
    folder.mkdir()
    db = folder / "huey.db"
    (folder / "hueyapp.py").write_text(textwrap.dedent(HUEY_APP.format(path=str(db))))
    (folder / "producer.py").write_text(textwrap.dedent(HUEY_PRODUCER))
    (folder / "consumer.py").write_text(textwrap.dedent(HUEY_CONSUMER))
    subprocess.run([sys.executable, str(folder / "producer.py"), str(folder), "0"], check=True)
    kind, workers = ("thread", 4) if processes == 1 else ("process", processes)
    consumer = subprocess.Popen([sys.executable, str(folder / "consumer.py"), str(folder),
                                 str(workers), kind],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    started = time.perf_counter()
    prod = [subprocess.Popen([sys.executable, str(folder / "producer.py"), str(folder), str(n)])]
    _wait_empty(db, "SELECT count(*) FROM task", prod)
    elapsed = time.perf_counter() - started
    consumer.send_signal(signal.SIGINT)
    consumer.wait(timeout=60)
    return elapsed


def bench_postgres(work: Path, n: int, processes: int, server: str) -> dict[str, int]:
    """cauce on a PostgreSQL state and procrastinate on the same server: messages per second."""
    with fresh_schema(server) as state:
        single = bench_cauce(work, n, processes, batch_send=False, state=state)
    with fresh_schema(server) as state:
        batch = bench_cauce(work, n, processes, batch_send=True, state=state)
    with fresh_schema(server) as schema_url:
        procrastinate = bench_procrastinate(work, n, processes, schema_url)
    with fresh_schema(server) as schema_url:
        procrastinate_batch = bench_procrastinate(work, n, processes, schema_url,
                                                  batch_send=True)
    return {"procrastinate_msgs_per_s": round(n / procrastinate),
            "procrastinate_batch_defer_msgs_per_s": round(n / procrastinate_batch),
            "cauce_pg_send_msgs_per_s": round(n / single),
            "cauce_pg_send_batch_msgs_per_s": round(n / batch),
            "ratio_cauce_pg_send_vs_procrastinate": round(procrastinate / single, 2),
            "ratio_cauce_pg_batch_vs_procrastinate_batch": round(procrastinate_batch / batch, 2)}


def scale_out(work: Path, n: int, server: str) -> list[dict[str, float]]:
    """The n-message workload whose handler waits 5 ms, on 1, 2 and 4 worker processes."""
    found = []
    for processes in (1, 2, 4):
        with fresh_schema(server) as state:
            seconds = bench_cauce(work, n, processes, batch_send=True, state=state, wait=0.005)
        found.append({"worker_processes": processes, "messages": n,
                      "msgs_per_s": round(n / seconds)})
    return found


def scaling_pairs(work: Path, n: int, pairs: int) -> list[dict[str, float]]:
    """`send` with 1 and with 4 worker processes, alternated (which goes first alternates too),
    ``pairs`` times: the rates and their ratio per pair. On a shared machine a rate varies more
    from one run to the next than between the two sides of one pair."""
    found = []
    for pair in range(pairs):
        rates = {}
        for processes in (1, 4) if pair % 2 == 0 else (4, 1):
            folder = work / f"pair-{pair}-{processes}"
            folder.mkdir()
            rates[processes] = n / bench_cauce(folder, n, processes, batch_send=False)
        found.append({"one_process_msgs_per_s": round(rates[1]),
                      "four_processes_msgs_per_s": round(rates[4]),
                      "ratio_four_over_one": round(rates[4] / rates[1], 2)})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure cauce on PostgreSQL state and procrastinate there")
    parser.add_argument("--scale-out", action="store_true",
                        help="with --postgres: 1, 2 and 4 workers, a handler waiting 5 ms")
    parser.add_argument("--processes", default="1,4",
                        help="worker processes to measure, comma-separated")
    parser.add_argument("--only-postgres", action="store_true",
                        help="with --postgres: skip huey and the SQLite state")
    parser.add_argument("--pairs", type=int, metavar="K",
                        help="only `send` with 1 and 4 processes, alternated K times")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cauce-bench-"))
    if args.pairs:
        try:
            found = scaling_pairs(work, args.n, args.pairs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for pair in found:
            print(f"1 process {pair['one_process_msgs_per_s']:>7,} msg/s   4 processes "
                  f"{pair['four_processes_msgs_per_s']:>7,} msg/s   4 ÷ 1 "
                  f"{pair['ratio_four_over_one']:.2f}")
        median = statistics.median(pair["ratio_four_over_one"] for pair in found)
        print(f"median 4 ÷ 1: {median:.2f} ({len(found)} pairs, N = {args.n:,})")
        return
    results = []
    scaled = []
    try:
        for processes in (int(p) for p in args.processes.split(",")):
            if args.postgres and args.only_postgres:
                results.append({"worker_processes": processes, "messages": args.n,
                                **bench_postgres(work, args.n, processes, args.postgres)})
                continue
            huey = bench_huey(work, args.n, processes)
            single = bench_cauce(work, args.n, processes, batch_send=False)
            batch = bench_cauce(work, args.n, processes, batch_send=True)
            results.append({"worker_processes": processes, "messages": args.n,
                            "huey_sqlite_msgs_per_s": round(args.n / huey),
                            "cauce_send_msgs_per_s": round(args.n / single),
                            "cauce_send_batch_msgs_per_s": round(args.n / batch),
                            "ratio_cauce_send_vs_huey": round(huey / single, 2)})
            if args.postgres:
                results[-1].update(bench_postgres(work, args.n, processes, args.postgres))
        if args.postgres and args.scale_out:
            scaled = scale_out(work, args.n, args.postgres)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json or args.postgres:
        print(json.dumps({"throughput": results, "scale_out_postgres": scaled}, indent=2))
        return
    print(f"{'processes':>9} {'huey/s':>9} {'cauce send/s':>13} {'cauce batch/s':>14} "
          f"{'cauce÷huey':>11}")
    for r in results:
        print(f"{r['worker_processes']:>9} {r['huey_sqlite_msgs_per_s']:>9,} "
              f"{r['cauce_send_msgs_per_s']:>13,} "
              f"{r['cauce_send_batch_msgs_per_s']:>14,} {r['ratio_cauce_send_vs_huey']:>10}x")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
