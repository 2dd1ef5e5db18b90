"""Messages that kill their worker, with real processes: found and dead-lettered, the messages
claimed with them handled; run records that say what really happened — on each state engine."""

from __future__ import annotations

import json
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

KILLER_APP = """
import os, signal
from cauce import App

app = App("killer")
work = app.queue("work", max_receives=2, visibility_timeout="2s")
done = app.table("done", key="n")

@app.on(work, batch_size=BATCH)
def handle(message, ctx):
    for m in message if isinstance(message, list) else [message]:
        if m.body["n"] == 4:
            os.kill(os.getpid(), signal.SIGKILL)  # as an out-of-memory kill or a segfault would
    for m in message if isinstance(message, list) else [message]:
        done.put({"n": m.body["n"]})
"""

SEND = """
import sys
from cauce import Runtime
from cauce.cli.loading import load_app

app, _ = load_app(sys.argv[1])
with Runtime(app, home=sys.argv[2], role="producer"):  # the state: CAUCE_STATE, or the home's
    app.resources["work"].send_batch([{"n": n} for n in range(int(sys.argv[3]))])
"""


def _send(tmp_path: Path, ref: str, home: Path, count: int) -> None:
    script = tmp_path / "send.py"
    script.write_text(SEND)
    subprocess.run([sys.executable, str(script), ref, str(home), str(count)], check=True,
                   cwd=tmp_path, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 10])
def test_a_message_that_kills_its_worker_is_dead_lettered_and_the_rest_handled(
        tmp_path: Path, app_module, batch: int, state: StateView) -> None:
    ref = app_module(f"killer{batch}", KILLER_APP.replace("BATCH", str(batch)))
    home = tmp_path / "home"
    _send(tmp_path, ref, home, 10)
    deaths = 0
    worker = start(["worker", ref, "--home", str(home), "--threads", "1"], tmp_path)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if not state.messages("killer:work"):
                break
            if worker.poll() is not None:  # it died: restart it, as a supervisor would
                deaths += 1
                assert deaths <= 6, "a crash loop"
                worker = start(["worker", ref, "--home", str(home), "--threads", "1"], tmp_path)
            time.sleep(0.1)
        else:
            raise AssertionError(f"the queue did not empty ({deaths} deaths)")
    finally:
        worker.terminate()
        worker.communicate(timeout=60)
    assert deaths == 1, "after its first kill the message ran alone, in a child process"
    handled = sorted(json.loads(row["value"])["n"] for row in state.rows("items"))
    assert handled == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    [dead] = state.messages("killer:work.dlq")
    assert json.loads(dead.body) == {"n": 4}
    assert dead.last_error == "worker lost while handling it 2 times"


SLEEPY_APP = """
import time
from pathlib import Path
from cauce import App

app = App("sleepy")
work = app.queue("work", visibility_timeout="2s")
done = app.table("done", key="n")

@app.on(work)
def handle(message, ctx):
    # the first four tell the worker its deliveries are short, so it claims ahead of them
    if message.body["n"] == 4 and message.receive_count == 1:
        Path(MARKER).write_text("started")
        time.sleep(600)  # killed here, with more messages claimed behind it
    done.put({"n": message.body["n"]})
"""


@pytest.mark.slow
def test_runs_claimed_but_never_started_are_not_reported_lost(tmp_path: Path, app_module,
                                                              state: StateView) -> None:
    marker = tmp_path / "started"
    ref = app_module("sleepy", SLEEPY_APP.replace("MARKER", repr(str(marker))))
    home = tmp_path / "home"
    _send(tmp_path, ref, home, 20)
    first = start(["worker", ref, "--home", str(home), "--threads", "1"], tmp_path)
    wait_for(marker.exists, 60, "the handler to start")
    assert sum(1 for m in state.messages() if m.lease is not None) > 1, \
        "the worker claimed more than the run it started"
    wait_for(lambda: sorted(r["status"] for r in state.rows("runs"))
             == ["running"] + ["succeeded"] * 4, 10,
             "the long run to be recorded running (and no run of a claim it had not started)")
    first.kill()
    first.wait(timeout=10)
    second = start(["worker", ref, "--home", str(home)], tmp_path)
    try:
        wait_for(lambda: state.count("items") == 20, 60, "every message to be handled")
    finally:
        second.terminate()
        second.communicate(timeout=60)
    rows = [(r["attempt"], r["status"], r["error"])
            for r in sorted(state.rows("runs"), key=lambda r: r["started_at"])]
    lost = [r for r in rows if r[1] == "failed"]
    assert len(lost) == 1 and lost[0][2].startswith("worker lost")
    assert sorted(a for a, s, _ in rows if s == "succeeded") == [1] * 19 + [2]
    assert len(rows) == 21


PATIENT_APP = """
import os, signal, time
from pathlib import Path
from cauce import App

app = App("patient")
work = app.queue("work", max_receives=2, visibility_timeout="10m")
done = app.table("done", key="n")
FOLDER = Path(FOLDER_PATH)

@app.on(work)
def handle(message, ctx):
""" + PATIENT_START + """    done.put({"n": message.body["n"]})
"""


@pytest.mark.slow
@pytest.mark.parametrize("fate", ["finish", "die"])
def test_a_serve_killed_while_a_message_runs_in_a_child_does_not_count_against_it(
        tmp_path: Path, app_module, state: StateView, fate: str) -> None:
    ref = app_module("patient", PATIENT_APP.replace("FOLDER_PATH", repr(str(tmp_path))))
    home = tmp_path / "home"
    _send(tmp_path, ref, home, 1)
    # killed once with the message in its own thread (that counts), then twice (max_receives)
    # with it in a child process
    serve = serve_killed_three_times(ref, home, tmp_path, "delivery")
    try:
        tell_the_delivery(tmp_path, fate)
        wait_for(lambda: not state.messages("patient:work"), 30, "the message to be settled")
    finally:
        serve.terminate()
        serve.communicate(timeout=60)
    runs = sorted(state.rows("runs"), key=lambda r: r["started_at"])
    assert [r["status"] for r in runs] == ["failed"] * 3 + [
        "succeeded" if fate == "finish" else "dead-lettered"]
    assert_only_the_first_kill_counted(runs)
    dead = state.messages("patient:work.dlq")
    if fate == "finish":
        assert (state.items("patient:done"), dead) == (1, [])
    else:  # its own child's death counts: lost in its thread, then in its child
        assert [m.last_error for m in dead] == ["worker lost while handling it 2 times"]
