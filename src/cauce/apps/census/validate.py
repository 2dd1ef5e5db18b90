"""Turn census records into typed rows or quarantined lines with a reason, vectorised.

Each record is split on commas into exactly as many fields as the Description has columns;
leading and trailing spaces are stripped and `?` means unknown (NULL). Continuous columns must
hold an integer that fits a SQL INTEGER; nominal columns one of the listed values; the class
column (trailing `.` of the test file removed) must be known. A record that breaks any rule is
not loaded: it goes to quarantine with every reason, e.g. "capital-gain: 'A' is not an integer".
Nothing is coerced and nothing is dropped.

Three passes keep it fast. First every record is split on ", " (comma and one space, as the
Adult files are written) and its fields checked as they are, unstripped: a record whose
fields all pass that way gives exactly the values the full rules give (a field that passes
holds no comma and no surrounding blank, so splitting on "," and stripping gives the same
field), and stripping every field cost more than any other step. Only the records that fail
it, a handful, go through the full rules: split on ",", stripped, checked; and the reasons
(string formatting) are built only for those that fail again. The field count is checked
without counting: the first fields of a record, one more than expected, become columns, and
it has the right number exactly when the last expected field is there and the extra one is
not (counting the commas of every record took as long as splitting them; a split into a list
then taken apart costs less CPU than `split_exact`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeVar

import polars as pl

from cauce.apps.census.description import Column, Description
from cauce.apps.census.schema import DUPLICATE, LINE, RAW, REASON, SOURCE

UNKNOWN = "?"
PROBLEM = "problem"  # the reason without the offending values, for counting per reason
SEPARATOR = ","
FIELD_SEPARATOR = ", "  # how the Adult files separate fields: the quick pass splits on it
SHOWN_CHARS = 40  # longer offending values are cut in the reason (the raw line keeps them)

_VALID = "_valid"
_ORDER = "_order"

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


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
    checks = _checks(description)
    columns = (*(check.column.name for check in checks), SOURCE, LINE, DUPLICATE)
    # One lazy query, collected once: each eager call takes the GIL back, and waits for it
    # while the loader's other thread holds it (10 eager steps with a busy thread beside them
    # took 1 s instead of 35 ms; this query 0.2 s).
    quick = _typed(records.lazy().with_row_index(_ORDER), checks, expected, FIELD_SEPARATOR,
                   [check.unpadded for check in checks if check.unpadded is not None]
                   ).select(*columns, RAW, _ORDER, _VALID).collect()
    rows = quick.filter(pl.col(_VALID)).select(*columns, _ORDER)
    rest = quick.filter(~pl.col(_VALID)).select(*records.columns, _ORDER)
    if rest.height == 0:
        return Validated(rows.drop(_ORDER), _explain(rest, checks, expected))
    typed = _typed(rest.lazy(), checks, expected, SEPARATOR,
                   [check.cleaned for check in checks]).collect()
    recovered = typed.filter(pl.col(_VALID)).select(*columns, _ORDER)
    if recovered.height:
        rows = rows.merge_sorted(recovered, _ORDER)
    return Validated(rows.drop(_ORDER), _explain(typed.filter(~pl.col(_VALID)), checks, expected))


def _typed(records: Frame, checks: tuple[_Check, ...], expected: int, separator: str,
           cleaning: list[pl.Expr]) -> Frame:
    """`records` split on `separator` into fields, `cleaning` applied, typed and flagged."""
    return (
        records.with_columns(
            pl.col(RAW).str.split(separator).list.to_struct(fields=_field_names(expected + 1))
            .alias("_fields")
        )
        .unnest("_fields")
        .with_columns(cleaning)
        .with_columns(check.value.alias(check.column.name) for check in checks)
        .with_columns(
            pl.all_horizontal(_well_formed(expected), *(check.valid for check in checks))
            .alias(_VALID)
        )
    )


@functools.lru_cache(maxsize=4)
def _checks(description: Description) -> tuple[_Check, ...]:
    """The rules of every column, built once per Description in a process: building the
    Polars expressions costs more CPU than a chunk of 1,630 records takes to check."""
    return tuple(_Check(i, column, description) for i, column in enumerate(description.columns))


def _field_names(count: int) -> list[str]:
    """`field_0` ... : the first `count` fields of a record (null where it has fewer)."""
    return [f"field_{index}" for index in range(count)]


def _well_formed(expected: int) -> pl.Expr:
    """The record has `expected` fields: the last one is there, one more is not."""
    return pl.col(f"field_{expected - 1}").is_not_null() & pl.col(f"field_{expected}").is_null()


def _explain(invalid: pl.DataFrame, checks: tuple[_Check, ...], expected: int) -> pl.DataFrame:
    """Every reason of every invalid record; a wrong field count hides the field checks.

    Only the kinds of failure that occur get a reason expression: building the expressions
    for all of them cost more than applying them to the few invalid records.
    """
    well_formed = _well_formed(expected)
    failures = [
        (check.column.name, well_formed & failed, message, check.text)
        for check in checks
        for failed, message in check.failures
    ]
    occurs = invalid.select(
        (~well_formed).any(), *(failed.any().alias(str(k)) for k, (_, failed, _, _) in
                                enumerate(failures))
    ).row(0) if invalid.height else (False,) * (len(failures) + 1)
    reasons, problems = [], []
    if occurs[0]:
        found = pl.col(RAW).str.count_matches(SEPARATOR, literal=True) + 1
        reasons.append(pl.when(~well_formed).then(pl.format(
            "expected {} comma-separated fields, found {}", pl.lit(expected), found
        )))
        problems.append(pl.when(~well_formed).then(pl.lit("wrong number of fields")))
    for (name, failed, message, text), present in zip(failures, occurs[1:], strict=True):
        if present:
            reasons.append(pl.when(failed).then(pl.format(f"{name}: '{{}}' {message}",
                                                          _shown(text))))
            problems.append(pl.when(failed).then(pl.lit(f"{name}: {message.removeprefix('is ')}")))
    return invalid.select(
        SOURCE, LINE, RAW,
        pl.concat_str(reasons or [pl.lit(None, pl.String)], separator="; ", ignore_nulls=True)
        .alias(REASON),
        pl.concat_str(problems or [pl.lit(None, pl.String)], separator="; ", ignore_nulls=True)
        .alias(PROBLEM),
    )


class _Check:
    """The rules of one column: its typed value, whether it is valid, and why not."""

    def __init__(self, index: int, column: Column, description: Description) -> None:
        self.column = column
        is_class = column.name == description.class_column
        # `cleaned` replaces the raw field with its stripped text, once; every rule below
        # then reads that column instead of stripping again.
        text = self.text = pl.col(f"field_{index}")
        stripped = text.str.strip_chars()
        self.cleaned = stripped.str.strip_suffix(".") if is_class else stripped
        # The quick pass (see the module docstring) only drops the class's trailing dot.
        self.unpadded = text.str.strip_suffix(".") if is_class else None
        unknown = text == UNKNOWN
        if column.kind == "continuous":
            # Polars parses optional sign and ASCII digits only; anything else, or a number
            # beyond 32 bits, gives NULL here, and the reasons below tell the two apart.
            self.value = text.cast(pl.Int32, strict=False)
            integer = text.str.contains(r"^[+-]?[0-9]+$")
            self.failures = [
                (~unknown & ~integer, "is not an integer"),
                (~unknown & integer & self.value.is_null(), "is out of the INTEGER range"),
            ]
        else:
            listed = text.is_in(pl.lit(pl.Series(column.values, dtype=pl.String)).implode())
            self.value = pl.when(listed).then(text)
            self.failures = [(~unknown & ~listed, "is not one of the listed values")]
            if is_class:
                self.failures.append((unknown, "is unknown, but every row needs its class"))
        known = pl.col(column.name).is_not_null()
        self.valid = known if is_class else known | unknown


def _shown(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.len_chars() > SHOWN_CHARS).then(
        text.str.slice(0, SHOWN_CHARS) + "..."
    ).otherwise(text)
