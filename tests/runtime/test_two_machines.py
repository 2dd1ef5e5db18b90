"""Two machines: two worker processes with homes and working folders of their own, sharing only
a PostgreSQL state and an S3 server, share an event chain and a backfill; one is SIGKILLed
half-way, and the other finishes its work — nothing lost, nothing done twice."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from runtime_helpers import StateView, start, wait_for, write_app

from state_targets import postgres_state

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

APP = """
import time
from cauce import App, ConditionFailed, daily
from cauce.runtime import sources

# a job run's lease is 30 s: the dead machine's partition would wait that long to come back.
# 6 s still leaves the live runs' leases renewed many times over (every 0.67 s: a third of
# the work queue's 2 s lease).
sources.JOB_VISIBILITY = 6.0

app = App("twomach")
drop = app.bucket("drop")
work = app.queue("work", visibility_timeout="2s")
news = app.topic("news")
done = app.table("done", key="n")
told = app.table("told", key="n")
days = app.table("days", key="day")
began = app.table("began", key=["day", "by"])


def once(table, item):
    try:
        table.put(item, if_absent=True)
    except ConditionFailed:
        pass  # delivered again after a kill: the first delivery already did it


@app.on(drop, prefix="in/")
def arrived(obj, ctx):
    work.send({"n": int(obj.read().decode()), "key": obj.key})


@app.on(work)
def handle(message, ctx):
    time.sleep(0.05)
    once(done, {"n": message.body["n"], "by": os.environ.get("MACHINE")})
    news.publish({"n": message.body["n"]})


@app.on(news)
def tell(message, ctx):
    once(told, {"n": message.body["n"]})


# The first partition a worker machine starts is held until the test kills it there: the
# claim is a file of the folder the test shares, then the machine's name in "held".
def hold_if_first():
    machine, folder = os.environ.get("MACHINE"), Path(os.environ["HOLD"])
    if machine not in ("a", "b"):
        return
    try:
        os.close(os.open(folder / "claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    (folder / "name").write_text(machine)
    (folder / "name").rename(folder / "held")
    time.sleep(600)  # SIGKILLed here


@app.job(partitions=daily(start="2024-01-01"), concurrency=1)  # one at a time per process
def summary(ctx):
    began.put({"day": ctx.partition, "by": os.environ.get("MACHINE")})
    hold_if_first()
    time.sleep(1.0)  # the work: the other processes take partitions meanwhile
    drop.put(f"out/{ctx.partition}.txt", ctx.partition)
    once(days, {"day": ctx.partition, "by": os.environ.get("MACHINE")})


@app.job
def seed(ctx, files: int = 40):
    for n in range(files):
        drop.put(f"in/{n:03d}.txt", str(n))
""".replace("import time", "import os\nimport time\nfrom pathlib import Path")

FILES, DAYS = 40, 20


def _machine(tmp_path: Path, name: str, state: str, buckets: str) -> tuple[Path, dict]:
    """A working folder of its own holding the app and a home; the environment it runs with."""
    folder = tmp_path / name
    folder.mkdir()
    write_app(folder, "twomach", APP)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CAUCE_STATE": state, "CAUCE_BUCKETS": buckets,
           "CAUCE_HOME": str(folder / "home"), "MACHINE": name, "TMPDIR": str(folder),
           "HOLD": str(tmp_path)}
    return folder, env


def test_two_machines_share_the_work_and_one_dying_loses_nothing(
        tmp_path: Path, s3_endpoint: str, request: pytest.FixtureRequest) -> None:
    url = postgres_state(request)
    state = StateView(url)
    buckets = f"s3://cauce-test/{uuid.uuid4().hex[:12]}"
    (a, env_a), (b, env_b) = (_machine(tmp_path, m, url, buckets) for m in ("a", "b"))
    ref = "twomach.py:app"

    def worker(folder: Path, env: dict):
        return start(["worker", ref, "--threads", "2"], folder, env=env)

    workers = {"a": worker(a, env_a), "b": worker(b, env_b)}
    backfill = None
    try:
        wait_for(lambda: state.running_workers() == 2, 60, "both workers to start")
        seed = start(["run", ref, "seed", "--files", str(FILES)], a, env=env_a)
        _, err = seed.communicate(timeout=120)
        assert seed.returncode == 0, err
        # the backfill after the seed: on a loaded machine the seed can outlast the whole
        # backfill, which then ends before anyone looks for a machine in the middle of it
        backfill = start(["backfill", ref, "summary", "--from", "2024-01-01",
                          "--to", f"2024-01-{DAYS:02d}"], a, env={**env_a, "MACHINE": "a2"})
        # one machine dies in the middle of a partition of the backfill: its first one, held
        wait_for((tmp_path / "held").exists, 180, "a machine to be in the middle of a partition")
        dead = (tmp_path / "held").read_text()
        workers[dead].send_signal(signal.SIGKILL)
        workers[dead].communicate(timeout=30)
        _, err = backfill.communicate(timeout=240)
        assert backfill.returncode == 0, err
        wait_for(lambda: state.items("twomach:told") >= FILES, 120, "the chain to finish")
        wait_for(lambda: state.count("messages") == 0, 60, "every queue to empty")
    finally:
        for process in [*workers.values(), *([backfill] if backfill else [])]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=60)
    items = {table: [row for row in state.rows("items") if row["tbl"] == f"twomach:{table}"]
             for table in ("done", "told", "days")}
    assert len(items["done"]) == len(items["told"]) == FILES, "nothing lost"
    assert len(items["days"]) == DAYS
    assert {row["version"] for rows in items.values() for row in rows} == {1}, \
        "nothing done twice"
    by = {json.loads(row["value"])["by"] for row in items["done"]}
    assert by == {"a", "b"}, "both machines took a share of the chain"
    runs = state.rows("runs")
    succeeded = sorted(r["partition"] for r in runs
                       if r["name"] == "summary" and r["status"] == "succeeded")
    assert succeeded == [f"2024-01-{d:02d}" for d in range(1, DAYS + 1)], \
        "each partition succeeded once"
    failed = [r for r in runs if r["status"] != "succeeded"]
    assert failed, "the kill landed in a run"
    assert all(r["error"].startswith("worker lost") for r in failed), failed
    began_by = {json.loads(row["value"])["by"] for row in state.rows("items")
                if row["tbl"] == "twomach:began"}
    assert dead in began_by and len(began_by) >= 2, "the backfill was spread across machines"
    # the objects are in S3, where any machine reads them: a third home lists them
    listed = _list(tmp_path, url, buckets)
    assert sorted(listed) == [f"out/2024-01-{d:02d}.txt" for d in range(1, DAYS + 1)]


def _list(tmp_path: Path, url: str, buckets: str) -> list[str]:
    """The keys under out/ of the app's bucket, seen from a home of its own."""
    from cauce import Runtime
    from cauce.cli.loading import load_app
    from cauce.settings import ConfigSources

    app, _ = load_app(str(tmp_path / "a" / "twomach.py") + ":app")
    config = ConfigSources(environ={"CAUCE_STATE": url, "CAUCE_BUCKETS": buckets})
    with Runtime(app, home=tmp_path / "c", config=config, role="producer"):
        return [ref.key for ref in app.resources["drop"].list("out/")]
