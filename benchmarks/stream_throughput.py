"""Stream throughput and latency: records through put_many → stream handler → checkpoint.

cauce (its embedded SQLite state, a stream of 2 shards read by a `cauce worker` process)
against Redis Streams (XADD from a pipeline, XREADGROUP/XACK in a consumer group: the usual
self-hosted Kinesis stand-in), the same workload in the same run, each side a producer process
and a consumer process:

- throughput: the producer puts N records in chunks of 1,000 as fast as it can; the clock runs
  from the first put to the moment the consumer has checkpointed (acked) the last record. The
  producer's own time gives the put rate alone.
- latency: the producer puts records at a steady rate (a chunk every 10 ms), each stamped with
  the wall clock; the handler notes now − stamp for every record; p50/p99/max are reported.

    python benchmarks/stream_throughput.py                   # N=100000, 5000 records/s for 20 s
    python benchmarks/stream_throughput.py --n 200000 --rate 5000 --seconds 30 --json
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

CAUCE_APP = """
import time
from pathlib import Path
from cauce import App

app = App("bench")
events = app.stream("events", shards=2)
LATENCIES = Path(__file__).with_name("latencies.txt")

@app.on(events, batch_size=1000)
def handle(records, ctx):
    if records[0].data.get("t"):
        now = time.time()
        with LATENCIES.open("a") as out:
            out.write("".join(f"{now - r.data['t']:.6f}\\n" for r in records))
"""

CAUCE_PRODUCER = """
import sys, time
from cauce import Runtime
from cauce.cli.loading import load_app

app, _ = load_app(sys.argv[1])
home, n, rate = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
events = app.resources["events"]
with Runtime(app, home=home, role="producer"):
    started = time.time()
    if rate == 0:
        for first in range(0, n, 1000):
            events.put_many([({"n": i}, f"k{i % 16}") for i in range(first, min(n, first + 1000))])
    else:
        per_tick, tick, i = max(1, int(rate / 100)), 0, 0
        while i < n:
            tick += 1
            events.put_many([({"n": j, "t": time.time()}, f"k{j % 16}")
                             for j in range(i, min(n, i + per_tick))])
            i += per_tick
            pause = started + tick * 0.01 - time.time()
            if pause > 0:
                time.sleep(pause)
    print(started, time.time())
"""

REDIS_PRODUCER = """
import sys, time
import redis

r = redis.Redis()
key, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
started = time.time()
if rate == 0:
    for first in range(0, n, 1000):
        pipe = r.pipeline(transaction=True)
        for i in range(first, min(n, first + 1000)):
            pipe.xadd(key, {"n": i})
        pipe.execute()
else:
    per_tick, tick, i = max(1, int(rate / 100)), 0, 0
    while i < n:
        tick += 1
        pipe = r.pipeline(transaction=True)
        for j in range(i, min(n, i + per_tick)):
            pipe.xadd(key, {"n": j, "t": repr(time.time())})
        pipe.execute()
        i += per_tick
        pause = started + tick * 0.01 - time.time()
        if pause > 0:
            time.sleep(pause)
print(started, time.time())
"""

REDIS_CONSUMER = """
import sys, time
import redis

r = redis.Redis()
key, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r.xgroup_create(key, "g", id="0", mkstream=True)
print("ready", flush=True)
seen, latencies = 0, []
while seen < n:
    got = r.xreadgroup("g", "c", {key: ">"}, count=1000, block=100)
    for _, entries in got:
        now = time.time()
        latencies += [now - float(f[b"t"]) for _, f in entries if b"t" in f]
        r.xack(key, "g", *[eid for eid, _ in entries])
        seen += len(entries)
with open(out, "w") as f:
    f.write("".join(f"{x:.6f}\\n" for x in latencies))
