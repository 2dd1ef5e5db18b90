"""Column types for tables created from an Arrow schema.

Each Arrow type falls into one portable kind (``bigint``, ``double``, ``timestamptz``...), and
each dialect names its type for that kind. Kinds no dialect here can store faithfully (lists,
structs, durations...) are refused with the column's name rather than flattened silently.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from cauce.errors import WarehouseError

SQLITE = {
    "boolean": "BOOLEAN",
    "smallint": "INTEGER",
    "integer": "INTEGER",
    "bigint": "INTEGER",
    "numeric20": "INTEGER",
    "real": "REAL",
    "double": "REAL",
    "decimal": "NUMERIC",
    "text": "TEXT",
    "binary": "BLOB",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMP",
}

POSTGRESQL = {
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "numeric20": "NUMERIC(20, 0)",
    "real": "REAL",
    "double": "DOUBLE PRECISION",
    "decimal": "NUMERIC({precision}, {scale})",
    "text": "TEXT",
    "binary": "BYTEA",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
}

_INTEGER_KINDS = {
    pa.int8(): "smallint",
    pa.int16(): "smallint",
    pa.uint8(): "smallint",
    pa.int32(): "integer",
    pa.uint16(): "integer",
    pa.int64(): "bigint",
    pa.uint32(): "bigint",
    pa.uint64(): "numeric20",
}


def kind_of(column: str, arrow_type: pa.DataType, dialect: str) -> str:
    """The portable kind of ``arrow_type``; a WarehouseError naming ``column`` if unsupported."""
    if pa.types.is_integer(arrow_type):
        return _INTEGER_KINDS[arrow_type]
    checks = (
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_float64, "double"),
        (pa.types.is_floating, "real"),
        (pa.types.is_decimal, "decimal"),
        (pa.types.is_null, "text"),
        (_is_text, "text"),
        (_is_binary, "binary"),
        (pa.types.is_date, "date"),
        (pa.types.is_time, "time"),
    )
    for check, kind in checks:
        if check(arrow_type):
            return kind
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    raise WarehouseError(
        f"column {column!r} has Arrow type {arrow_type}, which cauce does not store in {dialect}",
        hint="cast it first (e.g. to a string holding JSON), or use a DuckDB warehouse",
    )


def column_type(
    column: str, arrow_type: pa.DataType, names: Mapping[str, str], dialect: str
) -> str:
    """The SQL type named by ``names`` (e.g. :data:`POSTGRESQL`) for one Arrow column."""
    kind = kind_of(column, arrow_type, dialect)
    if kind == "decimal":
        return names[kind].format(precision=arrow_type.precision, scale=arrow_type.scale)
    return names[kind]


def _is_text(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    )


def _is_binary(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_fixed_size_binary(arrow_type)
        or pa.types.is_binary_view(arrow_type)
    )


#: Arrow types of PostgreSQL's common types (by OID), as Python's values of them convert:
#: the type of a result column that has no values to tell it.
_POSTGRESQL_RESULTS = {
    16: pa.bool_(),
    17: pa.binary(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    25: pa.string(),
    700: pa.float64(),
    701: pa.float64(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
}


def postgres_result_type(oid: int) -> pa.DataType | None:
    """The Arrow type of a PostgreSQL result column of type ``oid``; None when not known."""
    return _POSTGRESQL_RESULTS.get(oid)
