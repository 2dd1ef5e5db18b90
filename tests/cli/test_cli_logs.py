"""`cauce logs`: a run's stream by its id, an app's general stream, to the terminal or a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_a_runs_log_by_its_id_or_a_prefix(cli, example_home) -> None:
    (seed,) = cli("--home", str(example_home), "runs", "--job", "seed", "--json").json()
    full = cli("--home", str(example_home), "logs", seed["id"])
    assert full.status == 0
    assert f"run {seed['id']} of seed started (attempt 1)" in full.out
    assert f"run {seed['id']} succeeded" in full.out
    by_prefix = cli("--home", str(example_home), "logs", seed["id"][:15])
    assert by_prefix.out == full.out


def test_the_general_stream_of_an_app_into_a_file(cli, example_home, tmp_path: Path) -> None:
    (seed,) = cli("--home", str(example_home), "runs", "--job", "seed", "--json").json()
    target = tmp_path / "general.log"
    result = cli("--home", str(example_home), "logs", "general", "--app", "example",
                 "-o", str(target), "--utc")
    assert result.status == 0
    assert result.out == ""
    assert f"wrote {target}" in result.err
    lines = target.read_text(encoding="utf-8").splitlines()
    assert any(line.endswith(f"INFO: run {seed['id']} seed succeeded") for line in lines)
    assert any("serve serve-" in line and "started (pid" in line for line in lines)
    assert all(line[:4].isdigit() and "\t" in line for line in lines)


def test_since_and_until_filter_lines(cli, example_home) -> None:
    general = ("--home", str(example_home), "logs", "general", "--app", "example")
    future = cli(*general, "--since", "2999-01-01")
    assert (future.status, future.out) == (0, "")
    past = cli(*general, "--until", "2000-01-01")
    assert (past.status, past.out) == (0, "")
    recent = cli(*general, "--since", "1d")
    assert "seed" in recent.out


@pytest.mark.parametrize(("bound", "value", "shown"), [
    ("--since", "0001-01-01", True), ("--until", "0001-01-01", False),
    ("--until", "9999-12-31T23:59", True), ("--since", "99999999999d", True)])
def test_the_ends_of_the_calendar_are_bounds(cli, example_home, bound: str, value: str,
                                             shown: bool) -> None:
    """The first and last dates, and ages longer than history, bound the lines like any
    other: they were an unexpected error (year 0, an overflow) in the machine's zone."""
    result = cli("--home", str(example_home), "logs", "general", "--app", "example",
                 bound, value)
    assert (result.status, result.err) == (0, "")
    assert ("seed" in result.out) is shown


def test_a_time_that_is_not_a_time(cli, example_home) -> None:
    result = cli("--home", str(example_home), "logs", "general", "--since", "last tuesday")
    assert result.status == 1
    assert "error: 'last tuesday' is not a date, a time or an age" in result.err


def test_without_a_stream_it_lists_the_streams(cli, example_home) -> None:
    result = cli("--home", str(example_home), "logs", "--app", "example")
    assert result.status == 0
    assert "general" in result.out
    assert "notify/" in result.out


def test_an_unknown_stream_suggests_the_closest(cli, example_home) -> None:
    result = cli("--home", str(example_home), "logs", "genral", "--app", "example")
    assert result.status == 1
    assert result.err.splitlines() == [
        "error: no log stream or run 'genral' of app 'example'",
        "hint: did you mean 'general'? — or give a run id from `cauce runs`",
    ]


def test_an_output_file_that_cannot_be_written_is_one_line(cli, example_home,
                                                           tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "no such folder" / "f.log"):
        result = cli("--home", str(example_home), "logs", "general", "-o", str(target))
        assert result.status == 1
        assert result.err.splitlines()[0].startswith(f"error: cannot write {target}: ")
        assert "Traceback" not in result.err


def test_an_output_file_that_is_a_loop_of_links_is_one_line(cli, example_home,
                                                            tmp_path: Path) -> None:
    # "unexpected RuntimeError: Symlink loop from ..."
    (tmp_path / "loop.log").symlink_to("loop.log")
    result = cli("--home", str(example_home), "logs", "general", "-o", str(tmp_path / "loop.log"))
    assert result.err.splitlines()[0] == (f"error: cannot write {tmp_path / 'loop.log'}: Too "
                                          "many levels of symbolic links")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full is Linux's full disk")
def test_a_full_disk_while_writing_the_output_file_is_one_line(cli, example_home) -> None:
    # "unexpected OSError: [Errno 28] No space left on device"
    result = cli("--home", str(example_home), "logs", "general", "-o", "/dev/full")
    assert (result.status, result.err.splitlines()) == (1, [
        "error: cannot write /dev/full: No space left on device",
        "hint: free room on its disk, or give -o a file on another"])



