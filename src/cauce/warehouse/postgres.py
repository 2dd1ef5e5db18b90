"""PostgreSQL warehouses (``postgresql://user@host:port/db``), on psycopg 3.

Loads stream the rows with ``COPY ... FROM STDIN`` in CSV form, which Arrow writes in native
code (quoted strings, so an empty string and NULL stay different), inside the transaction.
Threads: a pool of connections, each used by one thread at a time.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from cauce.warehouse import sqltypes
from cauce.warehouse.arrowdata import decimal_kind, in_utc, refuse_nul_text, rows_to_arrow
from cauce.warehouse.base import Session, WarehouseBackend, postgres_quoted
from cauce.warehouse.params import PSYCOPG, Params, bind
from cauce.warehouse.pool import ConnectionPool
from cauce.warehouse.seam import one_line

_COPY_BATCH_ROWS = 65_536
_CSV = pa_csv.WriteOptions(include_header=False)


class PostgresSession(Session):
    checkpoint_types = ("TEXT", "TEXT", "TIMESTAMP WITH TIME ZONE")
    type_names = sqltypes.POSTGRESQL

    def __init__(self, backend: WarehouseBackend, connection: psycopg.Connection) -> None:
        super().__init__(backend)
        self._connection = connection

    def begin(self) -> None:
        self._connection.execute("BEGIN")

    def commit(self) -> None:
        self._connection.execute("COMMIT")

    def rollback(self) -> None:
        if self._connection.info.transaction_status != TransactionStatus.IDLE:
            self._connection.execute("ROLLBACK")

    def _run(self, sql: str, params: Params) -> psycopg.Cursor:
        sql, bound = bind(sql, params, PSYCOPG)
        return self._connection.execute(sql, bound)  # type: ignore[arg-type]

    def execute(self, sql: str, params: Params = None) -> None:
        self._run(sql, params)

    def execute_alone(self, sql: str, params: Params = None) -> None:
        # The connection is in autocommit mode, so a lone statement commits by itself; that
        # also lets statements that refuse transaction blocks (VACUUM, CREATE INDEX
        # CONCURRENTLY) run through execute().
        self.execute(sql, params)

    def execute_count(self, sql: str, params: Params = None) -> int:
        return self._run(sql, params).rowcount

    def query(self, sql: str, params: Params = None) -> pa.Table:
        cursor = self._run(sql, params)
        if cursor.description is None:
            return pa.table({})
        names = [column.name for column in cursor.description]
        types = [sqltypes.postgres_result_type(column.type_code) for column in cursor.description]
        return rows_to_arrow(names, cursor.fetchall(), types)

    def table_columns(self, table: str) -> list[str] | None:
        rows = self._connection.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [self.backend.quote(table)],
        ).fetchall()
        return [row[0] for row in rows] or None

    def exact_columns(self, table: str) -> dict[str, str]:
        # COPY refuses a fraction for an integer, but rounds 1.239 into NUMERIC(10, 2) as 1.24.
        # A numeric's typmod is 4 + (precision << 16 | scale); -1 when it has neither.
        rows = self._connection.execute(
            "SELECT attname, ((atttypmod - 4) >> 16) & 65535, (atttypmod - 4) & 65535 "
            "FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
            "AND NOT attisdropped AND atttypid = 'numeric'::regtype AND atttypmod >= 4",
            [self.backend.quote(table)],
        ).fetchall()
        return {name: decimal_kind(precision, scale) for name, precision, scale in rows}

    def zoned_columns(self, table: str) -> set[str]:
        # COPY reads a naive timestamp in the session's TimeZone.
        rows = self._connection.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped AND atttypid = 'timestamptz'::regtype",
            [self.backend.quote(table)],
        ).fetchall()
        return {row[0] for row in rows}

    def create(self, table: str, ddl: str) -> None:
        if self.table_columns(table) is not None:
            return
        # Two transactions creating one table at once can fail inside PostgreSQL's catalog
        # even with IF NOT EXISTS; a transaction-scoped advisory lock on the name makes the
        # second wait and then find the table.
        self._connection.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"cauce.create:{table}"]
        )
        self.execute(ddl)

    def insert(self, table: str, data: pa.Table) -> None:
        quote = self.backend.quote
        names = ", ".join(quote(name) for name in data.column_names)
        refuse_nul_text(data, table)
        data = _bc_years(_bytea_as_text(in_utc(data)))
        with (
            self._connection.cursor() as cursor,
            cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN (FORMAT csv)") as copy,
        ):
            for batch in data.to_batches(max_chunksize=_COPY_BATCH_ROWS):
                buffer = io.BytesIO()
                pa_csv.write_csv(batch, buffer, _CSV)
                copy.write(buffer.getbuffer())


#: The first day of year 1, before which Arrow writes years as ISO 8601 does (0 for 1 BC,
#: -768 for 769 BC), and PostgreSQL reads them only with "BC" (a leading "-" is a zone to it).
_YEAR_1 = pa.scalar(dt.date(1, 1, 1), pa.date32())


def _bc_years(data: pa.Table) -> pa.Table:
    """Dates and timestamps before year 1 as PostgreSQL's "0769-02-04 BC" text."""
    for index, field in enumerate(data.schema):
        column = data.column(index)
        if not (pa.types.is_date(field.type) or pa.types.is_timestamp(field.type)):
            continue
        # compared in Arrow: Python has no date before year 1
        if not pc.any(pc.less(column.cast(pa.date32()), _YEAR_1)).as_py():
            continue
        parts = pc.extract_regex(column.cast(pa.string()), r"^(?P<year>-?\d+)(?P<rest>.*)$")
        year = pc.struct_field(parts, "year").cast(pa.int64())
        rest = pc.struct_field(parts, "rest")
        before = pc.less_equal(year, 0)
        bc_year = pc.utf8_lpad(pc.subtract(1, year).cast(pa.string()), width=4, padding="0")
        written = pc.if_else(
            before,
            pc.binary_join_element_wise(bc_year, rest, " BC", ""),
            pc.binary_join_element_wise(pc.struct_field(parts, "year"), rest, ""),
        )
        data = data.set_column(index, field.name, written)
    return data


