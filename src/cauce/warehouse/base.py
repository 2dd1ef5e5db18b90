"""The warehouse contract: what every backend offers, and the logic they all share.

A backend only supplies a :class:`Session` (one connection used by one thread, with a dozen
primitive operations) and says how to quote names and which driver errors it raises. Loading
by column name, creating tables, checkpoints and transactions are written once, here.
"""

from __future__ import annotations

import enum
import string
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

import pyarrow as pa

from cauce.errors import CheckpointConflict, WarehouseError
from cauce.warehouse import checkpoints, sqltypes
from cauce.warehouse.arrowdata import changed_values, plain_types, to_arrow
from cauce.warehouse.checkpoints import Checkpoint
from cauce.warehouse.params import Params, split_statements
from cauce.warehouse.seam import one_line, translated


class Session(ABC):
    """One connection, used by one thread: the primitives a backend implements.

    SQL given to these methods uses ``?``/``:name`` placeholders; each session rewrites them
    for its driver. Nothing here commits unless :meth:`commit` (or :meth:`execute_alone`) does.
    """

    #: SQL types of the checkpoint table's ``name``, ``value`` and ``updated_at`` columns.
    checkpoint_types: tuple[str, str, str] = ("TEXT", "TEXT", "TIMESTAMP")
    #: SQL type names for new tables' columns, by portable kind (see sqltypes).
    type_names: Mapping[str, str] = sqltypes.POSTGRESQL

    def __init__(self, backend: WarehouseBackend) -> None:
        self.backend = backend

    @abstractmethod
    def begin(self) -> None:
        """Start a write transaction (taking the write lock where the database has one)."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def execute(self, sql: str, params: Params = None) -> None: ...

    @abstractmethod
    def execute_count(self, sql: str, params: Params = None) -> int:
        """Run a DML statement and return how many rows it changed."""

    @abstractmethod
    def query(self, sql: str, params: Params = None) -> pa.Table: ...

    @abstractmethod
    def table_columns(self, table: str) -> list[str] | None:
        """Column names of ``table`` in order, or None when there is no such table."""

    @abstractmethod
    def insert(self, table: str, data: pa.Table) -> None:
        """Append ``data`` to ``table``, whose columns include every column of ``data``."""

    def exact_columns(self, table: str) -> dict[str, str]:
        """The columns of ``table`` a driver would silently round values into, by name:
        ``"integer"`` or ``"boolean"``. Empty where the database refuses such values itself
        (PostgreSQL's COPY) or keeps them as given (SQLite)."""
        return {}

    def zoned_columns(self, table: str) -> set[str]:
        """The names of ``table``'s timestamp columns with a time zone, where the database
        would read a timestamp without one in its own zone. Empty where there is no such type
        (SQLite)."""
        return set()

    def column_type(self, column: str, arrow_type: pa.DataType) -> str:
        """The SQL type a new table gets for an Arrow column."""
        return sqltypes.column_type(column, arrow_type, self.type_names, self.backend.dialect)

    def execute_alone(self, sql: str, params: Params = None) -> None:
        """Run one statement as its own transaction."""
        self.begin()
        try:
            self.execute(sql, params)
        except BaseException:
            # The statement's own error is the one to report, not a failed rollback's.
            with suppress(*self.backend._driver_errors):
                self.rollback()
            raise
        self.commit()

    def create_table(self, table: str, data: pa.Table) -> None:
        """Create ``table`` with one column per column of ``data`` (if it does not exist)."""
        quote = self.backend.quote
        columns = ", ".join(
            f"{quote(field.name)} {self.column_type(field.name, field.type)}"
            for field in data.schema
        )
        self.create(table, f"CREATE TABLE IF NOT EXISTS {quote(table)} ({columns})")

    def create(self, table: str, ddl: str) -> None:
        """Run the DDL creating ``table``; servers override this to serialise racing creators."""
        self.execute(ddl)

    def insert_absent(self, sql: str, params: Params) -> bool:
        """Run an INSERT of one row unless its key exists; True when the row was inserted."""
        return self.execute_count(f"{sql} ON CONFLICT DO NOTHING", params) == 1


class State(enum.Enum):
    OPEN = "open"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled back"


class Transaction:
    """Statements, loads and checkpoint moves committed together or not at all.

    The first error raised by any method rolls the whole transaction back at once: nothing of
    it is committed, and later calls on it raise. Leaving the ``with`` block normally commits.
    """

    def __init__(self, backend: WarehouseBackend, session: Session) -> None:
        self._backend = backend
        self._session = session
        self._state = State.OPEN
        self._failure: BaseException | None = None

    def execute(self, sql: str, params: Params = None) -> None:
        """Run one statement; ``?`` placeholders with a sequence, ``:name`` with a mapping."""
        with self._step("execute"):
            self._session.execute(sql, params)

    def query(self, sql: str, params: Params = None) -> pa.Table:
        """Run a query and return its rows, seeing this transaction's own changes."""
        with self._step("query"):
            return self._session.query(sql, params)

    def table_exists(self, name: str) -> bool:
        """Whether a table (or view) ``name`` exists, as this transaction sees it."""
        with self._step(f"look up {name!r}"):
            return self._session.table_columns(name) is not None

    def load(self, table: str, data: Any) -> int:
        """Append ``data`` to ``table`` by column name, creating the table if missing.

        Returns the number of rows written.
        """
        with self._step(f"load into {table!r}"):
            return self._backend._load(self._session, table, data)

    def set_checkpoint(self, name: str, value: Any, expect: Any = None) -> None:
        """Move checkpoint ``name`` from ``expect`` (None: not set yet) to ``value``.

        Raises CheckpointConflict, and rolls this transaction back, when the stored value is
        not ``expect``: another loader got there first.
        """
        with self._step(f"checkpoint {name!r}"):
            self._backend._move_checkpoint(self._session, name, value, expect)

    def checkpoint(self, name: str) -> Any | None:
        """The value stored for checkpoint ``name`` as this transaction sees it, or None."""
        with self._step(f"checkpoint {name!r}"):
            return self._backend._read_checkpoint(self._session, name)

    @contextmanager
    def _step(self, what: str) -> Iterator[None]:
        if self._state is not State.OPEN:
            reason = f" after: {self._failure}" if self._failure else ""
            raise WarehouseError(
                f"this transaction on {self._backend.url} is already {self._state.value}{reason}",
                hint="start a new one with `with warehouse.transaction() as tx:`",
            )
        try:
            with self._backend._translated(what):
                yield
        except BaseException as error:
            self._failure = error
            self._rollback()
            raise

    def _commit(self) -> None:
        if self._state is State.OPEN:
            with self._backend._translated("commit"):
                self._session.commit()
            self._state = State.COMMITTED

    def _rollback(self) -> None:
        if self._state is State.OPEN:
            self._state = State.ROLLED_BACK
            # A failed rollback means a broken connection, which the pool then discards; the
            # error that caused the rollback is the one worth reporting.
            with suppress(*self._backend._driver_errors):
                self._session.rollback()


class WarehouseBackend(ABC):
    """A SQL database behind cauce's warehouse contract (see docs/warehouse.md).

    Every method is safe to call from several threads. Errors are WarehouseError (and
    CheckpointConflict) only, naming the URL and carrying a hint.
    """

    #: "duckdb", "sqlite", "postgresql" or the SQLAlchemy dialect name.
    dialect: str
    #: Whether the database tells ``Col`` and ``col`` apart in quoted column names.
    case_sensitive_names: bool = False
    #: Whether the driver binds Arrow string and binary views (else they become large types).
    binds_views: bool = False
    #: Exceptions of the driver (and of Arrow) that the seam turns into WarehouseError.
    _driver_errors: tuple[type[BaseException], ...] = (pa.ArrowException,)

    def __init__(self, url: str) -> None:
        #: The URL, with any password masked.
        self.url = url
        self._local = threading.local()

    # -- what each backend supplies ------------------------------------------------------

    @abstractmethod
    def quote(self, identifier: str) -> str:
        """``identifier`` quoted for this dialect, safe to put in SQL as one name."""

    @abstractmethod
    def _session(self, write: bool) -> AbstractContextManager[Session]:
        """A session for this thread; with ``write`` it may hold a write lock while open."""

    @abstractmethod
    def close(self) -> None:
        """Close idle connections; later calls raise WarehouseError."""

    def _reason(self, error: BaseException) -> str:
        """The one-line reason shown for a driver error."""
        return one_line(str(error))

    # -- the public contract ---------------------------------------------------------------

    def execute(self, sql: str, params: Params = None) -> None:
        """Run one statement and commit it."""
        with self._writing(), self._session(write=True) as session, self._translated("execute"):
            session.execute_alone(sql, params)

    def executescript(self, sql: str) -> None:
        """Run several statements separated by ``;`` in one transaction."""
        with self.transaction() as tx:
            for statement in self._split(sql):
                tx.execute(statement)

    def query(self, sql: str, params: Params = None) -> pa.Table:
        """Run a query and return its rows as an Arrow table."""
        with self._session(write=False) as session, self._translated("query"):
            return session.query(sql, params)

    def table_exists(self, name: str) -> bool:
        """Whether a table (or view) ``name`` exists."""
        with self._session(write=False) as session, self._translated(f"look up {name!r}"):
            return session.table_columns(name) is not None

    def columns(self, name: str) -> list[str]:
        """Column names of table ``name``, in order."""
        with self._session(write=False) as session, self._translated(f"look up {name!r}"):
            found = session.table_columns(name)
        if found is None:
            raise WarehouseError(
                f"no table {name!r} in {self.url}",
                hint="check the name, or load() data to create it",
            )
        return found

    def load(self, table: str, data: Any, checkpoint: Checkpoint | None = None) -> int:
        """Append ``data`` to ``table`` (and move ``checkpoint``) in one transaction.

        Returns the number of rows written. With a checkpoint whose ``expect`` is not the
        stored value, nothing is written and CheckpointConflict is raised.
        """
        with self.transaction() as tx:
            if checkpoint is not None:
                # The checkpoint goes first: a conflicting loader stops before writing rows,
                # and on servers it takes the row lock that makes racing loaders wait.
                tx.set_checkpoint(checkpoint.name, checkpoint.value, checkpoint.expect)
            return tx.load(table, data)

    def checkpoint(self, name: str) -> Any | None:
        """The JSON value stored for checkpoint ``name``, or None when it was never set."""
        with self._session(write=False) as session, self._translated(f"checkpoint {name!r}"):
            return self._read_checkpoint(session, name)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction: commit on normal exit, rollback when the block raises."""
        with self._writing(), self._session(write=True) as session:
            with self._translated("begin"):
                session.begin()
            tx = Transaction(self, session)
            try:
                yield tx
            except BaseException:
                tx._rollback()
                raise
            tx._commit()

    def __enter__(self) -> WarehouseBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    # -- shared logic ----------------------------------------------------------------------

    def _split(self, script: str) -> list[str]:
        return split_statements(script)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Refuse a second write transaction in a thread that already has one open.

        It would need a second connection and wait for the first one's lock: a deadlock.
        """
        if getattr(self._local, "writing", False):
            raise WarehouseError(
                f"a transaction on {self.url} is already open in this thread",
                hint="call the open transaction's methods (tx.load, tx.execute) instead",
            )
        self._local.writing = True
        try:
            yield
        finally:
            self._local.writing = False

    def _translated(self, what: str) -> AbstractContextManager[None]:
        return translated(what, self.url, self._driver_errors, self._reason)

    def _load(self, session: Session, table: str, data: Any) -> int:
        check_name(table, "table")
        arrow = plain_types(to_arrow(data, table), views=self.binds_views)
        if arrow.num_columns == 0:
            return 0
        self._check_distinct(table, arrow.column_names)
        for name in arrow.column_names:
            if not valid_name(name):
                raise WarehouseError(
                    f"invalid column name {name!r} for {table!r}",
                    hint="rename the column: a name is a non-empty string without NUL",
                )
        existing = session.table_columns(table)
        if existing is None:
            session.create_table(table, arrow)
        else:
            self._check_columns(table, arrow.column_names, existing)
            self._check_exact(table, arrow, session.exact_columns(table))
            self._check_zones(table, arrow, session.zoned_columns(table))
        if arrow.num_rows:
            session.insert(table, arrow)
        return arrow.num_rows

    def _check_columns(self, table: str, names: Sequence[str], existing: Sequence[str]) -> None:
        known = {self._folded(name) for name in existing}
        unknown = [name for name in names if self._folded(name) not in known]
        if unknown:
            raise WarehouseError(
                f"table {table!r} has no column " + ", ".join(repr(name) for name in unknown),
                hint=f"its columns are {', '.join(existing)}; rename or drop the extra data "
                "columns, or add them with ALTER TABLE first",
            )

    def _check_distinct(self, table: str, names: Sequence[str]) -> None:
        """Refuse data columns the database would take for one column ("Total", "total")."""
        seen: dict[str, str] = {}
        for name in names:
            other = seen.setdefault(self._folded(name), name)
            if other != name:
                raise WarehouseError(
                    f"the data for {table!r} has columns {other!r} and {name!r}, which "
                    f"{self.dialect} takes for one name",
                    hint="rename one of them: names that differ only in the case of A-Z "
                    "are one column there",
                )

    def _check_exact(self, table: str, data: pa.Table, kinds: Mapping[str, str]) -> None:
        """Refuse a value an integer or boolean column would store as another value (1.7 as
        2, 7 as true), naming the column and the value."""
        folded = {self._folded(name): kind for name, kind in kinds.items()}
        for name, column in zip(data.column_names, data.columns, strict=True):
            kind = folded.get(self._folded(name))
            changed = changed_values(column, kind) if kind else None
            if changed is not None:
                raise WarehouseError(
                    f"column {name!r} of {table!r} is {kind}, and the value {changed!r} would "
                    "be stored as another value",
                    hint=f"round or cast the data to {kind} first, or change the column's type",
                )

    def _check_zones(self, table: str, data: pa.Table, zoned: set[str]) -> None:
        """Refuse timestamps without a zone for a column with one: the database would read
        them in its session's or process's zone, so one row would be another instant on
        another machine."""
        folded = {self._folded(name) for name in zoned}
        for field, column in zip(data.schema, data.columns, strict=True):
            naive = pa.types.is_timestamp(field.type) and field.type.tz is None
            if naive and self._folded(field.name) in folded and column.null_count < len(column):
                raise WarehouseError(
                    f"column {field.name!r} of {table!r} is a timestamp with time zone, and "
                    "the data's timestamps have none: which instant they are is unknown",
                    hint="give them their zone first (polars: "
                    "pl.col(name).dt.replace_time_zone('UTC'); pandas: .dt.tz_localize('UTC'))",
                )

    def _folded(self, name: str) -> str:
        """``name`` as the database compares names: as it is, or with A-Z in lower case (SQLite
        and DuckDB fold no other letter: "É" and "é" are two names there)."""
        return name if self.case_sensitive_names else name.translate(ASCII_LOWER)

    def _checkpoint_sql(self) -> dict[str, str]:
        table, name, value, updated = (
            self.quote(part) for part in (checkpoints.TABLE, "name", "value", "updated_at")
        )
        return {
            "read": f"SELECT {value} FROM {table} WHERE {name} = ?",
            "move": f"UPDATE {table} SET {value} = ?, {updated} = CURRENT_TIMESTAMP "
            f"WHERE {name} = ? AND {value} = ?",
            "claim": f"INSERT INTO {table} ({name}, {value}, {updated}) "
            "VALUES (?, ?, CURRENT_TIMESTAMP)",
        }

    def _read_checkpoint(self, session: Session, name: str) -> Any | None:
        check_name(name, "checkpoint")
        if session.table_columns(checkpoints.TABLE) is None:
            return None
        found = session.query(self._checkpoint_sql()["read"], [name])
        if found.num_rows == 0:
            return None
        return checkpoints.decode(name, found.column(0)[0].as_py())

    def _move_checkpoint(self, session: Session, name: str, value: Any, expect: Any) -> None:
        check_name(name, "checkpoint")
        text = checkpoints.encode(name, value)
        sql = self._checkpoint_sql()
        key_type, value_type, time_type = session.checkpoint_types
        quote = self.quote
        session.create(
            checkpoints.TABLE,
            f"CREATE TABLE IF NOT EXISTS {quote(checkpoints.TABLE)} ("
            f"{quote('name')} {key_type} PRIMARY KEY, {quote('value')} {value_type} NOT NULL, "
            f"{quote('updated_at')} {time_type} NOT NULL)",
        )
        if expect is None:
            moved = session.insert_absent(sql["claim"], [name, text])
        else:
            previous = checkpoints.encode(name, expect)
            moved = session.execute_count(sql["move"], [text, name, previous]) == 1
        if not moved:
            raise CheckpointConflict(
                f"checkpoint {name!r} on {self.url} is {self._stored(session, name)}, "
                f"not the expected {expect!r}; nothing was committed"
            )

    def _stored(self, session: Session, name: str) -> str:
        """The stored value of a checkpoint for a conflict message, as far as it can be read.

        A database without savepoints may have aborted the transaction on the duplicate key,
        so reading can fail; the conflict is what the caller must get all the same.
        """
        try:
            return repr(self._read_checkpoint(session, name))
        except (WarehouseError, *self._driver_errors):
            return "another value"


#: A-Z to a-z and no other letter: how SQLite and DuckDB compare names.
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def double_quoted(identifier: str) -> str:
    """``identifier`` in standard SQL double quotes (SQLite, PostgreSQL, DuckDB)."""
    check_name(identifier, "identifier")
    return '"' + identifier.replace('"', '""') + '"'


#: The longest name PostgreSQL keeps, in bytes; it cuts longer ones without a word.
POSTGRES_NAME_BYTES = 63


def postgres_quoted(identifier: str, limit: int = POSTGRES_NAME_BYTES) -> str:
    """``identifier`` double-quoted for PostgreSQL, refused when PostgreSQL would cut it: the
    cut name would not round-trip, and two long names with one start would be one table."""
    size = len(identifier.encode()) if isinstance(identifier, str) else 0
    if size > limit:
        raise WarehouseError(
            f"the name {identifier[:40]!r}… is {size} bytes long; PostgreSQL keeps {limit}",
            hint=f"use table and column names of at most {limit} bytes on PostgreSQL")
    return double_quoted(identifier)


def valid_name(name: object) -> bool:
    """Whether ``name`` can name a table or column: a non-empty string without NUL."""
    return isinstance(name, str) and bool(name) and "\x00" not in name


def check_name(name: str, what: str) -> None:
    if not valid_name(name):
        raise WarehouseError(
            f"invalid {what} name {name!r}", hint="give a non-empty string without NUL"
        )
