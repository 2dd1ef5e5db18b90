"""A job that closes the process's standard output or error (``sys.stdout.close()``,
``os.close(1)``) ends its run as it ended: `cauce run` reports it and exits with its outcome. It
used to end with "unexpected ValueError: I/O operation on closed file" (exit 1) after the run
succeeded, or, with stderr closed, to die before recording the run, which was then marked lost;
a `cauce serve` printed nothing more and ran its schedules no more."""

from __future__ import annotations

from pathlib import Path

import pytest
from runtime_helpers import cauce

APP = """
import os
import sys
from cauce import App

app = App("closer")

@app.job(retries=0)
def close_streams(ctx) -> int:
    sys.stdout.close()
    sys.stderr.close()
    return 1

@app.job(retries=0)
def close_descriptors(ctx) -> int:
    os.close(1)
    os.close(2)
    return 2
"""


@pytest.mark.parametrize(("job", "shown"), [("close-streams", True), ("close-descriptors", False)])
def test_a_job_closing_stdout_and_stderr_is_reported_as_it_ended(
        tmp_path: Path, app_module, job: str, shown: bool) -> None:
    ref = app_module("closer", APP)
    done = cauce(tmp_path / "home", "run", ref, job, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # a closed descriptor's output goes to the null device from then on
    assert (done.stdout.strip() == "1") is shown
    assert ("succeeded in" in done.stderr) is shown
    runs = cauce(tmp_path / "home", "runs", "--json", cwd=tmp_path)
    assert '"status": "succeeded"' in runs.stdout
