"""`cauce runs`: list runs newest first, filter them, show one, cancel one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cauce.backends.sqlite.runs import SQLiteRuns
from cauce.cli.loading import load_app
from cauce.testing import TestRuntime

APP = """
from cauce import App

app = App("jobs")


@app.job
def slow(ctx, n: int = 1) -> int:
    return n
"""


def test_runs_are_listed_newest_first_and_filtered(cli, example_home) -> None:
    home = ("--home", str(example_home))
    every = cli(*home, "runs", "--json").json()
    assert len(every) >= 6
    started = [r["started_at"] for r in every]
    assert started == sorted(started, reverse=True)
    on_file = cli(*home, "runs", "--job", "on_file", "--json").json()
    assert {r["name"] for r in on_file} == {"on_file"}
    assert len(cli(*home, "runs", "--limit", "2", "--json").json()) == 2
    assert cli(*home, "runs", "--status", "dead-lettered", "--json").json() == []
    assert cli(*home, "runs", "--app", "census", "--json").json() == []


def test_the_table_shows_ids_names_and_statuses(cli, example_home) -> None:
    result = cli("--home", str(example_home), "runs", "--app", "example")
    assert result.status == 0
    assert "example.seed" in result.out
    assert "succeeded" in result.out
    nothing = cli("--home", str(example_home), "runs", "--job", "nothing-by-that-name")
    assert (nothing.status, nothing.out, nothing.err.strip()) == (0, "", "no runs match")


def test_show_one_run_by_a_prefix_of_its_id(cli, example_home) -> None:
    (seed,) = cli("--home", str(example_home), "runs", "--job", "seed", "--json").json()
    shown = cli("--home", str(example_home), "runs", "show", seed["id"][:15], "--json").json()
    assert shown == seed
    assert shown["params"] == {"files": 2}
    assert shown["result"] == ["in/sample-000.csv", "in/sample-001.csv"]
    text = cli("--home", str(example_home), "runs", "show", seed["id"])
    assert "seed" in text.out
    assert f"run {seed['id']} succeeded" in text.out


@pytest.mark.parametrize("command", [("runs",), ("runs", "prune", "--older-than", "1d"),
                                     ("logs", "general"), ("workers",)])
def test_an_empty_app_filter_is_a_usage_error(cli, example_home, command) -> None:
    """As an empty --home is: it matched nothing, and `logs general --app ""` answered "no
    log stream 'general'... did you mean 'general'?"."""
    result = cli("--home", str(example_home), *command, "--app", "")
    assert (result.status, result.out) == (2, "")
    assert result.err.splitlines()[0] == (
        "error: Invalid value for '--app': it is empty; name an app, or leave --app out for "
        "every app")


def test_show_an_unknown_run(cli, example_home) -> None:
    result = cli("--home", str(example_home), "runs", "show", "ffffffffffff")
    assert result.status == 1
    assert result.err.splitlines() == ["error: no run 'ffffffffffff'",
                                       "hint: list runs with `cauce runs`"]


def test_cancel_a_queued_run(cli, app_file, tmp_path: Path) -> None:
    ref = app_file(APP)
    app, _ = load_app(ref)
    with TestRuntime(app, home=tmp_path / ".cauce") as rt:
        run_id = rt.submit("slow", n=5)
    result = cli("runs", "cancel", run_id[:15])
    assert result.status == 0, result.err
    assert result.out.strip() == (f"cancelled run {run_id} (jobs.slow): "
                                  "dropped from its queue before it started")
    shown = cli("runs", "show", run_id, "--json").json()
    assert (shown["status"], shown["error"], shown["result"]) == (
        "cancelled", "cancelled before it started", None)
    with TestRuntime(app, home=tmp_path / ".cauce") as rt:
        assert rt.drain() == 0, "nothing is left in the queue"


def test_a_finished_run_cannot_be_cancelled(cli, example_home) -> None:
    (seed,) = cli("--home", str(example_home), "runs", "--job", "seed", "--json").json()
    result = cli("--home", str(example_home), "runs", "cancel", seed["id"])
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: run {seed['id']} already ended (succeeded)",
        "hint: only queued or running runs can be cancelled; see `cauce runs --status running`",
    ]


def test_an_empty_run_id_names_no_run_even_when_there_is_only_one(cli, app_file,
                                                                   tmp_path: Path) -> None:
    app, _ = load_app(app_file(APP))
    with TestRuntime(app, home=tmp_path / ".cauce") as rt:
        rt.submit("slow", n=5)
    for command in (("runs", "show"), ("runs", "cancel"), ("runs", "retry"), ("logs",)):
        for empty in ("", " "):
            result = cli(*command, empty)
            assert result.status == 1, (command, empty)
            assert result.err.splitlines()[0] in (f"error: no run {empty!r}",
                                                  f"error: no log stream or run {empty!r}")
    [queued] = cli("runs", "--json").json()
    assert queued["status"] == "queued", "nothing cancelled or retried it"


