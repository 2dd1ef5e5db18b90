"""Statements and queries, the same on every backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from cauce.errors import WarehouseError
from cauce.warehouse import WarehouseBackend, connect


def _rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def test_execute_and_query_with_both_placeholder_styles(warehouse: WarehouseBackend) -> None:
    warehouse.execute("CREATE TABLE items (id INTEGER, label TEXT)")
    warehouse.execute("INSERT INTO items (id, label) VALUES (?, ?)", [1, "one"])
    warehouse.execute(
        "INSERT INTO items (id, label) VALUES (:id, :label)", {"id": 2, "label": "two"}
    )
    result = warehouse.query("SELECT id, label FROM items WHERE id >= ? ORDER BY id", (1,))
    assert isinstance(result, pa.Table)
    assert result.column_names == ["id", "label"]
    assert _rows(result) == [{"id": 1, "label": "one"}, {"id": 2, "label": "two"}]
    named = warehouse.query("SELECT label FROM items WHERE id = :id", {"id": 2})
    assert _rows(named) == [{"label": "two"}]


def test_placeholder_characters_inside_literals_are_data(warehouse: WarehouseBackend) -> None:
    result = warehouse.query("SELECT '50%' AS p, '?' AS q, ':x' AS r, ? AS v", [7])
    assert _rows(result) == [{"p": "50%", "q": "?", "r": ":x", "v": 7}]
    assert _rows(warehouse.query("SELECT '100%' AS p")) == [{"p": "100%"}]


def test_query_of_an_empty_result_keeps_the_column_names(warehouse: WarehouseBackend) -> None:
    warehouse.execute("CREATE TABLE empty_one (a INTEGER, b TEXT)")
    result = warehouse.query("SELECT a, b FROM empty_one")
    assert result.column_names == ["a", "b"]
    assert result.num_rows == 0


def test_quote_makes_awkward_names_usable(warehouse: WarehouseBackend) -> None:
    table, column = 'census "2024"', "education-num"
    warehouse.execute(f"CREATE TABLE {warehouse.quote(table)} ({warehouse.quote(column)} INTEGER)")
    warehouse.load(table, [{column: 13}])
    assert warehouse.columns(table) == [column]
    result = warehouse.query(f"SELECT {warehouse.quote(column)} FROM {warehouse.quote(table)}")
    assert result.column(0).to_pylist() == [13]


def test_quote_rejects_names_no_database_can_hold(warehouse: WarehouseBackend) -> None:
    for bad in ("", "a\x00b"):
        with pytest.raises(WarehouseError, match="invalid identifier name"):
            warehouse.quote(bad)


def test_long_names_round_trip_or_are_refused_never_cut(warehouse: WarehouseBackend) -> None:
    """PostgreSQL cuts names after 63 bytes: two long names with one start would be one table."""
    column = "ñ" * 40  # 40 characters, 80 bytes
    for table in ("t" * 70, "t" * 71):
        try:
            warehouse.load(table, [{column: len(table)}])
        except WarehouseError as refused:
            assert warehouse.dialect == "postgresql"
            assert "bytes long; PostgreSQL keeps 63" in str(refused)
            continue
        assert warehouse.columns(table) == [column]
        assert warehouse.query(f"SELECT * FROM {warehouse.quote(table)}").to_pylist() == [
            {column: len(table)}]
    if warehouse.dialect == "postgresql":
        assert not warehouse.table_exists("t" * 63), "nothing was written under a cut name"


def test_table_exists_and_columns_in_order(warehouse: WarehouseBackend) -> None:
    assert not warehouse.table_exists("people")
    warehouse.execute("CREATE TABLE people (zeta INTEGER, alpha TEXT, mid REAL)")
    assert warehouse.table_exists("people")
    assert warehouse.columns("people") == ["zeta", "alpha", "mid"]
    with pytest.raises(WarehouseError, match="no table 'nobody'"):
        warehouse.columns("nobody")


def test_executescript_runs_every_statement(warehouse: WarehouseBackend) -> None:
    warehouse.executescript(
        """
        CREATE TABLE a (x INTEGER);  -- the first; with a semicolon in a comment
        INSERT INTO a VALUES (1);
        INSERT INTO a VALUES (2);
        CREATE TABLE b (note TEXT);
        INSERT INTO b VALUES ('semi;colon');
        """
    )
    assert _rows(warehouse.query("SELECT count(*) AS n FROM a")) == [{"n": 2}]
    assert _rows(warehouse.query("SELECT note FROM b")) == [{"note": "semi;colon"}]


def test_executescript_is_all_or_nothing(warehouse: WarehouseBackend) -> None:
    with pytest.raises(WarehouseError):
        warehouse.executescript(
            "CREATE TABLE kept (x INTEGER); INSERT INTO kept VALUES (1);"
            "INSERT INTO nowhere VALUES (2)"
        )
    assert not warehouse.table_exists("kept")


def test_dialect_and_url_describe_the_backend(warehouse: WarehouseBackend) -> None:
    assert warehouse.dialect in ("sqlite", "duckdb", "postgresql")
    assert "://" in warehouse.url
    assert warehouse.url in repr(warehouse)


def test_sqlite_files_use_wal_and_wait_for_writers(tmp_path: Path) -> None:
    with connect(f"sqlite:///{tmp_path / 'w.db'}", lock_timeout=7) as warehouse:
        assert warehouse.query("PRAGMA journal_mode").column(0).to_pylist() == ["wal"]
        assert warehouse.query("PRAGMA busy_timeout").column(0).to_pylist() == [7000]
        # Durability is left at SQLite's default (FULL = 2), never weakened for speed.
        assert warehouse.query("PRAGMA synchronous").column(0).to_pylist() == [2]


def test_a_new_sqlite_file_is_first_written_without_wal(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    wal = tmp_path / "new.db-wal"
    rows = pa.table({"n": list(range(5000))})
    with connect(f"sqlite:///{path}") as warehouse:
        with warehouse.transaction() as tx:
            tx.load("numbers", rows)
            # The first write goes to the file itself under a rollback journal, not to a WAL
            # that closing the connection would copy into the file again.
            assert not wal.exists()
        assert warehouse.query("PRAGMA journal_mode").column(0).to_pylist() == ["wal"]
        with warehouse.transaction() as tx:
            tx.load("numbers", rows)
            assert wal.exists()
        assert warehouse.query("SELECT COUNT(*) AS n FROM numbers").column(0)[0].as_py() == 10000


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_execute_runs_statements_that_refuse_transactions(
    kind: str, make_url: Callable[[str], str]
) -> None:
    with connect(make_url(kind)) as warehouse:
        warehouse.load("t", [{"id": 1}])
        warehouse.execute("  -- tidy up\n VACUUM")
        assert warehouse.query("SELECT count(*) AS n FROM t").column(0).to_pylist() == [1]


def test_an_empty_or_all_null_result_keeps_its_columns_types(warehouse: WarehouseBackend) -> None:
    # PostgreSQL gave Arrow's null type for every column of an empty result: a frame built
    # from it could not be concatenated with one from a query that found rows.
    warehouse.load("typed", pa.table({
        "i": [1], "f": [1.5], "s": ["x"], "b": [True], "d": [dt.date(2020, 1, 1)],
        "n": pa.array([None], pa.int64()),
    }))
    empty = warehouse.query("SELECT * FROM typed WHERE i = 2")
    nulls = warehouse.query("SELECT n FROM typed")
    if warehouse.dialect == "sqlite":  # types follow stored values; without any, none is known
        assert set(empty.schema.types + nulls.schema.types) <= {pa.int64(), pa.null()}
        return
    assert empty.schema.types == [pa.int64(), pa.float64(), pa.string(), pa.bool_(),
                                  pa.date32(), pa.int64()]
    assert nulls.schema.types == [pa.int64()]


@pytest.mark.parametrize(
    ("sql", "message", "hint"),
    [
        ("SELECT CAST('NaN' AS NUMERIC) AS x", "holds the decimal NaN", "double precision"),
        ("SELECT 1.5 AS x UNION ALL SELECT 'Infinity'", "holds the decimal Infinity", "double"),
        ("SELECT CAST('10.0.0.1' AS INET) AS x", "holds IPv4Address values", "to text"),
    ],
)
def test_a_result_value_arrow_cannot_hold_is_named_with_the_cast_to_use(
    postgres_warehouse: WarehouseBackend, sql: str, message: str, hint: str
) -> None:
    # PostgreSQL's NUMERIC NaN failed as "Decimal precision out of range [1, 38]:
    # -2147483648", and every such column with the hint to cast it "to one type".
    with pytest.raises(WarehouseError, match=rf"result column 'x' {message}") as raised:
        postgres_warehouse.query(sql)
    assert hint in (raised.value.hint or "")


@pytest.mark.parametrize("value", ["infinity", "-infinity", "10000-01-01"])
def test_a_result_timestamp_beyond_year_9999_is_read_or_named_with_the_cast_to_use(
    warehouse: WarehouseBackend, value: str
) -> None:
    # PostgreSQL's 'infinity' (an open end in a history table) failed with "timestamp too
    # large (after year 10K)" and the hint to check the SQL and the table and column names.
    try:
        found = warehouse.query(f"SELECT CAST('{value}' AS TIMESTAMP) AS x")
    except WarehouseError as error:
        assert "\n" not in str(error) and "CAST" in (error.hint or "")
    else:
        assert found.num_rows == 1
