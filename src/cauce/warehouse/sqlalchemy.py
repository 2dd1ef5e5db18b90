"""Any other database SQLAlchemy can reach (``mysql+pymysql://...``, ``mssql+pyodbc://...``).

Statements go to the driver as written (``exec_driver_sql``), with placeholders rewritten for
the driver's own parameter style, so SQL behaves as it does in the native backends. New tables
get their column types from SQLAlchemy's type compiler for the dialect.
Threads: SQLAlchemy's connection pool; each operation checks a connection out.
Concurrency guarantees are the database's own: checkpoint moves are a conditional UPDATE or
an INSERT on the primary key, which every SQL database serialises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from cauce.errors import WarehouseError
from cauce.warehouse import sqltypes
from cauce.warehouse.arrowdata import (
    as_stored_text,
    decimal_kind,
    python_columns,
    refuse_beyond_int64,
    refuse_nan,
    refuse_nul_text,
    rows_to_arrow,
)
from cauce.warehouse.base import Session, WarehouseBackend, check_name, postgres_quoted
from cauce.warehouse.params import DBAPI_STYLES, Params, ParamStyle, bind
from cauce.warehouse.seam import one_line

# Dialects where DDL commits the open transaction by itself (so no savepoint survives it).
_DDL_COMMITS = ("mysql", "mariadb", "oracle")
_PRECISE_DATETIME = mysql.DATETIME(fsp=6)
_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "boolean": sa.Boolean(),
    "smallint": sa.SmallInteger(),
    "integer": sa.Integer(),
    "bigint": sa.BigInteger(),
    "numeric20": sa.Numeric(20, 0),
    "real": sa.REAL(),
    "double": sa.Double(),
    "text": sa.Text(),
    "binary": sa.LargeBinary(),
    "date": sa.Date(),
    "time": sa.Time(),
    # MySQL's DATETIME drops fractions of a second unless asked for them.
    "timestamp": sa.DateTime().with_variant(_PRECISE_DATETIME, "mysql", "mariadb"),
    "timestamptz": sa.DateTime(timezone=True).with_variant(_PRECISE_DATETIME, "mysql", "mariadb"),
}


class SQLAlchemySession(Session):
    def __init__(self, backend: SQLAlchemyBackend, connection: sa.Connection) -> None:
        super().__init__(backend)
        self._connection = connection
        self._dialect = connection.dialect
        self._style = backend.param_style
        self.checkpoint_types = (
            self._compiled(sa.String(255)),
            self._compiled(sa.Text()),
            self._compiled(_TYPES["timestamptz"]),
        )

    def _compiled(self, kind: sa.types.TypeEngine[Any]) -> str:
        return kind.compile(dialect=self._dialect)

    def begin(self) -> None:
        self._connection.execution_options(cauce_write=True).begin()

    def commit(self) -> None:
        self._connection.commit()

    def rollback(self) -> None:
        if self._connection.in_transaction():
            self._connection.rollback()

    def _run(self, sql: str, params: Params) -> sa.CursorResult[Any]:
        sql, bound = bind(sql, params, self._style)
        if bound is not None and self._dialect.name == "sqlite":
            bound = _as_stored(bound)
        if bound is None:
            # Drivers with format-style placeholders only read % as special when given
            # parameters; no_parameters makes SQLAlchemy give none at all.
            options = self._connection.execution_options(no_parameters=True)
            return options.exec_driver_sql(sql)
        if isinstance(bound, Sequence):
            bound = tuple(bound)
        return self._connection.exec_driver_sql(sql, bound)

    def execute(self, sql: str, params: Params = None) -> None:
        self._run(sql, params)

    def execute_count(self, sql: str, params: Params = None) -> int:
        return self._run(sql, params).rowcount

    def query(self, sql: str, params: Params = None) -> pa.Table:
        result = self._run(sql, params)
        if not result.returns_rows:
            return pa.table({})
        types = self._types(result)  # before fetching: that closes the cursor
        return rows_to_arrow(list(result.keys()), result.fetchall(), types)

    def _types(self, result: sa.CursorResult[Any]) -> list[pa.DataType | None] | None:
        """The declared type of each result column, where the driver says it (PostgreSQL)."""
        if self._dialect.name != "postgresql":
            return None
        return [sqltypes.postgres_result_type(column[1]) for column in result.cursor.description]

    def table_columns(self, table: str) -> list[str] | None:
        inspector = sa.inspect(self._connection)
        if not inspector.has_table(table):
            return None
        return [column["name"] for column in inspector.get_columns(table)]

    def exact_columns(self, table: str) -> dict[str, str]:
        # Drivers bind 1.7 as a float, which the database rounds into an integer column.
        if self._dialect.name == "sqlite":
            return {}  # SQLite keeps the value as given
        kinds = {}
        for column in sa.inspect(self._connection).get_columns(table):
            if isinstance(column["type"], sa.Boolean):
                kinds[column["name"]] = "boolean"
            elif isinstance(column["type"], sa.Integer):
                kinds[column["name"]] = "integer"
            elif _fixed_decimals(column["type"]):  # 1.239 into NUMERIC(10, 2) became 1.24
                kinds[column["name"]] = decimal_kind(column["type"].precision, column["type"].scale)
        return kinds

    def zoned_columns(self, table: str) -> set[str]:
        # Drivers bind a naive datetime for the database to read in its session's zone.
        if self._dialect.name == "sqlite":
            return set()  # no zoned type: SQLite keeps the text as given
        return {
            column["name"]
            for column in sa.inspect(self._connection).get_columns(table)
            if isinstance(column["type"], sa.DateTime) and column["type"].timezone
        }

    def insert(self, table: str, data: pa.Table) -> None:
        quote = self.backend.quote
        names = ", ".join(quote(name) for name in data.column_names)
        marks = ", ".join("?" * data.num_columns)
        # Binding placeholder values only to learn the driver's spelling of the statement.
        statement = f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})"
        sql, _ = bind(statement, [None] * data.num_columns, self._style)
        if self._dialect.name == "postgresql":
            refuse_nul_text(data, table)
        if self._dialect.name == "sqlite":
            refuse_beyond_int64(data, table)
            refuse_nan(data, table)
        columns = python_columns(data, as_text=self._dialect.name == "sqlite")
        rows: list[Any] = list(zip(*columns, strict=True))
        if self._style.positional is None:
            rows = [{f"p{n}": value for n, value in enumerate(row, start=1)} for row in rows]
        self._connection.exec_driver_sql(sql, rows)

    def create(self, table: str, ddl: str) -> None:
        if self.table_columns(table) is not None:
            return
        if self._dialect.name in _DDL_COMMITS:
            self.execute(ddl)
            return
        try:
            with self._connection.begin_nested():
                self.execute(ddl)
        except sa.exc.DBAPIError:
            # Another transaction created the table first (PostgreSQL reports that race as a
            # duplicate key in its catalog). If the table is there now, that is all we needed.
            if self.table_columns(table) is None:
                raise

    def insert_absent(self, sql: str, params: Params) -> bool:
        # Not every dialect has ON CONFLICT; a duplicate primary key says the same thing. The
        # savepoint keeps the transaction usable after the duplicate (PostgreSQL would abort it).
        try:
            with self._connection.begin_nested():
                return self.execute_count(sql, params) == 1
        except sa.exc.IntegrityError:
            return False

    def column_type(self, column: str, arrow_type: pa.DataType) -> str:
        kind = sqltypes.kind_of(column, arrow_type, self._dialect.name)
        if kind == "decimal":
            return self._compiled(sa.Numeric(arrow_type.precision, arrow_type.scale))
        return self._compiled(_TYPES[kind])


def _own_sqlite_transactions(engine: sa.Engine) -> None:
    """Make pysqlite transactions real, as SQLAlchemy's SQLite page recommends.

    Left alone, Python's sqlite3 begins transactions only before DML, so DDL commits on its
    own and a failed script leaves half its tables behind; writes also start deferred, so a
    concurrent writer fails with "database is locked" instead of waiting.
    """

    @sa.event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get("cauce_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class SQLAlchemyBackend(WarehouseBackend):
    #: How the driver spells placeholders (its DB-API paramstyle).
    param_style: ParamStyle

    def __init__(self, shown: str, url: str, scheme: str, *, lock_timeout: float) -> None:
        super().__init__(shown)
        try:
            parsed = sa.engine.make_url(url)
            backend_name = parsed.get_backend_name()
            connect_args = {"timeout": lock_timeout} if backend_name == "sqlite" else {}
            self._engine = sa.create_engine(parsed, connect_args=connect_args)
            if backend_name == "sqlite":
                _own_sqlite_transactions(self._engine)
        except sa.exc.NoSuchModuleError as error:
            from cauce.warehouse.urls import SUPPORTED

            raise WarehouseError(
                f"unknown warehouse URL scheme {scheme!r} in {shown}",
                hint=f"use one of: {SUPPORTED}",
            ) from error
        except ImportError as error:
            raise WarehouseError(
                f"the database driver for {scheme}:// is not installed ({error})",
                hint=f"install the package that provides the {error.name!r} module "
                "(SQLAlchemy's page for the dialect names it)",
            ) from error
        except sa.exc.ArgumentError as error:
            raise WarehouseError(
                f"not a valid SQLAlchemy URL: {shown} ({error})",
                hint="the form is dialect+driver://user:password@host:port/database",
            ) from error
        dialect = self._engine.dialect
        self.dialect = dialect.name
        self.case_sensitive_names = dialect.name == "postgresql"
        self.param_style = dataclasses.replace(
            DBAPI_STYLES[dialect.paramstyle],
            backslash_strings=dialect.name in ("mysql", "mariadb"),
        )
        # OverflowError: Python's sqlite3 raises it for an int beyond 64 bits, as its own.
        self._driver_errors = (sa.exc.SQLAlchemyError, pa.ArrowException, OverflowError) + (
            (dialect.dbapi.Error,) if dialect.dbapi is not None else ()
        )
        self._closed = False

    def quote(self, identifier: str) -> str:
        dialect = self._engine.dialect
        if dialect.name == "postgresql":  # which cuts long names without a word
            postgres_quoted(identifier, dialect.max_identifier_length)
        check_name(identifier, "identifier")
        # Not preparer.quote_identifier: for format-style drivers it doubles every %, which
        # only a statement with parameters undoes (bind() doubles % itself when there are).
        preparer = dialect.identifier_preparer
        escaped = identifier.replace(preparer.escape_quote, preparer.escape_to_quote)
        return preparer.initial_quote + escaped + preparer.final_quote

    @contextmanager
    def _session(self, write: bool) -> Iterator[SQLAlchemySession]:
        if self._closed:
            raise WarehouseError(f"the warehouse {self.url} is closed", hint="connect again")
        with self._translated("connect"):
            connection = self._engine.connect()
        try:
            yield SQLAlchemySession(self, connection)
        except BaseException:
            with suppress(*self._driver_errors):
                connection.close()
            raise
        with self._translated("close"):
            connection.close()

    def _reason(self, error: BaseException) -> str:
        # SQLAlchemy prefixes the driver's message with its class and appends the SQL.
        return one_line(str(getattr(error, "orig", None) or error))

    def close(self) -> None:
        self._closed = True
        self._engine.dispose()


def _as_stored(bound: Any) -> Any:
    """Bound values with dates, times and decimals as the text a load stores on SQLite."""
    if isinstance(bound, Mapping):
        return {key: as_stored_text(value) for key, value in bound.items()}
    return [as_stored_text(value) for value in bound]


def _fixed_decimals(kind: sa.types.TypeEngine[Any]) -> bool:
    """Whether ``kind`` is a numeric keeping a fixed number of decimals (not a float)."""
    return (
        isinstance(kind, sa.Numeric)
        and not isinstance(kind, sa.Float)
        and kind.precision is not None
        and kind.scale is not None
    )
