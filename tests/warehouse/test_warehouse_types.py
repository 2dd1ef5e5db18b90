"""Tables created from an Arrow schema get sensible types in each dialect."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from cauce.errors import WarehouseError
from cauce.warehouse import WarehouseBackend
from cauce.warehouse.sqlalchemy import _TYPES, SQLAlchemyBackend
from cauce.warehouse.sqltypes import POSTGRESQL, SQLITE, column_type, kind_of

SAMPLE = pa.table(
    {
        "count": pa.array([1], pa.int64()),
        "ratio": pa.array([0.5], pa.float64()),
        "single": pa.array([0.5], pa.float32()),
        "name": pa.array(["x"], pa.string()),
        "flag": pa.array([True]),
        "day": pa.array([dt.date(2020, 1, 1)]),
        "local": pa.array([dt.datetime(2020, 1, 1)], pa.timestamp("us")),
        "aware": pa.array([dt.datetime(2020, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
        "money": pa.array([Decimal("1.25")], pa.decimal128(12, 2)),
        "blob": pa.array([b"\x00\x01"], pa.binary()),
    }
)

EXPECTED = {
    "postgresql": {
        "count": "bigint",
        "ratio": "double precision",
        "single": "real",
        "name": "text",
        "flag": "boolean",
        "day": "date",
        "local": "timestamp without time zone",
        "aware": "timestamp with time zone",
        "money": "numeric",
        "blob": "bytea",
    },
    "sqlite": {
        "count": "INTEGER",
        "ratio": "REAL",
        "single": "REAL",
        "name": "TEXT",
        "flag": "BOOLEAN",
        "day": "DATE",
        "local": "TIMESTAMP",
        "aware": "TIMESTAMP",
        "money": "NUMERIC",
        "blob": "BLOB",
    },
    # Through SQLAlchemy, its type compiler names the types.
    "sqlite+sqlalchemy": {
        "count": "BIGINT",
        "ratio": "DOUBLE",
        "single": "REAL",
        "name": "TEXT",
        "flag": "BOOLEAN",
        "day": "DATE",
        "local": "DATETIME",
        "aware": "DATETIME",
        "money": "NUMERIC(12, 2)",
        "blob": "BLOB",
    },
    "duckdb": {
        "count": "BIGINT",
        "ratio": "DOUBLE",
        "single": "FLOAT",
        "name": "VARCHAR",
        "flag": "BOOLEAN",
        "day": "DATE",
        "local": "TIMESTAMP",
        "aware": "TIMESTAMP WITH TIME ZONE",
        "money": "DECIMAL(12,2)",
        "blob": "BLOB",
    },
}

TYPE_QUERIES = {
    "postgresql": "SELECT column_name AS name, data_type AS type FROM information_schema.columns "
    "WHERE table_name = 'sample' AND table_schema = current_schema()",
    "sqlite": "SELECT name, type FROM pragma_table_info('sample')",
    "duckdb": "SELECT column_name AS name, data_type AS type FROM information_schema.columns "
    "WHERE table_name = 'sample'",
}


def test_new_tables_get_each_dialects_types(warehouse: WarehouseBackend) -> None:
    warehouse.load("sample", SAMPLE)
    found = {
        row["name"]: row["type"]
        for row in warehouse.query(TYPE_QUERIES[warehouse.dialect]).to_pylist()
    }
    generic = isinstance(warehouse, SQLAlchemyBackend) and warehouse.dialect == "sqlite"
    assert found == EXPECTED["sqlite+sqlalchemy" if generic else warehouse.dialect]


def test_values_survive_the_types_they_were_given(warehouse: WarehouseBackend) -> None:
    warehouse.load("sample", SAMPLE)
    row = warehouse.query("SELECT * FROM sample").to_pylist()[0]
    assert row["count"] == 1 and row["ratio"] == 0.5 and row["name"] == "x"
    assert bytes(row["blob"]) == b"\x00\x01"


@pytest.mark.parametrize(
    ("arrow_type", "postgres", "sqlite_type"),
    [
        (pa.int8(), "SMALLINT", "INTEGER"),
        (pa.uint16(), "INTEGER", "INTEGER"),
        (pa.uint64(), "NUMERIC(20, 0)", "INTEGER"),
        (pa.large_string(), "TEXT", "TEXT"),
        (pa.time64("us"), "TIME", "TIME"),
        (pa.decimal128(38, 10), "NUMERIC(38, 10)", "NUMERIC"),
        (pa.null(), "TEXT", "TEXT"),
    ],
)
def test_type_names_per_kind(arrow_type: pa.DataType, postgres: str, sqlite_type: str) -> None:
    assert column_type("c", arrow_type, POSTGRESQL, "postgresql") == postgres
    assert column_type("c", arrow_type, SQLITE, "sqlite") == sqlite_type


@pytest.mark.parametrize(
    "arrow_type",
    [
        pa.list_(pa.int64()),
        pa.struct([("a", pa.int64())]),
        pa.duration("s"),
        pa.map_(pa.string(), pa.int64()),
    ],
)
def test_types_without_a_faithful_column_are_refused_by_name(arrow_type: pa.DataType) -> None:
    with pytest.raises(WarehouseError, match="column 'odd' has Arrow type"):
        kind_of("odd", arrow_type, "postgresql")


@pytest.mark.parametrize(
    ("dialect", "kind", "expected"),
    [
        (mysql.dialect(), "timestamptz", "DATETIME(fsp=6)"),
        (mysql.dialect(), "double", "DOUBLE"),
        (mysql.dialect(), "text", "TEXT"),
        (postgresql.dialect(), "timestamptz", "TIMESTAMP WITH TIME ZONE"),
        (sqlite.dialect(), "bigint", "BIGINT"),
    ],
)
def test_sqlalchemy_dialects_compile_their_own_type_names(
    dialect: sa.Dialect, kind: str, expected: str
) -> None:
    compiled = _TYPES[kind].compile(dialect=dialect)
    assert compiled.replace("(6)", "(fsp=6)") == expected
