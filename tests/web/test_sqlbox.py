"""The warehouse SQL box: one SELECT, read-only, capped, stopped when it runs too long."""

from __future__ import annotations

import contextlib
import html
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cauce import App, Runtime
from cauce.errors import CauceError
from cauce.warehouse import connect
from cauce.web import sqlbox
from cauce.web.home import Home
from cauce.web.server import create_app

LIMIT = 0.5  # seconds: the tests' own time limit, so that a stopped query costs about that
# one call of instr() over 30 MB: a single step of SQLite's engine that runs for minutes
ONE_LONG_CALL = ("SELECT instr(printf('%.*c', 30000000, 'a'), "
                 "printf('%.*c', 1000000, 'a') || 'b')")
STOPPED = f"the query was stopped after {LIMIT:g} s, the SQL box's time limit"
HINT = "add a WHERE or a LIMIT"
RECURSIVE = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) FROM c"


def assert_stopped_at_the_limit(backend, sql: str) -> None:
    """``sql`` on ``backend``, which would run for minutes or for ever, is stopped, with the SQL
    box's one line naming the limit it was given (not the default TIMEOUT)."""
    with pytest.raises(CauceError) as stopped:
        sqlbox.run(backend, sql, limit=sqlbox.Limit(LIMIT))
    assert (stopped.value.message, stopped.value.hint) == (STOPPED, HINT)


@pytest.fixture(params=["duckdb", "sqlite"])
def backend(request, tmp_path: Path):
    path = tmp_path / f"w.{request.param}"
    wh = connect(f"{request.param}:///{path}")
    wh.load("trips", [{"zone": f"z{i % 5}", "n": i} for i in range(3000)])
    wh.load("odd names", [{"x<y": "<script>"}])
    yield wh
    wh.close()


@pytest.mark.parametrize("sql, problem", [
    ("", "type a SELECT"),
    ("INSERT INTO trips VALUES ('z', 1)", "only SELECT statements"),
    ("DELETE FROM trips", "only SELECT statements"),
    ("SELECT 1; DROP TABLE trips", "2 statements given"),
    ("ATTACH 'other.db' AS o", "only SELECT statements"),
    ("COPY trips TO 'out.csv'", "only SELECT statements"),
    ("SELEC 1", "does not parse"),
])
def test_only_one_select_is_accepted(sql, problem):
    with pytest.raises(CauceError, match=problem):
        sqlbox.check_select(sql)


def test_select_is_capped_and_tables_described(backend):
    result = sqlbox.run(backend, "SELECT * FROM trips ORDER BY n;", cap=100)
    assert result.columns == ["zone", "n"] and len(result.rows) == 100 and result.truncated
    assert sqlbox.tables(backend) == ["odd names", "trips"]
    detail = sqlbox.describe(backend, "odd names")
    assert detail["count"] == 1 and detail["columns"][0][0] == "x<y"
    with pytest.raises(CauceError, match="no table"):
        sqlbox.describe(backend, "nope")


def test_tables_named_like_sqlites_own_are_listed(backend):
    # SQLite keeps "sqlite_" names for itself; '_' is a LIKE wildcard, so a filter on
    # 'sqlite_%' hid "sqlitedata" and "SQLite1" too
    for name in ("sqlitedata", "SQLite1"):
        backend.load(name, [{"a": 1}])
    assert sqlbox.tables(backend) == sorted(["SQLite1", "odd names", "sqlitedata", "trips"])
    assert sqlbox.describe(backend, "sqlitedata")["count"] == 1


def test_a_table_is_described_from_its_own_schema_only(backend):
    if backend.dialect != "duckdb":
        pytest.skip("SQLite has no schemas, only attached databases")
    backend.execute("CREATE SCHEMA other")
    backend.execute("CREATE TABLE other.trips (elsewhere INTEGER)")
    assert [column for column, _ in sqlbox.describe(backend, "trips")["columns"]] == [
        "zone", "n"]


