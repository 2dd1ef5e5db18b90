"""DuckDB warehouses (``duckdb:///path.duckdb``), the default for an app's warehouse.

DuckDB lets one process at a time open a file for writing, and cauce runs several processes
on one home (worker processes, a CLI reading while ``cauce serve`` writes). So a file is opened
for each operation or transaction and closed right after, and opening waits with backoff while
another process holds the file, for up to ``lock_timeout`` seconds. A process first takes its
turn on the file's lock file (see turns.py) and keeps it until DuckDB has closed the file, since
DuckDB reads the header of a file before locking it and one opened as another process closed
it was worked on from the header that process had just replaced.

Threads: the file is opened once for all the operations in flight in this process, each of
which gets its own connection to it (``cursor()``), and closed when the last one ends; opening
and closing are serialised, since DuckDB's own cache of open databases can hand a thread a
database that another thread is closing. Writes to a file are serialised by a per-file lock in
the process, because DuckDB reports concurrent writers in one process as conflicts rather than
making them wait. ``:memory:`` is one connection behind a lock.
"""

from __future__ import annotations

import os
import random
import re
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import duckdb
import pyarrow as pa

from cauce.errors import WarehouseError
from cauce.warehouse.arrowdata import decimal_kind
from cauce.warehouse.base import ASCII_LOWER, Session, WarehouseBackend, double_quoted
from cauce.warehouse.params import DUCKDB, Params, bind, blank_quotes_in_comments
from cauce.warehouse.pool import SharedConnection
from cauce.warehouse.turns import ProcessTurn