def test_a_long_listing_is_read_and_printed_a_page_at_a_time(cli, tmp_path: Path,
                                                             monkeypatch) -> None:
    """`cauce runs --limit` of more runs than a page printed what one read of every run would,
    byte for byte: the JSON array whole, the table's columns as wide as the longest cell of any
    page (a partition and a long job name only in the oldest runs). It read every run into one
    list first (a year's runs: 960 MB for the JSON, 1.1 GB and 222 s for the table); now each
    page is one query."""
    from cauce.backends.state import open_state, sqlite_url
    from cauce.cli import runs as runs_cli
    from cauce.runs import RunRecord, RunStatus

    home = tmp_path / "home"
    home.mkdir()
    state = open_state(sqlite_url(home / "state.db"))
    state.runs.insert([RunRecord(
        id=f"{i:024x}", app="app", kind="job", name="a-long-job-name" if i < 3 else "load",
        status=RunStatus.FAILED if i % 4 == 0 else RunStatus.SUCCEEDED, attempt=1 + i % 11,
        partition="2024-01-01" if i < 2 else None, queued_at=float(i), started_at=i + 0.5,
        ended_at=i + 0.5 + i * 7.25, error="boom ñ\ttab" * (i % 3) or None,
        params={"n": i}) for i in range(23)])
    state.close()

    def listed(*args: str) -> tuple[str, str]:
        result = cli("--home", str(home), "runs", *args)
        assert result.status == 0, result.err
        return result.out, result.err

    whole = {args: listed(*args) for args in (("--limit", "100", "--json"),
                                              ("--limit", "100"), ("--limit", "21"))}
    assert len(json.loads(whole["--limit", "100", "--json"][0])) == 23
    assert "a-long-job-name" in whole["--limit", "100"][0]
    assert "2024-01-01" in whole["--limit", "100"][0]
    monkeypatch.setattr(runs_cli, "PAGE", 4)
    asked = []
    page_of = SQLiteRuns.keyed_page

    def counted(self, **query):
        asked.append(query["limit"])
        return page_of(self, **query)

    monkeypatch.setattr(SQLiteRuns, "keyed_page", counted)
    assert listed("--limit", "100", "--json") == whole["--limit", "100", "--json"]
    assert asked == [4] * 7  # 6 pages (the last of 3), then one for runs with no time: none
    assert listed("--limit", "100") == whole["--limit", "100"]
    assert listed("--limit", "21") == whole["--limit", "21"]
    assert listed("--limit", "3") == listed("--limit", "3", "--app", "app")
    asked.clear()
    assert listed("--limit", "6", "--job", "nothing")[1].strip() == "no runs match"
    assert listed("--limit", "6", "--json", "--job", "nothing")[0] == "[]\n"
    assert asked == [4, 4]


def test_a_run_whose_worker_died_says_so_while_no_worker_took_it_back(cli, tmp_path: Path) -> None:
    """A worker killed on another machine, and none of its app running: its runs stayed
    `running` with no word in `cauce runs` (while `cauce queues` counted their messages as
    waiting); each now says its worker died, and what will record it lost."""
    import time

    from cauce.backends.state import open_state, sqlite_url
    from cauce.runs import RunRecord, RunStatus

    home = tmp_path / "h"
    home.mkdir()
    now = time.time()
    state = open_state(sqlite_url(home / "state.db"))
    try:
        for worker, beat in (("worker-b-7-aa", now - 90), ("worker-c-8-bb", now)):
            state.workers.register(worker, app="probe", pid=7, host="elsewhere", role="worker",
                                   now=beat)
        state.runs.insert([RunRecord(id=f"01run{n}", app="probe", kind="handler", name="handle",
                                     status=RunStatus.RUNNING, queued_at=now - 100,
                                     started_at=now - 100, worker=worker)
                           for n, worker in enumerate(("worker-b-7-aa", "worker-c-8-bb"))])
    finally:
        state.close()
    listed = {r["id"]: r["error"] for r in cli("--home", str(home), "runs", "--json").json()}
    assert listed["01run0"].startswith("its worker died: worker worker-b-7-aa (pid 7 on "
                                       "elsewhere) has not beaten for 1m")
    assert listed["01run0"].endswith("the run is recorded lost once a `cauce serve` or `cauce "
                                     "worker` of probe runs")
    assert listed["01run1"] is None, "its worker beats"
    shown = cli("--home", str(home), "runs", "show", "01run0")
    assert "its worker died: worker worker-b-7-aa" in shown.out
    table = cli("--home", str(home), "runs")
    assert "its worker died" in table.out
