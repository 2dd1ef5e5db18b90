"""Graceful shutdown, cancellation and process workers, with real processes."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from runtime_helpers import cauce, start, wait_for

APP = """
import os, time
from pathlib import Path
from cauce import App

app = App("life")
work = app.queue("work", visibility_timeout="30s")
done = app.table("done", key="n")

@app.on(work)
def slow(message, ctx):
    Path(message.body["marker"]).write_text("started")
    time.sleep(1.5)
    done.put({"n": message.body["n"]})

@app.job
def sleeper(ctx, seconds: int = 60) -> None:
    ctx.run_command(["sleep", str(seconds)])

@app.job(worker="process", retries=0)
def in_process(ctx, seconds: int = 0) -> dict:
    if seconds:
        ctx.run_command(["sleep", str(seconds)])
    return {"pid": os.getpid()}

@app.job(worker="process", retries=0, timeout="1s")
def too_slow(ctx) -> None:
    time.sleep(60)
"""


# The long program's duration: unusual, so that no other `sleep` on the machine is taken for it,
# not even the one of this very test run at the same time from another checkout.
UNUSUAL_SECONDS = 3_600_000 + random.randrange(1_000_000)


def _runs(home: Path, where: str = "1") -> list[tuple]:
    con = sqlite3.connect(home / "state.db", timeout=30)
    try:
        return con.execute(f"SELECT id, name, status, error, result FROM runs WHERE {where} "
                           "ORDER BY queued_at").fetchall()
    except sqlite3.OperationalError:  # the home is still being created
        return []
    finally:
        con.close()


def test_sigterm_lets_the_handler_in_hand_finish(tmp_path: Path, app_module) -> None:
    ref = app_module("lifeapp", APP)
    home, marker = tmp_path / "home", tmp_path / "started"
    sent = cauce(home, "send", ref, "work", f'{{"n": 1, "marker": "{marker}"}}', cwd=tmp_path)
    assert sent.returncode == 0
    worker = start(["worker", ref, "--home", str(home)], tmp_path)
    wait_for(marker.exists, 30, "the handler to start")
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    [(_, _, status, _, _)] = _runs(home)
    assert status == "succeeded"
    con = sqlite3.connect(home / "state.db")
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 1


def test_cancel_stops_a_foreground_run_and_its_program(tmp_path: Path, app_module) -> None:
    ref = app_module("lifeapp2", APP)
    home = tmp_path / "home"
    run = start(["run", ref, "sleeper", "--home", str(home)], tmp_path)
    wait_for(lambda: (home / "state.db").exists() and bool(_runs(home, "status = 'running'")), 30,
             "the run")
    [(run_id, *_)] = _runs(home)
    started = time.monotonic()
    cancel = cauce(home, "runs", "cancel", run_id[:12], cwd=tmp_path)
    assert cancel.returncode == 0, cancel.stderr
    run.communicate(timeout=30)
    assert time.monotonic() - started < 15
    assert run.returncode == 1
    [(_, _, status, error, _)] = _runs(home)
    assert status == "cancelled" and "cancel" in error
    logs = cauce(home, "logs", run_id, cwd=tmp_path)
    assert "$ sleep 60" in logs.stdout


def test_process_worker_runs_in_another_process_and_can_be_cancelled(tmp_path: Path,
                                                                     app_module) -> None:
    ref = app_module("lifeapp3", APP)
    home = tmp_path / "home"
    serve = start(["serve", ref, "--home", str(home), "--processes", "2"], tmp_path)
    try:
        wait_for(lambda: (home / "state.db").exists(), 30, "serve to start")
        submit = """
import sys
from cauce import Runtime
from cauce.cli.loading import load_app
app, ref = load_app(sys.argv[1])
with Runtime(app, home=sys.argv[2]) as rt:
    rt.submit(app.get_job("in-process"))
    rt.submit(app.get_job("in-process"), params={"seconds": %d})
    rt.submit(app.get_job("too-slow"))
"""
        script = tmp_path / "submit.py"
        script.write_text(submit % UNUSUAL_SECONDS)
        subprocess.run([sys.executable, str(script), ref, str(home)], check=True, cwd=tmp_path,
                       timeout=60)
        wait_for(lambda: len(_runs(home, "name = 'in-process' AND status = 'running'")) >= 1
                 and len(_runs(home, "name = 'in-process' AND status = 'succeeded'")) == 1, 60,
                 "the quick process job to finish and the long one to start")
        [(long_id, *_)] = _runs(home, "name = 'in-process' AND status = 'running'")
        assert cauce(home, "runs", "cancel", long_id, cwd=tmp_path).returncode == 0
        wait_for(lambda: _runs(home, f"id = '{long_id}'")[0][2] == "cancelled", 30,
                 "the cancellation")
        wait_for(lambda: _runs(home, "name = 'too-slow'")[0][2] == "dead-lettered", 60,
                 "the timeout")
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=60)
    assert serve.returncode == 0, err
    [(_, _, _, _, result)] = _runs(home, "name = 'in-process' AND status = 'succeeded'")
    assert f'"pid": {serve.pid}' not in result
    [(_, _, _, error, _)] = _runs(home, "name = 'too-slow'")
    assert "timed out after 1 s" in error
    survivors = subprocess.run(["pgrep", "-f", f"^sleep {UNUSUAL_SECONDS}$"], capture_output=True,
                               text=True).stdout
    assert not survivors, "the cancelled job's program was stopped"
