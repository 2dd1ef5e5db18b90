"""SQL for the census tables and views, per dialect (SQLite, PostgreSQL, DuckDB).

Everything is derived from the parsed Description: continuous attributes are INTEGER columns,
nominal attributes are TEXT, and the class column is NOT NULL. In PostgreSQL and DuckDB each
nominal column also has a CHECK constraint listing its values, and (`_source`, `_line`) is the
primary key; in SQLite the validator is the only guard of the listed values and the checkpoint
the only guard against a record loaded twice, because there the CHECKs made the insert a third
slower and the key a quarter slower (docs/decisions.md), while STRICT types and NOT NULL stay.
Every identifier goes through the warehouse's own quoting, so the hyphenated names
(`education-num`, `hours-per-week`, ...) are kept exactly as the Description gives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cauce import CauceError
from cauce.apps.census.description import Column, Description

DIALECTS = ("sqlite", "postgresql", "duckdb")
#: PostgreSQL cuts longer identifiers, so two names made from one table name could become one
POSTGRES_NAME_BYTES = 63

SOURCE, LINE, DUPLICATE = "_source", "_line", "_duplicate"
RAW, REASON = "raw", "reason"

Quote = Callable[[str], str]


@dataclass(frozen=True)
class Band:
    """A labelled range of an integer column: every value up to `high`, after the band before."""

    label: str
    high: int | None  # None: no upper bound (the last band)


AGE_BANDS = (
    Band("<25", 24),
    Band("25-34", 34),
    Band("35-44", 44),
    Band("45-54", 54),
    Band("55-64", 64),
    Band("65+", None),
)
HOURS_BANDS = (
    Band("<35", 34),
    Band("35-39", 39),
    Band("40", 40),
    Band("41-49", 49),
    Band("50-59", 59),
    Band("60+", None),
)


@dataclass(frozen=True)
class Breakdown:
    """One income-share view: rows grouped by a column's values, or by bands of it."""

    name: str  # view suffix and name of the group column
    column: str  # the data column grouped
    bands: tuple[Band, ...] = ()


BREAKDOWNS = (
    Breakdown("education", "education"),
    Breakdown("occupation", "occupation"),
    Breakdown("sex", "sex"),
    Breakdown("race", "race"),
    Breakdown("age_band", "age", AGE_BANDS),
    Breakdown("hours_band", "hours-per-week", HOURS_BANDS),
)


def rejected_table(table: str) -> str:
    """Name of the quarantine table that goes with `table`."""
    return f"{table}_rejected"


def view_name(table: str, breakdown: str) -> str:
    """Name of the income-share view of one breakdown (`adult_income_by_education`, ...)."""
    return f"{table}_income_by_{breakdown}"


def high_income_label(description: Description) -> str:
    """The label whose share the views measure: the first of the Class Distribution (>50K)."""
    return description.class_distribution[0].label


def create_statements(
    description: Description, table: str, dialect: str, quote: Quote
) -> list[str]:
    """Idempotent DDL for the data table (the first statement), its quarantine table and the
    income-share views."""
    if dialect not in DIALECTS:
        raise CauceError(
            f"the census app cannot create its tables in a {dialect!r} database",
            hint="use a sqlite:///, postgresql:// or duckdb:/// URL for --db",
        )
    check_table_name(table, dialect)
    statements = [_data_table(description, table, dialect, quote)]
    statements += _comments(description, table, dialect, quote)
    statements.append(_rejected_table(table, dialect, quote))
    statements += [
        _view(description, table, dialect, quote, breakdown)
        for breakdown in BREAKDOWNS
    ]
    return statements


def check_table_name(table: str, dialect: str) -> None:
    """Refuse a table name the database would not keep as given: an empty one, or on
    PostgreSQL one whose views' names pass 63 bytes (cut there, all six views would share one
    name and replace each other)."""
    if not table:
        raise CauceError("the table name is empty", hint="pass --table NAME, e.g. --table adult")
    if dialect != "postgresql":
        return
    longest = max((view_name(table, b.name) for b in BREAKDOWNS), key=lambda n: len(n.encode()))
    excess = len(longest.encode()) - POSTGRES_NAME_BYTES
    if excess > 0:
        raise CauceError(
            f"the table name {table!r} is too long for PostgreSQL: its view {longest!r} passes "
            f"the {POSTGRES_NAME_BYTES}-byte limit on names",
            hint=f"pass a --table of at most {len(table.encode()) - excess} bytes",
        )


def literal(value: str) -> str:
    """A SQL string literal (single quotes doubled), for CHECK lists and comments."""
    return "'" + value.replace("'", "''") + "'"


