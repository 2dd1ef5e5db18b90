"""`cauce run` keeps what a job declares: ``timeout=`` stops a run in its thread, and a
``worker="process"`` job runs in a child process, so that its process's death (``os._exit``,
out of memory) fails the run instead of ending `cauce run` with no word and exit status 0."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cauce import App, Runtime
from cauce.cli.loading import load_app
from cauce.runtime.jobs import run_foreground
from cauce.settings import ConfigSources

APP = """
import os
import time
from cauce import App

app = App("fore")

@app.job(worker="process", retries=0)
def pid(ctx) -> int:
    return os.getpid()

@app.job(worker="process", retries=0)
def hard_exit(ctx) -> None:
    os._exit(0)

@app.job(worker="process", retries=0)
def aborted(ctx) -> None:
    os.abort()  # what Polars does when an allocation fails

@app.job(worker="process", retries=0, timeout="0.5s")
def stuck(ctx) -> None:
    time.sleep(60)
"""


def _runtime(app: App, home: Path, ref: str | None = None) -> Runtime:
    return Runtime(app, home=home, app_ref=ref, config=ConfigSources(environ={}))


def test_a_thread_job_past_its_timeout_fails_timed_out(tmp_path: Path) -> None:
    """The job is stopped at its timeout, while it would otherwise go on for a minute."""
    app = App("fore")
    ended: list[str] = []

    @app.job(retries=0, timeout="0.2s")
    def polite(ctx) -> None:
        end = time.monotonic() + 60
        while not ctx.cancelled and time.monotonic() < end:
            time.sleep(0.01)
        ended.append("stopped" if ctx.cancelled else "ran on")

    with _runtime(app, tmp_path / "home") as rt:
        run = rt.run(polite)
    assert ended == ["stopped"]
    assert run.status == "failed"
    assert run.error == "timed out after 0.2 s; the job was stopped"


def test_a_process_job_runs_in_a_child_whose_death_fails_the_run(tmp_path: Path,
                                                                  app_module) -> None:
    app, ref = load_app(app_module("fore", APP))
    with _runtime(app, tmp_path / "home", ref) as rt:
        assert run_foreground(rt, "pid", in_child=True).result != os.getpid()
        died = run_foreground(rt, "hard-exit", in_child=True)
        # `Runtime.run` keeps it in this process: what a test set up here holds for it
        assert rt.run("pid").result == os.getpid()
    assert died.status == "failed"
    assert died.error == "the process running it died (exit code 0)"


def test_a_process_job_past_its_timeout_says_the_timeout_as_declared(tmp_path: Path,
                                                                     app_module) -> None:
    app, ref = load_app(app_module("fore_timeout", APP))
    with _runtime(app, tmp_path / "home", ref) as rt:
        run = run_foreground(rt, "stuck", in_child=True)
    assert run.error == "timed out after 0.5 s; the process was stopped"  # not "after 0 s"


class _Abort(BaseException):
    """A library's own BaseException (not an Exception), as some raise to unwind."""


def test_a_job_raising_a_base_exception_fails_its_run(tmp_path: Path) -> None:
    app = App("fore")

    @app.job(retries=0)
    def aborts(ctx) -> None:
        raise _Abort("given up")

    with _runtime(app, tmp_path / "home") as rt:
        run = rt.run(aborts)
    assert run.status == "failed"
    assert run.error == "_Abort: given up"


def test_a_return_value_that_is_not_kept_is_said_so_in_the_run_log(tmp_path: Path) -> None:
    app = App("fore")

    @app.job(retries=0)
    def big(ctx) -> list[str]:
        return ["x" * 1000] * 1100

    with _runtime(app, tmp_path / "home") as rt:
        run = rt.run(big)
        lines = [line.message for line in rt.logs(run.id)]
    assert run.status == "succeeded" and run.result is None
    assert any("its return value (list) is not kept on the run" in line for line in lines), lines


def test_a_run_stopped_by_keyboard_interrupt_is_recorded_cancelled(tmp_path: Path) -> None:
    app = App("fore")

    @app.job(retries=0)
    def interrupted(ctx) -> None:
        raise KeyboardInterrupt

    with _runtime(app, tmp_path / "home") as rt:
        with pytest.raises(KeyboardInterrupt):
            rt.run(interrupted)
        (run,) = rt.runs(interrupted)
    assert run.status == "cancelled"
    assert run.error == "cancelled: interrupted (KeyboardInterrupt)"


def test_a_process_job_aborted_or_killed_gets_a_hint_about_memory(tmp_path: Path,
                                                                  app_module) -> None:
    """A child aborted (native code out of memory) failed its run with `killed by SIGABRT`
    and the hint to read a traceback, which the run's log does not have."""
    app, ref = load_app(app_module("fore_abort", APP))
    with _runtime(app, tmp_path / "home", ref) as rt:
        run = run_foreground(rt, "aborted", in_child=True)
    assert run.status == "failed"
    assert run.error.startswith("the process running it died (killed by SIGABRT) (hint: native "
                                "code aborted it, as it does when memory cannot be had")
    assert "this process ran out of memory" in run.error


def test_a_process_job_whose_process_cannot_be_started_fails_naming_the_limit(
        tmp_path: Path, app_module, monkeypatch: pytest.MonkeyPatch) -> None:
    """fork's EAGAIN (a pids.max, ulimit -u) ended the command with `unexpected
    BlockingIOError` (in a serve: `internal error: BlockingIOError ...` and a traceback)."""
    import errno
    import multiprocessing.context

    def no_fork(self) -> None:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    app, ref = load_app(app_module("fore_nofork", APP))
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", no_fork)
    with _runtime(app, tmp_path / "home", ref) as rt:
        run = run_foreground(rt, "pid", in_child=True)
    assert run.status == "failed"
    assert run.error.startswith("its process could not be started: no process can be started "
                                "(BlockingIOError: [Errno 11] Resource temporarily unavailable) "
                                "(hint: this process is at a limit (")
