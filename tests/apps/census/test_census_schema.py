"""The DDL: quoted hyphenated names, integer types, CHECK lists, quarantine table, views."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest

from cauce import CauceError
from cauce.apps.census.schema import (
    AGE_BANDS,
    BREAKDOWNS,
    POSTGRES_NAME_BYTES,
    create_statements,
    rejected_table,
    view_name,
)


def ansi_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


ROW = (39, "State-gov", 77516, "Bachelors", 13, "Never-married", "Adm-clerical",
       "Not-in-family", "White", "Male", 2174, 0, 40, "United-States", "<=50K")


def row(line: int, **changes):
    names = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
             "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
             "hours-per-week", "native-country", "class"]
    values = dict(zip(names, ROW, strict=True)) | changes
    return (*values.values(), "Adult.data", line, False)


def insert_sql(table: str = "adult") -> str:
    return f'INSERT INTO "{table}" VALUES ({", ".join(["?"] * 18)})'


@pytest.fixture
def sqlite(description):
    connection = sqlite3.connect(":memory:")
    for statement in create_statements(description, "adult", "sqlite", ansi_quote):
        connection.execute(statement)
    return connection


def test_sqlite_table_has_the_description_columns_quoted(sqlite, description):
    columns = [r[1] for r in sqlite.execute('PRAGMA table_info("adult")')]
    assert columns == [*description.names, "_source", "_line", "_duplicate"]
    types = {r[1]: r[2] for r in sqlite.execute('PRAGMA table_info("adult")')}
    assert types["education-num"] == "INTEGER"
    assert types["native-country"] == "TEXT"
    rejected = [r[1] for r in sqlite.execute(f'PRAGMA table_info("{rejected_table("adult")}")')]
    assert rejected == ["_source", "_line", "raw", "reason"]


def test_sqlite_accepts_a_valid_row_and_nulls_for_unknowns(sqlite):
    sqlite.executemany(insert_sql(), [row(1), row(2, workclass=None, occupation=None)])
    assert sqlite.execute('SELECT COUNT(*) FROM "adult"').fetchone() == (2,)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"class": None}, "NOT NULL constraint failed"),
        ({"capital-gain": "A"}, "cannot store TEXT value in INTEGER column"),
        ({"age": 39.5}, "cannot store REAL value in INTEGER column"),
    ],
)
def test_sqlite_refuses_what_the_types_forbid(sqlite, changes, error):
    with pytest.raises(sqlite3.IntegrityError, match=error):
        sqlite.execute(insert_sql(), row(1, **changes))


def test_sqlite_leaves_the_listed_values_to_the_validator(sqlite):
    # No CHECK lists in SQLite (see docs/decisions.md): the validator alone keeps them out.
    sqlite.execute(insert_sql(), row(1, workclass="Freelance"))
    ddl = sqlite.execute("SELECT sql FROM sqlite_master WHERE name = 'adult'").fetchone()[0]
    assert ddl.count("CHECK") == 1  # only the 0/1 of the _duplicate flag


@pytest.mark.parametrize(
    "changes", [{"workclass": "Freelance"}, {"class": ">50K."}, {"race": "Martian"}]
)
def test_duckdb_refuses_values_the_description_does_not_list(description, changes):
    connection = duckdb.connect()
    for statement in create_statements(description, "adult", "duckdb", ansi_quote):
        connection.execute(statement)
    with pytest.raises(duckdb.ConstraintException, match="CHECK constraint"):
        connection.execute(insert_sql(), row(1, **changes))


def test_duckdb_stores_a_source_line_once(description):
    connection = duckdb.connect()
    for statement in create_statements(description, "adult", "duckdb", ansi_quote):
        connection.execute(statement)
    connection.execute(insert_sql(), row(7))
    with pytest.raises(duckdb.ConstraintException, match="primary key"):
        connection.execute(insert_sql(), row(7))


def test_sqlite_leaves_a_line_loaded_once_to_the_checkpoint(sqlite):
    # No key in SQLite (see docs/decisions.md): a rowid table, STRICT; the checkpoint moved in
    # each chunk's transaction is what keeps a record from being loaded twice.
    ddl = sqlite.execute("SELECT sql FROM sqlite_master WHERE name = 'adult'").fetchone()[0]
    assert "PRIMARY KEY" not in ddl
    assert ddl.rstrip().endswith("STRICT")


def test_statements_are_idempotent(sqlite, description):
    for statement in create_statements(description, "adult", "sqlite", ansi_quote):
        sqlite.execute(statement)


def test_views_give_the_income_share_per_group(sqlite):
    sqlite.executemany(insert_sql(), [
        row(1, age=24, sex="Female"),
        row(2, age=25, sex="Female", **{"class": ">50K"}),
        row(3, age=65, **{"hours-per-week": 60, "class": ">50K"}),
        row(4, age=None, sex="Male"),
    ])
    by_sex = dict(
        (r[0], r[1:]) for r in sqlite.execute(f'SELECT * FROM "{view_name("adult", "sex")}"')
    )
    assert by_sex == {"Female": (2, 1, 0.5), "Male": (2, 1, 0.5)}
    by_age = dict(
        (r[0], r[1:]) for r in sqlite.execute(f'SELECT * FROM "{view_name("adult", "age_band")}"')
    )
    assert by_age == {None: (1, 0, 0.0), "<25": (1, 0, 0.0), "25-34": (1, 1, 1.0),
                      "65+": (1, 1, 1.0)}
    hours = dict(sqlite.execute('SELECT hours_band, "rows" FROM "adult_income_by_hours_band"'))
    assert hours == {"40": 3, "60+": 1}


def test_one_view_per_breakdown(sqlite):
    views = {r[0] for r in sqlite.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert views == {view_name("adult", b.name) for b in BREAKDOWNS}
    assert [band.label for band in AGE_BANDS][-1] == "65+"


def test_duckdb_enforces_the_same_schema(description):
    connection = duckdb.connect()
    for statement in create_statements(description, "adult", "duckdb", ansi_quote):
        connection.execute(statement)
    connection.executemany(insert_sql(), [row(1), row(2, **{"class": ">50K"})])
    share = connection.sql('SELECT share_over_50k FROM "adult_income_by_race"').fetchall()
    assert share == [(0.5,)]
    with pytest.raises(duckdb.ConstraintException, match="CHECK constraint"):
        connection.execute(insert_sql(), row(3, race="Martian"))
    [(comment,)] = connection.sql(
        "SELECT comment FROM duckdb_columns() WHERE column_name = 'fnlwgt'"
    ).fetchall()
    assert comment.startswith("Final weight")


def test_postgresql_enforces_the_same_schema(description, postgres):
    psycopg = pytest.importorskip("psycopg")
    postgres = postgres.connection
    for _ in range(2):  # idempotent
        for statement in create_statements(description, "adult", "postgresql", ansi_quote):
            postgres.execute(statement)
    insert = insert_sql().replace("?", "%s")
    with postgres.cursor() as cursor:
        cursor.executemany(insert, [row(1), row(2, **{"class": ">50K"})])
    share = postgres.execute('SELECT share_over_50k FROM "adult_income_by_education"').fetchall()
    assert share == [(0.5,)]
    with pytest.raises(psycopg.errors.CheckViolation):
        postgres.execute(insert, row(3, **{"native-country": "Atlantis"}))
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        postgres.execute(insert, row(4, age="B"))
    comment = postgres.execute(
        "SELECT col_description('adult'::regclass, 3)"
    ).fetchone()
    assert comment[0].startswith("Final weight")


def test_an_unsupported_dialect_says_which_urls_work(description):
    with pytest.raises(CauceError, match="'mysql' database") as raised:
        create_statements(description, "adult", "mysql", ansi_quote)
    assert "sqlite:///" in raised.value.hint


def test_an_empty_table_name_is_refused_with_a_hint(description):
    with pytest.raises(CauceError, match="the table name is empty") as raised:
        create_statements(description, "", "sqlite", ansi_quote)
    assert "--table" in raised.value.hint


def test_a_table_name_postgresql_would_cut_is_refused_there_only(description):
    longest = max(len(f"_income_by_{b.name}") for b in BREAKDOWNS)
    fits = "t" * (POSTGRES_NAME_BYTES - longest)
    assert create_statements(description, fits, "postgresql", ansi_quote)
    with pytest.raises(CauceError, match="too long for PostgreSQL") as raised:
        create_statements(description, fits + "t", "postgresql", ansi_quote)
    assert raised.value.hint == f"pass a --table of at most {len(fits)} bytes"
    assert create_statements(description, fits + "t", "duckdb", ansi_quote)
