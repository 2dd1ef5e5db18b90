"""Cut the records of all sources, in order, into chunks that follow a cursor.

The cursor is the last record already committed: (source name, line number). The next chunk
is the next `size` records after it, across files: when Adult.data runs out mid-chunk, the
chunk goes on with Adult.test. A cursor that names a file missing from the sources is an error,
not a restart, and so is a reordered `--source` list that would put a file never loaded
before the cursor's (skipped) or a loaded one after it (loaded twice), so a changed list can
never lose a file or load one twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from cauce import CauceError
from cauce.apps.census.reader import SourceLines
from cauce.apps.census.schema import LINE

_ORDER = "_order"


@dataclass(frozen=True)
class Cursor:
    """The last committed record: its source name and physical line number."""

    source: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Cursor:
        return cls(str(value["source"]), int(value["line"]))


@dataclass(frozen=True)
class Chunk:
    """The records of one chunk, the cursor after it and how many records are left."""

    records: pl.DataFrame
    cursor: Cursor | None
    remaining: int

    @property
    def done(self) -> bool:
        return self.remaining == 0


def check_order(sources: Sequence[SourceLines], after: Cursor | None,
                loaded: Collection[str]) -> None:
    """Refuse sources whose order would lose or double records: the next chunk starts after
    the cursor's file, so every file before it must have been loaded already (`loaded`: the
    files with records in the totals), and no file after it may have been."""
    if after is None or after.source not in (names := [source.name for source in sources]):
        return
    position = names.index(after.source)
    skipped = [source.name for source in sources[:position]
               if source.records.height and source.name not in loaded]
    again = [name for name in names[position + 1:] if name in loaded]
    if skipped or again:
        problem = (f"{skipped[0]} comes before it in the sources but was never loaded, so it "
                   "would be skipped" if skipped else
                   f"{again[0]} comes after it in the sources but was loaded before, so it "
                   "would be loaded twice")
        raise CauceError(
            f"the table was loaded up to {after.source} line {after.line}, and {problem}",
            hint="pass the same --source files, in the same order, as the earlier loads "
            "(new files after them)",
        )


def next_chunk(sources: Sequence[SourceLines], after: Cursor | None, size: int | None) -> Chunk:
    """The next `size` records (all of them when `size` is None) after the cursor `after`."""
    if size is not None and size < 1:
        raise CauceError(
            f"the chunk size must be at least 1, not {size}",
            hint="pass --chunk-size 1630, or --all to load every row at once",
        )
    if not sources:
        raise CauceError(
            "there is no source to load", hint="pass --source Adult.data --source Adult.test"
        )
    names = [source.name for source in sources]
    frames = [
        source.records.with_columns(pl.lit(index, dtype=pl.Int32).alias(_ORDER))
        for index, source in enumerate(sources)
    ]
    records = pl.concat(frames)
    if after is not None:
        if after.source not in names:
            raise CauceError(
                f"the table was loaded up to {after.source} line {after.line}, "
                f"but {after.source} is not among the sources {names}",
                hint="pass the same --source files, in the same order, as the earlier loads",
            )
        position = names.index(after.source)
        later_file = pl.col(_ORDER) > position
        later_line = (pl.col(_ORDER) == position) & (pl.col(LINE) > after.line)
        records = records.filter(later_file | later_line)
    chunk = records if size is None else records.head(min(size, records.height))
    if chunk.height == 0:
        return Chunk(chunk.drop(_ORDER), after, 0)
    last = chunk.row(chunk.height - 1, named=True)
    cursor = Cursor(names[last[_ORDER]], last[LINE])
    return Chunk(chunk.drop(_ORDER), cursor, records.height - chunk.height)
