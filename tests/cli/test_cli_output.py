"""Output that survives a pipe: whole lines when stdout or stderr is not a terminal, tables that
shrink their wide columns on a narrow one, a failed run said once without a traceback (unless
--debug or CAUCE_DEBUG=1), and `cauce logs --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CAUCE = Path(sys.executable).with_name("cauce")

pytestmark = pytest.mark.skipif(
    not CAUCE.exists(), reason=f"no cauce console script next to {sys.executable}"
)

LONG = "x" * 150

APP = f"""
from cauce import App, CauceError

app = App("loud")


@app.job(retries=0)
def fail(ctx) -> None:
    ctx.log.info("a long line: {LONG}")
    raise CauceError("the source is gone: {LONG}", hint="put it back")
"""


def cauce(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAUCE_") and k != "COLUMNS"}
    return subprocess.run(
        [str(CAUCE), *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def failed(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "loud.py").write_text(APP)
    return cauce("run", "loud.py:app", "fail", cwd=tmp_path)


def test_a_failed_run_is_said_once_in_whole_lines_without_a_traceback(failed) -> None:
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    assert "Traceback" not in failed.stderr
    assert sum("the source is gone" in line for line in lines) == 1
    assert any(line.endswith(f"INFO    a long line: {LONG}") for line in lines)
    assert lines[-2].endswith(f"loud.fail failed in {lines[-2].split(' in ')[-1]}")
    assert lines[-2].split(": ", 1)[1] == f"CauceError: the source is gone: {LONG}"
    assert lines[-1] == "hint: put it back"


def test_the_traceback_is_in_the_runs_log_and_shown_with_debug(failed, tmp_path: Path) -> None:
    [run] = json.loads(cauce("runs", "--json", cwd=tmp_path).stdout)
    logged = cauce("logs", run["id"], cwd=tmp_path).stdout
    assert "Traceback (most recent call last)" in logged
    for debug in (("--debug",), ()):
        shown = cauce(
            *debug,
            "run",
            "loud.py:app",
            "fail",
            cwd=tmp_path,
            **({} if debug else {"CAUCE_DEBUG": "1"}),
        )
        assert shown.returncode == 1
        assert "Traceback (most recent call last)" in shown.stderr


def test_piped_tables_and_logs_keep_whole_lines(failed, tmp_path: Path) -> None:
    [run] = json.loads(cauce("runs", "--json", cwd=tmp_path).stdout)
    table = cauce("runs", cwd=tmp_path).stdout.splitlines()
    assert table[0].split() == [
        "run",
        "job/handler",
        "try",
        "status",
        "started",
        "secs",
        "error",
    ], "no partition column when no run has one"
    assert table[1].startswith(f"{run['id']}  loud.fail")
    assert f"failed  {run['started_at'][:10]}" in table[1]
    assert table[1].rstrip().endswith(f"{LONG} (hint: put it back)")
    logged = cauce("logs", run["id"], cwd=tmp_path).stdout.splitlines()
    assert logged[1].endswith(f"INFO: a long line: {LONG}")


def test_a_narrow_table_keeps_ids_and_statuses_whole(failed, tmp_path: Path) -> None:
    [run] = json.loads(cauce("runs", "--json", cwd=tmp_path).stdout)
    lines = cauce("runs", cwd=tmp_path, COLUMNS="80").stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert lines[0].split()[:2] == ["run", "job/handler"] and "try" not in lines[0]
    assert lines[1].startswith(f"{run['id']}  loud.fail  ")
    assert " failed " in lines[1]
    assert lines[1].rstrip().endswith("  CauceError:…")


def test_logs_as_json_lines(failed, tmp_path: Path) -> None:
    [run] = json.loads(cauce("runs", "--json", cwd=tmp_path).stdout)
    result = cauce("logs", run["id"], "--json", cwd=tmp_path)
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["run_id"] for line in lines} == {run["id"]}
    assert lines[1]["message"] == f"a long line: {LONG}"
    assert lines[-1]["level"] == "ERROR" and "Traceback" in lines[-1]["message"]
    assert set(lines[0]) == {"ts", "level", "app", "stream", "run_id", "message"}
    streams = json.loads(cauce("logs", "--json", cwd=tmp_path).stdout)
    assert {s["stream"] for s in streams} == {"general", f"fail/{run['id']}"}


def test_shell_completion_completes_commands(tmp_path: Path) -> None:
    done = cauce(
        cwd=tmp_path, _CAUCE_COMPLETE="complete_bash", COMP_WORDS="cauce ru", COMP_CWORD="1"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["run", "runs"]


UNENCODABLE = """
from cauce import App

