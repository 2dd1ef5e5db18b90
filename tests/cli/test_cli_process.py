"""The installed `cauce` command as a real process: exit statuses, and cancelling a run in
flight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

CAUCE = Path(sys.executable).with_name("cauce")

pytestmark = pytest.mark.skipif(not CAUCE.exists(),
                                reason=f"no cauce console script next to {sys.executable}")

APP = """
import time

from cauce import App, RunCancelled

app = App("waiter")


@app.job(retries=0)
def wait(ctx, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ctx.cancelled:
            raise RunCancelled("stopped between two chunks")
        time.sleep(0.05)
    return "waited"
"""


def cauce(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}
    return subprocess.run([str(CAUCE), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_exit_statuses(tmp_path: Path) -> None:
    ok = cauce("run", "example", "seed", "--files", "1", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == ["in/sample-000.csv"]
    unknown = cauce("run", "example", "sed", cwd=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines() == ["error: app 'example' has no job 'sed'",
                                           "hint: did you mean 'seed'?"]
    usage = cauce("run", "example", "seed", "--files", "x", cwd=tmp_path)
    assert usage.returncode == 2


def test_cancelling_a_running_run_from_another_process(tmp_path: Path) -> None:
    (tmp_path / "waiter.py").write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_")}
    running = subprocess.Popen([str(CAUCE), "run", "waiter.py:app", "wait", "--json"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        run_id = None
        deadline = time.monotonic() + 20
        while run_id is None and time.monotonic() < deadline:
            listed = cauce("runs", "--status", "running", "--json", cwd=tmp_path)
            if listed.returncode == 0 and json.loads(listed.stdout):
                run_id = json.loads(listed.stdout)[0]["id"]
            else:
                time.sleep(0.1)
        assert run_id is not None, "the run never started"
        asked = cauce("runs", "cancel", run_id, cwd=tmp_path)
        assert asked.returncode == 0, asked.stderr
        out, _ = running.communicate(timeout=20)
    finally:
        running.kill()
    assert running.returncode == 1
    run = json.loads(out)
    assert (run["id"], run["status"], run["error"]) == (run_id, "cancelled",
                                                        "cancelled: stopped between two chunks")
