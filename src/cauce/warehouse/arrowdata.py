"""Data going into and coming out of a warehouse, as Arrow tables.

Every load is turned into one ``pyarrow.Table`` first, whatever the caller handed over, so
the backends only ever see Arrow. Converting to driver values happens column by column with
Arrow's own kernels, never row by row in Python.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cauce.errors import WarehouseError

_ACCEPTED = "a pyarrow Table or RecordBatch, a polars or pandas DataFrame, or a list of dicts"


def to_arrow(data: Any, table: str) -> pa.Table:
    """``data`` as an Arrow table; ``table`` only names the target in error messages."""
    if isinstance(data, pa.Table):
        result = data
    elif isinstance(data, pa.RecordBatch):
        result = pa.Table.from_batches([data])
    elif _from_module(data, "polars") and hasattr(data, "to_arrow"):
        result = _from_polars(data, table)
    elif _from_module(data, "pandas") and hasattr(data, "columns"):
        result = _from_pandas(data, table)
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        result = _from_dicts(data, table)
    else:
        raise WarehouseError(
            f"cannot load {type(data).__name__} into {table!r}", hint=f"give {_ACCEPTED}"
        )
    _refuse_duplicates(result.column_names, table)
    return result


def _refuse_duplicates(names: Sequence[str], table: str) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise WarehouseError(
            f"the data for {table!r} has duplicate columns: {', '.join(duplicates)}",
            hint="rename the columns so each name appears once",
        )


def _from_module(data: Any, package: str) -> bool:
    """True when ``data``'s class comes from ``package`` (checked without importing it)."""
    return type(data).__module__.split(".")[0] == package


#: Integers wider than 64 bits go as decimals of this many digits, the widest every backend
#: stores (Arrow has no 128-bit integer).
WIDE_INTEGER = pa.decimal128(38, 0)


def _from_pandas(frame: Any, table: str) -> pa.Table:
    """A pandas frame as Arrow, its named index levels first as columns (``set_index("id")``
    keeps the ids); unnamed levels are row positions, and are left out."""
    named = [name for name in frame.index.names if name is not None]
    _refuse_duplicates([str(name) for name in (*named, *frame.columns)], table)
    try:
        if named:
            frame = frame.reset_index(level=named)
        result = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowTypeError, pa.ArrowInvalid) as error:
        # pyarrow's message is its argument tuple: the failure, then the column.
        raise WarehouseError(
            f"the frame for {table!r} does not convert to Arrow: "
            + "; ".join(str(part) for part in error.args),
            hint="give the column values of one type (None for missing)",
        ) from error
    # Python datetimes in an object column went through Arrow as in a list of dicts.
    for index, field in enumerate(result.schema):
        if pa.types.is_timestamp(field.type) and frame.dtypes.iloc[index].kind == "O":
            _refuse_mixed_zones(frame.iloc[:, index].tolist(), field.name, table)
    return result


def _from_polars(frame: Any, table: str) -> pa.Table:
    """A Polars frame as Arrow, its 128-bit integer columns as 38-digit decimals."""
    import polars as pl

    for name, kind in frame.schema.items():
        if kind == pl.Object:  # to_arrow() gives each object's memory address as bytes
            raise WarehouseError(
                f"column {name!r} for {table!r} holds Python objects, which have no column type",
                hint="convert them to numbers, text or bytes first (e.g. "
                "pl.col(name).map_elements(str, return_dtype=pl.String))",
            )
    wide = [name for name, kind in frame.schema.items() if kind in (pl.Int128, pl.UInt128)]
    for name in wide:
        try:
            frame = frame.with_columns(pl.col(name).cast(pl.Decimal(38, 0)))
        except pl.exceptions.PolarsError as error:
            raise _too_wide(name, table) from error
    return frame.to_arrow()


def _wide_integers(values: list[Any], name: str, table: str) -> pa.Array:
    """Python ints too wide for 64 bits, as 38-digit decimals."""
    try:
        return pa.array(values, WIDE_INTEGER)
    except (pa.ArrowException, OverflowError, TypeError) as error:
        if all(value is None or isinstance(value, int) for value in values):
            raise _too_wide(name, table) from error
        raise WarehouseError(
            f"column {name!r} for {table!r} mixes integers wider than 64 bits with other "
            f"values: {error}",
            hint="give the column values of one type (None for missing)",
        ) from error


