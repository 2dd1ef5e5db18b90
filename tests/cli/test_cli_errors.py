"""Errors on the command line: one line and a hint, exit status 1; a traceback only with --debug."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cauce import NotFound


def assert_one_line_error(result, message: str, hint: str) -> None:
    assert result.status == 1
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert lines == [f"error: {message}", f"hint: {hint}"]
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (("run", "exampel", "seed"), "no app named 'exampel'",
         "did you mean 'example'? — or give module:attribute"),
        (("run", "example", "sed"), "app 'example' has no job 'sed'", "did you mean 'seed'?"),
        (("backfill", "example", "daily-sumary", "--from", "2024-01-01", "--to", "2024-01-02"),
         "app 'example' has no job 'daily-sumary'", "did you mean 'daily-summary'?"),
        (("send", "example", "wrok", "{}"), "app 'example' has no queue 'wrok'",
         "did you mean 'work'?"),
        (("publish", "example", "event", "{}"), "app 'example' has no topic 'event'",
         "did you mean 'events'?"),
        (("dlq", "list", "example", "wrok"), "app 'example' has no queue, handler or job 'wrok'",
         "did you mean 'work'?"),
        (("serve", "exmple"), "no app named 'exmple'",
         "did you mean 'example'? — or give module:attribute"),
        (("run", "cauce.apps.example:ap", "seed"), "cauce.apps.example:ap is not a cauce App",
         "did you mean cauce.apps.example:app?"),
    ],
)
def test_unknown_names_suggest_the_closest(cli, args, message: str, hint: str) -> None:
    assert_one_line_error(cli(*args), message, hint)


def test_an_app_file_that_does_not_exist(cli) -> None:
    assert_one_line_error(cli("run", "missing.py:app", "load"), "no file missing.py",
                          "give the path of the Python file that declares the app")


def test_an_app_file_that_is_a_folder(cli, tmp_path) -> None:
    (tmp_path / "pipeline.py").mkdir()
    assert_one_line_error(cli("run", "pipeline.py:app", "load"),
                          "pipeline.py is a folder, not a Python file",
                          "give the path of the Python file that declares the app")


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.symlink_to(p.name),
     "pipeline.py is a link that leads back to itself (a loop of symbolic links)"),
    (lambda p: p.symlink_to("moved.py"), "pipeline.py is a link to moved.py, which does not exist"),
])
def test_an_app_file_that_is_a_broken_link_says_so(cli, tmp_path, make, message: str) -> None:
    # a loop was "unexpected RuntimeError: Symlink loop from ...", a dangling link "no file"
    make(tmp_path / "pipeline.py")
    assert_one_line_error(cli("run", "pipeline.py:app", "load"), message,
                          "give the path of the Python file that declares the app")


def test_an_app_file_that_cannot_be_read_is_not_called_an_error_in_its_code(
        cli, tmp_path, monkeypatch) -> None:
    # it was "importing pipeline.py failed: PermissionError ... the error is in the app's code"
    (tmp_path / "pipeline.py").write_text("from cauce import App\napp = App('x')\n")
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path).name != "pipeline.py"
                        and access(path, mode, **kw))
    assert_one_line_error(cli("run", "pipeline.py:app", "load"),
                          "pipeline.py cannot be read: Permission denied",
                          "give the path of the Python file that declares the app")


APP_SOURCE = "from cauce import App\napp = App('saved')\nCITY = 'São Paulo'\n"


@pytest.mark.parametrize(("data", "message", "hint"), [
    (APP_SOURCE.encode("utf-16"), "pipeline.py is saved as UTF-16, and Python reads source as "
     "UTF-8", "save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)"),
    (APP_SOURCE.encode() + b"\0\0\n", "pipeline.py holds a NUL byte on line 4, which Python "
     "source cannot hold", "remove it (was the file cut short, or joined with another?)"),
    (APP_SOURCE.encode("cp1252"),
     "pipeline.py is not utf-8 text: byte 0xe3 on line 3 (invalid continuation byte), and "
     "Python reads source as UTF-8", "save it as UTF-8 (in Notepad: Save as, Encoding UTF-8), "
     "or declare its encoding on its first line: # -*- coding: cp1252 -*-"),
], ids=["utf-16", "nul", "cp1252"])
def test_an_app_file_saved_in_another_encoding_says_how_it_was_saved(
        cli, tmp_path, data: bytes, message: str, hint: str) -> None:
    # Python's own words named no encoding, and for a NUL neither the file nor the line, with a
    # hint that the error was in the app's code
    (tmp_path / "pipeline.py").write_bytes(data)
    assert_one_line_error(cli("run", "pipeline.py:app", "load"), message, hint)


def test_a_module_of_the_app_saved_as_cp1252_is_named(cli, tmp_path) -> None:
    (tmp_path / "helpers.py").write_bytes(APP_SOURCE.encode("cp1252"))
    (tmp_path / "pipeline.py").write_text("from helpers import app\n")
    result = cli("run", "pipeline.py:app", "load")
    assert result.err.startswith("error: helpers.py is not utf-8 text: byte 0xe3 on line 3")


def test_an_app_file_with_a_dot_in_its_name_is_told_to_be_renamed(cli, tmp_path) -> None:
    # "cannot import 'pipeline.v2'", and a hint to check the Python path
    (tmp_path / "pipeline.v2.py").write_text("from cauce import App\napp = App('x')\n")
    assert_one_line_error(cli("run", "pipeline.v2.py:app", "load"),
                          "pipeline.v2.py cannot be imported: Python reads the dot in its name "
                          "as a package's, pipeline.v2 as v2 of pipeline",
                          "rename it, e.g. to pipeline_v2.py")


def test_an_app_file_named_like_another_module(cli, tmp_path) -> None:
    import queue

    (tmp_path / "queue.py").write_text("from cauce import App\napp = App('shadowed')\n")
    assert_one_line_error(cli("run", "queue.py:app", "load"),
                          "queue.py cannot be imported as 'queue': "
                          f"that name is taken by {queue.__file__}",
                          "rename queue.py, e.g. to queue_app.py")


def test_a_home_where_nothing_ran(cli, tmp_path) -> None:
    result = cli("runs", "--home", str(tmp_path / "empty"))
    assert_one_line_error(result,
                          f"no cauce home at {tmp_path / 'empty'} (nothing has run there yet)",
                          "pass --home (or set CAUCE_HOME) to the folder `cauce serve`/`run` used")


def test_bad_json_on_the_command_line(cli) -> None:
    result = cli("send", "example", "work", "{key: 1}")
    assert_one_line_error(result, "the message is not valid JSON: Expecting property name "
                          "enclosed in double quotes at character 1",
                          """quote it for the shell: '{"key": "value"}'""")


def test_a_partition_outside_the_range(cli) -> None:
    result = cli("run", "example", "daily-summary", "--partition", "2023-12-31")
    assert_one_line_error(result, "partition 2023-12-31 is before the first one (2024-01-01)",
                          "partitions start at 2024-01-01")


def test_missing_settings_are_listed_before_anything_runs(cli, app_file) -> None:
    ref = app_file("""
        from cauce import App
        app = App("strict")
        app.setting("db", str, help="target database URL")
        app.setting("token", str, secret=True, help="API token")
        app.job(name="load")(lambda ctx: None)
    """)
    result = cli("run", ref, "load")
    assert result.status == 1
    assert result.err.splitlines()[:3] == [
        "error: 2 settings need attention:",
        "  db (target database URL): missing — set CAUCE_STRICT_DB, --db or [apps.strict] db",
        "  token (API token): missing — set CAUCE_STRICT_TOKEN, --token or [apps.strict] token",
    ]
    assert result.err.splitlines()[3].startswith("hint: see `cauce config APP`")


@pytest.mark.parametrize("args", [
    ("--debug", "run", "example", "sed"),
    ("run", "example", "sed", "--debug"),  # where "run again with --debug" leads users to add it
    ("run", "--debug", "example", "sed"),
])
def test_debug_shows_the_traceback_instead(cli, args) -> None:
    with pytest.raises(NotFound, match="app 'example' has no job 'sed'"):
        cli(*args)


def test_debug_after_a_double_dash_is_not_ours(cli) -> None:
    result = cli("run", "example", "seed", "--", "--debug")
    assert result.status == 2 and "--debug" in result.err


def test_usage_errors_exit_with_status_2(cli) -> None:
    result = cli("run", "example", "seed", "--files", "many")
    assert result.status == 2
    assert "Invalid value for '--files': 'many' is not a valid integer" in result.err
    misspelt = cli("run", "example", "seed", "--filez", "2")
    assert misspelt.status == 2
    assert "Did you mean '--files'?" in misspelt.err


def test_an_unknown_status_filter(cli) -> None:
    result = cli("runs", "--status", "done")
    assert_one_line_error(result, "unknown status 'done'",
                          "one of: queued, running, succeeded, failed, dead-lettered, cancelled")


def test_a_failed_run_exits_with_status_1(cli, app_file) -> None:
    ref = app_file("""
        from cauce import App
        app = App("broken")

        @app.job(retries=0)
        def load(ctx):
            raise ValueError("no rows in the source file")
    """)
    result = cli("run", ref, "load")
    assert result.status == 1
    assert "broken.load failed" in result.err
    assert "ValueError: no rows in the source file" in result.err


def test_ctrl_c_in_any_command_says_it_was_interrupted(cli, monkeypatch) -> None:
    """typer turns a KeyboardInterrupt into a silent exit 130; the user still reads why."""
    import cauce.cli.workers

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cauce.cli.workers, "inspected", interrupted)
    result = cli("workers")
    assert (result.status, result.out, result.err.strip().splitlines()[-1]) == (
        130, "", "interrupted")


def test_an_unexpected_error_is_its_whole_first_line(cli, monkeypatch, tmp_path) -> None:
    # a carriage return ended the line: "unexpected RuntimeError: 50%" was all that was left
    import cauce.cli.workers

    def failing(*args, **kwargs):
        raise RuntimeError("50%\rdone: no workers table\nmore")

    monkeypatch.setattr(cauce.cli.workers, "inspected", failing)
    import cauce.cli.main

    keep = cauce.cli.main._keep_traceback
    monkeypatch.setattr(cauce.cli.main, "_keep_traceback", lambda error, args: None)
    assert_one_line_error(cli("workers"), r"unexpected RuntimeError: 50%\x0ddone: no workers table",
                          "run again with --debug (or CAUCE_DEBUG=1) for the traceback, and "
                          "report it")
    monkeypatch.setattr(cauce.cli.main, "_keep_traceback", keep)
    kept = tmp_path / "kept.log"
    monkeypatch.setattr("tempfile.mkstemp", lambda **kw: (os.open(kept, os.O_CREAT | os.O_WRONLY),
                                                          str(kept)))
    assert_one_line_error(cli("workers"), r"unexpected RuntimeError: 50%\x0ddone: no workers table",
                          f"its traceback is in {kept}: report it with that file (--debug, or "
                          "CAUCE_DEBUG=1, shows it)")
    # a failure that does not come again is reported with the file, not run again with --debug
    text = kept.read_bytes().decode()
    assert text.startswith("cauce ") and "command: cauce workers\n" in text
    assert 'raise RuntimeError("50%\\rdone: no workers table\\nmore")' in text
    assert text.endswith("RuntimeError: 50%\rdone: no workers table\nmore\n")


@pytest.mark.parametrize(("source", "message"), [
    ("def (\n", "importing broken.py failed: SyntaxError: invalid syntax (broken.py, line 1)"),
    ("raise RuntimeError('no config at import')\n",
     "importing broken.py failed: RuntimeError: no config at import"),
    # only a line feed ends the line shown, not a carriage return
    ("raise RuntimeError('50%\\rdone: no config\\nat import')\n",
     r"importing broken.py failed: RuntimeError: 50%\x0ddone: no config"),
    ("import no_such_dependency_here\n",
     "importing broken.py failed: ModuleNotFoundError: No module named "
     "'no_such_dependency_here'"),
])
def test_an_app_whose_code_fails_on_import_is_its_error_not_cauces(cli, tmp_path, source: str,
                                                                    message: str) -> None:
    (tmp_path / "broken.py").write_text(source)
    assert_one_line_error(cli("run", "broken.py:app", "load"), message,
                          "the error is in the app's code or what it imports; "
                          "run again with --debug for its traceback")


def test_an_app_reference_splits_at_its_last_colon(cli, tmp_path) -> None:
    folder = tmp_path / "dir:with colon"
    folder.mkdir()
    (folder / "jobs.py").write_text("from cauce import App\napp = App('colon')\n"
                                    "@app.job\ndef hello(ctx) -> str:\n    return 'hi'\n")
    # a reference pasted with a space around it was "cannot import 'dir:with colon/jobs.py:app '"
    for reference in ("dir:with colon/jobs.py:app", "dir:with colon/jobs.py",
                      " dir:with colon/jobs.py:app "):
        result = cli("run", reference, "hello", "--json")
        assert result.status == 0, result.err
        assert result.json()["result"] == "hi"
    for reference in (":app", ".jobs", "../../etc/passwd:app"):
        assert_one_line_error(cli("run", reference, "hello"), f"{reference!r} names no module",
                              "give module:attribute or path/to/file.py:attribute")


def test_a_home_behind_a_folder_this_user_cannot_enter(cli, tmp_path, monkeypatch) -> None:
    """What a home under a folder without search permission gives another user than root (who
    enters any folder): Path.exists raises PermissionError."""
    from pathlib import Path

    locked = tmp_path / "locked"
    exists = Path.exists

    def denied(self: Path, *args, **kwargs) -> bool:
        if self.is_relative_to(locked):
            raise PermissionError(13, "Permission denied", str(self))
        return exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", denied)
    for command in (("runs",), ("run", "example", "seed")):
        assert_one_line_error(
            cli("--home", str(locked / "home"), *command),
            f"cannot reach the cauce home {locked / 'home'}: Permission denied",
            "pass --home (or set CAUCE_HOME) to a folder you can read and write, or fix the "
            "permissions on the way to it")


@pytest.mark.parametrize("args", [
    ("--home", "", "runs"), ("runs", "--home", ""), ("run", "example", "seed", "--home", ""),
    ("--home", "", "run", "example", "seed"), ("demo", "--home", ""), ("ui", "--home", " "),
], ids=" ".join)
def test_an_empty_home_is_refused_not_taken_for_the_current_folder(cli, tmp_path, args) -> None:
    """An empty --home (an unset variable in ``--home "$DIR"``) would be the current folder."""
    result = cli(*args)
    assert result.status == 2
    first, hint = result.err.strip().splitlines()
    assert first == ("error: Invalid value for '--home': it is empty; name a folder, or leave "
                     "--home out for ./.cauce (or CAUCE_HOME)")
    assert hint.startswith("hint: see `cauce")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["s3://bucket/home", "file:///srv/home"])
def test_a_home_given_as_a_url_is_refused_not_made_a_local_folder(cli, tmp_path, url) -> None:
    result = cli("--home", url, "run", "example", "seed")
    assert result.status == 2
    first = result.err.strip().splitlines()[0]
    assert first == (f"error: Invalid value for '--home': {url} is a URL; the cauce home is a "
                     "folder on this machine (buckets may live in object storage: buckets = "
                     "\"s3://...\" in cauce.toml)")
    assert list(tmp_path.iterdir()) == []  # no folder named "s3:"


FAILING_FIRST = [
    ("send", "example", "wrok", "{}"),
    ("put", "example", "inbox", "in/a.csv"),
    ("schedules", "example", "--pause", "daily-summary"),
    ("dlq", "replay", "example", "work", "--id", "5"),
    ("run", "example", "daily-summary"),
    ("backfill", "example", "daily-summary", "--from", "x", "--to", "y"),
]


@pytest.mark.parametrize("args", FAILING_FIRST, ids=" ".join)
@pytest.mark.parametrize("home", [None, "deep/er/home"], ids=["default", "nested"])
def test_a_command_that_fails_first_leaves_no_new_home(cli, tmp_path, args, home) -> None:
    """These fail once the home's state is open, before they keep anything in it."""
    result = cli(*(("--home", home) if home else ()), *args)
    assert result.status == 1, result.err
    assert result.err.startswith("error: ")
    assert list(tmp_path.iterdir()) == []


