"""What long work shows: a job's `ctx.progress` as lines in its log stream (and on stderr when
piped), and the handler runs of `cauce serve`, one by one or counted."""

from __future__ import annotations

import re

APP = """
from cauce import App

app = App("steps")


@app.job
def work(ctx, steps: int = 3) -> int:
    for done in range(1, steps + 1):
        ctx.progress(done, steps, "chunks")
    return steps
"""


def test_progress_reaches_the_log_stream_and_piped_stderr(cli, app_file) -> None:
    result = cli("run", app_file(APP), "work", "--json")
    assert result.status == 0, result.err
    shown = re.findall(r"INFO    progress: (.*)", result.err)
    assert shown == ["chunks: 1/3 (33%)", "chunks: 3/3 (100%)"], "throttled, the end kept"
    run_id = result.json()["id"]
    logged = cli("logs", run_id).out
    assert "INFO: progress: chunks: 1/3 (33%)" in logged
    assert "INFO: progress: chunks: 3/3 (100%)" in logged


def test_serve_tells_the_handler_runs(cli) -> None:
    assert cli("run", "example", "seed", "--files", "5").status == 0
    served = cli("serve", "example", "--for", "3s")
    assert served.status == 0, served.err
    [counted] = re.findall(r"INFO    handler runs in the last 10s: (.*)", served.err)
    assert "on_file 5 succeeded" in counted and "notify 5 succeeded" in counted
    general = cli("logs", "general", "--app", "example").out
    assert f"handler runs in the last 10s: {counted}" in general


FAILING = """
from cauce import App

app = App("fragile")
work = app.queue("work", max_receives=1)


@app.on(work)
def breaks(message, ctx) -> None:
    raise ValueError("boom")
"""


def test_serve_says_a_failed_handler_run_once_with_its_error(cli, app_file) -> None:
    ref = app_file(FAILING)
    assert cli("send", ref, "work", "{}").status == 0
    served = cli("serve", ref, "--for", "2s")
    assert served.status == 0, served.err
    said = [line for line in served.err.splitlines() if "ValueError: boom" in line]
    assert len(said) == 1, served.err
    assert said[0].endswith("dead-lettered after 1 attempt(s): ValueError: boom")
    assert "Traceback" not in served.err
