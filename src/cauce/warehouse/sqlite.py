"""SQLite warehouses (``sqlite:///path.db``), on the ADBC SQLite driver.

Loads hand Arrow data to the driver, which binds it into a prepared INSERT in native code
(``adbc_ingest``) inside the open transaction, so rows, the checkpoint and any DDL commit
together; queries come back as Arrow. Files are in WAL mode so readers never block the writer,
with a busy timeout so a writer waits for another instead of failing with "database is
locked", and every write transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock
first, which is what makes waiting work.

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

import adbc_driver_manager
import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa

from cauce.warehouse import sqltypes
from cauce.warehouse.arrowdata import as_text_columns
from cauce.warehouse.base import Session, WarehouseBackend, double_quoted
from cauce.warehouse.params import DBAPI_STYLES, Params, bind, split_statements
from cauce.warehouse.pool import ConnectionPool, SharedConnection

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
    """An ADBC connection with one cursor, and whether a transaction is open on it."""

    def __init__(self, connection: adbc_sqlite.Connection) -> None:
        self.connection = connection
        self.cursor = connection.cursor()
        self.in_transaction = False

    def run(self, sql: str, params: Params = None) -> adbc_sqlite.Cursor:
        sql, bound = bind(sql, params, _QMARK)
        self.cursor.execute(sql, bound)
        return self.cursor

    def close(self) -> None:
        with suppress(adbc_driver_manager.Error):
            self.cursor.close()
        with suppress(adbc_driver_manager.Error):
            self.connection.close()


class SQLiteSession(Session):
    checkpoint_types = ("TEXT", "TEXT", "TEXT")
    type_names = sqltypes.SQLITE

    def __init__(self, backend: WarehouseBackend, connection: _Connection) -> None:
        super().__init__(backend)
        self._connection = connection

    def begin(self) -> None:
        self._connection.run("BEGIN IMMEDIATE")
        self._connection.in_transaction = True

    def commit(self) -> None:
        self._connection.run("COMMIT")
        self._connection.in_transaction = False

    def rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.in_transaction = False
            self._connection.run("ROLLBACK")

    def execute(self, sql: str, params: Params = None) -> None:
        self._connection.run(sql, params)

    def execute_alone(self, sql: str, params: Params = None) -> None:
        # VACUUM cannot run inside a transaction; everything else takes the write lock first.
        if _VACUUM.match(sql):
            self.execute(sql, params)
        else:
            super().execute_alone(sql, params)

    def execute_count(self, sql: str, params: Params = None) -> int:
        cursor = self._connection.run(sql, params)
        cursor.execute("SELECT changes()")
        return int(cursor.fetchone()[0])

    def query(self, sql: str, params: Params = None) -> pa.Table:
        return self._connection.run(sql, params).fetch_arrow_table()

    def table_columns(self, table: str) -> list[str] | None:
        cursor = self._connection.run(
            "SELECT name FROM pragma_table_info(?) ORDER BY cid", [table]
        )
        return [row[0] for row in cursor.fetchall()] or None

    def insert(self, table: str, data: pa.Table) -> None:
        """Bind the Arrow columns into one prepared INSERT in native code."""
        if data.num_rows and data.num_columns:
            self._connection.cursor.adbc_ingest(table, as_text_columns(data), mode="append")


class SQLiteBackend(WarehouseBackend):
    dialect = "sqlite"
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
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            # An absolute path never starts with "file:", so the driver opens it as a file
            # name, not as a URI.
            opened = _Connection(
                adbc_sqlite.connect(str(self._path or ":memory:"), autocommit=True)
            )
            try:
                opened.run(f"PRAGMA busy_timeout = {int(self._lock_timeout * 1000)}")
                # 16 KiB pages for a new file (an existing one keeps its own): a load of
                # the census table takes a fifth less CPU than with the default 4 KiB, and
                # a 32 MB page cache keeps a large load's pages from spilling mid-transaction.
                opened.run(f"PRAGMA page_size = {_PAGE_SIZE}")
                opened.run(f"PRAGMA cache_size = {_CACHE_SIZE}")
                if self._path is not None:
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
        while connection.run("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                connection.run("PRAGMA journal_mode = WAL").fetchall()
            except adbc_driver_manager.Error as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(pause)
                pause = min(0.2, pause * 2)

    @contextmanager
    def _session(self, write: bool) -> Iterator[SQLiteSession]:
        with self._connections.acquire() as connection:
            yield SQLiteSession(self, connection)

    def _split(self, script: str) -> list[str]:
        return split_statements(script, sqlite3.complete_statement)

    def close(self) -> None:
        self._connections.close()

