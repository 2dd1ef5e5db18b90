"""Stream consumers killed with SIGKILL while a producer writes, with real processes: every
record ends up in exactly one sink file and has its effects exactly once; a slow consumer loses
nothing and catches up; a killed serve's batch running in a child process does not count; a
worker killed mid-batch hands the batch to a live worker long before its lease ends."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runtime_helpers import (
    PATIENT_START,
    StateView,
    assert_only_the_first_kill_counted,
    serve_killed_three_times,
    start,
    tell_the_delivery,
    wait_for,
)

from state_file_reads import lag, query

LAKE_APP = """
import os, time
from pathlib import Path
from cauce import App

app = App("lake")
events = app.stream("events", shards=2)
lake = app.bucket("lake")
app.sink(events, bucket=lake, prefix="raw/", partition_by=lambda r: f"part={r.data['n'] % 3}",
         max_bytes=600, max_seconds="1s", max_attempts=1000, visibility="2s")
totals = app.table("totals", key="key")
out = app.queue("out")

@app.on(events, batch_size=50, max_attempts=1000, visibility="2s")
def count(records, ctx):
    if os.environ.get("HOLD_FILE"):  # the test kills this worker mid-batch, for certain
        Path(os.environ["HOLD_FILE"]).touch()
        time.sleep(5)
    with ctx.atomic():  # read-modify-write: a batch applied twice would count twice
        for r in records:
            row = totals.get(r.partition_key) or {"key": r.partition_key, "n": 0}
            totals.put({**row, "n": row["n"] + 1})
        out.send_batch([{"n": r.data["n"]} for r in records])
"""

PRODUCE = """
import sys, time
from pathlib import Path
from cauce import Runtime
from cauce.cli.loading import load_app

app, _ = load_app(sys.argv[1])
stop, n = Path(sys.argv[3]), 0
with Runtime(app, home=sys.argv[2], role="producer"):
    events = app.resources["events"]
    while not stop.exists():
        events.put_many([({"n": n + i}, f"key-{(n + i) % 7}") for i in range(20)])
        n += 20
        time.sleep(0.02)
print(n)
"""


def _serving(home: Path, pid: int) -> bool:
    """Whether the worker process ``pid`` is registered on the home (started up, consuming)."""
    try:
        found = query(home, f"SELECT count(*) FROM workers WHERE pid = {pid} "
                             "AND stopped_at IS NULL")
    except sqlite3.OperationalError:  # the tables are still being created
        return False
    return found[0][0] > 0


def _sink_files(home: Path) -> dict[str, list[int]]:
    root = home / "buckets" / "lake" / "lake"
    return {
        str(p.relative_to(root)): [
            json.loads(line)["n"] for line in gzip.decompress(p.read_bytes()).splitlines()
        ]
        for p in root.rglob("*.jsonl.gz")
        if not p.name.startswith("put-")
    }


@pytest.mark.slow
def test_every_record_lands_in_one_file_and_counts_once_whatever_the_kills(
    tmp_path: Path, app_module
) -> None:
    ref = app_module("lake_app", LAKE_APP)
    home, stop = tmp_path / "home", tmp_path / "stop"
    (tmp_path / "produce.py").write_text(PRODUCE)
    producer = subprocess.Popen(
        [sys.executable, str(tmp_path / "produce.py"), ref, str(home), str(stop)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: (home / "state.db").exists(), 60, "the producer to create the home")
    chance = random.Random(13)
    kills = 0
    try:
        while kills < 20:
            holding = tmp_path / f"holding-{kills}"
            env = {**os.environ, "HOLD_FILE": str(holding)} if kills % 10 == 5 else None
            consumer = start(["worker", ref, "--home", str(home)], tmp_path, env)
            if env:  # twice: in the middle of a batch, its run started and nothing written
                wait_for(holding.exists, 60, "the consumer to start a batch")
            elif kills % 4:  # most kills once it consumes: anywhere in two flushes of the sink
                wait_for(lambda c=consumer: _serving(home, c.pid), 60, "the consumer to start")
                time.sleep(chance.uniform(0.0, 2.0))
            else:  # and some while it starts up
                time.sleep(chance.uniform(0.0, 0.5))
            consumer.send_signal(signal.SIGKILL)
            consumer.communicate(timeout=30)
            kills += 1
    finally:
        stop.touch()
        produced = int(producer.communicate(timeout=60)[0].strip())
    final = start(["worker", ref, "--home", str(home)], tmp_path)
    try:
        wait_for(
            lambda: (
                lag(home, "lake:events", "events-to-lake") == 0
                and lag(home, "lake:events", "count") == 0
            ),
            240,
            "the consumers to catch up",
        )
    finally:
        final.terminate()
        final.communicate(timeout=60)
    files = _sink_files(home)
    written = sorted(n for numbers in files.values() for n in numbers)
    assert produced > 1000 and written == list(range(produced)), "every record in exactly one file"
    assert query(home, "SELECT count(*) FROM messages WHERE queue LIKE '%.dlq'") == [(0,)]
    counted = query(
        home, "SELECT sum(json_extract(value, '$.n')) FROM items WHERE tbl = 'lake:totals'"
    )[0][0]
    sent = sorted(
        n
        for (n,) in query(
            home, "SELECT json_extract(body, '$.n') FROM messages WHERE queue = 'lake:out'"
        )
    )
    assert (counted, sent) == (produced, list(range(produced))), "every record's effects once"
    lost = query(home, "SELECT count(*) FROM runs WHERE error LIKE 'worker lost%'")[0][0]
    assert lost >= 1, "some kills landed while a batch was being written"


SLOW_APP = """
import time
from pathlib import Path
from cauce import App

