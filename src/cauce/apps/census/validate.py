"""Turn census records into typed rows or quarantined lines with a reason, vectorised.

Each record is split on commas into exactly as many fields as the Description has columns;
leading and trailing spaces are stripped and `?` means unknown (NULL). Continuous columns must
hold an integer that fits a SQL INTEGER; nominal columns one of the listed values; the class
column (trailing `.` of the test file removed) must be known. A record that breaks any rule is
not loaded: it goes to quarantine with every reason, e.g. "capital-gain: 'A' is not an integer".
Nothing is coerced and nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cauce.apps.census.description import Column, Description
from cauce.apps.census.schema import DUPLICATE, LINE, RAW, REASON, SOURCE

UNKNOWN = "?"
PROBLEM = "problem"  # the reason without the offending values, for counting per reason
SEPARATOR = ","
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
SHOWN_CHARS = 40  # longer offending values are cut in the reason (the raw line keeps them)

_FIELDS = "_fields"
_COUNT = "_count"


@dataclass(frozen=True)
class Validated:
    """`rows`: typed columns plus `_source`, `_line`, `_duplicate`, ready to load.

    `rejected`: `_source`, `_line`, `raw`, `reason` (for the quarantine table) and `problem`.
    """

    rows: pl.DataFrame
    rejected: pl.DataFrame


def validate(records: pl.DataFrame, description: Description) -> Validated:
    """Split `records` (`_source`, `_line`, `raw`, `_duplicate`) into valid and rejected."""
    expected = len(description.columns)
    split = records.with_columns(pl.col(RAW).str.split(SEPARATOR).alias(_FIELDS)).with_columns(
        pl.col(_FIELDS).list.len().alias(_COUNT)
    )
    well_formed = pl.col(_COUNT) == expected
    checks = [_check(i, column, description) for i, column in enumerate(description.columns)]
    field_count_reason = pl.when(~well_formed).then(
        pl.format("expected {} comma-separated fields, found {}", pl.lit(expected), pl.col(_COUNT))
    )
    field_count_problem = pl.when(~well_formed).then(pl.lit("wrong number of fields"))
    checked = split.with_columns(
        pl.concat_str(
            [field_count_reason, *(pl.when(well_formed).then(c.reason) for c in checks)],
            separator="; ",
            ignore_nulls=True,
        ).alias(REASON),
        pl.concat_str(
            [field_count_problem, *(pl.when(well_formed).then(c.problem) for c in checks)],
            separator="; ",
            ignore_nulls=True,
        ).alias(PROBLEM),
    )
    good = pl.col(REASON).str.len_bytes() == 0
    rows = checked.filter(good).select(
        *(check.value.alias(column.name) for check, column in zip(checks, description.columns)),
        pl.col(SOURCE),
        pl.col(LINE),
        pl.col(DUPLICATE),
    )
    rejected = checked.filter(~good).select(SOURCE, LINE, RAW, REASON, PROBLEM)
    return Validated(rows, rejected)


@dataclass(frozen=True)
class _Check:
    value: pl.Expr  # the typed value (NULL when unknown)
    reason: pl.Expr  # NULL when the field is fine
    problem: pl.Expr


def _check(index: int, column: Column, description: Description) -> _Check:
    text = pl.col(_FIELDS).list.get(index, null_on_oob=True).str.strip_chars()
    if column.name == description.class_column:
        text = text.str.strip_suffix(".")
    unknown = text == UNKNOWN
    shown = pl.when(text.str.len_chars() > SHOWN_CHARS).then(
        text.str.slice(0, SHOWN_CHARS) + "..."
    ).otherwise(text)
    if column.kind == "continuous":
        number = text.cast(pl.Int64, strict=False)
        integer = text.str.contains(r"^[+-]?[0-9]+$")
        in_range = number.is_between(INT_MIN, INT_MAX)
        value = pl.when(~unknown).then(number.cast(pl.Int32, strict=False))
        failures = [
            (~unknown & ~integer, "is not an integer"),
            (~unknown & integer & ~in_range.fill_null(False), "is out of the INTEGER range"),
        ]
    else:
        value = pl.when(~unknown).then(text)
        listed = text.is_in(pl.lit(pl.Series(column.values, dtype=pl.String)).implode())
        failures = [(~unknown & ~listed, "is not one of the listed values")]
        if column.name == description.class_column:
            failures.append((unknown, "is unknown, but every row needs its class"))
    reason = pl.coalesce(
        pl.when(failed).then(pl.format(f"{column.name}: '{{}}' {message}", shown))
        for failed, message in failures
    )
    problem = pl.coalesce(
        pl.when(failed).then(pl.lit(f"{column.name}: {message.removeprefix('is ')}"))
        for failed, message in failures
    )
    return _Check(value, reason, problem)
