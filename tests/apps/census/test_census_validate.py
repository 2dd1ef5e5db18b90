"""The validator: typed rows or quarantined records with every reason, never both, never lost."""

from __future__ import annotations

import codecs
import sqlite3

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cauce.apps.census.reader import read_lines
from cauce.apps.census.schema import create_statements
from cauce.apps.census.validate import validate
from cauce.textfiles import utf16_without_bom

GOOD = ("39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, "
        "White, Male, 2174, 0, 40, United-States, <=50K")


def records(*raws: str) -> pl.DataFrame:
    return pl.DataFrame({
        "_source": ["Adult.data"] * len(raws),
        "_line": pl.Series(range(1, len(raws) + 1), dtype=pl.Int32),
        "raw": list(raws),
        "_duplicate": [False] * len(raws),
    })


def with_field(index: int, value: str) -> str:
    fields = GOOD.split(", ")
    fields[index] = value
    return ", ".join(fields)


def reasons(description, *raws: str) -> list[str]:
    return validate(records(*raws), description).rejected["reason"].to_list()


def test_a_good_line_becomes_a_typed_row(description):
    result = validate(records(GOOD), description)
    assert result.rejected.height == 0
    row = result.rows.row(0, named=True)
    assert row["age"] == 39 and row["education-num"] == 13 and row["class"] == "<=50K"
    assert row["native-country"] == "United-States"
    assert (row["_source"], row["_line"], row["_duplicate"]) == ("Adult.data", 1, False)
    assert result.rows.schema["fnlwgt"] == pl.Int32
    assert list(result.rows.columns[:15]) == description.names


def test_unknowns_become_null_and_test_labels_lose_their_dot(description):
    line = with_field(1, "?").replace("<=50K", ">50K.")
    row = validate(records(line), description).rows.row(0, named=True)
    assert row["workclass"] is None
    assert row["class"] == ">50K"


def test_the_injected_letters_of_the_real_files(description):
    assert reasons(description, with_field(10, "A"), with_field(0, "B"), with_field(2, "C"),
                   with_field(12, "E")) == [
        "capital-gain: 'A' is not an integer",
        "age: 'B' is not an integer",
        "fnlwgt: 'C' is not an integer",
        "hours-per-week: 'E' is not an integer",
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (with_field(1, "Freelance"), "workclass: 'Freelance' is not one of the listed values"),
        (with_field(14, "?"), "class: '?' is unknown, but every row needs its class"),
        (with_field(14, ">50K.."), "class: '>50K.' is not one of the listed values"),
        (with_field(0, "4.5"), "age: '4.5' is not an integer"),
        (with_field(0, ""), "age: '' is not an integer"),
        (with_field(2, str(2**31)), "fnlwgt: '2147483648' is out of the INTEGER range"),
        (with_field(2, "9" * 30), f"fnlwgt: '{'9' * 30}' is out of the INTEGER range"),
        ("1, 2", "expected 15 comma-separated fields, found 2"),
        (GOOD + ", extra", "expected 15 comma-separated fields, found 16"),
        (with_field(3, "x" * 50), f"education: '{'x' * 40}...' is not one of the listed values"),
    ],
)
def test_each_rule_has_its_reason(description, line, reason):
    assert reasons(description, line) == [reason]


def test_every_broken_field_is_named(description):
    line = with_field(0, "B").replace("Male", "Robot")
    assert reasons(description, line) == [
        "age: 'B' is not an integer; sex: 'Robot' is not one of the listed values"
    ]
    problems = validate(records(line), description).rejected["problem"].to_list()
    assert problems == ["age: not an integer; sex: not one of the listed values"]


def test_quarantine_keeps_the_raw_line_and_its_place(description):
    broken = with_field(10, "A")
    result = validate(records(GOOD, broken, GOOD), description)
    assert result.rows["_line"].to_list() == [1, 3]
    rejected = result.rejected.row(0, named=True)
    assert (rejected["_source"], rejected["_line"], rejected["raw"]) == ("Adult.data", 2, broken)


@pytest.mark.parametrize("separator", [",", " , ", ",  ", ",\t", ", \u00a0", "\u3000,"])
def test_fields_give_the_same_row_however_they_are_padded(description, separator):
    """The quick pass (split on ", ", no strip) and the full rules give the same row, and
    the rows they pass keep the records' order."""
    padded = separator.join(GOOD.split(", ")).replace("<=50K", "<=50K.")
    result = validate(records(padded, GOOD, padded), description)
    assert result.rejected.height == 0
    assert result.rows["_line"].to_list() == [1, 2, 3]
    first, second, third = (row[:15] for row in result.rows.rows())
    assert first == second == third


FIELD_TEXT = st.text(st.characters(exclude_characters="\n"), max_size=12)


@st.composite
def census_lines(draw) -> bytes:
    """Any bytes, or a good line with some fields replaced by any text (the likelier bugs)."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200)).replace(b"\n", b"")
    fields = GOOD.split(", ")
    for index in draw(st.lists(st.integers(0, 14), max_size=4)):
        fields[index] = draw(st.one_of(FIELD_TEXT, st.sampled_from(["?", " ?", "-1", "007"])))
    return ", ".join(fields).encode("utf-8", errors="surrogatepass")


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(census_lines(), min_size=1, max_size=20))
def test_any_line_loads_or_is_quarantined_with_a_reason(description, lines):
    """Every line of a file is loaded, quarantined or skipped (blank, comment): exactly one.

    And the database takes every row the validator lets through.
    """
    data = b"\n".join(lines) + b"\n"
    # A UTF-16 byte-order mark, or NULs on every other byte, make the file UTF-16: its lines
    # are other lines.
    assume(not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)))
    assume(utf16_without_bom(data) is None)
    source = read_lines("Adult.data", data)
    result = validate(source.records, description)
    loaded, rejected = result.rows["_line"].to_list(), result.rejected["_line"].to_list()
    assert source.physical_lines == len(lines)
    assert len(set(loaded + rejected)) == len(loaded) + len(rejected)
    assert len(loaded) + len(rejected) + source.blank_lines + source.comment_lines == len(lines)
    assert all(reason.strip() for reason in result.rejected["reason"].to_list())
    database = sqlite3.connect(":memory:")
    for statement in create_statements(description, "adult", "sqlite", lambda n: f'"{n}"'):
        database.execute(statement)
    database.executemany(
        f'INSERT INTO adult VALUES ({", ".join("?" * result.rows.width)})', result.rows.rows()
    )
    for row in result.rows.iter_rows(named=True):
        for column in description.columns:
            value = row[column.name]
            if column.kind == "nominal" and value is not None:
                assert value in column.values
        assert row[description.class_column] is not None