app = App("odd")
work = app.queue("work", max_receives=1)


@app.on(work)
def handle(message, ctx) -> None:
    raise ValueError("no " + message.body["v"])


@app.job
def echo(ctx) -> str:
    ctx.log.info("odd %s", "x\\ud800y")
    work.send({"v": "x\\ud800y"})
    return "x\\ud800y"
"""


def test_text_no_encoding_holds_is_printed_escaped(tmp_path: Path) -> None:
    """A lone surrogate kept in a run's result, a log line or a dead letter is shown as its
    escape, not a failed command: stdout is strict UTF-8 by default."""
    (tmp_path / "odd.py").write_text(UNENCODABLE)
    shown = cauce("run", "odd.py:app", "echo", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == "x\ud800y"
    assert "INFO    odd x\\ud800y" in shown.stderr
    as_json = cauce("run", "odd.py:app", "echo", "--json", cwd=tmp_path)
    assert json.loads(as_json.stdout)["result"] == "x\ud800y"
    assert cauce("serve", "odd.py:app", "--for", "2s", cwd=tmp_path).returncode == 0
    letters = cauce("dlq", "list", "odd.py:app", "work", cwd=tmp_path)
    assert letters.returncode == 0, letters.stderr
    assert "ValueError: no x\\ud800y" in letters.stdout


CONTROLS = """
from cauce import App, CauceError

app = App("ctl")


@app.job(retries=0)
def greet(ctx, name: str = "x") -> None:
    ctx.log.info("hello %s", name)
    raise CauceError(f"no {name}", hint=f"ask {name}")
"""


def test_control_characters_from_data_are_shown_not_sent_to_the_terminal(tmp_path: Path) -> None:
    """An escape sequence or carriage return in a value (a file name, a record) would recolour,
    clear or rewrite the user's terminal: every place a run's text is printed shows it as
    \\xNN. Line breaks stay line breaks (a traceback keeps its lines)."""
    (tmp_path / "ctl.py").write_text(CONTROLS)
    name = "evil\x1b[2J\rX\x07\x9b"
    shown = r"evil\x1b[2J\x0dX\x07\x9b"
    ran = cauce("run", "ctl.py:app", "greet", "--name", name, cwd=tmp_path)
    assert ran.returncode == 1
    assert f"INFO    hello {shown}" in ran.stderr
    # a run's error is kept to its first line: only a line feed ends one, not a carriage return
    assert f"CauceError: no {shown}" in ran.stderr and r"hint: ask evil\x1b[2J" in ran.stderr
    run_id = json.loads(cauce("runs", "--json", cwd=tmp_path).stdout)[0]["id"]
    logs = cauce("logs", run_id, cwd=tmp_path)
    assert f"INFO: hello {shown}" in logs.stdout
    cauce("logs", run_id, "-o", "run.log", cwd=tmp_path)
    assert f"INFO: hello {shown}" in (tmp_path / "run.log").read_text(encoding="utf-8")
    for output in (ran.stderr, logs.stdout, (tmp_path / "run.log").read_text(encoding="utf-8")):
        assert not any(c in output for c in "\x1b\r\x07\x9b")
    # --json keeps the text as it is (JSON escapes control characters itself)
    as_json = cauce("logs", run_id, "--json", cwd=tmp_path).stdout.splitlines()
    assert any(json.loads(line)["message"] == f"hello {name}" for line in as_json)
