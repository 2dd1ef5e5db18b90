"""The census app from the command line, offline: demo-data, load, report and serve, with their
exit codes, against several target databases in one home."""

from __future__ import annotations

import json
import shlex
import sqlite3
from pathlib import Path

import pytest

from cauce.apps.census import sources
from cli_runner import clean_environment, in_process

SOURCES = ["--source", "census-data/Adult.data", "--source", "census-data/Adult.test"]
ROWS, VALID = 400, 395  # 300 + 100 synthetic records, 5 of them with a letter injected


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """`cauce ...` in-process in a fresh folder; any download of the default files fails."""
    clean_environment(monkeypatch, tmp_path)
    unreachable = "http://127.0.0.1:9"
    monkeypatch.setattr(sources, "DEFAULT_DESCRIPTION", f"{unreachable}/Description")
    monkeypatch.setattr(sources, "DEFAULT_SOURCES", (f"{unreachable}/Adult.data",))

    run = in_process(capsys)

    def cauce(*args: str) -> tuple[int, str]:
        result = run(*args)
        return result.status, result.out + result.err

    status, _ = cauce("run", "census", "demo-data", "--data-rows", "300", "--test-rows", "100",
                      "--seed", "3")
    assert status == 0
    return cauce


def rows(database: Path, table: str = "adult") -> int:
    connection = sqlite3.connect(database)
    try:
        return connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    finally:
        connection.close()


def last_start(cauce) -> dict:
    """The result of the newest run of `start`."""
    status, output = cauce("runs", "--app", "census", "--job", "start", "--limit", "1", "--json")
    assert status == 0
    return json.loads(output)[0]["result"]


def test_report_uses_the_description_the_load_used(offline, tmp_path):
    status, _ = offline("run", "census", "load", *SOURCES, "--all")
    assert status == 0
    # No --source, no --description: the Description is the one the load followed.
    status, output = offline("run", "census", "report")
    assert status == 0, output
    assert "127.0.0.1:9" not in output
    assert (tmp_path / "census-report" / "index.html").is_file()


def test_report_before_any_load_fails_with_one_line_and_exit_code_1(offline):
    status, output = offline("run", "census", "report", "--db", "sqlite:///empty.db")
    assert status == 1
    assert "nothing is loaded in 'adult' in sqlite:///empty.db yet" in output
    assert "Traceback" not in output


def test_serve_with_every_0_loads_everything_into_each_new_database(offline, tmp_path):
    status, output = offline("serve", "census", "--every", "0", "--db", "sqlite:///c.db",
                             *SOURCES, "--for", "4s")
    assert status == 0, output
    assert rows(tmp_path / "c.db") == VALID
    assert f"all {ROWS} records are processed in sqlite:///c.db" in output

    # The finished load into c.db paused the schedule in this home: a new database still loads.
    status, output = offline("serve", "census", "--every", "0.2s", "--chunk-size", "150",
                             "--db", "sqlite:///d.db", *SOURCES, "--for", "4s")
    assert status == 0, output
    assert rows(tmp_path / "d.db") == VALID
    assert f"all {ROWS} records are processed in sqlite:///d.db" in output
    started = last_start(offline)
    assert (started["started"], started["resumed"]) == (True, True)

    # Back to the finished one: nothing is loaded twice.
    status, output = offline("serve", "census", "--every", "0", "--db", "sqlite:///c.db",
                             *SOURCES, "--for", "2s")
    assert status == 0, output
    assert last_start(offline) == {"started": False, "resumed": False}
    assert rows(tmp_path / "c.db") == VALID


@pytest.mark.parametrize(("every", "problem"), [("abc", "is not a duration"),
                                                ("-1s", "is negative"), ("nan", "finite")])
def test_a_load_every_that_is_no_duration_is_refused_before_it_runs(offline, tmp_path, every,
                                                                     problem):
    status, output = offline("run", "census", "load", "--every", every, "--db",
                             "sqlite:///c.db", *SOURCES)
    assert status == 2 and problem in output and "Traceback" not in output
    assert not (tmp_path / "c.db").exists()


