"""`cauce demo`: a bundled app's demo in a fresh home, offline, ending with what it made."""

from __future__ import annotations

import shlex
from pathlib import Path


def test_the_example_demo(cli, tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 0, result.err
    assert "✓ example in" in result.err
    assert "3 files counted through bucket → queue → table → topic" in result.out
    assert f"see it: cauce --home {home} runs --app example" in result.out
    assert f"cauce --home {home} runs --limit 20" in result.out
    runs = cli("--home", str(home), "runs", "--app", "example", "--json", "--limit", "100").json()
    assert {"seed", "on_file", "count_rows", "notify", "daily-summary",
            "publish-summary"} <= {r["name"] for r in runs}
    # a demo home is recreated each time
    again = cli("demo", "--app", "example", "--home", str(home))
    assert again.status == 0


def test_the_global_home_option_is_the_demo_home(cli, tmp_path: Path) -> None:
    """`cauce --home X demo` went unread: the demo was made (or replaced) in ./cauce-demo."""
    home = tmp_path / "chosen"
    result = cli("--home", str(home), "demo", "--app", "example")
    assert result.status == 0, result.err
    assert result.err.startswith(f"cauce demo in {home}\n")
    assert (home / "state.db").exists() and not (tmp_path / "cauce-demo").exists()


def test_the_commands_a_demo_prints_work_as_printed_whatever_the_home(cli,
                                                                     tmp_path: Path) -> None:
    """A home with a space or a quote printed `cauce --home /tmp/my demo runs`, which a shell
    splits at the space."""
    home = tmp_path / "my demo's home"
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 0, result.err
    printed = [line.split("see it: ", 1)[-1].strip() for line in result.out.splitlines()
               if "cauce --home" in line and "<app>" not in line and "#" not in line]
    assert printed and all(shlex.split(line)[:3] == ["cauce", "--home", str(home)]
                           for line in printed)


def test_the_demo_leaves_other_folders_alone(cli, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("precious")
    result = cli("demo", "--app", "example", "--home", str(busy))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: {busy} exists and is not a demo home, so it is left alone",
        "hint: pass --home with a new folder name"]
    assert (busy / "thesis.tex").read_text() == "precious"


def test_an_unknown_demo_app(cli, tmp_path: Path) -> None:
    result = cli("demo", "--app", "exampl", "--home", str(tmp_path / "d"))
    assert result.status == 1
    assert result.err.splitlines()[0] == "error: no app named 'exampl'"


def test_the_opendata_demo_profiles_against_its_own_portal(cli, tmp_path: Path) -> None:
    """Queued downloads read the portal setting, so the demo points it at its local portal;
    a dead letter anywhere fails the demo instead of passing unseen."""
    home = tmp_path / "demo-home"
    result = cli("demo", "--app", "opendata", "--home", str(home))
    assert result.status == 0, result.err
    assert "✓ opendata in" in result.err
    queues = cli("--home", str(home), "queues", "opendata", "--json").json()
    assert all(q["dlq"] == 0 and q["visible"] == 0 for q in queues), queues


def _example_demo_doing(monkeypatch, action) -> None:
    """The example app's demo replaced by ``action(runtime)``."""
    from cauce.app import Demo
    from cauce.apps.example import app

    monkeypatch.setattr(app, "demo_hook", Demo(action, app.demo_hook.settings))


def _look_around(cli, result) -> list[list[str]]:
    """The words of the demo's Look around commands; each but `ui` run as printed."""
    look = result.out.split("Look around\n", 1)[1].splitlines()
    commands = [shlex.split(line, comments=True) for line in look]
    for words in commands[:-1]:
        assert words[0] == "cauce"
        assert cli(*words[1:]).status == 0, words
    return commands


def test_the_look_around_commands_run_as_printed(cli, tmp_path: Path, monkeypatch) -> None:
    """They said `queues <app>`, which a shell reads as a redirection from a file `app`; on a
    narrow terminal each was broken over two lines."""
    monkeypatch.setenv("COLUMNS", "40")
    home = tmp_path / "demo-home"
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 0, result.err
    assert [words[3:] for words in _look_around(cli, result)] == [
        ["runs", "--limit", "20"], ["logs", "general", "--app", "example"],
        ["queues", "example"], ["ui"]]
    assert "see it: cauce --home " + str(home) + " runs --app example\n" in result.out


def test_a_state_set_where_the_demo_runs_is_named_in_its_commands(cli, tmp_path: Path) -> None:
    """The demo keeps its state in its home whatever cauce.toml says, but the commands it
    printed read cauce.toml's state: `no cauce state at ...`, or another home's runs."""
    elsewhere = tmp_path / "elsewhere.db"
    (tmp_path / "cauce.toml").write_text(f'state = "sqlite:///{elsewhere}"\n')
    home = tmp_path / "demo-home"
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 0, result.err
    assert (f"cauce.toml sets another state store: the demo kept its own in {home}, and the "
            "commands below name it with --state") in result.err
    state = ["--state", f"sqlite:///{home / 'state.db'}"]
    commands = _look_around(cli, result)
    assert all(words[1:5] == ["--home", str(home), *state] for words in commands)
    see_it = next(line for line in result.out.splitlines() if "see it:" in line)
    assert shlex.split(see_it)[3:7] == ["--home", str(home), *state]
    assert not elsewhere.exists()


def test_a_second_demo_says_it_replaces_the_first(cli, tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    assert cli("demo", "--app", "example", "--home", str(home)).status == 0
    again = cli("demo", "--app", "example", "--home", str(home))
    assert again.status == 0, again.err
    assert again.err.splitlines()[0] == (f"cauce demo in {home}, "
                                         "replacing the earlier demo there")
    runs = cli("--home", str(home), "runs", "--app", "example", "--job", "seed", "--json").json()
    assert len(runs) == 1


def test_a_demo_home_that_is_a_file(cli, tmp_path: Path) -> None:
    """It ended in `unexpected NotADirectoryError`."""
    home = tmp_path / "cauce-demo"
    home.write_text("notes")
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: {home} is a file, not a folder, so the demo cannot use it",
        "hint: pass --home with a new folder name"]
    assert home.read_text() == "notes"


def test_a_demo_home_that_cannot_be_made(cli, tmp_path: Path) -> None:
    """A folder it may not write in (read-only, or under a file) ended in `unexpected
    OSError`."""
    (tmp_path / "file").write_text("")
    home = tmp_path / "file" / "cauce-demo"
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: cannot make the demo home {home}: Not a directory",
        "hint: run the demo in a folder you can write to, or pass --home with one"]


