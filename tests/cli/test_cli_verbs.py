"""The verbs around runs, schedules and workers: retry, prune, pause and resume, `cauce workers`,
`--version`, and arguments refused in one line."""

from __future__ import annotations

import re
import shlex
import sqlite3
import time
from pathlib import Path

import pytest

from cauce import __version__
from cauce.cli.loading import load_app
from cauce.testing import TestRuntime

APP = """
from cauce import App

app = App("verbs")


@app.job(schedule="0 3 * * *")
def nightly(ctx) -> None:
    pass


@app.job(retries=0)
def flaky(ctx, n: int = 1) -> int:
    if n < 0:
        raise ValueError("negative")
    return n
"""

UNSCHEDULED = """
from cauce import App

app = App("plain")


@app.job
def once(ctx) -> None:
    pass
"""


def test_version(cli) -> None:
    result = cli("--version")
    assert (result.status, result.out.strip()) == (0, f"cauce {__version__}")


def test_a_negative_limit_is_refused_in_one_line(cli) -> None:
    result = cli("runs", "--limit", "-3")
    assert result.status == 2
    assert result.err.splitlines() == [
        "error: Invalid value for '--limit': -3 is not in the range 1<=x<=1000000000.",
        "hint: see `cauce runs --help`",
    ]


def test_a_port_out_of_range_is_refused_in_one_line(cli) -> None:
    for args in (("ui", "--port", "70000"), ("serve", "example", "--ui-port", "-1")):
        result = cli(*args)
        assert result.status == 2
        [error, hint] = result.err.splitlines()
        assert error.startswith("error: Invalid value for '--") and hint.startswith("hint: see `")


def test_retry_queues_a_fresh_run_with_the_same_options(cli, app_file) -> None:
    ref = app_file(APP)
    failed = cli("run", ref, "flaky", "--n", "-1", "--json")
    assert failed.status == 1
    old = failed.json()
    result = cli("runs", "retry", old["id"][:14])
    assert result.status == 0, result.err
    new_id = re.search(r"queued run (\w+) \(verbs\.flaky\), a retry of (\w+)", result.out)
    assert new_id is not None and new_id.group(2) == old["id"]
    queued = cli("runs", "show", new_id.group(1), "--json").json()
    assert (queued["status"], queued["params"], queued["trigger"]) == (
        "queued",
        {"n": -1},
        f"retry of {old['id']}",
    )
    again = cli("runs", "retry", new_id.group(1))
    assert again.status == 1
    assert again.err.splitlines()[0] == f"error: run {new_id.group(1)} is still queued"


def test_prune_deletes_old_finished_runs_and_their_lines(cli, app_file, tmp_path: Path) -> None:
    ref = app_file(APP)
    assert cli("run", ref, "flaky").status == 0
    assert cli("run", ref, "flaky", "--n", "2").status == 0
    con = sqlite3.connect(tmp_path / ".cauce" / "state.db")
    old = time.time() - 40 * 86400
    with con:  # the first run and its lines, forty days ago
        first = con.execute("SELECT id FROM runs ORDER BY id LIMIT 1").fetchone()[0]
        con.execute("UPDATE runs SET started_at = ?, ended_at = ? WHERE id = ?", (old, old, first))
        con.execute("UPDATE logs SET ts = ? WHERE run_id = ?", (old, first))
    lines = con.execute("SELECT count(*) FROM logs WHERE run_id = ?", (first,)).fetchone()[0]
    con.close()
    result = cli("runs", "prune", "--older-than", "30d")
    assert result.status == 0, result.err
    assert result.out.strip() == f"deleted 1 run(s) and {lines} log line(s) older than 30d"
    assert [r["params"] for r in cli("runs", "--json").json()] == [{"n": 2}]
    bad = cli("runs", "prune", "--older-than", "soon")
    assert bad.status == 2 and bad.err.startswith(
        "error: Invalid value for '--older-than': 'soon' is not a duration")
    negative = cli("runs", "prune", "--older-than", "-1")
    assert (negative.status, negative.err.splitlines()) == (2, [
        "error: Invalid value for '--older-than': '-1' is negative; a duration is 0 or more, "
        'e.g. "30s"', "hint: see `cauce runs prune --help`"])


