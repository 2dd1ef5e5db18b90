"""A failed `cauce run` is one line and a hint that fits the cause, with no traceback: a home that
is a file, an unknown database scheme, a database URL that names no file, a PostgreSQL role that
does not exist, nothing listening, a port in use."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

DEMO = ("run", "census", "demo-data", "--data-rows", "40", "--test-rows", "10")
SOURCES = ("--source", "census-data/Adult.data", "--source", "census-data/Adult.test")


def failure(result) -> tuple[str, str]:
    """The run's last line (its error) and its hint, asserting the shape of a failed run."""
    assert result.status == 1
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert lines[-1].startswith("hint: ")
    assert sum(line.count("✗") for line in lines) == 1
    return lines[-2], lines[-1].removeprefix("hint: ")


def load_into(cli, url: str) -> tuple[str, str]:
    """The error and hint of the census load, on demo data, into the warehouse at ``url``."""
    assert cli(*DEMO).status == 0
    return failure(cli("run", "census", "load", "--all", *SOURCES, "--db", url))


def test_a_home_that_is_a_file(cli, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    for args in (("run", "example", "seed"), ("runs",)):
        result = cli(*args, "--home", "afile")
        assert result.status == 1
        assert result.err.splitlines()[0] == (
            f"error: the cauce home {tmp_path / 'afile'} is a file, not a folder"
        )
        assert len(result.err.splitlines()) == 2


def test_an_unknown_database_scheme(cli) -> None:
    error, hint = load_into(cli, "foo://x")
    assert error.endswith("WarehouseError: unknown warehouse URL scheme 'foo' in foo://x")
    assert hint.startswith("use one of: duckdb:///path.duckdb")


WAREHOUSE_APP = """
from cauce import App

app = App("tally")
db = app.setting("db", default="sqlite:///tally.db")
out = app.warehouse("out", url=db)


@app.job(retries=0)
def count(ctx) -> int:
    out.load("marks", [{"mark": 1}])
    return out.query("SELECT count(*) AS n FROM marks").column(0)[0].as_py()
"""


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://", "duckdb:///"])
def test_a_database_url_that_names_no_file_is_refused(cli, app_file, url: str) -> None:
    result = cli("run", app_file(WAREHOUSE_APP), "count", "--db", url)
    assert result.status == 1
    scheme = url.partition(":")[0]
    assert result.err.splitlines() == [
        f"error: warehouse 'out' (setting db, option --db): {url} names no database file",
        f"hint: use {scheme}:///path/to/file.{'duckdb' if scheme == 'duckdb' else 'db'} (four "
        f"slashes for an absolute path), or {scheme}:///:memory: if a database that vanishes "
        "with the process is meant",
    ]
    assert not (Path.cwd() / ".cauce").exists()  # refused before the home was opened


def test_a_database_url_from_the_environment_is_checked_too(cli, app_file, monkeypatch) -> None:
    monkeypatch.setenv("CAUCE_TALLY_OUT_URL", "sqlite://")
    result = cli("run", app_file(WAREHOUSE_APP), "count")
    assert result.status == 1
    assert result.err.startswith(
        "error: warehouse 'out' (environment CAUCE_TALLY_OUT_URL): sqlite:// names no database")


def test_an_in_memory_database_spelled_out_is_taken_at_its_word(cli, app_file) -> None:
    result = cli("run", app_file(WAREHOUSE_APP), "count", "--db", "sqlite:///:memory:")
    assert result.status == 0, result.err
    assert result.out == "1\n"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not _listening(5432), reason="no PostgreSQL on 127.0.0.1:5432")
def test_a_postgresql_role_that_does_not_exist(cli) -> None:
    pytest.importorskip("psycopg")
    error, hint = load_into(cli, "postgresql://no_such_role_here@127.0.0.1:5432/test")
    assert 'role "no_such_role_here" does not exist' in error
    assert hint.startswith("the database server refused that user")


def test_nothing_listening(cli) -> None:
    pytest.importorskip("psycopg")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    error, hint = load_into(cli, f"postgresql://postgres@127.0.0.1:{port}/test")
    assert "Connection refused" in error
    assert hint.startswith("nothing answers at that host and port")


def test_a_port_in_use(cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        error, hint = failure(cli("run", "opendata", "portal", "--port", str(port)))
    assert error.endswith(f"CauceError: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert hint == "choose another --port (0: any free port)"


def test_an_option_out_of_its_bounds_is_a_usage_error(cli, tmp_path: Path) -> None:
    result = cli("run", "census", "demo-data", "--data-rows", "-5")
    assert result.status == 2
    assert result.err.splitlines() == [
        "error: --data-rows: -5 is invalid (Input should be greater than or equal to 0)",
        "hint: see `cauce run census demo-data --help`"]
    assert not (tmp_path / ".cauce").exists()  # refused before anything opened
    shown = cli("run", "census", "demo-data", "--help").out
    assert "records in Adult.data [default: 32561; 0<=x<=5000000]" in " ".join(shown.split())


PROCESS_APP = """
import logging

from cauce import App

app = App("crunch")


@app.job(worker="process", retries=0)
def crunch(ctx) -> None:
    ctx.log.debug("a detail kept in the run's log, not shown")
    ctx.log.info("crunching")
    raise ValueError("bad input")


@app.job(worker="process", retries=0)
def notice(ctx) -> None:
    logging.addLevelName(25, "NOTICE")  # a level only the child process knows
    ctx.log.log(25, "noticed")
"""


def test_a_process_job_shows_its_lines_as_a_thread_job_does(cli, app_file) -> None:
    """Its lines, written by its child process, are printed when it ends: as terminal lines, at
    the terminal's level, and its failure (whose stored line holds the traceback) said once, by
    the last line."""
    reference = app_file(PROCESS_APP)
    error, _ = failure(cli("run", reference, "crunch"))
    assert error.endswith(": ValueError: bad input")
    lines = cli("run", reference, "crunch").err.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO +crunching", lines[1]), lines
    assert len(lines) == 4, lines
    debugged = cli("--debug", "run", reference, "crunch").err
    assert "attempt 1 failed: ValueError: bad input\nTraceback (most recent call last):" in debugged
    noticed = cli("run", reference, "notice")
    assert noticed.status == 0, noticed.err
    # shown with the level name the child stored for it, not a crash of the command
    assert re.search(r"^\d\d:\d\d:\d\d Level 25 noticed$", noticed.err, flags=re.M), noticed.err
