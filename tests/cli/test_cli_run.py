"""`cauce run APP JOB`: the job's typed parameters are its options, validated and recorded."""

from __future__ import annotations

APP = """
from typing import Annotated, Literal

from cauce import App

app = App("loader")
app.setting("chunk_size", int, default=100, help="rows per chunk")
app.setting("db", str, default="sqlite:///x.db", help="target database")


@app.job
def load(
    ctx,
    source: Annotated[list[str], "files to read, in order"] = [],
    all: Annotated[bool, "load everything now"] = False,
    mode: Literal["append", "replace"] = "append",
    chunk_size: int = 10,
    limit: int | None = None,
) -> dict:
    \"\"\"Load files into the database.\"\"\"
    return {"source": source, "all": all, "mode": mode, "chunk_size": chunk_size, "limit": limit,
            "setting_chunk_size": ctx.settings.chunk_size, "db": ctx.settings.db}


@app.job
def export(ctx, day: str) -> str:
    return day
"""


def test_options_reach_the_job_and_are_recorded_on_the_run(cli, app_file) -> None:
    ref = app_file(APP)
    result = cli("run", ref, "load", "--source", "a.csv", "--source", "b.csv", "--all",
                 "--mode", "replace", "--limit", "5", "--db", "sqlite:///other.db", "--json")
    assert result.status == 0, result.err
    run = result.json()
    expected = {"source": ["a.csv", "b.csv"], "all": True, "mode": "replace", "chunk_size": 10,
                "limit": 5}
    assert run["params"] == expected
    assert run["result"] == {**expected, "setting_chunk_size": 100, "db": "sqlite:///other.db"}


def test_defaults_and_plain_flags(cli, app_file) -> None:
    ref = app_file(APP)
    run = cli("run", ref, "load", "--json").json()
    assert run["params"] == {"source": [], "all": False, "mode": "append", "chunk_size": 10,
                             "limit": None}
    negated = cli("run", ref, "load", "--no-all")
    assert negated.status == 2, "an option off by default is a plain flag, with no negation"
    assert negated.err.startswith("error: No such option '--no-all'. Did you mean '--all'?")


def test_a_job_parameter_shadows_the_setting_of_the_same_name(cli, app_file) -> None:
    ref = app_file(APP)
    run = cli("run", ref, "load", "--chunk-size", "7", "--json").json()
    assert (run["result"]["chunk_size"], run["result"]["setting_chunk_size"]) == (7, 100)


def test_help_documents_each_option(cli, app_file) -> None:
    ref = app_file(APP)
    help_text = cli("run", ref, "load", "--help").out
    assert "Load files into the database." in help_text
    for text in ["--source", "files to read, in order", "--all ", "load everything now",
                 "[append|replace]", "--limit", "--db", "[setting] target database"]:
        assert text in help_text


def test_bad_option_values_are_usage_errors(cli, app_file) -> None:
    ref = app_file(APP)
    bad_choice = cli("run", ref, "load", "--mode", "upsert")
    assert bad_choice.status == 2
    assert "'upsert' is not one of 'append', 'replace'" in bad_choice.err
    missing = cli("run", ref, "export")
    assert missing.status == 2
    assert "Missing option '--day'" in missing.err
    exported = cli("run", ref, "export", "--day", "2024-01-01", "--json").json()
    assert exported["result"] == "2024-01-01"


FAILING = """
from cauce import App

app = App("fragile")


@app.job(retries=0)
def crash(ctx) -> None:
    raise ValueError("kaput")
"""


def test_a_run_failing_with_no_hint_of_its_own_points_to_its_traceback(cli, app_file) -> None:
    result = cli("run", app_file(FAILING), "crash")
    assert result.status == 1
    assert "Traceback" not in result.err
    [run] = cli("runs", "--json").json()
    *_, error, hint = result.err.splitlines()
    assert error.endswith(": ValueError: kaput")
    assert hint == (f"hint: its traceback is in `cauce logs {run['id']}` "
                    "(or run again with --debug)")
    assert "Traceback (most recent call last)" in cli("logs", run["id"]).out


def test_with_debug_the_traceback_shows_and_the_hint_does_not_ask_for_it(cli, app_file) -> None:
    result = cli("run", app_file(FAILING), "crash", "--debug")
    assert result.status == 1
    assert "Traceback (most recent call last)" in result.err
    [run] = cli("runs", "--json").json()
    assert result.err.splitlines()[-1] == f"hint: its traceback is in `cauce logs {run['id']}`"
    assert "Traceback (most recent call last)" in cli("logs", run["id"]).out


EXITING = """
import sys

from cauce import App

app = App("scripty")


@app.job(retries=0)
def bail(ctx, code: int = 3) -> None:
    sys.exit(code)
"""


def test_a_job_calling_sys_exit_ends_its_run_not_the_command(cli, app_file) -> None:
    """Code written as a script exits; `cauce run` used to die with it, leaving the run to be
    found lost by the next command."""
    ref = app_file(EXITING)
    failed = cli("run", ref, "bail")
    assert failed.status == 1
    *_, error, hint = failed.err.splitlines()
    assert error.endswith(" scripty.bail failed in " + error.split(" failed in ")[1])
    assert error.endswith(": SystemExit: 3")
    assert hint == ("hint: return from the job or handler, or raise an exception, instead of "
                    "calling sys.exit()")
    assert cli("run", ref, "bail", "--code", "0").status == 0
    statuses = [run["status"] for run in cli("runs", "--json").json()]
    assert statuses == ["succeeded", "failed"]


def test_a_hint_written_on_several_lines_is_shown_on_one(cli, app_file) -> None:
    ref = app_file("""
        from cauce import App, CauceError

        app = App("wordy")


        @app.job(retries=0)
        def explain(ctx) -> None:
            raise CauceError("the source is gone", hint="put it back,\\n  then run again")
    """)
    result = cli("run", ref, "explain")
    assert result.err.splitlines()[-1] == "hint: put it back, then run again"
