"""`cauce runs`: list runs newest first, filter them, show one, cancel one."""

from __future__ import annotations

from pathlib import Path

import pytest

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
