"""SQLite warehouses (``sqlite:///path.db``), on the ADBC SQLite driver.

Loads hand Arrow data to the driver, which binds it into a prepared INSERT in native code
(ADBC bulk ingest) inside the open transaction, so rows, the checkpoint and any DDL commit
together; queries come back as Arrow. Files are in WAL mode so readers never block the writer,
with a busy timeout so a writer waits for another instead of failing with "database is
locked", and every write transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock
first, which is what makes waiting work.

The one exception is the first write transaction into a new (missing or empty) file: it runs
with SQLite's rollback journal, and the file switches to WAL right after it commits (or at the
next connection, if another one holds the file then; a read switches a new file at once). In
WAL mode every page of a bulk load is written twice, to the WAL at commit and into the file
when the last connection closes; a rollback journal writes the pages of a new file once and
journals none of them, as they lie past the file's original end. Both are atomic and durable
at commit (``synchronous`` FULL).

Connections are opened for each operation or transaction and closed after it (opening one
takes about 0.1 ms). The driver carries its own SQLite library, and two SQLite libraries in
one process do not see each other's file locks: an idle connection kept open here could lose
writes when other code in the process opens and closes the same file with Python's sqlite3.
``:memory:`` is one connection behind a lock, since each connection has its own database.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import adbc_driver_manager
import adbc_driver_sqlite
import polars as pl
import pyarrow as pa
from adbc_driver_manager import (
    INGEST_OPTION_MODE,
    INGEST_OPTION_MODE_APPEND,
    INGEST_OPTION_TARGET_TABLE,
    AdbcStatement,
)

# The call ADBC's DB-API module makes around each driver call: SIGINT during it cancels the
# statement, and a driver that cannot cancel raises with the KeyboardInterrupt as its cause
# once the call is done (cauce.warehouse.seam.ctrl_c_taken). The DB-API module itself is not
# used: it imports pyarrow.dataset, whose start-up imports pandas when pandas is installed
# (about 0.4 s in every process that opens a SQLite warehouse).
from adbc_driver_manager._lib import _blocking_call

from cauce.warehouse import sqltypes
from cauce.warehouse.arrowdata import (
    as_stored_text,
    as_text_columns,
    refuse_beyond_int64,
    refuse_nan,
)
from cauce.warehouse.base import Session, WarehouseBackend, double_quoted
from cauce.warehouse.params import DBAPI_STYLES, Params, bind, split_statements
from cauce.warehouse.pool import ConnectionPool, SharedConnection
from cauce.warehouse.seam import ctrl_c_taken, hand_back_ctrl_c

_PAGE_SIZE = 16_384
_CACHE_SIZE = -32_768  # in KiB when negative
# ADBC binds each value by position: `:name` placeholders become `?` in order of appearance.
_QMARK = DBAPI_STYLES["qmark"]
# A VACUUM statement, after any blanks and comments.
_VACUUM = re.compile(r"(\s+|--[^\n]*\n?|/\*.*?\*/)*VACUUM\b", re.IGNORECASE | re.DOTALL)
# The driver's prefix before SQLite's own message ("INVALID_ARGUMENT: [SQLite] Failed to
# prepare query: no such table: t" says "no such table: t").
_DRIVER_PREFIX = re.compile(r"^[A-Z_]+: (\[SQLite\] )?(Failed to \w+ (query|statement): )?")


class _Connection:
    """An ADBC connection on the driver manager's own API, and whether a transaction is open
    on it.

    Each statement is an ``AdbcStatement`` of its own, closed when it is done: a statement
    keeps the parameters of its last execution, even of one that failed, and would bind them
    to the next. The connection stays in autocommit mode; transactions are SQL (``BEGIN
    IMMEDIATE`` ... ``COMMIT``).
    """

    def __init__(self, path: str) -> None:
        self.database = adbc_driver_sqlite.connect(path)
        try:
            self.connection = adbc_driver_manager.AdbcConnection(self.database)
        except BaseException:
            self.database.close()
            raise
        self.in_transaction = False
        # A new file, still in rollback-journal mode: WAL comes after its first write.
        self.new_file = False

    @contextmanager
    def statement(self, sql: str, params: Params = None) -> Iterator[AdbcStatement]:
        """A statement for ``sql`` with ``params`` bound (``:name`` or ``?`` placeholders)."""
        sql, bound = bind(sql, params, _QMARK)
        statement = AdbcStatement(self.connection)
        try:
            statement.set_sql_query(sql)
            if bound:
                statement.bind_stream(_parameters(bound))
            yield statement
        finally:
            statement.close()

    def execute(self, sql: str, params: Params = None) -> None:
        with self.statement(sql, params) as statement:
            _blocking_call(statement.execute_update, (), {}, statement.cancel)

    def table(self, sql: str, params: Params = None) -> pa.Table:
        """The rows of ``sql`` as Arrow."""
        with self.statement(sql, params) as statement:
            stream, _ = _blocking_call(statement.execute_query, (), {}, statement.cancel)
            reader = pa.RecordBatchReader.from_stream(stream)
            return _blocking_call(reader.read_all, (), {}, statement.cancel)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        table = self.table(sql, params)
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))

    def ingest(self, table: str, data: pa.Table) -> None:
        """Append ``data`` to ``table``: one prepared INSERT, each row bound in native code."""
        statement = AdbcStatement(self.connection)
        try:
            statement.set_options(**{INGEST_OPTION_TARGET_TABLE: table,
                                     INGEST_OPTION_MODE: INGEST_OPTION_MODE_APPEND})
            statement.bind_stream(data)
            _blocking_call(statement.execute_update, (), {}, statement.cancel)
        finally:
            statement.close()

    def rolled_back(self) -> bool:
        """Roll back the transaction if one is still open; False when none was (SQLite says
        so: its autocommit state is not exposed through ADBC)."""
        try:
            self.execute("ROLLBACK")
        except adbc_driver_manager.Error as error:
            if ctrl_c_taken(error):  # another Ctrl-C: the ROLLBACK ran its course
                hand_back_ctrl_c()
            elif "no transaction is active" in str(error):
                return False
            else:
                raise
        return True

    def switch_to_wal(self) -> None:
        """Switch a new file just written to WAL mode, unless another connection holds it
        now (SQLite then refuses at once): the next connection to open it switches it."""
        self.new_file = False
        with suppress(adbc_driver_manager.Error):
            self.rows("PRAGMA journal_mode = WAL")

    def close(self) -> None:
        with suppress(adbc_driver_manager.Error):
            self.connection.close()
        with suppress(adbc_driver_manager.Error):
            self.database.close()


class SQLiteSession(Session):
    checkpoint_types = ("TEXT", "TEXT", "TEXT")
    type_names = sqltypes.SQLITE

    def __init__(self, backend: WarehouseBackend, connection: _Connection) -> None:
        super().__init__(backend)
        self._connection = connection

    def begin(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")
        self._connection.in_transaction = True

    def commit(self) -> None:
        try:
            self._connection.execute("COMMIT")
        except adbc_driver_manager.Error as error:
            # At a Ctrl-C during the call, the driver raises once SQLite's COMMIT has run: only
            # the connection tells whether it went through (then the Ctrl-C is passed on).
            if not ctrl_c_taken(error):
                raise
            rolled_back = self._connection.rolled_back()
            self._connection.in_transaction = False
            if rolled_back:
                raise
            hand_back_ctrl_c()
        self._connection.in_transaction = False
        if self._connection.new_file:
            self._connection.switch_to_wal()

    def rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.in_transaction = False
            self._connection.execute("ROLLBACK")

    def execute(self, sql: str, params: Params = None) -> None:
        self._connection.execute(sql, params)

    def execute_alone(self, sql: str, params: Params = None) -> None:
        # VACUUM cannot run inside a transaction; everything else takes the write lock first.
        if _VACUUM.match(sql):
            self.execute(sql, params)
        else:
            super().execute_alone(sql, params)

    def execute_count(self, sql: str, params: Params = None) -> int:
        self._connection.execute(sql, params)
        return int(self._connection.rows("SELECT changes()")[0][0])

    def query(self, sql: str, params: Params = None) -> pa.Table:
        return self._connection.table(sql, params)

    def table_columns(self, table: str) -> list[str] | None:
        rows = self._connection.rows("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table])
        return [row[0] for row in rows] or None

    def insert(self, table: str, data: pa.Table) -> None:
        """Bind the Arrow columns into one prepared INSERT in native code."""
        if data.num_rows and data.num_columns:
            refuse_beyond_int64(data, table)
            refuse_nan(data, table)
            self._connection.ingest(table, as_text_columns(data))


class SQLiteBackend(WarehouseBackend):
    dialect = "sqlite"
    # ADBC's SQLite driver (1.13) binds string and binary views, nulls and slices included:
    # a Polars frame handed over as views skips a copy of every text value (4.7 ms of the
    # census load's 48,837 rows).
    binds_views = True
    _driver_errors = (adbc_driver_manager.Error, OverflowError, OSError, pa.ArrowException)

    def __init__(self, url: str, path: Path | None, *, lock_timeout: float) -> None:
        """``path`` None is an in-memory database."""
        super().__init__(url)
        self._path = path
        self._lock_timeout = lock_timeout
        self._connections: ConnectionPool[_Connection] | SharedConnection[_Connection]
        if path is None:
            self._connections = SharedConnection(self._open, _Connection.close, name=url)
        else:
            self._connections = ConnectionPool(
                self._open, _Connection.close, lambda connection: False, name=url, max_idle=0
            )

    def quote(self, identifier: str) -> str:
        return double_quoted(identifier)

    def _reason(self, error: BaseException) -> str:
        text = str(error).split("\nquery:", 1)[0]
        return _DRIVER_PREFIX.sub("", super()._reason(text))

    def _open(self) -> _Connection:
        with self._translated("open"):
            new = False
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                new = not self._path.exists() or self._path.stat().st_size == 0
            # An absolute path never starts with "file:", so the driver opens it as a file
            # name, not as a URI.
            opened = _Connection(str(self._path or ":memory:"))
            try:
                opened.execute(f"PRAGMA busy_timeout = {int(self._lock_timeout * 1000)}")
                # 16 KiB pages for a new file (an existing one keeps its own): a load of
                # the census table takes a fifth less CPU than with the default 4 KiB, and
                # a 32 MB page cache keeps a large load's pages from spilling mid-transaction.
                opened.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
                opened.execute(f"PRAGMA cache_size = {_CACHE_SIZE}")
                if self._path is not None:
                    opened.new_file = new
                    if not new:
                        self._use_wal(opened)
            except BaseException:
                opened.close()
                raise
            return opened

    def _use_wal(self, connection: _Connection) -> None:
        """WAL mode (it stays so in the file). Switching needs an exclusive lock, which SQLite
        refuses at once, without the busy handler, while other processes open a new file too:
        a file already in WAL mode is left alone, and the switch is retried until the timeout."""
        deadline = time.monotonic() + self._lock_timeout
        pause = 0.005
        while connection.rows("PRAGMA journal_mode")[0][0] != "wal":
            try:
                connection.rows("PRAGMA journal_mode = WAL")
            except adbc_driver_manager.Error as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(pause)
                pause = min(0.2, pause * 2)

    @contextmanager
    def _session(self, write: bool) -> Iterator[SQLiteSession]:
        with self._connections.acquire() as connection:
            if connection.new_file and not write:
                # Only a write transaction gains from the rollback journal (module docstring);
                # a reader does not wait for another process's first write to switch.
                connection.switch_to_wal()
            yield SQLiteSession(self, connection)

    def _split(self, script: str) -> list[str]:
        return split_statements(script, sqlite3.complete_statement)

    def close(self) -> None:
        self._connections.close()


def _parameters(params: Params) -> pl.DataFrame:
    """Positional parameters as the one-row frame the driver binds; dates, times and decimals
    as the text ``load()`` stores for them (a NUMERIC or REAL column's affinity makes a
    decimal a number). Polars builds it: pyarrow's conversion of Python values imports pandas when
    pandas is installed (about 0.3 s), and Polars is loaded with the data anyway."""
    values = [as_stored_text(value) for value in params]  # type: ignore[union-attr]
    frame = pl.DataFrame({str(index): [value] for index, value in enumerate(values)})
    for value, dtype in zip(values, frame.dtypes, strict=True):
        if dtype == pl.Object:  # Polars keeps it, and would hand over its address as bytes
            raise pa.ArrowTypeError(f"cannot bind a {type(value).__name__} value ({value!r}): "
                                    "give numbers, text, bytes, dates and times, or None")
        if dtype == pl.Int128:
            raise OverflowError(f"{value} does not fit SQLite's 64-bit INTEGER")
    # None is a column of Polars' null type, which the driver cannot read: a NULL text binds
    # the same NULL.
    return frame.with_columns(pl.col(pl.Null).cast(pl.String))