print(time.time(), flush=True)
"""


def _checkpointed(db: Path) -> int:
    for _ in range(100):
        try:
            con = sqlite3.connect(db, timeout=30)
            try:
                return int(
                    con.execute(
                        "SELECT coalesce(sum(seq), 0) FROM stream_consumers "
                        "WHERE consumer = 'handle'"
                    ).fetchone()[0]
                )
            finally:
                con.close()
        except sqlite3.OperationalError:
            time.sleep(0.05)
    raise RuntimeError(f"cannot read {db}")


def _percentiles(path: Path) -> dict[str, float]:
    values = sorted(float(x) for x in path.read_text().split())
    cut = statistics.quantiles(values, n=100)
    return {
        "records": len(values),
        "p50_ms": round(cut[49] * 1000, 1),
        "p99_ms": round(cut[98] * 1000, 1),
        "max_ms": round(values[-1] * 1000, 1),
    }


def bench_cauce(work: Path, n: int, rate: float) -> dict[str, float]:
    folder = work / f"cauce-{rate:g}"
    folder.mkdir()
    app, producer = folder / "benchapp.py", folder / "producer.py"
    app.write_text(textwrap.dedent(CAUCE_APP))
    producer.write_text(textwrap.dedent(CAUCE_PRODUCER))
    ref, home = f"{app}:app", folder / "home"
    subprocess.run(
        [sys.executable, str(producer), ref, str(home), "0", "0"], check=True, capture_output=True
    )  # creates the home
    worker = subprocess.Popen(
        [sys.executable, "-m", "cauce.cli.main", "worker", ref, "--home", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.0)  # let the worker import and start polling
    try:
        put = subprocess.run(
            [sys.executable, str(producer), ref, str(home), str(n), str(rate)],
            check=True,
            capture_output=True,
            text=True,
        )
        started, put_done = map(float, put.stdout.split())
        deadline = time.monotonic() + 600
        while _checkpointed(home / "state.db") < n:
            if time.monotonic() > deadline:
                raise RuntimeError("the consumer did not catch up")
            time.sleep(0.01)
        done = time.time()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    found = {
        "put_per_s": round(n / (put_done - started)),
        "end_to_end_per_s": round(n / (done - started)),
    }
    if rate:
        found |= _percentiles(folder / "latencies.txt")
    return found


def bench_redis(work: Path, n: int, rate: float) -> dict[str, float]:
    import redis

    key = f"cauce-bench-{os.getpid()}-{rate:g}"
    redis.Redis().delete(key)
    folder = work / f"redis-{rate:g}"
    folder.mkdir()
    (folder / "producer.py").write_text(textwrap.dedent(REDIS_PRODUCER))
    (folder / "consumer.py").write_text(textwrap.dedent(REDIS_CONSUMER))
    out = folder / "latencies.txt"
    consumer = subprocess.Popen(
        [sys.executable, str(folder / "consumer.py"), key, str(n), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert consumer.stdout is not None and consumer.stdout.readline().strip() == "ready"
        put = subprocess.run(
            [sys.executable, str(folder / "producer.py"), key, str(n), str(rate)],
            check=True,
            capture_output=True,
            text=True,
        )
        started, put_done = map(float, put.stdout.split())
        done = float(consumer.communicate(timeout=600)[0].strip())
    finally:
        consumer.kill()
        redis.Redis().delete(key)
    found = {
        "put_per_s": round(n / (put_done - started)),
        "end_to_end_per_s": round(n / (done - started)),
    }
    if rate:
        found |= _percentiles(out)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="records, throughput run")
    parser.add_argument("--rate", type=float, default=5000, help="records/s, latency run")
    parser.add_argument("--seconds", type=float, default=20, help="length of the latency run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cauce-bench-"))
    steady = int(args.rate * args.seconds)
    try:
        results = {
            "load_before": os.getloadavg(),
            "throughput": {
                "records": args.n,
                "redis": bench_redis(work, args.n, 0),
                "cauce": bench_cauce(work, args.n, 0),
            },
            "latency": {
                "records": steady,
                "rate": args.rate,
                "redis": bench_redis(work, steady, args.rate),
                "cauce": bench_cauce(work, steady, args.rate),
            },
            "load_after": os.getloadavg(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    through, latency = results["throughput"], results["latency"]
    results["ratio_throughput_cauce_vs_redis"] = round(
        through["cauce"]["end_to_end_per_s"] / through["redis"]["end_to_end_per_s"], 2
    )
    results["ratio_p99_cauce_vs_redis"] = round(
        latency["cauce"]["p99_ms"] / max(latency["redis"]["p99_ms"], 0.1), 2
    )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"throughput, {args.n:,} records (put_many chunks of 1,000):")
    for side in ("cauce", "redis"):
        r = through[side]
        print(
            f"  {side:6} put {r['put_per_s']:>8,}/s   put→checkpoint {r['end_to_end_per_s']:>8,}/s"
        )
    print(f"latency, {args.rate:,.0f} records/s for {args.seconds:g} s:")
    for side in ("cauce", "redis"):
        r = latency[side]
        print(
            f"  {side:6} p50 {r['p50_ms']:>7} ms   p99 {r['p99_ms']:>7} ms   "
            f"max {r['max_ms']:>7} ms"
        )
    print(
        f"cauce÷redis: throughput {results['ratio_throughput_cauce_vs_redis']}x, "
        f"p99 {results['ratio_p99_cauce_vs_redis']}x"
    )
    print(
        f"load average before {results['load_before']}, after {results['load_after']}; "
        f"{os.cpu_count()} cores, python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