def test_a_demo_stopped_by_sigterm_says_so_and_runs_again(cli, tmp_path: Path,
                                                          monkeypatch) -> None:
    """SIGTERM ended it with no word, its runs left running."""
    import os
    import signal

    home = tmp_path / "demo-home"

    def terminated(rt):
        os.kill(os.getpid(), signal.SIGTERM)
        return []

    with monkeypatch.context() as patched:
        _example_demo_doing(patched, terminated)
        stopped = cli("demo", "--app", "example", "--home", str(home))
    assert stopped.status == 143
    assert stopped.err.splitlines()[1:] == [
        f"error: the demo was interrupted by SIGTERM during example: {home} holds only "
        "part of it", "hint: run the same command again: it starts over in a fresh folder"]
    again = cli("demo", "--app", "example", "--home", str(home))
    assert again.status == 0, again.err
    assert "✓ example in" in again.err


def test_an_interrupted_deletion_of_the_last_demo_leaves_it_a_demo_home(cli, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """A deletion cut short after it took the marker left a folder the next demo refused as
    `not a demo home`."""
    import shutil

    from cauce.cli import demo

    home = tmp_path / "demo-home"
    assert cli("demo", "--app", "example", "--home", str(home)).status == 0

    def cut_short(path, *args, **kwargs):  # the marker first, then a Ctrl-C
        (Path(path) / demo.MARKER).unlink(missing_ok=True)
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(shutil, "rmtree", cut_short)
        assert cli("demo", "--app", "example", "--home", str(home)).status == 130
    again = cli("demo", "--app", "example", "--home", str(home))
    assert again.status == 0, again.err


def test_a_failed_demo_shows_its_traceback_with_debug(cli, tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    """The hint said `run with --debug for a traceback`, which then showed none of the app's
    error, only that of the demo's last line."""
    import pytest

    from cauce.errors import CauceError

    def broken(rt):
        raise RuntimeError("boom")

    _example_demo_doing(monkeypatch, broken)
    with pytest.raises(CauceError, match="the demo of example failed"):
        cli("--debug", "demo", "--app", "example", "--home", str(tmp_path / "d"))
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err


def test_a_demo_home_a_live_server_uses_is_left_alone(cli, tmp_path: Path) -> None:
    """A second demo deleted the home under a `cauce serve` still running on it, which went on
    writing to files no command could see any more."""
    import os
    import socket
    import time

    from cauce.backends.state import open_state, sqlite_url

    home = tmp_path / "demo-home"
    assert cli("demo", "--app", "example", "--home", str(home)).status == 0
    state = open_state(sqlite_url(home / "state.db"))
    try:
        state.workers.register("serve-test", app="example", pid=os.getpid(),
                               host=socket.gethostname(), role="serve", now=time.time())
    finally:
        state.close()
    result = cli("demo", "--app", "example", "--home", str(home))
    assert result.status == 1
    assert result.err.splitlines() == [
        f"error: `cauce serve` of example (pid {os.getpid()} on {socket.gethostname()}) is live "
        f"on {home}: the demo would delete the home under it",
        f"hint: stop it (Ctrl-C, or kill -TERM {os.getpid()}), then run the demo again; or pass "
        "--home with a new folder name"]
    runs = cli("--home", str(home), "runs", "--app", "example", "--json").json()
    assert runs


def test_a_demo_from_a_folder_that_was_removed(cli, tmp_path: Path, monkeypatch) -> None:
    """It ended in `unexpected FileNotFoundError`, even with an absolute --home."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    result = cli("demo", "--app", "example", "--home", str(tmp_path / "demo-home"))
    assert result.status == 1
    assert result.err.splitlines()[0] == (
        "error: the working folder no longer exists (it was removed or renamed after the shell "
        "entered it), and cauce.toml and .env are read there")


def test_the_contracting_demo_leaves_no_stream_consumer_behind(cli, demo_home) -> None:
    """The `streams contracting` it suggests showed its sink 800 records behind: the demo
    stopped before the sink's 100 s buffer closed a file, and staging held none."""
    streams = cli("--home", str(demo_home.home), "streams", "contracting", "--json").json()
    assert streams[0]["lag"] == {"alert": 0, "contracts-to-staging": 0}
    staging = demo_home.home / "buckets" / "contracting" / "staging" / "t_streaming_contracts"
    assert any(staging.rglob("*.jsonl.gz"))


def test_a_demo_that_fills_the_disk_says_what_to_do(cli, tmp_path: Path, monkeypatch) -> None:
    """A demo stopped by a full disk said only `run with --debug for a traceback`: the hint of
    its error (free some space) was dropped, and the traceback says nothing more."""
    import errno

    from cauce.errors import StateError

    def full(rt):
        raise StateError("cannot write the state database x: the disk is full",
                         hint="free some space on its disk, then start again")

    _example_demo_doing(monkeypatch, full)
    result = cli("demo", "--app", "example", "--home", str(tmp_path / "d"))
    assert result.status == 1
    lines = result.err.splitlines()
    assert "  hint: free some space on its disk, then start again" in lines
    assert lines[-1] == "hint: do as the hint above says, then run the demo again"

    def written(rt):  # an OSError from a write carries no hint: the machine's limit gives it
        raise OSError(errno.ENOSPC, "No space left on device", "/x/census.db")

    _example_demo_doing(monkeypatch, written)
    result = cli("demo", "--app", "example", "--home", str(tmp_path / "e"))
    assert "  hint: the disk of /x/census.db is full" in result.err
    assert "debug" not in result.err.splitlines()[-1]