app = App("slow")
events = app.stream("events", shards=2)
seen = app.table("seen", key="n")

@app.on(events, batch_size=20)
def slowly(records, ctx):
    if not Path("stop").exists():  # slow while the producer runs (the test's stop file, in cwd)
        time.sleep(0.2)  # 100 records/s at most, over two shards; then it catches up at speed
    with ctx.atomic():
        for r in records:
            seen.put({"n": r.data["n"]})
"""


@pytest.mark.slow
def test_a_slow_consumer_loses_nothing_and_its_lag_shrinks(tmp_path: Path, app_module) -> None:
    ref = app_module("slow_app", SLOW_APP)
    home, stop = tmp_path / "home", tmp_path / "stop"
    (tmp_path / "produce.py").write_text(PRODUCE)
    consumer = start(["worker", ref, "--home", str(home), "--threads", "1"], tmp_path)
    producer = subprocess.Popen(
        [sys.executable, str(tmp_path / "produce.py"), ref, str(home), str(stop)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: (
                (home / "state.db").exists()
                and query(home, "SELECT count(*) FROM stream_shards")[0][0] == 2
            ),
            60,
            "records in both shards",
        )
        lags = []
        for _ in range(4):
            time.sleep(1.5)
            lags.append(lag(home, "slow:events", "slowly"))
        assert lags == sorted(lags) and lags[-1] > lags[0], f"lag grows while behind: {lags}"
        shown = subprocess.run(
            [sys.executable, "-m", "cauce.cli.main", "streams", ref, "--home", str(home), "--json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert json.loads(shown.stdout)[0]["lag"]["slowly"] > 0
        stop.touch()
        produced = int(producer.communicate(timeout=60)[0].strip())
        wait_for(lambda: lag(home, "slow:events", "slowly") == 0, 240, "the consumer to catch up")
    finally:
        stop.touch()
        consumer.terminate()
        consumer.communicate(timeout=60)
    seen = sorted(
        n
        for (n,) in query(
            home, "SELECT json_extract(value, '$.n') FROM items WHERE tbl = 'slow:seen'"
        )
    )
    assert seen == list(range(produced))


PATIENT_APP = """
import os, signal, sys, time
from pathlib import Path
from cauce import App, Runtime

app = App("patient")
events = app.stream("events")
done = app.table("done", key="n")
FOLDER = Path(FOLDER_PATH)

@app.on(events, batch_size=10, max_attempts=2, visibility="10m")
def consume(records, ctx):
""" + PATIENT_START + """    for r in records:
        done.put({"n": r.data})

