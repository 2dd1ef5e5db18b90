"""Placeholder translation: ? and :name in, each driver's spelling out, quotes untouched."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cauce.errors import WarehouseError
from cauce.warehouse import WarehouseBackend, connect
from cauce.warehouse.params import (
    DBAPI_STYLES,
    DUCKDB,
    NATIVE,
    PSYCOPG,
    bind,
    blank_quotes_in_comments,
    split_statements,
)
from postgres_server import POSTGRES_SERVER, postgres_unreachable


def test_psycopg_positional_and_percent() -> None:
    sql, params = bind("SELECT '50%', ? WHERE x LIKE 'a%' AND y = ?", [1, 2], PSYCOPG)
    assert sql == "SELECT '50%%', %s WHERE x LIKE 'a%%' AND y = %s"
    assert params == [1, 2]


def test_psycopg_named_repeats_and_ignores_extra_keys() -> None:
    sql, params = bind("SELECT :a, :b, :a", {"a": 1, "b": 2, "unused": 3}, PSYCOPG)
    assert sql == "SELECT %(a)s, %(b)s, %(a)s"
    assert params == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    "quoted",
    [
        "'it''s ? :x %'",
        '"col ? :x %"',
        "`col ? :x`",
        "E'it\\'s ? :x'",
        "$$ ? :x $$",
        "$body$ ? :x $body$",
        "/* ? :x */",
        "-- ? :x\n",
    ],
)
def test_quoted_text_comments_and_bodies_are_left_alone(quoted: str) -> None:
    sql, params = bind(f"SELECT {quoted} ?", [5], PSYCOPG)
    assert sql == f"SELECT {quoted.replace('%', '%%')} %s"
    assert params == [5]


def test_casts_are_not_named_placeholders() -> None:
    assert bind("SELECT x::int, :n::text", {"n": 1}, PSYCOPG)[0] == "SELECT x::int, %(n)s::text"
    assert bind("SELECT x::int, :n::text", {"n": 1}, DUCKDB)[0] == "SELECT x::int, $n::text"


def test_the_other_kind_of_placeholder_stays_as_written() -> None:
    # PostgreSQL's JSON operator ? with named parameters; a :word with positional ones.
    assert bind("SELECT d ? 'k', :n", {"n": 1}, PSYCOPG)[0] == "SELECT d ? 'k', %(n)s"
    assert bind("SELECT ?, ':x', :x", [1], PSYCOPG)[0] == "SELECT %s, ':x', :x"


def test_no_params_leaves_sql_untouched() -> None:
    assert bind("SELECT '%', ?", None, PSYCOPG) == ("SELECT '%', ?", None)


@pytest.mark.parametrize(
    ("style", "sql", "params", "expected"),
    [
        ("qmark", "SELECT :a, :b, :a", {"a": 1, "b": 2}, ("SELECT ?, ?, ?", [1, 2, 1])),
        ("format", "SELECT :a, '%'", {"a": 1}, ("SELECT %s, '%%'", [1])),
        ("numeric", "SELECT ?, ?", [1, 2], ("SELECT :1, :2", [1, 2])),
        ("named", "SELECT ?, ?", [1, 2], ("SELECT :p1, :p2", {"p1": 1, "p2": 2})),
        ("pyformat", "SELECT :a", {"a": 1}, ("SELECT %(a)s", {"a": 1})),
    ],
)
def test_every_dbapi_paramstyle(style: str, sql: str, params: object, expected: object) -> None:
    assert bind(sql, params, DBAPI_STYLES[style]) == expected  # type: ignore[arg-type]


def test_backslash_escapes_only_where_the_dialect_has_them() -> None:
    mysql = DBAPI_STYLES["format"].__class__(
        "%s", None, escape_percent=True, backslash_strings=True
    )
    assert bind("SELECT 'a\\'?', ?", [1], mysql)[0] == "SELECT 'a\\'?', %s"
    # In standard SQL the backslash is an ordinary character, so the literal ends at \'.
    assert bind("SELECT 'a\\', ?", [1], PSYCOPG)[0] == "SELECT 'a\\', %s"


def test_native_style_keeps_both_spellings() -> None:
    assert bind("SELECT ?, '?'", [1], NATIVE) == ("SELECT ?, '?'", [1])
    assert bind("SELECT :a", {"a": 1}, NATIVE) == ("SELECT :a", {"a": 1})


@pytest.mark.parametrize(
    ("sql", "params", "message"),
    [
        ("SELECT ?, ?", [1], "2 ? placeholder"),
        ("SELECT '?'", [1], "0 ? placeholder"),
        ("SELECT :a, :b", {"a": 1}, "no value for :b"),
        ("SELECT ?", "ab", "sequence or a mapping"),
        ("SELECT ?", 5, "sequence or a mapping"),
    ],
)
def test_mismatched_params_are_one_clear_error(sql: str, params: object, message: str) -> None:
    with pytest.raises(WarehouseError, match=re.escape(message)):
        bind(sql, params, PSYCOPG)  # type: ignore[arg-type]


def test_split_statements_respects_quotes_comments_and_bodies() -> None:
    script = """
        CREATE TABLE a (x TEXT); -- first; still a comment
        INSERT INTO a VALUES (';'), ("b;c");
        CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
        /* only a comment; */ ;;
    """
    assert split_statements(script) == [
        "CREATE TABLE a (x TEXT)",
        "-- first; still a comment\n        INSERT INTO a VALUES (';'), (\"b;c\")",
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
    ]


# -- properties -----------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
# NULL, every 64-bit integer, finite doubles and text: what each engine binds as itself.
_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
)


@st.composite
def _select(draw: st.DrawFn, named: bool) -> tuple[str, list[object], object]:
    """A SELECT of literals (full of ?, :x, %, quotes) and placeholders, with its result."""
    items, expected = [], []
    params: dict[str, object] | list[object] = {} if named else []
    for index in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            text = draw(_TEXT)
            items.append("'" + text.replace("'", "''") + "'")
            expected.append(text)
        else:
            value = draw(_VALUES)
            if isinstance(params, dict):
                items.append(f":v{index}")
                params[f"v{index}"] = value
            else:
                items.append("?")
                params.append(value)
            expected.append(value)
        # PostgreSQL nests /* */ comments and SQLite does not, so keep nesting out of it.
        comment = draw(_TEXT).replace("*/", "").replace("/*", "")
        items[-1] += f" /* {comment} */ AS c{index}"
    return "SELECT " + ", ".join(items), expected, params


@given(_select(named=False))
def test_psycopg_translation_round_trips(case: tuple[str, list[object], object]) -> None:
    sql, _, params = case
    translated, _ = bind(sql, params, PSYCOPG)  # type: ignore[arg-type]
    # Undo psycopg's spelling left to right: %% is a percent sign, %s was a ?.
    restored, index = [], 0
    while index < len(translated):
        pair = translated[index : index + 2]
        if pair in ("%%", "%s"):
            restored.append("%" if pair == "%%" else "?")
            index += 2
        else:
            restored.append(translated[index])
            index += 1
    assert "".join(restored) == sql


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, WarehouseBackend]]:
    """One in-memory warehouse per embedded engine, shared by every generated example."""
    opened = {name: connect(f"{name}:///:memory:") for name in ("sqlite", "duckdb")}
    yield opened
    for warehouse in opened.values():
        warehouse.close()


def _run_select(warehouse: WarehouseBackend, case: tuple[str, list[object], object]) -> None:
    sql, expected, params = case
    result = warehouse.query(sql, params)  # type: ignore[arg-type]
    assert [column[0].as_py() for column in result.columns] == expected


@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 /* it's */ AS a, '\xa0' AS b",
        "SELECT 1 /* \"$ */ AS a, '\u2003 x\u3000' AS b",
        "SELECT 1 -- it's\n AS a, '\xa0' AS b",
    ],
)
def test_a_quote_in_a_comment_leaves_unicode_spaces_in_literals_alone(
    engines: dict[str, WarehouseBackend], engine: str, sql: str
) -> None:
    literal = sql[sql.rindex(", '") + 3 : sql.rindex("' AS b")]
    assert engines[engine].query(sql).to_pylist() == [{"a": 1, "b": literal}]


def test_quotes_in_comments_become_spaces_and_nothing_else_moves() -> None:
    sql = "SELECT 'it''s' /* don't */, \"q\" -- a 'b'\nFROM t /* $x$ */"
    blanked = blank_quotes_in_comments(sql)
    assert blanked == "SELECT 'it''s' /* don t */, \"q\" -- a  b \nFROM t /*  x  */"
    assert len(blanked) == len(sql)


@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_translated_statements_return_their_literals_and_values(
    engines: dict[str, WarehouseBackend], engine: str, named: bool, data: st.DataObject
) -> None:
    _run_select(engines[engine], data.draw(_select(named)))


@pytest.mark.postgres
@pytest.mark.parametrize("named", [False, True])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_translated_statements_round_trip_through_postgresql(
    named: bool, data: st.DataObject
) -> None:
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with connect(POSTGRES_SERVER) as warehouse:
        _run_select(warehouse, data.draw(_select(named)))


def test_dates_and_times_as_parameters_find_the_rows_load_wrote(
    warehouse: WarehouseBackend,
) -> None:
    # SQLite bound a datetime as '2021-04-22T09:00:00.000000' (and dropped its zone), where
    # load stores '2021-04-22 00:00:00.000000Z': the same value found nothing.
    aware = dt.datetime(2021, 4, 22, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    naive = dt.datetime(2021, 4, 22, 9, 0, 0, 250)
    day = dt.date(2021, 4, 22)
    warehouse.load("moments", [{"aware": aware, "naive": naive, "day": day}])
    found = warehouse.query(
        "SELECT count(*) AS n FROM moments WHERE aware = ? AND naive = ? AND day = ?",
        [aware, naive, day],
    )
    assert found.column(0).to_pylist() == [1]