class _OpenFile:
    """A database file as this process holds it: open while any operation uses it."""

    def __init__(self, path: Path) -> None:
        #: Held by a write transaction for its whole length.
        self.write_lock = threading.Lock()
        #: This process's turn among the processes on the file, held while the file is open.
        self.turn = ProcessTurn(path)
        self._lock = threading.Lock()
        self._root: duckdb.DuckDBPyConnection | None = None
        self._users = 0

    def connect(
        self, open_file: Callable[[], duckdb.DuckDBPyConnection]
    ) -> duckdb.DuckDBPyConnection:
        """A connection of this thread's own, opening the file first if nobody has it open."""
        with self._lock:
            if self._root is None:
                self._root = open_file()
            self._users += 1
            try:
                return self._root.cursor()
            except BaseException:
                self._leave()
                raise

    def release(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Close ``connection``; the last one out closes the file, releasing it for others."""
        try:
            connection.close()
        finally:
            with self._lock:
                self._leave()

    def _leave(self) -> None:
        self._users -= 1
        if self._users == 0 and self._root is not None:
            root, self._root = self._root, None
            try:
                # Closing checkpoints the file's write-ahead log and releases the file lock.
                root.close()
            finally:
                self.turn.give_back()


# DuckDB's file header: a main header and two database headers of 4 KiB each.
_HEADER_BYTES = 3 * 4096
_JUST_CREATED = 5.0  # seconds: a whole header this recent was being written a moment ago

_OPEN_FILES: dict[tuple[int, Path], _OpenFile] = {}
_OPEN_FILES_GUARD = threading.Lock()


def _open_file(path: Path) -> _OpenFile:
    """This process's handle on ``path``, shared by every backend on it (a forked child
    gets its own rather than the parent's)."""
    with _OPEN_FILES_GUARD:
        return _OPEN_FILES.setdefault((os.getpid(), path), _OpenFile(path))


class DuckDBSession(Session):
    checkpoint_types = ("VARCHAR", "VARCHAR", "TIMESTAMPTZ")

    def __init__(self, backend: WarehouseBackend, connection: duckdb.DuckDBPyConnection) -> None:
        super().__init__(backend)
        self._connection = connection

    def begin(self) -> None:
        self._connection.begin()

    def commit(self) -> None:
        self._connection.commit()

    def rollback(self) -> None:
        self._connection.rollback()

    def execute(self, sql: str, params: Params = None) -> None:
        sql, bound = bind(blank_quotes_in_comments(sql), params, DUCKDB)
        self._connection.execute(sql, bound)

    def execute_count(self, sql: str, params: Params = None) -> int:
        sql, bound = bind(blank_quotes_in_comments(sql), params, DUCKDB)
        changed = self._connection.execute(sql, bound).fetchone()
        return int(changed[0]) if changed else 0

    def execute_alone(self, sql: str, params: Params = None) -> None:
        # Outside BEGIN, DuckDB runs each statement in its own transaction already.
        self.execute(sql, params)

    def query(self, sql: str, params: Params = None) -> pa.Table:
        sql, bound = bind(blank_quotes_in_comments(sql), params, DUCKDB)
        relation = self._connection.sql(sql, params=bound)
        # Statements that return nothing (DDL, DML without RETURNING) give no relation.
        return pa.table({}) if relation is None else relation.to_arrow_table()

    def table_columns(self, table: str) -> list[str] | None:
        return [name for name, _ in self._described(table)] or None

    def exact_columns(self, table: str) -> dict[str, str]:
        # DuckDB casts on insert, rounding 1.7 to 2 (and 1.239 to 1.24 in DECIMAL(10,2)) and
        # taking 7 as true.
        kinds = {}
        for name, kind in self._described(table):
            decimal = _DECIMAL.fullmatch(kind)
            if decimal:
                kinds[name] = decimal_kind(int(decimal.group(1)), int(decimal.group(2)))
            elif kind in _EXACT:
                kinds[name] = _EXACT[kind]
        return kinds

    def zoned_columns(self, table: str) -> set[str]:
        # DuckDB reads a naive timestamp in the process's TimeZone setting (its local zone).
        return {name for name, kind in self._described(table) if kind == _ZONED}

    def _described(self, table: str) -> list[tuple[str, str]]:
        """The names and types of ``table``'s columns in order; empty when it does not exist."""
        # DuckDB matches names ignoring the case of A-Z only, so its lower() (which folds "É"
        # too) would find a table DuckDB itself does not
        return self._connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = current_schema() "
            f"AND translate(table_name, '{string.ascii_uppercase}', "
            f"'{string.ascii_lowercase}') = ? ORDER BY ordinal_position",
            [table.translate(ASCII_LOWER)],
        ).fetchall()

    def create_table(self, table: str, data: pa.Table) -> None:
        # DuckDB maps every Arrow type itself (lists, structs and all), so the new table
        # takes its columns from the data directly.
        with self._registered(data) as view:
            self.execute(
                f"CREATE TABLE IF NOT EXISTS {self.backend.quote(table)} AS "
                f"SELECT * FROM {view} LIMIT 0"
            )

    def insert(self, table: str, data: pa.Table) -> None:
        quote = self.backend.quote
        names = ", ".join(quote(name) for name in data.column_names)
        with self._registered(data) as view:
            self.execute(f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {view}")

    @contextmanager
    def _registered(self, data: pa.Table) -> Iterator[str]:
        name = f"_cauce_load_{uuid.uuid4().hex}"
        self._connection.register(name, scannable(data))
        try:
            yield double_quoted(name)
        except BaseException:
            # after a failed statement DuckDB refuses the unregister too ("transaction is
            # aborted"), which would hide the failure; the rollback drops the view anyway
            with suppress(duckdb.Error):
                self._connection.unregister(name)
            raise
        self._connection.unregister(name)


#: DuckDB column types that take other numbers by rounding them, and their kind.
_EXACT = {
    **dict.fromkeys(
        ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
         "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"),
        "integer",
    ),
    "BOOLEAN": "boolean",
}
#: A decimal column's type as information_schema names it.
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")
#: The data type information_schema names for a timestamp column with a time zone.
_ZONED = "TIMESTAMP WITH TIME ZONE"

#: The widest decimal DuckDB stores.
_DECIMAL_DIGITS = 38


def scannable(data: pa.Table) -> pa.Table:
    """``data`` with the Arrow types DuckDB's scan refuses turned into their nearest kin: a
    column of Arrow's null type into text (DuckDB would make a column of its NULL type, which
    no later value fits), half floats into floats, 256-bit decimals into 128-bit ones."""
    for index, field in enumerate(data.schema):
        target = _scan_type(field.name, field.type)
        if target is not None:
            data = data.set_column(index, field.name, data.column(index).cast(target))
    return data


def _scan_type(column: str, kind: pa.DataType) -> pa.DataType | None:
    """The type ``column`` is cast to for DuckDB, or None when DuckDB takes it as it is."""
    if pa.types.is_null(kind):
        return pa.string()
    if pa.types.is_float16(kind):
        return pa.float32()
    if not pa.types.is_decimal256(kind):
        return None
    if kind.precision > _DECIMAL_DIGITS:
        raise WarehouseError(
            f"column {column!r} has decimals of precision {kind.precision}; DuckDB keeps at "
            f"most {_DECIMAL_DIGITS} digits",
            hint="round or cast the column to a narrower decimal, or store it as text",
        )
    return pa.decimal128(kind.precision, kind.scale)