def _too_wide(name: str, table: str) -> WarehouseError:
    return WarehouseError(
        f"column {name!r} for {table!r} holds integers of more than 38 digits, wider than "
        "any backend stores",
        hint="give them as text (str) or as floats",
    )


def _from_dicts(rows: Sequence[Any], table: str) -> pa.Table:
    if not rows:
        return pa.table({})
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise WarehouseError(
                f"row {index} for {table!r} is a {type(row).__name__}, not a dict",
                hint=f"give {_ACCEPTED}",
            )
    # Every key of every row becomes a column: rows missing a key get NULL there.
    names = list(dict.fromkeys(key for row in rows for key in row))
    arrays = []
    for name in names:
        if not isinstance(name, str):
            raise WarehouseError(
                f"the rows for {table!r} have a non-string key {name!r}",
                hint="column names must be strings",
            )
        values = [row.get(name) for row in rows]
        try:
            arrays.append(pa.array(values))
            if pa.types.is_timestamp(arrays[-1].type):
                _refuse_mixed_zones(values, name, table)
        except OverflowError:
            arrays.append(_wide_integers(values, name, table))
        except (pa.ArrowException, TypeError) as error:
            _refuse_unfit_decimals(values, name, table)
            raise WarehouseError(
                f"column {name!r} for {table!r} mixes values Arrow cannot put in one column: "
                f"{error}",
                hint="give the column values of one type (None for missing)",
            ) from error
    if not names:
        raise WarehouseError(
            f"the rows for {table!r} have no columns", hint="give each row at least one key"
        )
    return pa.Table.from_arrays(arrays, names=names)


#: The most digits an Arrow decimal (decimal256) holds.
ARROW_DECIMAL_DIGITS = 76


def _refuse_unfit_decimals(values: list[Any], name: str, table: str) -> None:
    """Name the cause when a column of Decimals does not convert: one is not finite, or has
    more digits than Arrow's widest decimal (pyarrow's own words were of mixed values)."""
    given = [value for value in values if value is not None]
    if not given or not all(isinstance(value, Decimal) for value in given):
        return
    hint = "give such values as text (str) or as floats"
    odd = next((value for value in given if not value.is_finite()), None)
    if odd is not None:
        raise WarehouseError(f"column {name!r} for {table!r} holds the decimal {odd}", hint=hint)
    # One Arrow type holds them all: the longest integer part plus the longest fraction.
    shapes = [(len(v.as_tuple().digits), int(v.as_tuple().exponent)) for v in given]
    whole = max(max(count + exponent, 0) for count, exponent in shapes)
    fraction = max(max(-exponent, 0) for _, exponent in shapes)
    raise WarehouseError(
        f"column {name!r} for {table!r} needs decimals of {whole + fraction} digits, more "
        f"than Arrow's {ARROW_DECIMAL_DIGITS}",
        hint=hint,
    )


def _refuse_mixed_zones(values: list[Any], name: str, table: str) -> None:
    """Refuse a column of datetimes some with a zone and some without: Arrow takes the first
    value's kind, reading a naive time as UTC or dropping an aware one's zone, without a word
    (the naive ones' zone is unknown)."""
    aware = {value.utcoffset() is not None for value in values if isinstance(value, dt.datetime)}
    if len(aware) > 1:
        raise WarehouseError(
            f"column {name!r} for {table!r} mixes datetimes with and without a time zone",
            hint="give every datetime of the column a zone (dt.replace(tzinfo=...)), or none",
        )


def plain_types(data: pa.Table, *, views: bool = False) -> pa.Table:
    """Decode dictionary columns and views into plain Arrow types drivers and CSV understand.

    ``views``: the driver binds string and binary views as they are, so they are kept
    (converting them copies every value).
    """
    columns = []
    for column in data.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = column.type
        if pa.types.is_string_view(kind) and not views:
            column = column.cast(pa.large_string())
        elif pa.types.is_binary_view(kind) and not views:
            column = column.cast(pa.large_binary())
        columns.append(column)
    return pa.Table.from_arrays(columns, names=data.column_names)


#: The largest integer SQLite's 64-bit INTEGER holds.
INT64_MAX = 2**63 - 1


