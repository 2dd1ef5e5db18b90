"""A child process running a delivery whose serving process was killed: it finishes without a
traceback on the terminal they shared (nobody is left to tell; the lease brings the run back)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from cauce.runtime.processes import ChildTask, _child_main


def test_a_child_whose_parent_is_gone_ends_quietly(tmp_path: Path, capfd) -> None:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe(duplex=False)
    task = ChildTask("no_such_module_x:app", str(tmp_path), f"sqlite:///{tmp_path}/state.db", {},
                     "job", "j", "run1", 1, None, None, {})
    child = context.Process(target=_child_main, args=(task, theirs))
    child.start()
    theirs.close()
    ours.close()  # as a killed serving process's end is: the child's report has nowhere to go
    child.join(60)
    assert child.exitcode == 0
    assert "Traceback" not in capfd.readouterr().err


ORPHAN_APP = """
import os, time
from pathlib import Path
from cauce import App

app = App("orphan")
FOLDER = Path(FOLDER_PATH)

@app.job(worker="process")
def endless(ctx):
    (FOLDER / "child.tmp").write_text(str(os.getpid()))
    (FOLDER / "child.tmp").rename(FOLDER / "child")
    while True:  # never looks at ctx.cancelled
        time.sleep(0.05)
"""


def test_a_child_whose_serving_process_was_killed_stops(tmp_path: Path, app_module) -> None:
    """A `cauce worker` killed with SIGKILL left its `worker="process"` child running the job
    to its end, while the run, taken back, ran again in another worker: the same job twice at
    once, the first one's end heard by nobody. The child now stops once its parent is gone."""
    import os
    import signal

    from runtime_helpers import start

    from cauce import Runtime
    from cauce.cli.loading import load_app
    from waiting import wait_for

    ref = app_module("orphan", ORPHAN_APP.replace("FOLDER_PATH", repr(str(tmp_path))))
    home = tmp_path / "home"
    app, reference = load_app(ref)
    with Runtime(app, home=home, app_ref=reference) as runtime:
        runtime.submit(app.get_job("endless"))
    worker = start(["--home", str(home), "worker", ref], cwd=tmp_path)
    try:
        wait_for(lambda: (tmp_path / "child").exists(), 60, "the job to start in its child")
    finally:
        worker.kill()
        worker.wait(timeout=60)  # not its output: the child holds the same pipes
        for pipe in (worker.stdout, worker.stderr):
            if pipe is not None:
                pipe.close()
    child = int((tmp_path / "child").read_text())

    def gone() -> bool:  # no such process, or one that ended and waits to be reaped
        try:
            os.kill(child, 0)
            return Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except (ProcessLookupError, FileNotFoundError):
            return True

    try:
        wait_for(gone, 30, "the orphaned child to stop")
    finally:
        if not gone():
            os.kill(child, signal.SIGKILL)