if __name__ == "__main__":  # put three records (the state: CAUCE_STATE, or the home's)
    with Runtime(app, home=sys.argv[1], role="producer"):
        events.put_many([(n, "a") for n in range(3)])
"""


@pytest.mark.slow
@pytest.mark.parametrize("fate", ["finish", "die"])
def test_a_serve_killed_while_a_batch_runs_in_a_child_does_not_count_against_it(
        tmp_path: Path, app_module, state: StateView, fate: str) -> None:
    ref = app_module("patient", PATIENT_APP.replace("FOLDER_PATH", repr(str(tmp_path))))
    home = tmp_path / "home"
    subprocess.run([sys.executable, ref.rsplit(":", 1)[0], str(home)], check=True, cwd=tmp_path,
                   timeout=60)
    # killed once with the batch in its own thread (that counts), then twice (max_attempts)
    # with it in a child process
    serve = serve_killed_three_times(ref, home, tmp_path, "batch delivery")
    dlq = "patient:stream/events/consume.dlq"
    try:
        tell_the_delivery(tmp_path, fate)
        wait_for(lambda: state.items("patient:done") == 3 or bool(state.messages(dlq)), 30,
                 "the batch to be settled")
    finally:
        serve.terminate()
        serve.communicate(timeout=60)
    runs = sorted(state.rows("runs"), key=lambda r: r["started_at"])
    last = "succeeded" if fate == "finish" else "dead-lettered"
    assert [(r["attempt"], r["status"]) for r in runs] == [
        (1, "failed"), (2, "failed"), (2, "failed"), (2, last)], "the kills counted once"
    assert_only_the_first_kill_counted(runs)
    dead = state.messages(dlq)
    if fate == "finish":
        assert (state.items("patient:done"), dead) == (3, [])
    else:  # its own child's death counts: lost in its thread, then in its child
        assert [m.last_error for m in dead] == ["worker lost while handling it 2 times"]


@pytest.mark.slow
def test_a_live_worker_takes_over_a_killed_workers_batch_long_before_its_lease_ends(
        tmp_path: Path, app_module, state: StateView) -> None:
    """Two workers; the one running a batch is SIGKILLed. The other finds its process gone at
    its next beat and takes the batch over at once: with a 10-minute lease (and takebacks only
    at a worker's start and every five minutes), it waited out the lease. The death counts (the
    batch ran in the killed worker's own thread), without back-off: the next attempt runs
    alone in a child process of the live worker."""
    ref = app_module("patient", PATIENT_APP.replace("FOLDER_PATH", repr(str(tmp_path))))
    home, starts = tmp_path / "home", tmp_path / "starts"
    workers = [start(["worker", ref, "--home", str(home), "--threads", "1"], tmp_path)
               for _ in range(2)]
    try:
        wait_for(lambda: state.running_workers() == 2, 60, "both workers to start")
        subprocess.run([sys.executable, ref.rsplit(":", 1)[0], str(home)], check=True,
                       cwd=tmp_path, timeout=60)
        wait_for(lambda: starts.exists() and len(starts.read_text().split()) == 1, 60,
                 "the batch to start")
        pid = int(starts.read_text().split()[0])
        victim = next(w for w in workers if w.pid == pid)
        victim.kill()
        victim.communicate(timeout=30)
        wait_for(lambda: len(starts.read_text().split()) == 2, 120,
                 "the live worker to start the batch again (its lease ends in 10 minutes)")
        survivor = next(w for w in workers if w is not victim)
        assert int(starts.read_text().split()[1]) != survivor.pid, "alone, in a child process"
        tell_the_delivery(tmp_path, "finish")
        wait_for(lambda: state.items("patient:done") == 3, 60, "the batch to finish")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
            worker.communicate(timeout=60)
    runs = sorted(state.rows("runs"), key=lambda r: r["started_at"])
    assert [(r["attempt"], r["status"], r["in_child"]) for r in runs] == [
        (1, "failed", 0), (2, "succeeded", 1)]
    assert runs[0]["error"].startswith("worker lost")