def test_nothing_can_be_written_even_through_a_select(backend, tmp_path: Path):
    before = sqlbox.run(backend, "SELECT count(*) FROM trips").rows
    if backend.dialect == "duckdb":
        outside = tmp_path / "secret.csv"
        outside.write_text("a\n1\n")
        with pytest.raises(CauceError, match="refused"):
            sqlbox.run(backend, f"SELECT * FROM read_csv('{outside}')")
    else:  # past the SELECT check too: the connection itself cannot reach other files
        with pytest.raises(CauceError, match="not authorized"):
            sqlbox._run_sqlite(backend.url, f"ATTACH DATABASE '{tmp_path / 'x.db'}' AS x",
                               10, sqlbox.Limit(1.0))
        assert not (tmp_path / "x.db").exists()
    assert sqlbox.run(backend, "SELECT count(*) FROM trips").rows == before


def test_long_values_are_cut_for_the_page(backend):
    # one cell of 5 MB (text or bytes) would make a page no browser wants; its start is kept
    big = "SELECT zeroblob(5000000) AS b, substr(printf('%.*c', 5000000, 'x'), 1) AS t" if (
        backend.dialect == "sqlite") else (
        "SELECT repeat('\\x00', 5000000)::BLOB AS b, repeat('x', 5000000) AS t")
    result = sqlbox.run(backend, big)
    blob, text = result.rows[0]
    assert text == "x" * sqlbox.CELL_CAP + f"… (5,000,000 characters; {sqlbox.CELL_CAP:,} shown)"
    assert blob.startswith("b'\\x00") and blob.endswith(f"(5,000,000 bytes; {sqlbox.CELL_CAP:,} "
                                                         "shown)")
    assert len(blob) < sqlbox.CELL_CAP * 5
    assert sqlbox.run(backend, "SELECT 'short' AS s, 7 AS n").rows == [("short", 7)]


def test_a_long_query_is_stopped_at_the_limit(backend):
    assert_stopped_at_the_limit(backend, RECURSIVE)


def test_one_long_sqlite_call_is_stopped_at_the_limit_too(tmp_path: Path):
    # no step of SQLite's engine ends while instr() runs, so no check between steps can stop it
    wh = connect(f"sqlite:///{tmp_path / 'w.sqlite'}")
    wh.load("t", [{"a": 1}])
    assert_stopped_at_the_limit(wh, ONE_LONG_CALL)
    wh.close()


def test_a_query_done_in_time_is_untouched(backend):
    counted = RECURSIVE.replace("FROM c)", "FROM c WHERE i < 50000)")
    done = sqlbox.run(backend, counted, limit=sqlbox.Limit())
    assert done.rows == [(50_000,)]


def test_sqlite_files_open_read_only(tmp_path: Path):
    path = tmp_path / "w.sqlite"
    sqlite3.connect(path).close()
    wh = connect(f"sqlite:///{path}")
    wh.load("t", [{"a": 1}])
    with pytest.raises(CauceError):
        sqlbox._run_sqlite(wh.url, "INSERT INTO t VALUES (2)", 10, sqlbox.Limit(1.0))
    assert sqlbox.run(wh, "SELECT count(*) FROM t").rows == [(1,)]
    wh.close()


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_warehouse():
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")
    try:
        psycopg.connect(POSTGRES, connect_timeout=2).close()
    except psycopg.Error as err:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: {err}")
    schema = f"cauce_ui_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
    wh = connect(f"{POSTGRES}?options=-csearch_path%3D{schema}")
    try:
        wh.load("trips", [{"zone": f"z{i % 5}", "n": i} for i in range(300)])
        yield wh
    finally:
        wh.close()
        with psycopg.connect(POSTGRES, autocommit=True) as con:
            con.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_postgresql_selects_read_only_capped_and_timed(postgres_warehouse):
    wh = postgres_warehouse
    assert sqlbox.tables(wh) == ["trips"]
    assert sqlbox.describe(wh, "trips")["count"] == 300
    result = sqlbox.run(wh, "SELECT * FROM trips ORDER BY n", cap=10)
    assert len(result.rows) == 10 and result.truncated and result.columns == ["zone", "n"]
    # a SELECT that writes (a sequence moves on) meets the READ ONLY transaction, or first
    # the reading role a superuser looks through
    wh.execute("CREATE SEQUENCE ticket")
    with pytest.raises(CauceError, match=r"read-only transaction|permission denied"):
        sqlbox.run(wh, "SELECT nextval('ticket')")
    assert wh.query("SELECT last_value, is_called FROM ticket").to_pylist() == [
        {"last_value": 1, "is_called": False}]
    assert_stopped_at_the_limit(wh, "SELECT pg_sleep(3)")
    assert sqlbox.run(wh, "SELECT count(*) FROM trips").rows == [(300,)]


