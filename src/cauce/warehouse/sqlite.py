"""SQLite warehouses (``sqlite:///path.db``), on the standard library's sqlite3.

Files are opened in WAL mode so readers never block the writer, with a busy timeout so a
writer waits for another instead of failing with "database is locked", and every write
transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock first, which is what makes
waiting work (a transaction that reads first and upgrades later can fail without waiting).
Threads: a pool of connections, each used by one thread at a time; ``:memory:`` is one
connection behind a lock, since each connection would otherwise see its own empty database.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pyarrow as pa

from cauce.sqlite_wal import use_wal
from cauce.warehouse import sqltypes
from cauce.warehouse.arrowdata import python_columns, rows_to_arrow
from cauce.warehouse.base import Session, WarehouseBackend, double_quoted
from cauce.warehouse.params import NATIVE, Params, bind, split_statements
from cauce.warehouse.pool import ConnectionPool, SharedConnection

# Rows per INSERT statement; more gains nothing measurable (benchmarks/warehouse_load.py).
_ROWS_PER_STATEMENT = 64
# A VACUUM statement, after any blanks and comments.
_VACUUM = re.compile(r"(\s+|--[^\n]*\n?|/\*.*?\*/)*VACUUM\b", re.IGNORECASE | re.DOTALL)


class SQLiteSession(Session):
    checkpoint_types = ("TEXT", "TEXT", "TEXT")
    type_names = sqltypes.SQLITE

    def __init__(self, backend: WarehouseBackend, connection: sqlite3.Connection) -> None:
        super().__init__(backend)
        self._connection = connection

    def begin(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._connection.execute("COMMIT")

    def rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def _run(self, sql: str, params: Params) -> sqlite3.Cursor:
        sql, bound = bind(sql, params, NATIVE)
        return self._connection.execute(sql, () if bound is None else bound)

    def execute(self, sql: str, params: Params = None) -> None:
        self._run(sql, params)

    def execute_alone(self, sql: str, params: Params = None) -> None:
        # VACUUM cannot run inside a transaction; everything else takes the write lock first.
        if _VACUUM.match(sql):
            self.execute(sql, params)
        else:
            super().execute_alone(sql, params)

    def execute_count(self, sql: str, params: Params = None) -> int:
        return self._run(sql, params).rowcount

    def query(self, sql: str, params: Params = None) -> pa.Table:
        cursor = self._run(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return rows_to_arrow(names, cursor.fetchall())

    def table_columns(self, table: str) -> list[str] | None:
        rows = self._connection.execute(
            "SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,)
        ).fetchall()
        return [row[0] for row in rows] or None

    def insert(self, table: str, data: pa.Table) -> None:
        """Insert with multi-row VALUES statements: binding a few hundred values per step
        is about a fifth faster than one ``executemany`` step per row."""
        width = data.num_columns
        if data.num_rows == 0 or width == 0:
            return
        variables = self._connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        per_statement = max(1, min(_ROWS_PER_STATEMENT, variables // width))
        # Row-major values in one flat list, built by strided slice assignment (no tuples).
        values: list[Any] = [None] * (data.num_rows * width)
        for index, column in enumerate(python_columns(data, as_text=True)):
            values[index::width] = column
        quote = self.backend.quote
        head = f"INSERT INTO {quote(table)} ({', '.join(map(quote, data.column_names))}) VALUES "
        row = "(" + ", ".join("?" * width) + ")"
        statement, rows_in_statement = "", 0
        for start in range(0, data.num_rows, per_statement):
            rows = min(per_statement, data.num_rows - start)
            if rows != rows_in_statement:
                statement, rows_in_statement = head + ", ".join([row] * rows), rows
            self._connection.execute(statement, values[start * width:(start + rows) * width])


class SQLiteBackend(WarehouseBackend):
    dialect = "sqlite"
    _driver_errors = (sqlite3.Error, OverflowError, OSError, pa.ArrowException)

    def __init__(self, url: str, path: Path | None, *, lock_timeout: float) -> None:
        """``path`` None is an in-memory database."""
        super().__init__(url)
        self._path = path
        self._lock_timeout = lock_timeout
        self._connections: ConnectionPool[sqlite3.Connection] | SharedConnection[sqlite3.Connection]
        if path is None:
            self._connections = SharedConnection(self._open, _close, name=url)
        else:
            self._connections = ConnectionPool(
                self._open, _close, lambda connection: not connection.in_transaction, name=url
            )

    def quote(self, identifier: str) -> str:
        return double_quoted(identifier)

    def _open(self) -> sqlite3.Connection:
        with self._translated("open"):
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self._path or ":memory:",
                timeout=self._lock_timeout,
                isolation_level=None,  # transactions are begun explicitly, see BEGIN IMMEDIATE
                check_same_thread=False,  # the pool hands a connection to one thread at a time
            )
            try:
                if self._path is not None:
                    use_wal(connection, self._lock_timeout)
                # A bigger page cache speeds up large loads; durability settings stay default.
                connection.execute("PRAGMA cache_size=-32768")
            except BaseException:
                connection.close()
                raise
            return connection

    @contextmanager
    def _session(self, write: bool) -> Iterator[SQLiteSession]:
        with self._connections.acquire() as connection:
            yield SQLiteSession(self, connection)

    def _split(self, script: str) -> list[str]:
        return split_statements(script, sqlite3.complete_statement)

    def close(self) -> None:
        self._connections.close()


def _close(connection: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        connection.close()
