"""The real Adult files: exact counts, the five injected letters, the Description's shares."""

from __future__ import annotations

import polars as pl
import pytest
from census_helpers import INJECTED

from cauce.apps.census.reader import read_lines
from cauce.apps.census.validate import validate


@pytest.fixture(scope="module")
def real(real_dir, real_description):
    sources = [read_lines(n, (real_dir / n).read_bytes()) for n in ("Adult.data", "Adult.test")]
    return sources, validate(pl.concat(s.records for s in sources), real_description)


def test_every_record_is_read_and_nothing_else(real):
    (data, test), result = real
    assert (data.records.height, test.records.height) == (32_561, 16_281)
    assert (data.physical_lines, data.blank_lines, data.comment_lines) == (32_562, 1, 0)
    assert (test.physical_lines, test.blank_lines, test.comment_lines) == (16_283, 1, 1)
    assert result.rows.height + result.rejected.height == 48_842


def test_the_five_injected_letters_are_quarantined_with_their_reasons(real, real_dir):
    _, result = real
    assert result.rows.height == 48_837
    assert result.rejected.select("_source", "_line", "reason").rows() == INJECTED
    line_49 = (real_dir / "Adult.data").read_text().splitlines()[48]
    assert result.rejected["raw"][0] == line_49


def test_exact_duplicates_are_kept_and_flagged_per_file(real):
    (data, test), result = real
    assert int(data.records["_duplicate"].sum()) == 24
    assert int(test.records["_duplicate"].sum()) == 5
    assert int(result.rows["_duplicate"].sum()) == 29


def test_class_shares_match_the_description(real, real_description):
    _, result = real
    high = real_description.share(">50K")
    share_all = (result.rows["class"] == ">50K").mean() * 100
    share_known = (result.rows.drop_nulls()["class"] == ">50K").mean() * 100
    assert (round(share_all, 2), round(share_known, 2)) == (high.all_rows, high.without_unknowns)
    assert result.rows.drop_nulls().height == 45_217  # 45,222 in the Description, minus 5 rejected


def test_unknowns_are_null_only_where_the_files_have_them(real):
    _, result = real
    nulls = {c: n for c, n in result.rows.null_count().row(0, named=True).items() if n}
    assert nulls == {"workclass": 2_799, "occupation": 2_809, "native-country": 857}
