"""Load census chunks into a warehouse exactly once.

One chunk is one transaction: its valid rows, its quarantined lines and the new checkpoint
(cursor plus running totals) are committed together, and the checkpoint is only moved if it
still holds the value this loader read (`expect=`). A loader killed at any point leaves either
the whole chunk or none of it; a second loader racing for the same chunk gets a conflict and
commits nothing. The totals live in the checkpoint, so the end-of-load report counts every row
exactly once however many runs (or crashes) it took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cauce import CauceError, Warehouse
from cauce.apps.census.chunker import Chunk, Cursor, next_chunk
from cauce.apps.census.description import Description
from cauce.apps.census.reader import SourceLines, read_lines
from cauce.apps.census.schema import DUPLICATE, SOURCE, create_statements, rejected_table
from cauce.apps.census.sources import SourceFile
from cauce.apps.census.validate import PROBLEM, Validated, validate


@dataclass
class Counts:
    """Records read, loaded and quarantined, per file and per reason."""

    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    files: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, chunk: Chunk, validated: Validated) -> Counts:
        """Count one chunk, vectorised: group by source and by each single reason."""
        files: dict[str, dict[str, int]] = {}
        for kind, frame in (("read", chunk.records), ("loaded", validated.rows),
                            ("quarantined", validated.rejected)):
            for name, count in frame.group_by(SOURCE, maintain_order=True).len().iter_rows():
                files.setdefault(name, {"read": 0, "loaded": 0, "quarantined": 0})[kind] = count
        reasons = (
            validated.rejected.select(pl.col(PROBLEM).str.split("; ").explode())
            .group_by(PROBLEM)
            .len()
            .sort(PROBLEM)
            .iter_rows()
        )
        return cls(
            read=chunk.records.height,
            loaded=validated.rows.height,
            quarantined=validated.rejected.height,
            duplicates=int(validated.rows[DUPLICATE].sum()),
            files=files,
            reasons=dict(reasons),
        )

    def __add__(self, other: Counts) -> Counts:
        files = {name: dict(counts) for name, counts in self.files.items()}
        for name, counts in other.files.items():
            mine = files.setdefault(name, {"read": 0, "loaded": 0, "quarantined": 0})
            for kind, count in counts.items():
                mine[kind] = mine.get(kind, 0) + count
        reasons = dict(self.reasons)
        for reason, count in other.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
        return Counts(
            self.read + other.read,
            self.loaded + other.loaded,
            self.quarantined + other.quarantined,
            self.duplicates + other.duplicates,
            files,
            reasons,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "files": self.files,
            "reasons": self.reasons,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Counts:
        return cls(
            value["read"], value["loaded"], value["quarantined"], value["duplicates"],
            {name: dict(counts) for name, counts in value["files"].items()},
            dict(value["reasons"]),
        )


@dataclass(frozen=True)
class LoadState:
    """What the checkpoint holds: the cursor, the running totals and the sources' checksums."""

    cursor: Cursor | None = None
    totals: Counts = field(default_factory=Counts)
    checksums: dict[str, str] = field(default_factory=dict)
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor.to_json() if self.cursor else None,
            "totals": self.totals.to_json(),
            "checksums": self.checksums,
            "done": self.done,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> LoadState:
        if value is None:
            return cls()
        cursor = Cursor.from_json(value["cursor"]) if value["cursor"] else None
        totals = Counts.from_json(value["totals"])
        return cls(cursor, totals, dict(value["checksums"]), value["done"])


@dataclass(frozen=True)
class ChunkResult:
    """What one call to `load_chunk` did, and where the whole load stands after it."""

    chunk: Counts
    state: LoadState
    remaining: int
    committed: bool  # False when there was nothing left to load
    sources: list[dict[str, Any]]  # per file: origin, size, checksum, lines by kind

    def report(self) -> dict[str, Any]:
        """The JSON report a run stores: the files, this chunk, the totals so far, the cursor."""
        return {
            "sources": self.sources,
            "chunk": self.chunk.to_json(),
            "total": self.state.totals.to_json(),
            "cursor": self.state.cursor.to_json() if self.state.cursor else None,
            "remaining": self.remaining,
            "done": self.state.done,
        }