def test_the_state_database_is_no_output_file(cli, tmp_path: Path) -> None:
    assert cli("run", "example", "heartbeat").status == 0  # the home is tmp_path/.cauce
    database = tmp_path / ".cauce" / "state.db"
    for target in (database, tmp_path / ".cauce" / ".." / ".cauce" / "state.db-wal"):
        result = cli("logs", "general", "--app", "example", "-o", str(target))
        assert result.err.splitlines() == [
            f"error: {target} is the state database: writing the log there would destroy it",
            "hint: give -o another file, e.g. -o general.log"]
    assert cli("state", "check").status == 0


def test_follow_of_an_unknown_stream_says_so_while_it_waits(
        cli, example_home, monkeypatch: pytest.MonkeyPatch) -> None:
    """It may yet appear, so --follow waits; a mistyped name is said, not waited on silently."""
    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("cauce.cli.logs.time.sleep", ctrl_c)
    result = cli("--home", str(example_home), "logs", "genral", "--app", "example", "--follow")
    assert (result.status, result.out) == (130, "")
    assert result.err.splitlines() == [
        "waiting for a first line: no log stream or run 'genral' of app 'example'",
        "hint: did you mean 'general'? — or give a run id from `cauce runs`; Ctrl-C stops",
        "interrupted"]