def refuse_beyond_int64(data: pa.Table, table: str) -> None:
    """Refuse an unsigned 64-bit value SQLite's signed INTEGER cannot hold, naming its column
    and the value (the driver names neither)."""
    for field, column in zip(data.schema, data.columns, strict=True):
        largest = pc.max(column).as_py() if field.type == pa.uint64() else None
        if largest is not None and largest > INT64_MAX:
            raise WarehouseError(
                f"column {field.name!r} for {table!r} holds {largest}, beyond SQLite's 64-bit "
                "INTEGER",
                hint="cast the column to float64 or to text first, or use another backend",
            )


def refuse_nan(data: pa.Table, table: str) -> None:
    """Refuse a NaN, naming its column: SQLite stores NaN as NULL, so a value would come back
    as a missing one without a word."""
    for field, column in zip(data.schema, data.columns, strict=True):
        if not pa.types.is_floating(field.type):
            continue
        if pa.types.is_float16(field.type):  # Arrow's kernels take no half floats
            column = column.cast(pa.float32())
        if pc.any(pc.is_nan(column)).as_py():
            raise WarehouseError(
                f"column {field.name!r} for {table!r} holds NaN, which SQLite stores as NULL",
                hint="make NaN a null first if it means missing (polars: "
                "pl.col(name).fill_nan(None)), or use a DuckDB or PostgreSQL warehouse",
            )


def refuse_nul_text(data: pa.Table, table: str) -> None:
    """Refuse text holding a NUL character, naming its column: PostgreSQL text cannot store
    it, and its own message names neither the column nor the cause."""
    for field, column in zip(data.schema, data.columns, strict=True):
        text = pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
        if text and pc.any(pc.match_substring(column, "\x00")).as_py():
            raise WarehouseError(
                f"column {field.name!r} for {table!r} holds text with a NUL character (\\x00), "
                "which PostgreSQL cannot store",
                hint="replace or strip it first (polars: "
                "pl.col(name).str.replace_all('\\x00', '')), or load the column as binary",
            )


def decimal_kind(precision: int, scale: int) -> str:
    """The exact kind of a numeric column keeping ``scale`` decimals (see changed_values)."""
    return f"decimal({precision}, {scale})"


_DECIMAL_KIND = re.compile(r"decimal\(\d+, (\d+)\)")
#: How far a float may be from its value rounded to a column's decimals and still count as
#: that value (0.1 + 0.2 is 0.30000000000000004): relative, at float64's precision.
_FLOAT_NOISE = 1e-12


def changed_values(column: pa.ChunkedArray, kind: str) -> Any | None:
    """The first value of ``column`` that a column of ``kind`` (``"integer"``, ``"boolean"``
    or a :func:`decimal_kind`) would change: a fraction, NaN or infinity as an integer, a
    number other than 0 and 1 as a boolean, more decimals than a numeric column keeps. None
    when every value fits as it is."""
    if pa.types.is_float16(column.type):  # Arrow's kernels take no half floats
        column = column.cast(pa.float32())
    decimals = _DECIMAL_KIND.fullmatch(kind)
    if decimals:
        changed = _beyond_scale(column, int(decimals.group(1)))
    elif kind == "integer" and pa.types.is_floating(column.type):
        changed = pc.not_equal(column, pc.floor(column))
    elif kind == "boolean" and (pa.types.is_integer(column.type)
                                or pa.types.is_floating(column.type)):
        changed = pc.and_(pc.not_equal(column, 0), pc.not_equal(column, 1))
    else:
        return None
    if changed is None:
        return None
    found = column.filter(changed)
    return found[0].as_py() if len(found) else None


def _beyond_scale(column: pa.ChunkedArray, scale: int) -> pa.ChunkedArray | None:
    """Where ``column`` has more than ``scale`` decimals (a float's last-digit noise aside);
    None when its type cannot have them."""
    if pa.types.is_decimal(column.type) and column.type.scale > scale:
        return pc.not_equal(column, pc.round(column, ndigits=scale))
    if pa.types.is_floating(column.type):
        off = pc.abs(pc.subtract(column, pc.round(column, ndigits=scale)))
        return pc.greater(off, pc.multiply(pc.abs(column), _FLOAT_NOISE))
    return None


def is_temporal(kind: pa.DataType) -> bool:
    return pa.types.is_date(kind) or pa.types.is_timestamp(kind) or pa.types.is_time(kind)


