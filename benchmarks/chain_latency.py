"""Event-chain latency at a steady rate: bucket put → queue → handler → table put → topic → handler.

A producer process puts one small object every 1/RATE seconds into a bucket served by a separate
`cauce serve` process; the last handler of the chain records how long after the put it ran.
huey (SQLite storage) runs the same work in the same run: the producer writes the object file
atomically and enqueues a task for it (huey has no object events), the task reads it and enqueues
the next, which does a conditional insert into a SQLite table and enqueues the last.

With ``--postgres URL`` the same run also measures cauce on a PostgreSQL state and
procrastinate (a PostgreSQL task queue) doing the huey side's work with PostgreSQL for its
queue and table, each in a fresh schema of that server.

    python benchmarks/chain_latency.py                # 100 events/s for 10 s
    python benchmarks/chain_latency.py --rate 200 --seconds 20
    python benchmarks/chain_latency.py --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
import json, time
from cauce import App

app = App("chain")
inbox = app.bucket("inbox")
work = app.queue("work")
seen = app.table("seen", key="key")
events = app.topic("events")
latency = app.table("latency", key="key")

@app.on(inbox, prefix="in/")
def on_object(obj, ctx):
    work.send({"key": obj.key, "t0": json.loads(obj.read())["t0"]})

@app.on(work)
def handle(message, ctx):
    seen.put({"key": message.body["key"]}, if_absent=True)
    events.publish(message.body)

@app.on(events)
def last(message, ctx):
    latency.put({"key": message.body["key"], "seconds": time.time() - message.body["t0"]})
"""

# The producers' pacing, and the objects the peers' producers write (each producer's source
# starts with it).
PRODUCING = """
import json, os, time

def paced(rate, seconds):
    \"\"\"Each number below rate × seconds, when its time comes.\"\"\"
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        target = start + i / rate
        while time.perf_counter() < target:
            time.sleep(max(0.0, min(0.002, target - time.perf_counter())))
        yield i

def put_object(folder, i):
    \"\"\"Object i, stamped now, written atomically as a bucket does; its path.\"\"\"
    objects = os.path.join(folder, "objects")
    os.makedirs(objects, exist_ok=True)
    path = os.path.join(objects, f"{i:06d}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"t0": time.time()}, f)
    os.replace(path + ".tmp", path)
    return path
"""

CAUCE_PRODUCER = PRODUCING + """
import sys
from cauce import Runtime
from cauce.cli.loading import load_app
app, _ = load_app(sys.argv[1])
home, rate, seconds = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
inbox = app.resources["inbox"]
with Runtime(app, home=home, role="producer"):
    for i in paced(rate, seconds):
        inbox.put(f"in/{i:06d}.json", json.dumps({"t0": time.time()}))
"""

HUEY_APP = """
import json, sqlite3, threading, time
from huey import SqliteHuey
huey = SqliteHuey(filename={db!r}, results=False)
OUT, TABLE = {out!r}, {table!r}
_local = threading.local()

def table():
    if not hasattr(_local, "con"):
        _local.con = sqlite3.connect(TABLE, timeout=30, isolation_level=None)
        _local.con.execute("PRAGMA journal_mode=WAL")
        _local.con.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY)")
    return _local.con

@huey.task()
def on_object(path):                     # the object was written; its "event" is this task
    with open(path) as f:
        second(path, json.load(f)["t0"])

@huey.task()
def second(key, t0):                      # the handler: a conditional put, then the "topic"
    table().execute("INSERT OR IGNORE INTO seen (key) VALUES (?)", (key,))
    last(key, t0)

@huey.task()
def last(key, t0):
    with open(OUT, "a") as f:
        f.write(f"{{time.time() - t0}}\\n")
"""

HUEY_PRODUCER = PRODUCING + """
import sys
sys.path.insert(0, sys.argv[1])
from hueychain import on_object
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
for i in paced(rate, seconds):
    on_object(put_object(sys.argv[1], i))
"""

HUEY_CONSUMER = """
import sys
sys.path.insert(0, sys.argv[1])
from hueychain import huey
huey.create_consumer(workers=4, worker_type="thread", initial_delay=0.001, backoff=1.15,
                     max_delay=0.01, periodic=False).run()
"""


def percentiles(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "max_ms": round(max(values) * 1000, 1), "events": len(values)}