def test_a_home_that_existed_stays_when_a_command_fails(cli, tmp_path) -> None:
    (tmp_path / ".cauce").mkdir()
    assert cli("send", "example", "wrok", "{}").status == 1
    assert (tmp_path / ".cauce").is_dir()


def test_a_new_home_stays_when_the_command_kept_something_before_failing(
        cli, tmp_path, app_file, monkeypatch) -> None:
    import io

    from cauce.cli import feed

    ref = app_file("""
        from cauce import App
        app = App("sensors")
        readings = app.stream("readings")
        """)
    monkeypatch.setattr(feed, "PUT_CHUNK", 1)  # the first record is put before the second fails
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"v": 1}\n{"v": \n')))
    result = cli("put", ref, "readings", "--key", "k", "-")
    assert result.status == 1
    assert result.err.startswith("error: the message (line 2 of standard input) is not valid "
                                 "JSON")
    [stream] = cli("streams", ref, "--json").json()
    assert sum(shard["records"] for shard in stream["shards"]) == 1

    failed_run = app_file("""
        from cauce import App
        app = App("broken")

        @app.job(retries=0)
        def load(ctx):
            raise ValueError("no rows")
        """)
    assert cli("--home", "runs-home", "run", failed_run, "load").status == 1
    assert [r["status"] for r in cli("--home", "runs-home", "runs", "--json").json()] == [
        "failed"]


@pytest.mark.parametrize("command", [("queues", "example"), ("streams", "example"),
                                     ("schedules", "example"), ("dlq", "list", "example", "work")])
def test_a_look_where_nothing_ran_leaves_no_home(cli, tmp_path, command) -> None:
    result = cli(*command)
    assert result.status == 0, result.err
    assert list(tmp_path.iterdir()) == []


def test_a_home_a_command_fed_stays(cli, tmp_path) -> None:
    assert cli("send", "example", "work", "{}").status == 0
    assert [row["visible"] for row in cli("queues", "example", "--json").json()
            if row["queue"] == "work"] == [1]


def test_a_new_home_another_process_opened_stays(tmp_path) -> None:
    from cauce import CauceError
    from cauce.backends.state import open_state, sqlite_url
    from cauce.cli.home import undone_if_unused

    home = tmp_path / "home"
    url = sqlite_url(home / "state.db")
    held = []
    try:
        with pytest.raises(CauceError), undone_if_unused(home, url):
            home.mkdir()
            held.append(open_state(url))  # as a `cauce serve` started meanwhile would
            raise CauceError("the command failed")
        assert (home / "state.db").is_file()
    finally:
        for state in held:
            state.close()


@pytest.mark.parametrize(("args", "problem"), [
    (("serve", "example", "--for", "soon"), "'soon' is not a duration; use a number of seconds "
     'or units ms, s, m, h, d, w, e.g. "10s", "1h30m", "8w"'),
    (("serve", "example", "--for", "-1s"), "'-1s' is negative; a duration is 0 or more, e.g. "
     '"30s"'),
    (("worker", "example", "--for", "0"), "'0' is no time at all; give a duration of more than "
     '0, e.g. "30s"'),
    (("worker", "example", "--for", "1s", "--grace", "-5s"), "'-5s' is negative; a duration is "
     '0 or more, e.g. "30s"'),
    (("runs", "prune", "--older-than", "0s"), "'0s' is no time at all; give a duration of more "
     'than 0, e.g. "30s"')])
def test_a_duration_option_is_refused_as_a_usage_error_before_anything_starts(
        cli, tmp_path, args, problem) -> None:
    """Every option that takes how long or how old reads it alike: no time at all, a negative
    one or no duration is exit status 2, like other option errors."""
    result = cli(*args)
    option = next(arg for arg in reversed(args) if arg.startswith("--"))
    assert (result.status, result.err.splitlines()) == (2, [
        f"error: Invalid value for '{option}': {problem}",
        f"hint: see `cauce {' '.join(args[:2])} --help`"])
    assert list(tmp_path.iterdir()) == []


def test_a_state_call_waiting_for_a_lock_is_said_on_stderr(cli, capsys) -> None:
    import logging

    assert cli("apps").status == 0  # any command: from then on the waits are said
    capsys.readouterr()
    logging.getLogger("cauce.state.waits").warning("waiting for a lock on the state at %s", "x")
    assert capsys.readouterr().err == "warning: waiting for a lock on the state at x\n"


@pytest.mark.parametrize(("value", "wanted"), [("0\r", False), ("1\r", True), ("", False)])
def test_cauce_debug_from_a_crlf_file_means_what_it_says(monkeypatch, value: str,
                                                        wanted: bool) -> None:
    # "0\r" was no "0", and turned tracebacks on
    from cauce.cli import console

    monkeypatch.setenv("CAUCE_DEBUG", value)
    assert console.debugging() is wanted


def test_arguments_from_a_crlf_script_are_read_without_the_carriage_return(cli,
                                                                           tmp_path) -> None:
    # `cauce runs --json\r` was "No such option: --json\x0d"; a job parameter got the CR
    (tmp_path / "greet.py").write_text("from cauce import App\napp = App('greet')\n"
                                       "@app.job\ndef hello(ctx, who: str = 'x') -> str:\n"
                                       "    return who\n")
    result = cli("run", "greet.py:app", "hello", "--who", "ana\r", "--json\r", "\r")
    assert result.status == 0, result.err
    assert result.json()["result"] == "ana"
    said = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert said == [f"warning: the argument {arg!r} ends in a carriage return (a script saved "
                    "with Windows line ends?): read without it"
                    for arg in ("ana\r", "--json\r", "\r")]


def test_a_working_folder_removed_under_the_shell_is_one_line(cli, tmp_path, monkeypatch) -> None:
    # "unexpected FileNotFoundError: [Errno 2] No such file or directory", naming nothing
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert_one_line_error(cli("--home", str(tmp_path / "home"), "runs"),
                          "the working folder no longer exists (it was removed or renamed after "
                          "the shell entered it), and cauce.toml and .env are read there",
                          'cd to a folder that exists (cd "$PWD" if it was made again), then run '
                          "the command again")


def test_a_home_given_with_a_tilde_the_shell_left_is_the_users_home(cli, tmp_path,
                                                                    monkeypatch) -> None:
    # `--home=~/cauce`, "~/cauce" between quotes, CAUCE_HOME=~/cauce in .env: a folder named ~
    # was made in the working folder
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert cli("--home=~/cauce", "run", "example", "heartbeat").status == 0
    assert (tmp_path / "user" / "cauce" / "state.db").is_file()
    assert not (tmp_path / "work" / "~").exists()
    # and an app's file, a file to put, given so: "no file ~/tilde_app.py"
    (tmp_path / "user" / "tilde_app.py").write_text("from cauce import App\napp = App('t')\n"
                                                    "inbox = app.bucket('inbox')\n")
    assert cli("put", "~/tilde_app.py:app", "inbox", "in/t.py", "~/tilde_app.py").status == 0


def test_a_file_named_like_a_standard_module_in_the_working_folder_is_named(tmp_path) -> None:
    # python -m cauce puts the working folder first: a json.py there failed every command with
    # a traceback, the error printer's own imports failing in turn
    import subprocess
    import sys

    (tmp_path / "json.py").write_text("from cauce import App\napp = App('mine')\n")
    result = subprocess.run([sys.executable, "-m", "cauce", "--home", str(tmp_path / "h"),
                             "runs"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] /
                                                                 "src")})
    assert (result.returncode, result.stderr.splitlines()) == (1, [
        f"error: {tmp_path / 'json.py'} takes the place of Python's own json module (its folder "
        "comes first on the module path)",
        "hint: rename json.py (python -m cauce puts the working folder first; the cauce command "
        "does not)"])


@pytest.mark.parametrize(("args", "hint"), [
    (("demo", "census"), "hint: cauce demo names apps with --app: write --app census"),
    (("demo", "census", "transit"),
     "hint: cauce demo names apps with --app: write --app census --app transit"),
    (("demo", "censo"), "hint: see `cauce demo --help`"),  # no app's name: the help says more
])
def test_an_app_named_bare_where_a_command_takes_app(cli, args, hint: str) -> None:
    """`cauce demo census` said only "Got unexpected extra argument(s) (census)"."""
    result = cli(*args)
    assert result.status == 2
    assert result.err.splitlines() == [
        f"error: Got unexpected extra argument(s) ({' '.join(args[1:])})", hint]
