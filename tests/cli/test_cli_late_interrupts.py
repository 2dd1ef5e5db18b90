"""A Ctrl-C that lands once the job of a `cauce run` has ended changes nothing: the run's
outcome is recorded and reported as it was, and the command exits with it (in-process: each
signal is raised at a chosen point of the command)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pytest

import cauce.cli.console
import cauce.runtime.jobs

APP = """
import signal

from cauce import App

app = App("prompt")


@app.job(retries=0)
def quick(ctx) -> str:
    return "done"


@app.job(retries=0)
def stopped(ctx) -> str:
    signal.raise_signal(signal.SIGINT)  # Ctrl-C while it runs: it returns, but was asked to stop
    return "done"
"""

LATE_POINTS = {
    "before the run is recorded": (cauce.runtime.jobs, "_finish_foreground"),
    "while the run is reported": (cauce.cli.console, "summary_line"),
}


def _ctrl_c_before(function: Callable[..., Any]) -> Callable[..., Any]:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        signal.raise_signal(signal.SIGINT)
        return function(*args, **kwargs)

    return interrupted


@pytest.fixture(params=sorted(LATE_POINTS))
def late_ctrl_c(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    module, name = LATE_POINTS[request.param]
    monkeypatch.setattr(module, name, _ctrl_c_before(getattr(module, name)))


@pytest.mark.usefixtures("late_ctrl_c")
def test_a_job_that_finished_is_recorded_as_succeeded(cli, app_file) -> None:
    done = cli("run", app_file(APP), "quick")
    assert done.status == 0, done.err
    assert done.err.splitlines()[-1].startswith("✓ run ")
    assert done.out == '"done"\n'
    [run] = cli("runs", "--json").json()
    assert run["status"] == "succeeded"


@pytest.mark.usefixtures("late_ctrl_c")
def test_a_run_interrupted_mid_job_says_so_once_whatever_comes_after(cli, app_file) -> None:
    done = cli("run", app_file(APP), "stopped")
    assert done.status == 130, done.err
    *_, summary = done.err.splitlines()
    assert summary.startswith("■ run ") and summary.endswith(": interrupted by SIGINT")
    assert "interrupted" not in done.err.splitlines()  # what a stray KeyboardInterrupt says
    [run] = cli("runs", "--json").json()
    assert (run["status"], run["error"]) == ("cancelled", "cancelled: interrupted by SIGINT")
