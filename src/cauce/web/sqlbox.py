"""Read-only looks into a warehouse: its tables, a table's columns, count and first rows, and
one SELECT typed by the user, with a row cap and a time limit.

A typed statement must parse as exactly one SELECT (DuckDB's parser, which reads the SQL that
SQLite and PostgreSQL users write). It then runs on a connection that cannot write: DuckDB and
SQLite files are opened read-only by the UI itself (DuckDB also without access to other files,
so ``read_csv('/etc/passwd')`` is refused), PostgreSQL in a READ ONLY transaction. Other
databases are not offered the SQL box.

Every backend stops a query at the same time limit, TIMEOUT, and says so in the same line:
DuckDB is interrupted by a timer, PostgreSQL by its statement timeout, and SQLite's reader
process (`cauce.warehouse.sqlite_readonly`) is killed. The limit is a `Limit`, one for all the
looks a page makes (table list, description, typed query) and for the waits to open the file,
so the page answers within it.

A DuckDB file is opened for each look in this process's turn on it, as the DuckDB warehouse
does (`cauce.warehouse.turns`), and the turn is given back once the file is closed: DuckDB reads
the header before it locks the file, so a look opened as a job closed the file could fail with
"Could not read enough bytes from file" or show rows from before the job's last commit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..errors import CauceError, WarehouseError
from ..warehouse import sqlite_readonly
from ..warehouse.turns import ProcessTurn
from ..warehouse.urls import _file_path

ROW_CAP = 1000
CELL_CAP = 10_000  # characters (or bytes) of one value shown; a page of 1,000 rows stays small
TIMEOUT = 10.0  # seconds a page's queries may run, on every backend; the page states it
OPEN_RETRY = 0.1  # seconds between tries to open a DuckDB file another program holds


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    seconds: float


def _shown(value: Any) -> Any:
    """``value``, or the start of it with its length when it is longer than CELL_CAP."""
    if isinstance(value, str) and len(value) > CELL_CAP:
        return value[:CELL_CAP] + f"… ({len(value):,} characters; {CELL_CAP:,} shown)"
    if isinstance(value, bytes | bytearray | memoryview) and len(value) > CELL_CAP:
        head = bytes(value[:CELL_CAP])
        return f"{head!r}… ({len(value):,} bytes; {CELL_CAP:,} shown)"
    return value


def _too_long(timeout: float) -> CauceError:
    """The one line every backend gives when a query reaches the time limit."""
    return CauceError(f"the query was stopped after {timeout:g} s, the SQL box's time limit",
                      hint="add a WHERE or a LIMIT")


class Limit:
    """The SQL box's time limit, counted from when it is made: every query of one page and every
    wait to open the warehouse file draw on the same ``seconds``."""

    def __init__(self, seconds: float = TIMEOUT) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds a query may still run; the time limit's one line once none are left."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _too_long(self.seconds)
        return left


def check_select(sql: str) -> str:
    """``sql`` without a trailing semicolon, if it is exactly one SELECT; else CauceError."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise CauceError("type a SELECT statement", hint="e.g. SELECT * FROM my_table LIMIT 10")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as err:
        raise CauceError(f"the statement does not parse: {str(err).splitlines()[0]}",
                         hint="write one SELECT (or WITH ... SELECT)") from None
    if len(statements) != 1:
        raise CauceError(f"{len(statements)} statements given; the box runs one",
                         hint="remove the extra statements")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        raise CauceError(f"only SELECT statements may run here, not {kind}",
                         hint="this box is read-only; change data through your jobs")
    return text


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def _path(url: str) -> Path:
    path = _file_path(_scheme(url), url.partition("://")[2])
    if path is None:
        raise CauceError("this warehouse is in memory: its tables live in the process using "
                         "it", hint="give it a file URL to browse it here")
    if not path.is_file():
        raise CauceError(f"the warehouse file {path} does not exist yet",
                         hint="it is created by the first load; relative paths are read from "
                         "the UI's working folder")
    return path


def supported(url: str) -> bool:
    return _scheme(url) in ("duckdb", "sqlite", "postgresql", "postgres")