class DuckDBBackend(WarehouseBackend):
    dialect = "duckdb"
    _driver_errors = (duckdb.Error, OSError, pa.ArrowException)

    def __init__(self, url: str, path: Path | None, *, lock_timeout: float) -> None:
        """``path`` None is an in-memory database."""
        super().__init__(url)
        self._path = path
        self._lock_timeout = lock_timeout
        self._closed = False
        self._memory = (
            SharedConnection(lambda: duckdb.connect(":memory:"), _close, name=url)
            if path is None
            else None
        )

    def quote(self, identifier: str) -> str:
        return double_quoted(identifier)

    @contextmanager
    def _session(self, write: bool) -> Iterator[DuckDBSession]:
        if self._memory is not None:
            with self._memory.acquire() as connection:
                yield DuckDBSession(self, connection)
            return
        if self._closed:
            raise WarehouseError(f"the warehouse {self.url} is closed", hint="connect again")
        assert self._path is not None
        path = self._path
        file = _open_file(path)
        with file.write_lock if write else nullcontext():
            connection = file.connect(lambda: self._open(path, file.turn))
            try:
                yield DuckDBSession(self, connection)
            except BaseException:
                with suppress(duckdb.Error):
                    file.release(connection)
                raise
            with self._translated("close"):
                file.release(connection)

    def _open(self, path: Path, turn: ProcessTurn) -> duckdb.DuckDBPyConnection:
        """Open ``path`` in this process's turn, waiting (with jittered backoff) while another
        process has the turn or, for a program other than cauce, the file."""
        deadline = time.monotonic() + self._lock_timeout
        with self._translated("open"):
            path.parent.mkdir(parents=True, exist_ok=True)
            if not turn.take(deadline):
                raise self._locked(path, turn.holder())
        try:
            return self._connect(path, deadline)
        except BaseException:
            turn.give_back()
            raise

    def _connect(self, path: Path, deadline: float) -> duckdb.DuckDBPyConnection:
        """DuckDB's connection to ``path``, tried again while another program holds the file or
        is creating it."""
        delay = 0.005
        while True:
            try:
                with self._translated("open"):
                    return duckdb.connect(str(path))
            except WarehouseError as error:
                cause = error.__cause__
                if not (isinstance(cause, duckdb.IOException)
                        and ("lock" in str(cause).lower() or _being_created(path, cause))):
                    raise
                remaining = deadline - time.monotonic()
                if remaining <= 0 and _being_created(path, cause):
                    raise
                if remaining <= 0:
                    holder = re.search(r"PID (\d+)", str(cause))
                    raise self._locked(path, int(holder.group(1)) if holder else None) from cause
                time.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))
                delay = min(delay * 2, 0.2)

    def _locked(self, path: Path, holder: int | None) -> WarehouseError:
        return WarehouseError(
            f"the DuckDB file {path} is locked by another process"
            f"{f' (PID {holder})' if holder else ''}; waited {self._lock_timeout:g} s",
            hint="DuckDB lets one process open a file at a time: stop the other "
            "process or let it finish, or raise lock_timeout in connect()",
        )

    def close(self) -> None:
        self._closed = True
        if self._memory is not None:
            self._memory.close()


def _being_created(path: Path, error: BaseException) -> bool:
    """Another process is creating ``path``: it had not written all of DuckDB's header (three
    4 KiB blocks, the magic ``DUCK`` at byte 8) when this one read it, and either still has
    not, or has finished in the moment since (a whole header written within `_JUST_CREATED`
    seconds). A file with other content, or an old one DuckDB cannot read, is refused at once."""
    if "not a valid DuckDB database file" not in str(error):
        return False
    try:
        with path.open("rb") as file:
            head = file.read(_HEADER_BYTES)
            written = os.fstat(file.fileno()).st_mtime
    except OSError:
        return True  # gone again: the creator's open failed and removed it; try afresh
    if len(head) < _HEADER_BYTES:
        return b"DUCK".startswith(head[8:12])
    return head[8:12] == b"DUCK" and time.time() - written < _JUST_CREATED


def _close(connection: duckdb.DuckDBPyConnection) -> None:
    with suppress(duckdb.Error):
        connection.close()