def _data_table(description: Description, table: str, dialect: str, quote: Quote) -> str:
    columns = [_column_sql(column, description, dialect, quote) for column in description.columns]
    if dialect == "sqlite":  # no BOOLEAN in a STRICT table
        flag = f"{quote(DUPLICATE)} INTEGER NOT NULL CHECK ({quote(DUPLICATE)} IN (0, 1))"
    else:
        flag = f"{quote(DUPLICATE)} BOOLEAN NOT NULL"
    columns += [f"{quote(SOURCE)} TEXT NOT NULL", f"{quote(LINE)} INTEGER NOT NULL", flag]
    if dialect == "sqlite":
        # A rowid table without key: rows are appended in (file, line) order all the same.
        return _create_table(table, columns, dialect, quote, " STRICT")
    columns.append(f"PRIMARY KEY ({quote(SOURCE)}, {quote(LINE)})")
    return _create_table(table, columns, dialect, quote)


def _rejected_table(table: str, dialect: str, quote: Quote) -> str:
    columns = [
        f"{quote(SOURCE)} TEXT NOT NULL",
        f"{quote(LINE)} INTEGER NOT NULL",
        f"{quote(RAW)} TEXT NOT NULL",
        f"{quote(REASON)} TEXT NOT NULL",
        f"PRIMARY KEY ({quote(SOURCE)}, {quote(LINE)})",
    ]
    return _create_table(rejected_table(table), columns, dialect, quote)


def _create_table(
    table: str, columns: list[str], dialect: str, quote: Quote,
    sqlite_options: str = " STRICT, WITHOUT ROWID",
) -> str:
    body = ",\n  ".join(columns)
    # SQLite: STRICT refuses text in INTEGER columns as the other databases do; WITHOUT ROWID
    # stores rows in primary-key order in one B-tree instead of a table plus a key index.
    options = sqlite_options if dialect == "sqlite" else ""
    return f"CREATE TABLE IF NOT EXISTS {quote(table)} (\n  {body}\n){options}"


def _column_sql(column: Column, description: Description, dialect: str, quote: Quote) -> str:
    name = quote(column.name)
    if column.kind == "continuous":
        return f"{name} INTEGER"
    required = " NOT NULL" if column.name == description.class_column else ""
    if dialect == "sqlite":
        return f"{name} TEXT{required}"
    listed = ", ".join(literal(value) for value in column.values)
    return f"{name} TEXT{required} CHECK ({name} IN ({listed}))"


def _comments(description: Description, table: str, dialect: str, quote: Quote) -> list[str]:
    """Column comments from the Description's attribute notes (SQLite has no comments)."""
    if dialect == "sqlite":
        return []
    return [
        f"COMMENT ON COLUMN {quote(table)}.{quote(column.name)} IS {literal(column.description)}"
        for column in description.columns
        if column.description
    ]


def _view(
    description: Description,
    table: str,
    dialect: str,
    quote: Quote,
    breakdown: Breakdown,
) -> str:
    if breakdown.column not in description.names:
        raise CauceError(
            f"the Description has no {breakdown.column!r} column for the {breakdown.name} view"
        )
    column = quote(breakdown.column)
    group = _band_case(column, breakdown.bands) if breakdown.bands else column
    high = literal(high_income_label(description))
    klass = quote(description.class_column)
    select = (
        f"SELECT {group} AS {quote(breakdown.name)},\n"
        f"  CAST(COUNT(*) AS BIGINT) AS {quote('rows')},\n"
        f"  CAST(SUM(CASE WHEN {klass} = {high} THEN 1 ELSE 0 END) AS BIGINT) "
        f"AS {quote('over_50k')},\n"
        f"  CAST(AVG(CASE WHEN {klass} = {high} THEN 1.0 ELSE 0.0 END) AS DOUBLE PRECISION) "
        f"AS {quote('share_over_50k')}\n"
        f"FROM {quote(table)}\nGROUP BY {group}"
    )
    create = "CREATE VIEW IF NOT EXISTS" if dialect == "sqlite" else "CREATE OR REPLACE VIEW"
    return f"{create} {quote(view_name(table, breakdown.name))} AS\n{select}"


def _band_case(column: str, bands: tuple[Band, ...]) -> str:
    whens = " ".join(
        f"WHEN {column} <= {band.high} THEN {literal(band.label)}"
        for band in bands
        if band.high is not None
    )
    last = bands[-1].label
    return f"CASE WHEN {column} IS NULL THEN NULL {whens} ELSE {literal(last)} END"