def _being_written(path: Path, holder: int | None = None) -> CauceError:
    """The one line for a DuckDB file the SQL box could not open within its limit."""
    pid = f" (PID {holder})" if holder else ""
    return CauceError(f"the DuckDB file {path} is being written by another process{pid}",
                      hint="it can be read once that process has closed it; try again in a "
                      "moment")


@contextlib.contextmanager
def _duckdb(url: str, limit: Limit) -> Iterator[Any]:
    """A read-only connection to the file, opened and closed within this process's turn on it;
    while another process (or another thread of this one) has the turn, it waits until the limit
    is reached."""
    path = _path(url)
    turn = ProcessTurn(path)
    if not turn.take(limit.deadline):
        raise _being_written(path, turn.holder())
    try:
        con = _connect_read_only(path, limit)
        try:
            yield con
        finally:
            con.close()
    finally:
        turn.give_back()


def _connect_read_only(path: Path, limit: Limit) -> Any:
    """DuckDB's read-only connection to ``path``, tried again while a program that takes no
    turns (or, in a folder where no lock file can be made, another process) holds the file."""
    while True:
        try:
            return duckdb.connect(str(path), read_only=True,
                                  config={"enable_external_access": False})
        except duckdb.IOException:
            left = limit.deadline - time.monotonic()
            if left <= 0:
                raise _being_written(path) from None
            time.sleep(min(OPEN_RETRY, left))


def _run_duckdb(url: str, sql: str, params: list[Any], cap: int, limit: Limit) -> Result:
    with _duckdb(url, limit) as con:
        timer = threading.Timer(limit.left(), con.interrupt)
        started = time.monotonic()
        timer.start()
        try:
            cur = con.execute(sql, params)
            rows = cur.fetchmany(cap + 1)
            columns = [d[0] for d in cur.description or []]
        except duckdb.InterruptException:
            raise _too_long(limit.seconds) from None
        except duckdb.Error as err:
            raise CauceError(f"the warehouse refused it: {str(err).splitlines()[0]}") from None
        finally:
            timer.cancel()
        return Result(columns, rows[:cap], len(rows) > cap, time.monotonic() - started)


def _run_sqlite(url: str, sql: str, cap: int, limit: Limit) -> Result:
    started = time.monotonic()
    try:
        columns, rows = sqlite_readonly.query(_path(url), sql, cap=cap, timeout=limit.left())
    except TimeoutError:
        raise _too_long(limit.seconds) from None
    return Result(columns, [tuple(r) for r in rows[:cap]], len(rows) > cap,
                  time.monotonic() - started)


# A superuser may read the server's files (pg_read_file, pg_ls_dir) even in a READ ONLY
# transaction: the box then looks through the predefined role that reads every table and
# nothing else (PostgreSQL 14 or later; on an older server a superuser's look is refused).
# A guard against mistakes only: the session stays a superuser's, so a SELECT that sets
# `role` back (a query_to_xml calling set_config, then another) has its rights again
# (docs/ui.md). The wall is the box's own connection as a user that is not a superuser
# (CAUCE_<APP>_<WAREHOUSE>_SQLBOX_URL); the page says when the box runs as one (`superuser`),
# and a shared UI then refuses typed SQL.
NO_SUPERUSER = ("DO $$ BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
                "THEN SET LOCAL ROLE pg_read_all_data; END IF; END $$")


def superuser(backend: Any, limit: Limit | None = None) -> str | None:
    """The PostgreSQL user the SQL box would run as on ``backend``, if it is a superuser;
    None for a user that is not, and for other databases."""
    if _scheme(backend.url) not in ("postgresql", "postgres"):
        return None
    # the login's, not current_user: that is the reading role a superuser's look starts as
    rows = run(backend, "SELECT session_user::text, rolsuper FROM pg_roles "
               "WHERE rolname = session_user", limit=limit, checked=True).rows
    return str(rows[0][0]) if rows and rows[0][1] else None