def test_follow_stopped_by_ctrl_c_exits_130_after_the_lines_and_the_file(
        cli, example_home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler path of a Ctrl-C while --follow waits for new lines, in-process."""
    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("cauce.cli.logs.time.sleep", ctrl_c)
    home = ("--home", str(example_home))
    shown = cli(*home, "logs", "general", "--app", "example", "--follow")
    assert shown.status == 130
    assert "INFO: run " in shown.out
    assert shown.err.strip() == "interrupted"
    target = tmp_path / "general.log"
    written = cli(*home, "logs", "general", "--app", "example", "--follow", "-o", str(target))
    assert written.status == 130
    assert written.err.splitlines() == [f"wrote {target}", "interrupted"]
    assert "INFO: run " in target.read_text(encoding="utf-8")


def test_a_long_stream_is_read_a_page_at_a_time(cli, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A year of lines is printed as it is read: it was read whole into memory first (655 MB
    and nothing printed for a minute and a half at 1,000,000 lines). Pages follow the
    stream's order, lines of the same time and lines written late included."""
    from cauce.backends.sqlite.logs import SQLiteLogs
    from cauce.backends.state import open_state, sqlite_url
    from cauce.cli import logs

    home = tmp_path / "h"
    home.mkdir()
    state = open_state(sqlite_url(home / "state.db"))
    times = [5.0, 1.0, 2.0, 2.0, 2.0, 9.0, 3.0, 2.0]  # ids in writing order, times not
    state.logs.append([("a", "general", t, 20, f"line {i}", None) for i, t in enumerate(times)])
    state.close()
    read = SQLiteLogs.read
    sizes: list[int] = []

    def counted(self: SQLiteLogs, **query: object) -> list:
        lines = read(self, **query)
        sizes.append(len(lines))
        return lines

    monkeypatch.setattr(SQLiteLogs, "read", counted)
    monkeypatch.setattr(logs, "PAGE", 3)
    result = cli("--home", str(home), "logs", "general", "--app", "a", "--json")
    assert result.status == 0
    shown = [json.loads(line)["message"] for line in result.out.splitlines()]
    in_order = sorted(range(len(times)), key=lambda i: (times[i], i))
    assert shown == [f"line {i}" for i in in_order]
    assert sizes == [3, 3, 2]


def test_follow_prints_each_new_line_once_whatever_its_time(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines of two writers whose clocks differ: the batch written second may be stamped
    first. --follow printed such a line again at every poll (it asked for the ids after the
    latest-stamped line it had shown); it prints each line written since once, in time order,
    reading only the lines written since, not the whole stream."""
    from cauce.backends.state import open_state, sqlite_url

    home = tmp_path / "h"
    home.mkdir()
    state = open_state(sqlite_url(home / "state.db"))
    state.logs.append([("a", "general", 10.0, 20, "before", None)])
    # what the writers commit before each poll: two batches, then nothing, twice
    polls = [[[("a", "general", 12.0, 20, "late clock", None),
               ("a", "worker/w", 12.0, 20, "another stream", None)],
              [("a", "general", 11.0, 20, "early clock", None)]], [], []]

    def poll(seconds: float) -> None:
        if not polls:
            raise KeyboardInterrupt
        for batch in polls.pop(0):
            state.logs.append(batch)

    monkeypatch.setattr("cauce.cli.logs.time.sleep", poll)
    try:
        result = cli("--home", str(home), "logs", "general", "--app", "a", "--follow", "--json")
    finally:
        state.close()
    assert result.status == 130
    shown = [json.loads(line)["message"] for line in result.out.splitlines()]
    assert shown == ["before", "early clock", "late clock"]


def test_follow_waits_for_a_state_store_away_for_a_while(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL server closed to connections for three seconds (a restart, a failover)
    ended `cauce logs --follow` with the error while the runs it followed went on; it says so
    once, waits as a serving process does, says the store is back, and prints what came."""
    from cauce.backends.sqlite.logs import SQLiteLogs
    from cauce.backends.state import open_state, sqlite_url
    from cauce.errors import StateUnavailable
    from cauce.runtime import serving

    home = tmp_path / "h"
    home.mkdir()
    state = open_state(sqlite_url(home / "state.db"))
    state.logs.append([("a", "general", 10.0, 20, "before", None)])
    away = [2]  # polls that find the store away
    newer = SQLiteLogs.newer

    def flaky(self, **query):
        if away[0]:
            away[0] -= 1
            raise StateUnavailable("lost the connection to PostgreSQL at db:5432 (for the test)")
        return newer(self, **query)

    polls = [[("a", "general", 11.0, 20, "meanwhile", None)], [], []]

    def poll(seconds: float) -> None:
        if not polls:
            raise KeyboardInterrupt
        state.logs.append(polls.pop(0))

    monkeypatch.setattr(SQLiteLogs, "newer", flaky)
    monkeypatch.setattr(serving, "AWAY_RETRY", 0.0)
    monkeypatch.setattr("cauce.cli.logs.time.sleep", poll)
    try:
        result = cli("--home", str(home), "logs", "general", "--app", "a", "--follow", "--json")
    finally:
        state.close()
    assert result.status == 130, result.err
    assert [json.loads(line)["message"] for line in result.out.splitlines()] == [
        "before", "meanwhile"]
    assert result.err.count("warning: the state store cannot be reached (lost the connection "
                            "to PostgreSQL at db:5432 (for the test))") == 1
    assert result.err.count("warning: the state store is back") == 1


def test_a_page_of_lines_is_printed_at_once_as_rich_prints_each(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each line was one rich print (0.27 ms: 11 s for an hour of a busy general stream); a
    page is one print now, and what it shows is what the lines printed one by one showed: tabs
    to the next multiple of 8 cells (after wide letters too), lines of a message on lines of
    their own, brackets shown as they are."""
    import io

    from rich.console import Console

    from cauce.backends.state import open_state, sqlite_url
    from cauce.cli import logs

    messages = ["a\ttab\there and ünïcode 漢字\twide", "line one\nline two\n\tindented",
                "[bold]not markup[/bold] " + "x" * 300, "\t", "ends with a tab\t", "plain"]
    home = tmp_path / "h"
    home.mkdir()
    state = open_state(sqlite_url(home / "state.db"))
    state.logs.append([("a", "general", 1e9 + i, 20, m, None) for i, m in enumerate(messages)])
    lines = state.logs.read(app="a")
    state.close()
    from zoneinfo import ZoneInfo

    one_by_one = io.StringIO()
    each = Console(file=one_by_one, width=10_000, highlight=False)
    for line in lines:
        each.print(line.format(ZoneInfo("UTC")), markup=False, highlight=False, soft_wrap=True)
    printed: list[object] = []
    real = Console.print

    def counted(self: Console, *objects: object, **options: object) -> None:
        printed.append(objects)
        real(self, *objects, **options)

    monkeypatch.setattr(Console, "print", counted)
    monkeypatch.setattr(logs, "PAGE", 4)
    result = cli("--home", str(home), "logs", "general", "--app", "a", "--utc")
    assert result.status == 0
    # as rich prints each, but for the spaces a tab ending a message left at the line's end:
    # cauce's output keeps no padding at line ends
    assert result.out == "".join(line.rstrip(" ") + "\n"
                                 for line in one_by_one.getvalue().splitlines())
    assert len(printed) == 2, "a print a page"


def test_an_output_file_that_cannot_be_written_whole_keeps_its_earlier_lines(
        cli, example_home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that filled while `logs -o day.log` wrote left day.log cut short, its earlier
    content gone; the lines now go to a file beside it, put in its place once whole."""
    import errno

    import cauce.cli.logs as logs_module

    day = tmp_path / "day.log"
    day.write_text("the earlier lines\n", encoding="utf-8")
    emit = logs_module._emit

    def filling(lines, sink, tz, as_json=False):
        emit(lines, sink, tz, as_json)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(logs_module, "_emit", filling)
    result = cli("--home", str(example_home), "logs", "general", "-o", str(day))
    assert result.err.splitlines() == [f"error: cannot write {day}: No space left on device",
                                       "hint: free room on its disk, or give -o a file on another"]
    assert day.read_text(encoding="utf-8") == "the earlier lines\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.log"]  # nothing left beside it
    monkeypatch.setattr(logs_module, "_emit", emit)
    assert cli("--home", str(example_home), "logs", "general", "-o", str(day)).status == 0
    assert "started" in day.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.log"]
