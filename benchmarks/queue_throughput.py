"""Queue throughput: messages per second through send → handler → ack, durable, on one machine.

cauce (its embedded SQLite state) against huey with its SQLite storage, the same workload in
the same run: producers send N messages while consumers handle them; the clock runs from the
first send to the moment the queue is empty. Both sides use one transaction per send (what a
producer calling send()/a task does); cauce is also measured with send_batch.

    python benchmarks/queue_throughput.py            # N=20000
    python benchmarks/queue_throughput.py --n 50000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CAUCE_APP = """
from cauce import App
app = App("bench")
work = app.queue("work", visibility_timeout="60s")

@app.on(work, batch_size={batch})
def handle(messages, ctx):
    pass  # nothing to do: what is measured is the delivery itself
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


def bench_cauce(work: Path, n: int, processes: int, batch_send: bool) -> float:
    home = work / f"cauce-{processes}-{batch_send}"
    app = work / "benchapp.py"
    app.write_text(textwrap.dedent(CAUCE_APP.format(batch=1)))
    producer = work / "cauce_producer.py"
    producer.write_text(textwrap.dedent(CAUCE_PRODUCER))
    ref = f"{app}:app"
    # create the home
    subprocess.run([sys.executable, str(producer), ref, str(home), "0", "single"], check=True)
    workers = [subprocess.Popen([sys.executable, "-m", "cauce.cli.main", "worker", ref,
                                 "--home", str(home), "--threads", "4"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for _ in range(processes)]
    time.sleep(1.5)  # let the workers import and start polling
    started = time.perf_counter()
    prod = [subprocess.Popen([sys.executable, str(producer), ref, str(home), str(n),
                              "batch" if batch_send else "single"])]
    _wait_empty(home / "state.db", "SELECT count(*) FROM messages", prod)
    elapsed = time.perf_counter() - started
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(timeout=60)
    handled = _count(home / "state.db", "SELECT count(*) FROM runs WHERE status = 'succeeded'")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cauce-bench-"))
    results = []
    try:
        for processes in (1, 4):
            huey = bench_huey(work, args.n, processes)
            single = bench_cauce(work, args.n, processes, batch_send=False)
            batch = bench_cauce(work, args.n, processes, batch_send=True)
            results.append({"worker_processes": processes, "messages": args.n,
                            "huey_sqlite_msgs_per_s": round(args.n / huey),
                            "cauce_send_msgs_per_s": round(args.n / single),
                            "cauce_send_batch_msgs_per_s": round(args.n / batch),
                            "ratio_cauce_send_vs_huey": round(huey / single, 2)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
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