def test_postgresql_selects_cannot_read_the_servers_files(postgres_warehouse):
    wh = postgres_warehouse  # the test server's user is a superuser, as a laptop's often is
    for sql in ("SELECT pg_read_file('/etc/hostname')", "SELECT * FROM pg_ls_dir('/')",
                "SELECT query_to_xml('SELECT pg_read_file(''/etc/hostname'')', true, true, '')"):
        with pytest.raises(CauceError, match="permission denied for function"):
            sqlbox.run(wh, sql)
    assert sqlbox.run(wh, "SELECT count(*) FROM trips").rows == [(300,)]


def test_postgresql_selects_leave_nothing_behind(postgres_warehouse):
    import psycopg

    wh = postgres_warehouse
    # functions a READ ONLY transaction lets through: a large object made, a setting and a
    # lock kept by the session; a look must end with none of them
    made = sqlbox.run(wh, "SELECT lo_create(0)").rows[0][0]
    sqlbox.run(wh, "SELECT set_config('application_name', 'changed by a look', false)")
    sqlbox.run(wh, "SELECT pg_advisory_lock(724301)")
    with psycopg.connect(POSTGRES, autocommit=True) as con:
        assert con.execute("SELECT count(*) FROM pg_largeobject_metadata WHERE oid = %s",
                           (made,)).fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                           "AND objid = 724301").fetchone() == (0,)
    shown = sqlbox.run(wh, "SELECT current_setting('application_name')").rows[0][0]
    assert shown != "changed by a look"


@contextlib.contextmanager
def warehouse_page(tmp_path: Path, dialect: str) -> Iterator[tuple[Any, Callable[..., Any]]]:
    """App "looks" with its warehouse "w" (a ``dialect`` file holding table t) in a UI: yields
    the warehouse and a function that gets its page with the given query parameters, the UI's
    SQL box limit being LIMIT for a page meant to be stopped and the default TIMEOUT for one
    meant to finish (``stopped=False``), so that a slow machine cannot stop it."""
    app = App("looks")
    warehouse = app.warehouse("w", url=f"{dialect}:///{tmp_path / f'w.{dialect}'}")
    with Runtime(app, home=tmp_path) as rt:
        backend = rt.warehouse_backend(warehouse)
        backend.load("t", [{"a": 1}])
        ui = create_app(Home(tmp_path, [rt], []))
        with TestClient(ui, base_url="http://127.0.0.1") as client:

            def get(stopped: bool = True, headers: dict[str, str] | None = None,
                    **params: str) -> Any:
                ui.state.ui.sql_timeout = LIMIT if stopped else sqlbox.TIMEOUT
                page = client.get("/apps/looks/data/warehouse/w", params=params,
                                  headers=headers)
                assert page.status_code == 200 and "Traceback" not in page.text
                return page

            yield backend, get


