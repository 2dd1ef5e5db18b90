"""Loads: Arrow, Polars, pandas and lists of dicts, matched to the table by column name."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from cauce.errors import WarehouseError
from cauce.warehouse import WarehouseBackend
from cauce.warehouse.sqlalchemy import SQLAlchemyBackend


def _people() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "name": ["ana", "", None], "score": [1.5, None, -2.0]})


def _sorted(warehouse: WarehouseBackend, table: str, columns: str = "*") -> list[dict]:
    return warehouse.query(
        f"SELECT {columns} FROM {warehouse.quote(table)} ORDER BY id"
    ).to_pylist()


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t,
        lambda t: t.to_batches()[0],
        lambda t: pl.from_arrow(t),
        lambda t: t.to_pandas(),
        lambda t: t.to_pylist(),
    ],
    ids=["arrow-table", "record-batch", "polars", "pandas", "dicts"],
)
def test_every_kind_of_data_loads(warehouse: WarehouseBackend, make) -> None:
    assert warehouse.load("people", make(_people())) == 3
    rows = _sorted(warehouse, "people")
    assert [row["id"] for row in rows] == [1, 2, 3]
    # An empty string and a NULL stay different through every backend's load path.
    assert [row["name"] for row in rows] == ["ana", "", None]
    assert [row["score"] for row in rows] == [1.5, None, -2.0]


def test_columns_are_matched_by_name_and_missing_ones_get_null(
    warehouse: WarehouseBackend,
) -> None:
    warehouse.execute("CREATE TABLE people (id INTEGER, name TEXT, city TEXT DEFAULT 'x')")
    warehouse.load("people", pa.table({"name": ["ana"], "id": [1]}))
    warehouse.load("people", [{"city": "Talca", "id": 2}])
    assert _sorted(warehouse, "people") == [
        {"id": 1, "name": "ana", "city": "x"},
        {"id": 2, "name": None, "city": "Talca"},
    ]


def test_a_column_the_table_lacks_is_an_error_naming_it(warehouse: WarehouseBackend) -> None:
    warehouse.load("people", _people())
    with pytest.raises(WarehouseError, match="table 'people' has no column 'age'") as raised:
        warehouse.load("people", [{"id": 9, "age": 40}])
    assert "id, name, score" in (raised.value.hint or "")
    assert len(_sorted(warehouse, "people")) == 3


def test_names_that_differ_beyond_ascii_case_are_other_names(warehouse: WarehouseBackend) -> None:
    # SQLite and DuckDB fold only A-Z: "é" and "É" are two columns and two tables there too
    warehouse.load("people", [{"id": 1, "é": 1}])
    with pytest.raises(WarehouseError, match="table 'people' has no column 'É'"):
        warehouse.load("people", [{"id": 2, "É": 2}])
    warehouse.load("é", [{"id": 1}])
    assert not warehouse.table_exists("É")
    assert warehouse.load("É", [{"id": 2}]) == 1
    assert warehouse.columns("É") == ["id"]
    for table, rows in (("é", [{"id": 1}]), ("É", [{"id": 2}])):
        assert _sorted(warehouse, table) == rows


def test_a_failed_insert_says_why(warehouse: WarehouseBackend) -> None:
    if warehouse.dialect == "sqlite":
        pytest.skip("SQLite keeps text in an INTEGER column: nothing fails")
    warehouse.load("people", [{"id": 1}])
    with pytest.raises(WarehouseError) as raised:
        warehouse.load("people", [{"id": "not a number"}])
    assert "transaction is aborted" not in str(raised.value)
    assert "not a number" in str(raised.value) or "integer" in str(raised.value).lower()


def test_rows_of_dicts_with_different_keys_union_their_columns(
    warehouse: WarehouseBackend,
) -> None:
    warehouse.load("mixed", [{"id": 1, "a": "x"}, {"id": 2, "b": 5}])
    assert warehouse.columns("mixed") == ["id", "a", "b"]
    assert _sorted(warehouse, "mixed") == [
        {"id": 1, "a": "x", "b": None},
        {"id": 2, "a": None, "b": 5},
    ]


def test_values_of_many_types_round_trip(warehouse: WarehouseBackend) -> None:
    moment = dt.datetime(2021, 4, 22, 13, 5, 7, 250000, tzinfo=dt.UTC)
    data = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "small": pa.array([7, None], pa.int16()),
            "ratio": pa.array([0.25, None], pa.float64()),
            "flag": pa.array([True, None]),
            "day": pa.array([dt.date(2021, 4, 22), None]),
            "at": pa.array([moment, None], pa.timestamp("us", tz="UTC")),
            "amount": pa.array([Decimal("1234.56"), None], pa.decimal128(10, 2)),
            "text": pa.array(["ñandú ' \" \n ; % ? :x", None]),
        }
    )
    warehouse.load("typed", data)
    first, second = _sorted(warehouse, "typed")
    assert all(value is None for key, value in second.items() if key != "id")
    assert first["small"] == 7
    assert first["ratio"] == 0.25
    assert bool(first["flag"]) is True
    assert str(first["day"]).startswith("2021-04-22")
    assert Decimal(str(first["amount"])) == Decimal("1234.56")
    assert first["text"] == "ñandú ' \" \n ; % ? :x"
    at = first["at"]
    if isinstance(at, str):  # SQLite keeps timestamps as ISO text
        at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    assert at == moment


def test_polars_categoricals_and_string_views_load_as_text(warehouse: WarehouseBackend) -> None:
    frame = pl.DataFrame(
        {"id": [1, 2], "kind": pl.Series(["a", "b"], dtype=pl.Categorical), "s": ["x", "y"]}
    )
    warehouse.load("cats", frame)
    warehouse.load("cats", pl.DataFrame({"id": [3], "kind": ["c"], "s": ["z"]}))
    assert [row["kind"] for row in _sorted(warehouse, "cats")] == ["a", "b", "c"]


def test_arrow_string_and_binary_views_load_as_they_read(warehouse: WarehouseBackend) -> None:
    """Views (Polars' own layout) load into a new table and an existing one, sliced, with
    nulls and values long enough to live outside the view; SQLite binds them as they are."""
    texts = ["short", None, "a value longer than twelve bytes", "", "ñandú ∑ long enough too"]
    blobs = [b"x", None, b"y" * 40, b"", b"z"]
    data = pa.table({
        "id": pa.array(range(10), pa.int64()),
        "s": pa.array(texts * 2, pa.string_view()),
        "b": pa.array(blobs * 2, pa.binary_view()),
    }).slice(1, 8)
    warehouse.load("views", data.slice(0, 3))
    warehouse.load("views", data.slice(3))
    rows = _sorted(warehouse, "views")
    assert [row["s"] for row in rows] == (texts * 2)[1:9]
    assert [None if row["b"] is None else bytes(row["b"]) for row in rows] == (blobs * 2)[1:9]


def test_empty_inputs(warehouse: WarehouseBackend) -> None:
    assert warehouse.load("nothing", []) == 0
    assert not warehouse.table_exists("nothing")
    empty = pa.table({"id": pa.array([], pa.int64()), "name": pa.array([], pa.string())})
    assert warehouse.load("shaped", empty) == 0
    assert warehouse.columns("shaped") == ["id", "name"]


def test_a_larger_load_keeps_every_row(warehouse: WarehouseBackend) -> None:
    count = 20_000
    data = pa.table(
        {
            "id": pa.array(range(count), pa.int64()),
            "name": pa.array([f"row {i}" if i % 7 else None for i in range(count)]),
        }
    )
    assert warehouse.load("big", data) == count
    summary = warehouse.query(
        "SELECT count(*) AS n, count(DISTINCT id) AS ids, count(name) AS names, sum(id) AS total "
        "FROM big"
    ).to_pylist()[0]
    assert summary == {
        "n": count,
        "ids": count,
        "names": count - len(range(0, count, 7)),
        "total": count * (count - 1) // 2,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("a string", "cannot load str"),
        ({"id": [1]}, "cannot load dict"),
        ([{"id": 1}, ["not", "a", "dict"]], "row 1 for 'bad' is a list"),
        ([{"id": 1}, {"id": "two"}], "column 'id' for 'bad' mixes values"),
        ([{}, {}], "have no columns"),
        ([{1: "x"}], "non-string key"),
        (pa.table({"a": [1], "b": [2]}).rename_columns(["a", "a"]), "duplicate columns: a"),
    ],
)
def test_bad_data_is_refused_before_anything_is_written(
    warehouse: WarehouseBackend, data: object, message: str
) -> None:
    with pytest.raises(WarehouseError, match=message):
        warehouse.load("bad", data)
    assert not warehouse.table_exists("bad")


def test_nested_columns_are_refused_where_they_cannot_be_stored(
    warehouse: WarehouseBackend,
) -> None:
    data = pa.table({"id": [1], "tags": [["a", "b"]]})
    if warehouse.dialect == "duckdb":
        warehouse.load("nested", data)
        assert _sorted(warehouse, "nested") == [{"id": 1, "tags": ["a", "b"]}]
    else:
        with pytest.raises(WarehouseError, match="column 'tags' has Arrow type list"):
            warehouse.load("nested", data)


def test_pandas_frames_load_without_their_index(warehouse: WarehouseBackend) -> None:
    frame = pd.DataFrame({"id": [1, 2]}, index=[10, 20])
    warehouse.load("indexed", frame)
    assert warehouse.columns("indexed") == ["id"]


@pytest.mark.parametrize(
    "values",
    [
        ["Private", None, "State-gov", "Private", ""] * 400,
        [f"unique {i}" for i in range(2000)],
        [None] * 50,
    ],
    ids=["repetitive", "unique", "all-null"],
)
def test_text_columns_convert_exactly_either_way(values: list[str | None]) -> None:
    from cauce.warehouse.arrowdata import python_columns

    table = pa.table(
        {
            "text": pa.chunked_array(
                [values[: len(values) // 2], values[len(values) // 2 :]], pa.string()
            )
        }
    )
    assert python_columns(table, as_text=True) == [values]


def test_timestamps_in_any_zone_keep_their_instant_and_order(warehouse: WarehouseBackend) -> None:
    # 10:00 in Kolkata is before 01:00 in New York: SQLite stored the local times with offsets
    # such as +0530, which its own date functions do not read and which sort as text wrongly.
    early = dt.datetime(2021, 4, 22, 4, 30, tzinfo=dt.UTC)
    late = dt.datetime(2021, 4, 22, 5, 0, tzinfo=dt.UTC)
    for moment, zone in ((early, "Asia/Kolkata"), (late, "America/New_York")):
        warehouse.load("moments", pa.table({"seen": pa.array([moment], pa.timestamp("us", zone))}))
    found = warehouse.query("SELECT seen FROM moments ORDER BY seen").column("seen").to_pylist()
    if warehouse.dialect == "sqlite":  # ISO text in UTC, which SQLite's functions read
        utc = warehouse.query("SELECT datetime(seen) AS utc FROM moments ORDER BY seen")
        assert utc.column("utc").to_pylist() == ["2021-04-22 04:30:00", "2021-04-22 05:00:00"]
        found = [dt.datetime.fromisoformat(text) for text in found]
    assert found == [early, late]


def test_text_with_a_nul_character_round_trips_or_is_refused_by_column(
    warehouse: WarehouseBackend,
) -> None:
    # PostgreSQL text cannot hold NUL; its COPY said only "invalid byte sequence for encoding
    # UTF8: 0x00", naming neither the column nor the cause.
    data = pa.table({"id": [1, 2], "note": ["fine", "a\x00b"]})
    if warehouse.dialect != "postgresql":
        warehouse.load("notes", data)
        assert warehouse.query("SELECT note FROM notes ORDER BY id").column(0).to_pylist() == [
            "fine", "a\x00b"]
        return
    with pytest.raises(WarehouseError, match=r"column 'note' .*NUL") as raised:
        warehouse.load("notes", data)
    assert "replace" in raised.value.hint
    assert not warehouse.table_exists("notes")


def test_a_column_of_nulls_makes_a_text_column_later_loads_can_fill(
    warehouse: WarehouseBackend,
) -> None:
    # DuckDB made a column of its NULL type from Arrow's null type, and refused every later
    # value with "Unimplemented type for cast (BIGINT -> "NULL")".
    warehouse.load("sparse", pa.table({"id": [1], "note": pa.array([None], pa.null())}))
    warehouse.load("sparse", pa.table({"id": [2], "note": ["later"]}))
    rows = warehouse.query("SELECT note FROM sparse ORDER BY id").column(0).to_pylist()
    assert rows == [None, "later"]


@pytest.mark.parametrize(
    ("values", "arrow_type"),
    [
        ([1.5, None], pa.float16()),
        ([Decimal("1.25"), None], pa.decimal256(20, 2)),
    ],
    ids=["float16", "decimal256"],
)
def test_arrow_types_duckdb_cannot_scan_load_as_their_kin(
    warehouse: WarehouseBackend, values: list[object], arrow_type: pa.DataType
) -> None:
    # DuckDB's Arrow scan refused them: "Unsupported Internal Arrow Type".
    warehouse.load("kin", pa.table({"id": [1, 2], "v": pa.array(values, arrow_type)}))
    found = warehouse.query("SELECT v FROM kin ORDER BY id").column(0).to_pylist()
    assert [None if v is None else Decimal(str(v)) for v in found] == [
        None if v is None else Decimal(str(v)) for v in values]


def test_decimals_wider_than_duckdb_keeps_are_refused_by_column() -> None:
    from cauce.warehouse import connect

    wide = pa.table({"big": pa.array([Decimal("1" * 50)], pa.decimal256(60, 0))})
    with connect("duckdb:///:memory:") as warehouse, pytest.raises(
        WarehouseError, match=r"column 'big' .*precision 60.*38"
    ):
        warehouse.load("wide", wide)


@pytest.mark.parametrize(
    ("column", "value", "arrow_type"),
    [("n", 1.7, pa.float64()), ("n", 1.5, pa.float16()), ("flag", 7, pa.int64())],
    ids=["fraction into integer", "half float into integer", "7 into bool"],
)
def test_a_value_an_existing_column_would_change_is_refused_or_kept(
    warehouse: WarehouseBackend, column: str, value: object, arrow_type: pa.DataType
) -> None:
    # DuckDB cast 1.7 to 2 and 7 to true on the way into the table, without a word.
    warehouse.execute("CREATE TABLE exact (id INTEGER, n BIGINT, flag BOOLEAN)")
    try:
        warehouse.load("exact", pa.table({"id": [1], column: pa.array([value], arrow_type)}))
    except WarehouseError as error:
        assert re.search(rf"\b{column}\b", str(error)) and str(value) in str(error)
        assert warehouse.query("SELECT * FROM exact").num_rows == 0
    else:  # SQLite keeps any value in any column
        assert warehouse.query(f"SELECT {column} FROM exact").column(0).to_pylist() == [value]


def test_a_zoned_timestamp_in_a_column_without_zone_keeps_its_utc_time(
    warehouse: WarehouseBackend,
) -> None:
    # PostgreSQL's COPY kept the wall time of the data's zone (09:00 for Tokyo) where DuckDB
    # kept the UTC time: one instant, two rows.
    warehouse.execute("CREATE TABLE wall (seen TIMESTAMP)")
    moment = dt.datetime(2021, 4, 22, 0, 0, tzinfo=dt.UTC)
    warehouse.load("wall", pa.table({"seen": pa.array([moment], pa.timestamp("us", "Asia/Tokyo"))}))
    seen = warehouse.query("SELECT seen FROM wall").column(0)[0].as_py()
    if isinstance(seen, str):  # SQLite keeps the ISO text
        seen = dt.datetime.fromisoformat(seen)
    assert seen.replace(tzinfo=None) == dt.datetime(2021, 4, 22, 0, 0)


def test_a_timestamp_without_zone_in_a_zoned_column_is_refused_by_column(
    warehouse: WarehouseBackend,
) -> None:
    # DuckDB read 00:00 as the process's local time and PostgreSQL as the session's zone: one
    # row, as many instants as machines, without a word.
    warehouse.execute("CREATE TABLE zoned (id INTEGER, seen TIMESTAMP WITH TIME ZONE)")
    naive = pa.table({"id": [1], "seen": pa.array([dt.datetime(2021, 4, 22)], pa.timestamp("us"))})
    if warehouse.dialect == "sqlite":  # no zoned type: the text is kept as given
        assert warehouse.load("zoned", naive) == 1
        return
    with pytest.raises(WarehouseError, match=r"column 'seen' of 'zoned' .* time zone") as raised:
        warehouse.load("zoned", naive)
    assert "replace_time_zone" in (raised.value.hint or "")
    assert warehouse.query("SELECT * FROM zoned").num_rows == 0
    aware = naive.set_column(1, "seen", naive.column(1).cast(pa.timestamp("us", "UTC")))
    assert warehouse.load("zoned", aware) == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda values: [{"id": n, "big": value} for n, value in enumerate(values)],
        lambda values: pl.DataFrame(
            {"id": range(len(values)), "big": pl.Series(values, dtype=pl.Int128)}
        ),
    ],
    ids=["python ints", "polars Int128"],
)
def test_integers_beyond_64_bits_load_as_38_digit_decimals(
    warehouse: WarehouseBackend, make: object
) -> None:
    # Python's wide ints were refused as "mixing values", Polars' Int128 with "Invalid or
    # unsupported format string: '_pli128'".
    values = [2**70, -5, None]
    warehouse.load("wide", make(values))  # type: ignore[operator]
    found = warehouse.query("SELECT big FROM wide ORDER BY id").column(0).to_pylist()
    assert [None if v is None else int(v) for v in found] == values


def test_integers_beyond_38_digits_are_refused_by_column(warehouse: WarehouseBackend) -> None:
    with pytest.raises(WarehouseError, match=r"column 'big' .*38 digits"):
        warehouse.load("wider", [{"big": 10**40}])
    assert not warehouse.table_exists("wider")


def test_unsigned_integers_beyond_int64_round_trip_or_are_refused_by_column(
    warehouse: WarehouseBackend,
) -> None:
    # SQLite said "Column 0 has unsigned integer value 18446744073709551615out of range of
    # int64_t"; through SQLAlchemy an OverflowError escaped.
    data = pa.table({"id": [1, 2], "n": pa.array([1, 2**64 - 1], pa.uint64())})
    try:
        warehouse.load("unsigned", data)
    except WarehouseError as error:
        assert "column 'n'" in str(error) and "18446744073709551615" in str(error)
        assert not warehouse.table_exists("unsigned")
    else:
        found = warehouse.query("SELECT n FROM unsigned ORDER BY id").column(0).to_pylist()
        assert [int(v) for v in found] == [1, 2**64 - 1]


def test_a_parameter_beyond_int64_round_trips_or_is_refused(warehouse: WarehouseBackend) -> None:
    try:
        found = warehouse.query("SELECT ? AS n", [2**64]).column(0).to_pylist()
    except WarehouseError as error:
        assert "\n" not in str(error) and error.hint
    else:
        assert [int(v) for v in found] == [2**64]


@pytest.mark.parametrize(
    ("table", "column"),
    [("50% off", "rate%"), ("%(x)s", "%s"), ('we"ird.tab le', "Sé lect"), ("select", "from")],
)
def test_hostile_names_keep_their_spelling(
    warehouse: WarehouseBackend, table: str, column: str
) -> None:
    # Through SQLAlchemy on PostgreSQL, a % in a name was doubled in the table it created
    # ("rate%%"), and a load into a table with % in its name was refused.
    warehouse.load(table, pa.table({column: [1]}))
    warehouse.load(table, pa.table({column: [2]}))
    assert warehouse.columns(table) == [column]
    quoted = warehouse.quote(column)
    found = warehouse.query(f"SELECT {quoted} FROM {warehouse.quote(table)} ORDER BY {quoted}")
    assert found.column_names == [column] and found.column(0).to_pylist() == [1, 2]


def test_columns_differing_only_in_case_load_where_names_are_exact(
    warehouse: WarehouseBackend,
) -> None:
    data = pa.table({"Total": [1], "total": [2]})
    if warehouse.case_sensitive_names:
        warehouse.load("cased", data)
        assert warehouse.query("SELECT * FROM cased").to_pylist() == [{"Total": 1, "total": 2}]
        return
    with pytest.raises(WarehouseError, match=r"'Total' and 'total'.* one name"):
        warehouse.load("cased", data)
    assert not warehouse.table_exists("cased")


def test_a_pandas_column_mixing_types_is_named_in_plain_words(
    warehouse: WarehouseBackend,
) -> None:
    # The message was the repr of pyarrow's argument tuple: ("Could not convert ...", '...').
    with pytest.raises(WarehouseError) as raised:
        warehouse.load("mixed", pd.DataFrame({"a": [1, "x"]}))
    message = str(raised.value)
    assert "column a" in message and "('" not in message and "give the column" in raised.value.hint


def test_nan_round_trips_or_is_refused_by_column(warehouse: WarehouseBackend) -> None:
    # SQLite stored NaN as NULL without a word: a value became a missing value.
    values = [float("nan"), float("inf"), float("-inf"), None, 1e-310]
    data = pa.table({"id": [1, 2, 3, 4, 5], "f": values})
    try:
        warehouse.load("floats", data)
    except WarehouseError as error:
        assert "column 'f'" in str(error) and "NaN" in str(error) and "\n" not in str(error)
        assert "fill_nan" in (error.hint or "")
        assert not warehouse.table_exists("floats")
        assert warehouse.load("floats", data.slice(1)) == 4  # infinities are kept
    else:
        found = warehouse.query("SELECT f FROM floats ORDER BY id").column(0).to_pylist()
        assert found[0] != found[0] and found[1:] == values[1:]


@pytest.mark.parametrize("aware_first", [True, False])
@pytest.mark.parametrize(
    "make",
    [lambda rows: rows, lambda rows: pd.DataFrame(rows, dtype=object)],
    ids=["dicts", "pandas"],
)
def test_rows_mixing_datetimes_with_and_without_a_zone_are_refused_by_column(
    warehouse: WarehouseBackend, aware_first: bool, make
) -> None:
    # Arrow took the first value's kind: a naive time after an aware one was read as UTC, and
    # an aware one after a naive one lost its zone, 00:00 at +05:00 stored as 19:00.
    aware = dt.datetime(2021, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    naive = dt.datetime(2021, 1, 1)
    rows = [{"at": aware}, {"at": None}, {"at": naive}]
    with pytest.raises(WarehouseError, match=r"column 'at' for 'times' mixes datetimes with and"):
        warehouse.load("times", make(rows if aware_first else rows[::-1]))
    assert not warehouse.table_exists("times")


def test_a_table_wider_than_the_database_allows_is_refused_with_a_fitting_hint(
    warehouse: WarehouseBackend,
) -> None:
    # SQLite ("too many columns") and PostgreSQL ("at most 1600 columns") were answered with
    # the hint to check the SQL and the table and column names.
    wide = pa.table({f"c{i}": [i] for i in range(2001)})
    try:
        warehouse.load("wide", wide)
    except WarehouseError as error:
        assert "columns" in str(error) and "split" in (error.hint or "")
        assert not warehouse.table_exists("wide")
    else:
        assert len(warehouse.columns("wide")) == 2001


def test_a_pandas_frames_named_index_is_loaded_as_columns(warehouse: WarehouseBackend) -> None:
    # The index was dropped without a word: after set_index("id") the ids were gone.
    frame = _people().to_pandas().set_index("id")
    assert warehouse.load("people", frame) == 3
    assert [row["id"] for row in _sorted(warehouse, "people")] == [1, 2, 3]
    levels = pd.MultiIndex.from_tuples([(7, "a"), (8, "b")], names=["batch", None])
    warehouse.load("levels", pd.DataFrame({"id": [1, 2]}, index=levels))
    assert warehouse.columns("levels") == ["batch", "id"]  # an unnamed level is a position
    with pytest.raises(WarehouseError, match="duplicate columns: id"):
        warehouse.load("people", frame.assign(id=[4, 5, 6]))


def test_a_polars_object_column_is_refused_by_name(warehouse: WarehouseBackend) -> None:
    # Polars handed its Python objects over as their memory addresses, stored as 8-byte blobs.
    frame = pl.DataFrame(
        {"id": [1], "thing": [object()]}, schema={"id": pl.Int64, "thing": pl.Object}
    )
    with pytest.raises(WarehouseError, match=r"column 'thing' for 'things' holds Python objects"):
        warehouse.load("things", frame)
    assert not warehouse.table_exists("things")


@pytest.mark.parametrize(
    ("value", "arrow_type", "refused"),
    [
        (Decimal("1.239"), pa.decimal128(10, 3), True),
        (1.239, pa.float64(), True),
        (Decimal("1.230"), pa.decimal128(10, 3), False),
        (0.1 + 0.2, pa.float64(), False),  # float noise, not a third decimal
    ],
    ids=["decimal", "float", "decimal-fits", "float-noise"],
)
def test_more_decimals_than_an_existing_numeric_column_keeps_are_refused(
    warehouse: WarehouseBackend, value: object, arrow_type: pa.DataType, refused: bool
) -> None:
    # DuckDB and PostgreSQL rounded 1.239 into NUMERIC(10, 2) as 1.24 without a word.
    warehouse.execute("CREATE TABLE money (id INTEGER, amount NUMERIC(10, 2))")
    data = pa.table({"id": [1], "amount": pa.array([value], arrow_type)})
    if warehouse.dialect == "sqlite" or not refused:  # SQLite keeps any value as given
        assert warehouse.load("money", data) == 1
        return
    with pytest.raises(WarehouseError, match=r"column 'amount' of 'money' is decimal\(10, 2\)"):
        warehouse.load("money", data)
    assert warehouse.query("SELECT * FROM money").num_rows == 0


def test_text_longer_than_its_column_allows_is_kept_or_refused_with_a_fitting_hint(
    warehouse: WarehouseBackend,
) -> None:
    # PostgreSQL's "value too long for type character varying(3)" came with the hint to check
    # the SQL and the table and column names.
    warehouse.execute("CREATE TABLE codes (code VARCHAR(3))")
    try:
        warehouse.load("codes", pa.table({"code": ["abcdef"]}))
    except WarehouseError as error:
        assert "does not fit" in (error.hint or "")
    else:  # DuckDB and SQLite take VARCHAR(n) as text of any length
        assert warehouse.query("SELECT code FROM codes").column(0).to_pylist() == ["abcdef"]


@pytest.mark.parametrize("name", ["", "a\x00b"])
def test_a_column_name_no_database_holds_is_refused_as_a_column_name(
    warehouse: WarehouseBackend, name: str
) -> None:
    # The error said "invalid identifier name ''", its hint "a identifier name is ...".
    with pytest.raises(WarehouseError, match=r"invalid column name .* for 'odd'") as raised:
        warehouse.load("odd", pa.table({"id": [1], name: [2]}))
    assert "rename" in (raised.value.hint or "")
    assert not warehouse.table_exists("odd")


def test_a_decimal_wider_than_arrow_holds_is_named_as_such(warehouse: WarehouseBackend) -> None:
    # The error said the column "mixes values Arrow cannot put in one column", of one Decimal.
    with pytest.raises(WarehouseError, match=r"column 'd' for 'huge' needs decimals of 401 "):
        warehouse.load("huge", [{"d": Decimal("1e400")}, {"d": None}])
    # each fits alone, not both in one type: 51 integer digits and 30 decimals
    with pytest.raises(WarehouseError, match=r"column 'd' for 'huge' needs decimals of 81 "):
        warehouse.load("huge", [{"d": Decimal("1e50")}, {"d": Decimal("1e-30")}])


def test_dates_before_year_1_load_on_every_backend(warehouse: WarehouseBackend) -> None:
    # PostgreSQL's COPY read Arrow's "-0768-02-04" as a time zone: "time zone displacement out
    # of range"; it writes years before 1 as "0769-02-04 BC".
    days = pa.array([-1_000_000, -719_163, 0], pa.date32())  # 769 BC, 1 BC (year 0), 1970
    stamps = days.cast(pa.timestamp("us")).cast(pa.timestamp("us", "UTC"))
    data = pa.table({"id": [1, 2, 3], "day": days, "seen": stamps})
    if isinstance(warehouse, SQLAlchemyBackend) and warehouse.dialect != "sqlite":
        # drivers bind Python dates, and Python has none before year 1
        with pytest.raises(WarehouseError, match="out of range"):
            warehouse.load("ancient", data)
        return
    assert warehouse.load("ancient", data) == 3
    for column in ("day", "seen"):
        found = warehouse.query(f"SELECT id FROM ancient ORDER BY {column}, id")
        assert found.column(0).to_pylist() == [1, 2, 3]
    if warehouse.dialect == "postgresql":
        text = warehouse.query("SELECT CAST(day AS TEXT) AS d FROM ancient ORDER BY id")
        assert text.column(0).to_pylist() == ["0769-02-04 BC", "0001-12-31 BC", "1970-01-01"]
