"""The SoQL subset of the local portal: $where, $select and $order compiled to Polars."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from cauce.connectors.soda.portal.soql import SoqlError, order, select, where

FRAME = pl.DataFrame(
    {
        "name": ["ana", "bo", None, "o'neil", "eve"],
        "valor": [10.0, 250.5, 99.0, None, 1000.0],
        "fecha": [
            datetime(2020, 1, 1),
            datetime(2021, 6, 1),
            None,
            datetime(2023, 3, 3),
            datetime(2024, 1, 1),
        ],
        "ok": [True, False, True, None, False],
    }
)


def rows(clause: str) -> list[str | None]:
    return FRAME.filter(where(clause, FRAME.schema))["name"].to_list()


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("valor > 100", ["bo", "eve"]),
        ("valor >= 99 AND valor < 1000", ["bo", None]),
        ("name = 'ana' OR name = 'eve'", ["ana", "eve"]),
        ("name != 'ana' and valor <> 99", ["bo", "eve"]),
        ("name IS NULL", [None]),
        ("valor IS NOT NULL AND NOT (valor > 200)", ["ana", None]),
        ("name IN ('bo', 'eve')", ["bo", "eve"]),
        ("name NOT IN ('bo', 'eve') AND name IS NOT NULL", ["ana", "o'neil"]),
        ("valor BETWEEN 50 AND 300", ["bo", None]),
        ("name = 'o''neil'", ["o'neil"]),
        ("fecha > '2022-01-01T00:00:00.000'", ["o'neil", "eve"]),
        ("ok = true", ["ana", None]),
        ("valor > '200'", ["bo", "eve"]),
        ("name = 'ana' OR name = 'bo' AND valor > 100", ["ana", "bo"]),  # AND binds tighter than OR
    ],
)
def test_where_filters_like_soql(clause: str, expected: list[str | None]) -> None:
    assert rows(clause) == expected


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        ("nope = 1", "No such column: nope"),
        ("valor >", "expected a value"),
        ("valor > 1 AND", "expected a value"),
        ("(valor > 1", r"expected '\)'"),
        ("valor = 'abc'", "not a valid"),
        ("valor ~ 3", "could not parse"),
        ("valor > 1 valor", "unexpected"),
        # a RecursionError before: a 500 and a traceback in the portal's log
        ("(" * 3000 + "valor > 1" + ")" * 3000, "nests too deeply"),
        ("NOT " * 3000 + "valor > 1", "nests too deeply"),
    ],
)
def test_bad_where_clauses_are_soql_errors(clause: str, message: str) -> None:
    with pytest.raises(SoqlError, match=message):
        where(clause, FRAME.schema)


def test_select_columns_aliases_star_and_count() -> None:
    picked = select("name, valor AS amount", FRAME.schema, list(FRAME.columns))
    assert picked.columns == (("name", "name"), ("valor", "amount")) and picked.count_as is None
    assert select("*", FRAME.schema, ["name", "ok"]).columns == (("name", "name"), ("ok", "ok"))
    assert select("count(*) AS n", FRAME.schema, []).count_as == "n"
    assert select("count(*)", FRAME.schema, []).count_as == "count"
    with pytest.raises(SoqlError, match=r"\$group"):
        select("name, count(*)", FRAME.schema, [])
    with pytest.raises(SoqlError, match="No such column"):
        select("missing", FRAME.schema, [])


def test_order_with_directions() -> None:
    assert order("valor DESC, name", FRAME.schema) == (["valor", "name"], [True, False])
    assert order("`name` asc", FRAME.schema) == (["name"], [False])
    with pytest.raises(SoqlError):
        order("valor sideways", FRAME.schema)
