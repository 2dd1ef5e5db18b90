"""A job run in a worker thread that never checks ``ctx.cancelled``: `cauce runs cancel`
interrupts it a few seconds after asking, and a serving process's shutdown gives it back and
stops it, so that the process ends instead of waiting for the job."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from runtime_helpers import cauce, start, wait_for

APP = """
import time
from pathlib import Path
from cauce import App

app = App("stubborn")

@app.job(retries=0)
def spin(ctx, marker: str = "", seconds: float = 600.0) -> str:
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # never looks at ctx.cancelled
            time.sleep(0.05)
        return "done"
    finally:
        if marker:
            Path(marker).write_text("cleaned up")
"""

SUBMIT = """
import sys
from cauce import Runtime
from cauce.cli.loading import load_app
app, ref = load_app(sys.argv[1])
with Runtime(app, home=sys.argv[2]) as rt:
    print(rt.submit(app.get_job("spin"), params={"marker": sys.argv[3]}))
"""


def _submit(tmp_path: Path, ref: str, home: Path, marker: Path) -> str:
    script = tmp_path / "submit.py"
    script.write_text(SUBMIT)
    done = subprocess.run([sys.executable, str(script), ref, str(home), str(marker)],
                          check=True, cwd=tmp_path, timeout=60, capture_output=True, text=True)
    return done.stdout.strip()


def _run(home: Path, run_id: str) -> tuple[str, str | None]:
    con = sqlite3.connect(home / "state.db", timeout=30)
    try:
        return con.execute("SELECT status, error FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        con.close()


def _serving(tmp_path: Path, app_module, *args: str) -> tuple[str, Path, subprocess.Popen]:
    ref = app_module("stubborn", APP)
    home = tmp_path / "home"
    serve = start(["serve", ref, "--home", str(home), *args], tmp_path)
    wait_for(lambda: (home / "state.db").exists(), 30, "serve to start")
    return ref, home, serve


def _stop(serve: subprocess.Popen) -> str:
    """SIGTERM, and the process's stderr once it ended (killed if it did not within a minute)."""
    serve.send_signal(signal.SIGTERM)
    try:
        return serve.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        serve.kill()
        serve.communicate()
        raise


def test_cancel_interrupts_a_thread_job_that_never_checks(tmp_path: Path, app_module) -> None:
    ref, home, serve = _serving(tmp_path, app_module)
    marker = tmp_path / "marker"
    try:
        run_id = _submit(tmp_path, ref, home, marker)
        wait_for(lambda: _run(home, run_id)[0] == "running", 30, "the run to start")
        asked = cauce(home, "runs", "cancel", run_id, cwd=tmp_path)
        assert asked.returncode == 0, asked.stderr
        assert "interrupted" in asked.stdout and "ctx.cancelled" in asked.stdout
        wait_for(lambda: _run(home, run_id)[0] == "cancelled", 60, "the run to be interrupted")
    finally:
        err = _stop(serve)
    assert serve.returncode == 0, err
    _, error = _run(home, run_id)
    assert "never checked ctx.cancelled" in error and "interrupted" in error
    assert marker.read_text() == "cleaned up", "its finally block ran"
    logs = cauce(home, "logs", run_id, cwd=tmp_path).stdout
    assert "was interrupted" in logs


def test_shutdown_gives_the_run_back_and_the_process_ends(tmp_path: Path, app_module) -> None:
    ref, home, serve = _serving(tmp_path, app_module, "--grace", "1s")
    marker = tmp_path / "marker"
    run_id = _submit(tmp_path, ref, home, marker)
    wait_for(lambda: _run(home, run_id)[0] == "running", 30, "the run to start")
    err = _stop(serve)  # without the interruption it would wait for the job's 600 s
    assert serve.returncode == 0, err
    assert "gave back 1 unfinished run(s)" in err
    assert _run(home, run_id) == ("failed",
                                  "worker stopped before the run finished; delivered again")
    assert marker.read_text() == "cleaned up", "its finally block ran"
    con = sqlite3.connect(home / "state.db")
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 1, "given back"
