"""The synthetic files carry the quirks of the real ones, known by construction."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cauce.apps.census import synth
from cauce.apps.census.description import DESCRIPTION_FILE, read_description
from cauce.apps.census.reader import read_lines
from cauce.apps.census.report import ShareCheck
from cauce.apps.census.synth import TEST_COMMENT, write_synthetic
from cauce.apps.census.validate import validate
from cli_runner import clean_environment, in_process
from seeded import OTHER_SEED, SEED_CASES, cauce, generated, generated_twice


def test_the_files_look_like_the_real_ones(small_synthetic):
    data, test = small_synthetic
    assert (data.path.name, test.path.name) == ("Adult.data", "Adult.test")
    assert sorted(p.name for p in data.path.parent.iterdir()) == [
        "Adult.data", "Adult.test", DESCRIPTION_FILE]
    test_text = test.path.read_text()
    assert test_text.startswith(TEST_COMMENT + "\n")
    assert data.path.read_text().endswith("\n\n") and test_text.endswith("\n\n")
    first = test_text.splitlines()[1]
    assert first.endswith("50K.") and ", " in first
    assert ", ?," in data.path.read_text()


def test_what_the_files_hold_matches_what_the_loader_finds(small_synthetic, description):
    sources = [read_lines(f.path.name, f.path.read_bytes()) for f in small_synthetic]
    for written, read in zip(small_synthetic, sources, strict=True):
        assert read.records.height == written.rows
        assert int(read.records["_duplicate"].sum()) == written.duplicates
    result = validate(pl.concat(s.records for s in sources), description)
    expected = sorted(
        (i.file, i.line, f"{i.column}: '{i.letter}' is not an integer")
        for f in small_synthetic for i in f.injections
    )
    assert sorted(result.rejected.select("_source", "_line", "reason").rows()) == expected
    assert [i.letter for f in small_synthetic for i in f.injections] == ["A", "B", "C"]


@pytest.mark.parametrize("seed", [3, 1994])  # 1994: demo-data's default
def test_the_loaded_rows_meet_the_class_distribution_of_the_description_next_to_them(
    tmp_path, seed
):
    """The report's check passes on them: the shares used to be met on the lines as drawn,
    before the injected ones went to quarantine and the copies counted twice (24.77 % against
    the stated 24.78 % for demo-data's files, 23.91 % against 23.93 % here)."""
    files = write_synthetic(tmp_path, data_rows=8000, test_rows=4000, seed=seed)
    path = tmp_path / DESCRIPTION_FILE
    description = read_description(path.read_bytes(), str(path))
    rows = validate(
        pl.concat(read_lines(f.path.name, f.path.read_bytes()).records for f in files),
        description,
    ).rows
    high = description.share(">50K")
    known = rows.drop_nulls(description.names)
    checks = [
        ShareCheck("all rows", rows.height, int((rows["class"] == ">50K").sum()), high.all_rows),
        ShareCheck("without unknowns", known.height, int((known["class"] == ">50K").sum()),
                   high.without_unknowns),
    ]
    assert [check.sentence() for check in checks if not check.matches] == []


def test_a_seed_makes_the_files_reproducible(tmp_path):
    first = write_synthetic(tmp_path / "a", data_rows=50, test_rows=20, seed=11)
    second = write_synthetic(tmp_path / "b", data_rows=50, test_rows=20, seed=11)
    assert [f.path.read_bytes() for f in first] == [f.path.read_bytes() for f in second]


def _demo_data(folder: Path, seed: int | str, hash_seed: str = "1", check: bool = True):
    """`cauce run census demo-data` in a fresh interpreter with its own hash seed."""
    return cauce("--home", str(folder / "home"), "run", "census", "demo-data", "--out",
                 str(folder / "out"), "--data-rows", "400", "--test-rows", "150",
                 "--seed", str(seed), hash_seed=hash_seed, check=check)


@pytest.fixture(scope="module")
def other_seed(tmp_path_factory) -> dict[str, str]:
    return generated(_demo_data, tmp_path_factory.mktemp("other"), OTHER_SEED, "out")


@pytest.mark.parametrize("seed", SEED_CASES)
def test_demo_data_gives_the_same_bytes_for_a_seed_in_any_process(tmp_path, seed, other_seed):
    first = generated_twice(_demo_data, tmp_path, seed, "out")
    if first is None:
        return
    assert sorted(first) == ["Adult.data", "Adult.test", DESCRIPTION_FILE]
    assert first["Adult.data"] != other_seed["Adult.data"]
    assert first["Adult.test"] != other_seed["Adult.test"]


def test_more_records_than_the_real_weights_span_still_have_distinct_weights(
    tmp_path, monkeypatch
):
    """Past 1,472,421 records (the span of the real weights) demo-data failed with NumPy's
    'Cannot take a larger sample than population'; a span of 10 stands for it here."""
    monkeypatch.setattr(synth, "FNLWGT_RANGE", (100, 110))
    written = write_synthetic(tmp_path, data_rows=25, test_rows=3, duplicates=(0, 0),
                              injections=(0, 0), seed=5)
    weights = [line.split(", ")[2] for line in written[0].path.read_text().splitlines() if line]
    assert sorted(map(int, weights)) == list(range(100, 125))


def test_a_file_of_no_records_ends_with_one_blank_line_as_the_others(tmp_path):
    """It had two: `\\n` joined nothing, then the blank line."""
    data, test = write_synthetic(tmp_path, data_rows=0, test_rows=0)
    assert data.path.read_bytes() == b"\n"
    assert test.path.read_bytes() == f"{TEST_COMMENT}\n\n".encode()


@pytest.mark.parametrize(("option", "rows"), [
    ("--data-rows", "5000001"), ("--test-rows", "10000000000"),
    ("--data-rows", "99999999999999999999"),
])
def test_more_records_than_memory_holds_are_refused_in_one_line(
    tmp_path, monkeypatch, capsys, option, rows
):
    """They ran: 2,000,000,000 records for minutes and 15 GB before a Ctrl-C was heard,
    10,000,000,000 until NumPy's MemoryError (74.5 GiB), 10**20 until its "Maximum allowed
    dimension exceeded", each a traceback."""
    clean_environment(monkeypatch, tmp_path)
    result = in_process(capsys)("run", "census", "demo-data", "--out", "out", option, rows)
    assert (result.status, result.err.splitlines()) == (2, [
        f"error: {option}: {rows} is invalid (Input should be less than or equal to 5000000)",
        "hint: see `cauce run census demo-data --help`"])
    assert not (tmp_path / "out").exists()