def test_a_load_every_written_0_in_any_unit_loads_everything_in_one_run(offline, tmp_path):
    status, output = offline("run", "census", "load", "--every", "0.0m", "--db",
                             "sqlite:///c.db", *SOURCES)
    assert status == 0, output
    assert rows(tmp_path / "c.db") == VALID


@pytest.mark.parametrize("job", ["demo-data", "report"])
def test_an_out_folder_that_cannot_be_made_is_one_line_with_a_hint(offline, tmp_path, job):
    assert offline("run", "census", "load", *SOURCES, "--all")[0] == 0
    (tmp_path / "taken").write_text("a file, not a folder")
    status, output = offline("run", "census", job, "--out", "taken/sub")
    assert status == 1
    assert "cannot write" in output and "taken/sub" in output and "Not a directory" in output
    assert "hint:" in output and "folder you can write to" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("job", ["demo-data", "report"])
def test_an_empty_out_folder_is_refused_not_the_current_folder(offline, tmp_path, job):
    assert offline("run", "census", "load", *SOURCES, "--all")[0] == 0
    before = sorted(tmp_path.iterdir())
    status, output = offline("run", "census", job, "--out", "")
    assert status == 1
    assert "output folder is empty" in output and "hint: name a folder" in output
    assert sorted(tmp_path.iterdir()) == before


def test_sources_without_a_record_fail_instead_of_saying_all_is_loaded(offline, tmp_path):
    (tmp_path / "empty.data").write_bytes(b"")
    (tmp_path / "comments.data").write_bytes(b"|1x3 Cross validator\r\n\r\n")
    status, output = offline("run", "census", "load", "--source", "empty.data", "--source",
                             "comments.data", "--description", "census-data/Description",
                             "--db", "sqlite:///e.db")
    assert status == 1
    assert ("there is no record to load: empty.data has 0 lines (0 blank, 0 comment), "
            "comments.data has 2 lines (1 blank, 1 comment)") in output
    assert "processed by earlier runs" not in output


def test_ctrl_c_taken_by_the_database_driver_still_says_interrupted(offline, tmp_path,
                                                                     monkeypatch):
    """ADBC takes SIGINT during its calls to cancel the statement, and SQLite's driver answers
    NOT_IMPLEMENTED: the Ctrl-C is handed back, so the load ends interrupted, not failed."""
    import adbc_driver_manager

    from cauce.warehouse.sqlite import SQLiteSession

    def interrupted(session, table, data):
        try:
            raise adbc_driver_manager.NotSupportedError("NOT_IMPLEMENTED")
        except adbc_driver_manager.Error as error:  # as ADBC raises it after a SIGINT
            raise error from KeyboardInterrupt

    monkeypatch.setattr(SQLiteSession, "insert", interrupted)
    status, output = offline("run", "census", "load", *SOURCES, "--all")
    assert status == 130, output
    assert "cancelled" in output and "interrupted by SIGINT" in output
    tables = sqlite3.connect(tmp_path / "census.db").execute(
        "SELECT name FROM sqlite_master WHERE name = 'adult'").fetchall()
    assert tables == []  # the chunk's transaction, tables included, was rolled back


def test_the_next_command_of_demo_data_runs_as_printed_whatever_the_folder_name(offline):
    """A folder name with a space or a quote was printed as is: the command split there."""
    status, output = offline("run", "census", "demo-data", "--out", "my data/it's", "--data-rows",
                             "20", "--test-rows", "5")
    assert status == 0, output
    [line] = [line for line in output.splitlines() if line.strip().startswith('"next": ')]
    command = shlex.split(json.loads("{" + line.strip().rstrip(",") + "}")["next"])
    assert command[:3] == ["cauce", "run", "census"]
    status, output = offline(*command[1:], "--db", "sqlite:///next.db")
    assert status == 0, output
    assert '"read": 25' in output