class VirtualClock:
    """Stands in for the SQL box's ``time``: a sleep moves the clock on at once, so a wait's
    length is read off the clock, the same on a busy machine as on an idle one."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def problems(page: Any) -> list[str]:
    """The page's error lines, as text."""
    return [html.unescape(line) for line in re.findall(r'<p class="error">(.*?)</p>', page.text)]


def test_the_page_says_in_one_line_that_the_query_was_stopped(tmp_path: Path):
    """A query that runs for minutes is stopped with one line naming the page's limit, and the
    next query on the same page runs as usual."""
    with warehouse_page(tmp_path, "sqlite") as (_, get):
        page = get(sql=ONE_LONG_CALL)
        fine = get(stopped=False, sql="SELECT a FROM t")
    assert f"at most {sqlbox.ROW_CAP} rows and {LIMIT:g} s" in page.text
    assert problems(page) == [f"{STOPPED} (hint: {HINT})"]
    assert 'class="error"' not in fine.text and "1 row(s)" in fine.text


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
def test_a_table_described_on_the_page_is_stopped_at_the_same_limit(tmp_path: Path, dialect):
    """Describing an endless view is stopped at the UI's limit, and a page's looks (table list,
    description, query) share that one limit: the line names it, not the default TIMEOUT."""
    # the table list and description ran with the default 10 s, whatever the UI's limit
    with warehouse_page(tmp_path, dialect) as (backend, get):
        backend.execute(f"CREATE VIEW endless AS {RECURSIVE}")
        page = get(table="endless")
        listed = get(table="t", sql=RECURSIVE)  # one limit for the page's looks together
        fine = get(stopped=False, table="t")
    assert problems(page) == [f"{STOPPED} (hint: {HINT})"]
    assert problems(listed) == [f"{STOPPED} (hint: {HINT})"]
    assert problems(fine) == [] and "endless" in fine.text


# holds a DuckDB file open for writing until its stdin closes
WRITER = ("import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('open', flush=True); "
          "sys.stdin.read()")


def test_the_wait_for_a_duckdb_file_being_written_counts_within_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """While another process writes the file, the page waits for it no longer than its limit
    (read off a virtual clock, so load cannot change it), says so in one line, and shows the
    rows once the writer is done."""
    # the wait to open went on 5 s before the limit started counting
    clock = VirtualClock()
    with warehouse_page(tmp_path, "duckdb") as (_, get):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "w.duckdb")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout is not None and writer.stdout.readline() == "open\n"
            with monkeypatch.context() as patch:
                patch.setattr(sqlbox, "time", clock)
                page = get(sql="SELECT a FROM t")
        finally:
            writer.communicate(timeout=10)
        fine = get(stopped=False, sql="SELECT a FROM t")
    assert problems(page) == [
        f"the DuckDB file {(tmp_path / 'w.duckdb').resolve()} is being written by another "
        "process (hint: it can be read once that process has closed it; try again in a moment)"]
    assert clock.now == pytest.approx(LIMIT)
    assert problems(fine) == [] and "1 row(s)" in fine.text


def test_a_query_in_a_link_from_another_site_is_shown_not_run(tmp_path: Path):
    """A page of another site that links to the SQL box with a query of its own (the browser
    says `Sec-Fetch-Site: cross-site`) gets the query shown in the box, not run; from the UI's
    own pages, a bookmark or the address bar (or a client that says nothing) it runs."""
    ran = {}
    with warehouse_page(tmp_path, "sqlite") as (_, get):
        for site in ("cross-site", "same-site", "same-origin", "none", None):
            headers = {"sec-fetch-site": site} if site else None
            page = get(stopped=False, headers=headers, sql="SELECT a FROM t")
            ran[site] = "1 row(s)" in page.text
            if not ran[site]:
                assert problems(page) == [
                    "the query was not run: it came in a link from another site (hint: read "
                    "it in the box, then press Run to run it)"]
                assert ">SELECT a FROM t</textarea>" in page.text
    assert ran == {"cross-site": False, "same-site": False, "same-origin": True, "none": True,
                   None: True}