def _bytea_as_text(data: pa.Table) -> pa.Table:
    """Binary columns in PostgreSQL's hex input form (``\\x...``), which CSV can carry."""
    for index, field in enumerate(data.schema):
        if sqltypes.kind_of(field.name, field.type, "postgresql") == "binary":
            hexed = [
                None if value is None else "\\x" + value.hex()
                for value in data.column(index).to_pylist()
            ]
            data = data.set_column(index, field.name, pa.array(hexed, pa.string()))
    return data


class PostgresBackend(WarehouseBackend):
    dialect = "postgresql"
    case_sensitive_names = True
    _driver_errors = (psycopg.Error, pa.ArrowException)

    def __init__(self, url: str, conninfo: str, *, lock_timeout: float) -> None:
        super().__init__(url)
        with self._translated("read the URL"):
            options = conninfo_to_dict(conninfo)
        options.setdefault("connect_timeout", 10)
        self._options = options
        self._lock_timeout = lock_timeout
        self._connections = ConnectionPool(self._open, _close, _reusable, name=url)

    def quote(self, identifier: str) -> str:
        return postgres_quoted(identifier)

    def _open(self) -> psycopg.Connection:
        with self._translated("connect"):
            connection = psycopg.connect(autocommit=True, **self._options)
            connection.execute(f"SET lock_timeout = {int(self._lock_timeout * 1000)}")
            return connection

    @contextmanager
    def _session(self, write: bool) -> Iterator[PostgresSession]:
        with self._connections.acquire() as connection:
            yield PostgresSession(self, connection)

    def _reason(self, error: BaseException) -> str:
        reason = one_line(str(error))
        context = getattr(getattr(error, "diag", None), "context", None)
        if context and context.startswith("COPY"):
            reason += f" ({one_line(context)})"
        return reason

    def close(self) -> None:
        self._connections.close()


def _reusable(connection: psycopg.Connection) -> bool:
    return not connection.closed and connection.info.transaction_status == TransactionStatus.IDLE


def _close(connection: psycopg.Connection) -> None:
    with suppress(psycopg.Error):
        connection.close()