def test_pause_and_resume_a_schedule(cli, app_file) -> None:
    ref = app_file(APP)
    listed = cli("schedules", ref)
    assert listed.status == 0
    assert re.fullmatch(
        r"nightly: cron 0 3 \* \* \* UTC  next \S+ 03:00:00\+00:00 UTC \(once `cauce serve` "
        r"runs\)\n",
        listed.out,
    ), listed.out
    paused = cli("schedules", ref, "--pause", "nightly", "--reason", "source down")
    assert paused.status == 0
    # the command it names works as given: the app's name alone is no bundled app
    assert f"(`cauce schedules {shlex.quote(ref)} --resume nightly` resumes it)" in paused.out
    assert cli("schedules", ref, "--json").json()[0]["paused"] == "source down"
    assert cli("schedules", ref).out == "nightly: cron 0 3 * * * UTC  paused: source down\n"
    resumed = cli("schedules", ref, "--resume", "nightly")
    assert resumed.out.startswith("resumed nightly")
    assert cli("schedules", ref, "--resume", "nightly").out.strip() == (
        "the schedule of nightly was not paused"
    )
    unscheduled = cli("schedules", ref, "--pause", "flaky")
    assert unscheduled.status == 1
    assert unscheduled.err.splitlines() == [
        "error: job 'flaky' of app 'verbs' has no schedule",
        "hint: scheduled jobs: nightly",
    ]


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_pause_with_a_blank_reason_pauses(cli, app_file, reason: str) -> None:
    """The pause holds and can be resumed: kept with an empty reason it was no pause at all
    (the schedule fired on, and --resume said it was not paused)."""
    ref = app_file(APP)
    paused = cli("schedules", ref, "--pause", "nightly", "--reason", reason)
    assert paused.out.startswith("paused the schedule of nightly: no reason given ")
    assert cli("schedules", ref, "--json").json()[0]["paused"] == "no reason given"
    assert cli("schedules", ref, "--resume", "nightly").out.startswith("resumed nightly")


@pytest.mark.parametrize("option", ["--pause", "--resume"])
def test_an_empty_job_to_pause_or_resume_is_named(cli, app_file, option: str) -> None:
    """Not taken for no option at all, which listed the schedules and paused nothing."""
    result = cli("schedules", app_file(APP), option, "")
    assert (result.status, result.out) == (1, "")
    assert result.err.splitlines()[0] == "error: app 'verbs' has no job ''"


@pytest.mark.parametrize("resume", [(), ("--resume", "nightly")], ids=["alone", "with-resume"])
def test_a_reason_without_pause_is_a_usage_error(cli, app_file, resume) -> None:
    result = cli("schedules", app_file(APP), "--reason", "source down", *resume)
    assert result.status == 2
    assert result.err.splitlines() == [
        "error: Invalid value for '--reason': it goes with --pause JOB (the reason for that "
        "pause)",
        "hint: see `cauce schedules --help`",
    ]


@pytest.mark.parametrize("order", [("--pause", "--resume"), ("--resume", "--pause")])
def test_pause_and_resume_together_is_a_usage_error(cli, app_file, order) -> None:
    result = cli("schedules", app_file(APP), order[0], "nightly", order[1], "nightly")
    assert (result.status, result.out) == (2, "")
    assert result.err.splitlines() == [
        "error: --pause and --resume cannot be used together: give one of them",
        "hint: see `cauce schedules --help`",
    ]


def test_an_app_without_schedules_is_told_so(cli, app_file) -> None:
    result = cli("schedules", app_file(UNSCHEDULED))
    assert (result.status, result.out) == (0, "")
    assert result.err.strip() == (
        "app plain declares no schedules (its jobs run by hand, after other jobs, or on events)"
    )


def test_the_schedules_help_example_names_a_real_job(cli) -> None:
    help_text = cli("schedules", "--help").out
    example = re.search(r"Example: cauce schedules (\S+) --pause (\S+)", help_text)
    assert example is not None
    app, _ = load_app(example.group(1))
    assert app.jobs[example.group(2)].schedule or app.jobs[example.group(2)].every


def test_workers_lists_live_processes_only(cli, app_file, tmp_path: Path) -> None:
    ref = app_file(APP)
    app, _ = load_app(ref)
    with TestRuntime(app, home=tmp_path / ".cauce") as rt:
        state = rt.runtime.state
        now = time.time()
        state.workers.register(
            "serve-live", app="verbs", pid=1, host="elsewhere", role="serve", now=now
        )
        state.workers.register(
            "worker-silent", app="verbs", pid=2, host="elsewhere", role="worker", now=now - 120
        )
    live = cli("workers", "--json").json()
    assert [(w["id"], w["alive"]) for w in live] == [("serve-live", True)]
    every = cli("workers", "--all", "--json").json()
    assert {(w["id"], w["alive"]) for w in every} == {
        ("serve-live", True),
        ("worker-silent", False),
    }
    table = cli("workers")
    assert table.status == 0 and "serve-live" in table.out and "worker-silent" not in table.out
    none = cli("workers", "--app", "other")
    assert none.status == 0 and none.err.startswith("no live server or worker of app other")