def as_text_columns(data: pa.Table) -> pa.Table:
    """``data`` with dates, times, timestamps and decimals as ISO/decimal text, the way SQLite
    stores them (it has no such types).

    Timestamps with a zone are written in UTC, ending in ``Z``: Arrow writes other zones with
    an offset such as ``+0530``, which SQLite's date functions do not read, and text in
    several zones would not sort by instant.
    """
    data = in_utc(data)
    for index, field in enumerate(data.schema):
        if is_temporal(field.type) or pa.types.is_decimal(field.type):
            data = data.set_column(index, field.name, data.column(index).cast(pa.string()))
    return data


def as_stored_text(value: Any) -> Any:
    """A parameter for SQLite: a date, time, datetime or Decimal as the text ``load()`` stores
    for it (:func:`as_text_columns`), so ``WHERE at = ?`` finds the rows a load wrote; any
    other value as it is."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.time)):
        return as_text_columns(pa.table({"v": pa.array([value])})).column(0)[0].as_py()
    return value


def in_utc(data: pa.Table) -> pa.Table:
    """``data`` with timestamps of any zone in UTC: written as text they end in ``Z``, which
    a column without zone takes as UTC time, not as the wall time of the data's zone."""
    for index, field in enumerate(data.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz:
            utc = pa.timestamp(field.type.unit, "UTC")
            data = data.set_column(index, field.name, data.column(index).cast(utc))
    return data


def python_columns(data: pa.Table, *, as_text: bool) -> list[list[Any]]:
    """One list of Python values per column, for a driver's ``executemany``.

    With ``as_text``, dates, times, timestamps and decimals become text (see
    :func:`as_text_columns`; Python's implicit sqlite3 adapters for them are deprecated).
    """
    columns = []
    for column in (as_text_columns(data) if as_text else data).columns:
        if _is_repetitive_text(column):
            columns.append(_repeated_strings(column))
        else:
            columns.append(column.to_pylist())
    return columns


def _is_repetitive_text(column: pa.ChunkedArray) -> bool:
    """Text whose first values repeat a lot (categories such as "Private" or "Husband")."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return False
    head = column.slice(0, 1024)
    return len(head) > 0 and pc.count_distinct(head).as_py() <= len(head) // 4


def _repeated_strings(column: pa.ChunkedArray) -> list[Any]:
    """``column.to_pylist()``, building each distinct string once: about twice as fast when
    values repeat, because making Python strings is most of the cost."""
    encoded = column.combine_chunks().dictionary_encode()
    distinct = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    indices = encoded.indices.fill_null(len(encoded.dictionary))  # nulls pick the None
    return distinct[indices.to_numpy()].tolist()


def _unfit_result(name: str, values: Sequence[Any], error: Exception) -> WarehouseError:
    """The error for a result column Arrow cannot build, naming what in it has no Arrow form
    and the cast that gives it one."""
    odd = next((v for v in values if isinstance(v, Decimal) and not v.is_finite()), None)
    if odd is not None:  # PostgreSQL's NUMERIC holds NaN and infinities; Arrow's decimals don't
        return WarehouseError(
            f"result column {name!r} holds the decimal {odd}, which Arrow's decimals cannot hold",
            hint=f"CAST {name!r} to double precision in the query, or filter those rows out",
        )
    kinds = {type(value) for value in values if value is not None}
    if len(kinds) == 1:  # one Python type Arrow has no type for (an IP address...)
        return WarehouseError(
            f"result column {name!r} holds {kinds.pop().__name__} values, which Arrow has no "
            f"type for: {error}",
            hint=f"CAST {name!r} to text in the query",
        )
    return WarehouseError(
        f"result column {name!r} holds values Arrow cannot put in one column: {error}",
        hint=f"CAST {name!r} to one type in the query",
    )


def rows_to_arrow(
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    types: Sequence[pa.DataType | None] | None = None,
) -> pa.Table:
    """A query result (column names and row tuples) as an Arrow table.

    ``types``: the type of each column as the database declared it (None where unknown),
    taken by a column without values (an empty result, only NULLs), whose type the values
    cannot tell.
    """
    rows = list(rows)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for name, values in zip(names, columns, strict=True):
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowException, OverflowError, TypeError) as error:
            raise _unfit_result(name, values, error) from error
    for index, declared in enumerate(types or ()):
        if declared is not None and pa.types.is_null(arrays[index].type):
            arrays[index] = arrays[index].cast(declared)
    return pa.Table.from_arrays(arrays, names=list(names))
