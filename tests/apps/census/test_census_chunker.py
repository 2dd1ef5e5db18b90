"""Chunks follow the cursor across files: 1,630 records a run is 30 runs for the real sizes."""

from __future__ import annotations

import polars as pl
import pytest

from cauce import CauceError
from cauce.apps.census.chunker import Cursor, next_chunk
from cauce.apps.census.reader import SourceLines


def source(name: str, records: int, first_line: int = 1) -> SourceLines:
    lines = pl.Series(range(first_line, first_line + records), dtype=pl.Int32)
    frame = pl.DataFrame({
        "_source": [name] * records,
        "_line": lines,
        "raw": [f"{name}:{n}" for n in lines],
        "_duplicate": [False] * records,
    })
    return SourceLines(name, frame, records, 0, 0)


REAL_SIZES = [source("Adult.data", 32_561), source("Adult.test", 16_281, first_line=2)]


def test_the_real_sizes_take_thirty_chunks_of_1630():
    cursor, sizes, seen = None, [], []
    while True:
        chunk = next_chunk(REAL_SIZES, cursor, 1630)
        if chunk.records.height == 0:
            break
        sizes.append(chunk.records.height)
        seen.append(chunk.records)
        cursor = chunk.cursor
    assert len(sizes) == 30
    assert sizes[:29] == [1630] * 29 and sizes[29] == 1572
    assert cursor == Cursor("Adult.test", 16_282)
    everything = pl.concat(seen)
    assert everything.height == 48_842
    assert everything.select("_source", "_line").is_unique().all()


def test_a_chunk_crosses_from_one_file_to_the_next():
    chunk = next_chunk(REAL_SIZES, Cursor("Adult.data", 32_000), 1630)
    counts = dict(chunk.records.group_by("_source").len().iter_rows())
    assert counts == {"Adult.data": 561, "Adult.test": 1069}
    assert chunk.cursor == Cursor("Adult.test", 1070)
    assert chunk.remaining == 16_281 - 1069
    assert not chunk.done


def test_no_size_takes_everything_left():
    chunk = next_chunk(REAL_SIZES, Cursor("Adult.test", 100), None)
    assert chunk.records.height == 16_281 - 99
    assert chunk.done


def test_a_size_beyond_64_bits_takes_everything_left():
    chunk = next_chunk(REAL_SIZES, Cursor("Adult.test", 100), 10**23)
    assert chunk.records.height == 16_281 - 99
    assert chunk.done


def test_after_the_last_record_the_chunk_is_empty_and_the_cursor_stays():
    end = Cursor("Adult.test", 16_282)
    chunk = next_chunk(REAL_SIZES, end, 1630)
    assert (chunk.records.height, chunk.cursor, chunk.done) == (0, end, True)


def test_a_cursor_survives_json():
    cursor = Cursor("Adult.data", 49)
    assert Cursor.from_json(cursor.to_json()) == cursor


def test_a_cursor_on_a_file_that_is_not_a_source_is_an_error():
    with pytest.raises(CauceError, match=r"loaded up to other\.csv line 3") as raised:
        next_chunk(REAL_SIZES, Cursor("other.csv", 3), 10)
    assert "same --source files" in raised.value.hint


@pytest.mark.parametrize("size", [0, -5])
def test_a_chunk_size_below_one_is_an_error(size):
    with pytest.raises(CauceError, match="at least 1"):
        next_chunk(REAL_SIZES, None, size)


def test_no_sources_is_an_error():
    with pytest.raises(CauceError, match="no source"):
        next_chunk([], None, 10)