def _run_postgres(backend: Any, sql: str, cap: int, limit: Limit) -> Result:
    """A READ ONLY transaction that is always rolled back: functions it lets through (a large
    object made, a setting changed) are undone, and session locks taken are let go."""
    started = time.monotonic()
    try:
        with backend._session(write=False) as session, backend._translated("query"):
            session.begin()
            try:
                session.execute("SET TRANSACTION READ ONLY")
                session.execute(NO_SUPERUSER)
                # at least 1 ms: a statement_timeout of 0 is no limit at all
                milliseconds = max(1, int(limit.left() * 1000))
                session.execute(f"SET LOCAL statement_timeout = {milliseconds}")
                table = session.query(f"SELECT * FROM ({sql}) AS cauce_ui LIMIT {cap + 1}")
            finally:
                # a failed clean-up means a broken connection, which the pool then discards
                with contextlib.suppress(*backend._driver_errors):
                    session.rollback()
                    session.execute("SELECT pg_advisory_unlock_all()")  # outlives a rollback
    except WarehouseError as err:
        if "statement timeout" in err.message:
            raise _too_long(limit.seconds) from None
        raise CauceError(f"the warehouse refused it: {err.message}") from None
    rows = [tuple(r.values()) for r in table.to_pylist()]
    return Result(table.column_names, rows[:cap], len(rows) > cap, time.monotonic() - started)


def run(backend: Any, sql: str, *, cap: int = ROW_CAP, limit: Limit | None = None,
        checked: bool = False) -> Result:
    """Run one SELECT read-only on ``backend``'s database; at most ``cap`` rows, stopped at
    ``limit`` (TIMEOUT from now when not given)."""
    text = sql if checked else check_select(sql)
    limit = limit or Limit()
    scheme = _scheme(backend.url)
    if scheme == "duckdb":
        result = _run_duckdb(backend.url, text, [], cap, limit)
    elif scheme == "sqlite":
        result = _run_sqlite(backend.url, text, cap, limit)
    elif scheme in ("postgresql", "postgres"):
        result = _run_postgres(backend, text, cap, limit)
    else:
        raise CauceError(f"the SQL box does not open {scheme} warehouses",
                         hint="it supports DuckDB, SQLite and PostgreSQL")
    result.rows = [tuple(_shown(v) for v in row) for row in result.rows]
    return result


def tables(backend: Any, limit: Limit | None = None) -> list[str]:
    """Tables and views of the warehouse (the default schema), by name, listed within
    ``limit``."""
    scheme = _scheme(backend.url)
    if scheme == "sqlite":
        sql = ("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
               "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")  # '_' is a wildcard
    else:
        sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = "
               f"{_schema(backend)} ORDER BY 1")
    return [str(row[0]) for row in run(backend, sql, cap=10_000, limit=limit, checked=True).rows]


def _schema(backend: Any) -> str:
    """SQL for the schema whose tables the SQL box shows: DuckDB's main, or PostgreSQL's
    current one."""
    return "'main'" if _scheme(backend.url) == "duckdb" else "current_schema()"


def describe(backend: Any, table: str, first: int = 20,
             limit: Limit | None = None) -> dict[str, Any]:
    """A table's columns with their types, its row count and its first rows, all found within
    one ``limit``."""
    limit = limit or Limit()
    if table not in tables(backend, limit):
        raise CauceError(f"no table {table!r} in this warehouse")
    quoted = '"' + table.replace('"', '""') + '"'
    sample = run(backend, f"SELECT * FROM {quoted} LIMIT {first}", cap=first, limit=limit,
                 checked=True)
    count = run(backend, f"SELECT count(*) FROM {quoted}", limit=limit, checked=True).rows[0][0]
    literal = "'" + table.replace("'", "''") + "'"
    if _scheme(backend.url) == "sqlite":
        sql = f"SELECT name, type FROM pragma_table_info({literal})"
    else:  # the schema tables() lists: a table of that name in another one is another table
        sql = ("SELECT column_name, data_type FROM information_schema.columns "
               f"WHERE table_name = {literal} AND table_schema = {_schema(backend)} "
               "ORDER BY ordinal_position")
    info = run(backend, sql, limit=limit, checked=True).rows
    return {"columns": info, "count": count, "sample": sample}