def bench_cauce(work: Path, rate: float, seconds: float,
                state: str | None = None) -> dict[str, float]:
    """The chain on the home's SQLite state, or on ``state`` (a PostgreSQL URL)."""
    home = work / ("cauce" if state is None else "cauce-pg")
    (work / "chainapp.py").write_text(textwrap.dedent(CAUCE_APP))
    (work / "producer.py").write_text(textwrap.dedent(CAUCE_PRODUCER))
    ref = f"{work / 'chainapp.py'}:app"
    producer = str(work / "producer.py")
    env = {**os.environ, "CAUCE_STATE": state or sqlite_url(home / "state.db")}
    subprocess.run([sys.executable, producer, ref, str(home), "1", "0"], check=True, env=env)
    serve = subprocess.Popen([sys.executable, "-m", "cauce.cli.main", "serve", ref,
                              "--home", str(home)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    subprocess.run([sys.executable, producer, ref, str(home), str(rate), str(seconds)],
                   check=True, env=env)
    expected = int(rate * seconds)
    store = open_state(env["CAUCE_STATE"])
    try:
        deadline = time.monotonic() + 60
        while store.tables.count("chain:latency") < expected:
            if time.monotonic() > deadline:
                raise RuntimeError("the chain did not finish")
            time.sleep(0.1)
        values = [json.loads(v)["seconds"] for v in store.tables.scan("chain:latency")]
    finally:
        store.close()
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=60)
    return percentiles(values)


PROCRASTINATE_APP = """
import json, threading, time
import psycopg
from procrastinate import App, PsycopgConnector
CONNINFO, SCHEMA = {conninfo!r}, {schema!r}
app = App(connector=PsycopgConnector(conninfo=CONNINFO,
                                     kwargs={{"options": f"-c search_path={{SCHEMA}}"}}))
_local = threading.local()

def table():                              # one connection per worker thread, kept open
    if not hasattr(_local, "con"):
        _local.con = psycopg.connect(CONNINFO, autocommit=True,
                                     options=f"-c search_path={{SCHEMA}}")
    return _local.con

@app.task(name="on_object")
def on_object(path):                      # the object was written; its "event" is this task
    with open(path) as f:
        second.defer(key=path, t0=json.load(f)["t0"])

@app.task(name="second")
def second(key, t0):                      # the handler: a conditional put, then the "topic"
    table().execute("INSERT INTO seen (key) VALUES (%s) ON CONFLICT DO NOTHING", (key,))
    last.defer(key=key, t0=t0)

@app.task(name="last")
def last(key, t0):
    table().execute("INSERT INTO latency (key, seconds) VALUES (%s, %s)",
                    (key, time.time() - t0))
"""

PROCRASTINATE_PRODUCER = PRODUCING + """
import sys
sys.path.insert(0, sys.argv[1])
from procapp import app, on_object, table
if sys.argv[2] == "schema":
    with app.open():
        app.schema_manager.apply_schema()
    with table() as con:
        con.execute("CREATE TABLE seen (key text PRIMARY KEY)")
        con.execute("CREATE TABLE latency (key text, seconds double precision)")
    sys.exit()
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
with app.open():
    for i in paced(rate, seconds):
        on_object.defer(path=put_object(sys.argv[1], i))
"""


def bench_procrastinate(work: Path, rate: float, seconds: float, url: str) -> dict[str, float]:
    """The chain on procrastinate, in the schema of ``url`` (from `fresh_schema`)."""
    import psycopg

    server, schema = split_schema(url)
    folder = work / "procrastinate"
    [worker] = start_procrastinate(folder, PROCRASTINATE_APP, PROCRASTINATE_PRODUCER, url,
                                   processes=1, concurrency=4)
    time.sleep(2)
    subprocess.run([sys.executable, str(folder / "producer.py"), str(folder), str(rate),
                    str(seconds)], check=True)
    expected = int(rate * seconds)
    with psycopg.connect(server, autocommit=True, options=f"-c search_path={schema}") as con:
        deadline = time.monotonic() + 120
        while con.execute("SELECT count(*) FROM latency").fetchone()[0] < expected:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        values = [v for (v,) in con.execute("SELECT seconds FROM latency")]
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    return percentiles(values)


def bench_huey(work: Path, rate: float, seconds: float) -> dict[str, float]:
    folder = work / "huey"
    folder.mkdir()
    out = folder / "latency.txt"
    (folder / "hueychain.py").write_text(textwrap.dedent(HUEY_APP.format(
        db=str(folder / "huey.db"), out=str(out), table=str(folder / "table.db"))))
    (folder / "producer.py").write_text(textwrap.dedent(HUEY_PRODUCER))
    (folder / "consumer.py").write_text(textwrap.dedent(HUEY_CONSUMER))
    consumer = subprocess.Popen([sys.executable, str(folder / "consumer.py"), str(folder)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    subprocess.run([sys.executable, str(folder / "producer.py"), str(folder), str(rate),
                    str(seconds)], check=True)
    expected = int(rate * seconds)
    deadline = time.monotonic() + 120
    while not out.exists() or len(out.read_text().splitlines()) < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    consumer.send_signal(signal.SIGINT)
    consumer.wait(timeout=60)
    return percentiles([float(x) for x in out.read_text().split()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (to study the runs)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure cauce on PostgreSQL state and procrastinate there")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cauce-chain-"))
    found: dict[str, object] = {"rate_per_s": args.rate, "seconds": args.seconds}
    try:
        found["cauce"] = cauce = bench_cauce(work, args.rate, args.seconds)
        found["huey_sqlite"] = huey = bench_huey(work, args.rate, args.seconds)
        found["p99_ratio_huey_over_cauce"] = round(huey["p99_ms"] / cauce["p99_ms"], 2)
        if args.postgres:
            with fresh_schema(args.postgres) as state:
                found["cauce_postgresql"] = bench_cauce(work, args.rate, args.seconds, state)
            with fresh_schema(args.postgres) as url:
                found["procrastinate"] = bench_procrastinate(work, args.rate, args.seconds, url)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
