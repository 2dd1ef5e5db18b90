"""ctx.run_command: an external program whose output lands in the run's log stream line by line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cauce import App, CommandFailed, CommandResult, CommandTimeout
from cauce.testing import TestRuntime

PYTHON = sys.executable


def run_job(func, **params):
    app = App("cmd")
    job = app.job(retries=0)(func)
    with TestRuntime(app) as rt:
        run = rt.run(job, **params)
        return run, rt.logs(run.id)


def test_a_program_runs_and_its_result_comes_back() -> None:
    def program(ctx) -> list:
        result = ctx.run_command([PYTHON, "-c", "import sys; print('out 1'); "
                                                "print('err 1', file=sys.stderr); print('out 2')"])
        assert isinstance(result, CommandResult)
        return [result.returncode, result.stdout_lines, result.stderr_lines]

    run, _ = run_job(program)
    assert run.result == [0, ["out 1", "out 2"], ["err 1"]]


def test_the_command_and_its_exit_are_logged(tmp_path) -> None:
    def program(ctx) -> None:
        ctx.run_command([PYTHON, "-c", "pass"], cwd=tmp_path)

    _, lines = run_job(program)
    messages = [line.message for line in lines]
    assert f"$ {PYTHON} -c pass" in messages
    assert any(m.startswith(f"{Path(PYTHON).name} exited with status 0 after") for m in messages)


def test_stdout_and_stderr_lines_are_streamed_into_the_run_log() -> None:
    def program(ctx) -> None:
        ctx.run_command([PYTHON, "-c", "import sys; print('loading'); "
                                       "print('1 warning', file=sys.stderr)"])

    _, lines = run_job(program)
    levels = {line.message: line.level for line in lines}
    assert levels.get("loading") == "INFO"
    assert levels.get("1 warning") == "WARNING"


def test_a_non_zero_exit_raises_command_failed_with_the_last_line() -> None:
    caught = {}

    def program(ctx) -> None:
        try:
            ctx.run_command([PYTHON, "-c", "import sys; print('reading'); "
                                           "sys.exit('input file missing')"])
        except CommandFailed as err:
            caught.update(returncode=err.returncode, message=err.message, hint=err.hint)
            raise

    run, _ = run_job(program)
    assert caught == {"returncode": 1, "message": f"{Path(PYTHON).name} exited with status 1",
                      "hint": "its last line: input file missing"}
    assert run.status.value == "failed"
    assert run.error.startswith("CommandFailed: ")


def test_check_false_returns_the_status_instead() -> None:
    def program(ctx) -> int:
        return ctx.run_command([PYTHON, "-c", "raise SystemExit(3)"], check=False).returncode

    run, _ = run_job(program)
    assert run.result == 3


def test_a_program_past_its_timeout_is_stopped() -> None:
    def program(ctx) -> None:
        ctx.run_command([PYTHON, "-c", "import time; time.sleep(30)"], timeout=0.5)

    started = time.monotonic()
    run, _ = run_job(program)
    assert time.monotonic() - started < 10
    assert run.status.value == "failed"
    assert run.error.startswith(f"CommandTimeout: {Path(PYTHON).name} did not finish within 0.5 s")


def test_command_timeout_is_a_cauce_error() -> None:
    def program(ctx) -> str:
        try:
            ctx.run_command([PYTHON, "-c", "import time; time.sleep(30)"], timeout=0.3)
        except CommandTimeout as err:
            return err.hint or ""
        return "not stopped"

    run, _ = run_job(program)
    assert "raise the timeout" in run.result


def test_a_program_that_cannot_start() -> None:
    def program(ctx) -> None:
        ctx.run_command(["/no/such/program", "--help"])

    run, _ = run_job(program)
    assert run.error.startswith("CommandFailed: cannot start /no/such/program")


def test_environment_variables_are_added_for_the_program() -> None:
    def program(ctx) -> list[str]:
        code = "import os; print(os.environ['CAUCE_TEST_VALUE'], 'PATH' in os.environ)"
        return ctx.run_command([PYTHON, "-c", code], env={"CAUCE_TEST_VALUE": "42"}).stdout_lines

    run, _ = run_job(program)
    assert run.result == ["42 True"]