def checkpoint_name(table: str) -> str:
    """The warehouse checkpoint that holds the load state of `table`."""
    return f"census:{table}"


def prepare(warehouse: Warehouse, description: Description, table: str) -> None:
    """Create the table, its quarantine table and the views if they are missing."""
    with warehouse.transaction() as transaction:
        for statement in create_statements(description, table, warehouse.dialect, warehouse.quote):
            transaction.execute(statement)


def read_sources(
    files: Sequence[SourceFile], encoding: str | None = None
) -> list[SourceLines]:
    """Split every fetched file into records (in `encoding`, detected when None); two sources
    may not share a file name."""
    names = [file.name for file in files]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CauceError(
            f"two sources are both named {repeated[0]!r}; rows are told apart by file name",
            hint="rename one of the files, or pass each file once",
        )
    return [read_lines(file.name, file.data, encoding) for file in files]


def load_chunk(
    warehouse: Warehouse,
    description: Description,
    table: str,
    files: Sequence[SourceFile],
    size: int | None,
    encoding: str | None = None,
) -> ChunkResult:
    """Validate and commit the next `size` records (all when None) after the checkpoint,
    reading the files in `encoding` (detected when None)."""
    name = checkpoint_name(table)
    previous = warehouse.checkpoint(name)
    state = LoadState.from_json(previous)
    if previous is None:
        _refuse_unknown_rows(warehouse, table)
    checksums = _checked_checksums(state, files)
    sources = read_sources(files, encoding)
    described = [_describe(file, lines) for file, lines in zip(files, sources, strict=True)]
    chunk = next_chunk(sources, state.cursor, size)
    if chunk.records.height == 0:
        return ChunkResult(Counts(), state, 0, committed=False, sources=described)
    validated = validate(chunk.records, description)
    counts = Counts.of(chunk, validated)
    new_state = LoadState(chunk.cursor, state.totals + counts, checksums, chunk.done)
    with warehouse.transaction() as transaction:
        # The checkpoint moves first: a loader that lost the race stops here, before writing
        # a row, and on PostgreSQL the checkpoint's row lock makes a racing loader wait.
        transaction.set_checkpoint(name, new_state.to_json(), expect=previous)
        if validated.rows.height:
            transaction.load(table, validated.rows)
        if validated.rejected.height:
            transaction.load(rejected_table(table), validated.rejected.drop(PROBLEM))
    return ChunkResult(counts, new_state, chunk.remaining, committed=True, sources=described)


def _describe(file: SourceFile, lines: SourceLines) -> dict[str, Any]:
    return {
        "name": file.name,
        "origin": file.origin,
        "bytes": len(file.data),
        "sha256": file.sha256,
        "lines": lines.physical_lines,
        "records": lines.records.height,
        "comment_lines": lines.comment_lines,
        "blank_lines": lines.blank_lines,
    }


def _checked_checksums(state: LoadState, files: Sequence[SourceFile]) -> dict[str, str]:
    """The sources' checksums; a file that changed since the load began is an error."""
    checksums = dict(state.checksums)
    for file in files:
        known = checksums.setdefault(file.name, file.sha256)
        if known != file.sha256:
            raise CauceError(
                f"{file.name} changed since the load of this table began "
                f"(sha256 {file.sha256[:12]}..., was {known[:12]}...)",
                hint="load the changed files into a new table with --table NAME",
            )
    return checksums


def _refuse_unknown_rows(warehouse: Warehouse, table: str) -> None:
    """Rows without a checkpoint were not loaded by this app: never mix them in."""
    counted = warehouse.query(f"SELECT COUNT(*) AS n FROM {warehouse.quote(table)}")
    rows = counted.column(0)[0].as_py()
    if rows:
        raise CauceError(
            f"table {table!r} already holds {rows:,} rows that no census checkpoint accounts for",
            hint="load into another table with --table, or drop this one first",
        )
