"""Load census chunks into a warehouse exactly once.

One chunk is one transaction: its valid rows, its quarantined lines and the new checkpoint
(cursor plus running totals) are committed together, and the checkpoint is only moved if it
still holds the value this loader read (`expect=`). A loader killed at any point leaves either
the whole chunk or none of it; a second loader racing for the same chunk gets a conflict and
commits nothing. The totals live in the checkpoint, so the end-of-load report counts every row
exactly once however many runs (or crashes) it took.

Within the transaction a chunk of more than OVERLAP_FROM records is written in batches, each
validated by a worker thread while the batch before it is written (see `_validated_batches`);
the checkpoint is claimed before the first row and given the chunk's totals after the last, and
the quarantined lines of every batch are written once, after the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from cauce import CauceError, Warehouse
from cauce.apps.census.chunker import Cursor, check_order, next_chunk
from cauce.apps.census.description import Description
from cauce.apps.census.reader import SourceLines, read_lines
from cauce.apps.census.schema import DUPLICATE, LINE, SOURCE, create_statements, rejected_table
from cauce.apps.census.sources import SourceFile, compression
from cauce.apps.census.validate import PROBLEM, Validated, validate

if TYPE_CHECKING:
    import pyarrow as pa

    from cauce.warehouse import Transaction


# A chunk of more than OVERLAP_FROM records is cut into equal batches of at most
# BATCH_RECORDS, at least two, each validated while the one before is written (see
# _batch_bounds); a smaller chunk (1,630 records every 10 seconds by default) is validated,
# then written, in one batch. Both Adult files in one chunk (48,842 records) are two batches.
OVERLAP_FROM = 8_192
BATCH_RECORDS = 65_536
# the PostgreSQL advisory lock loaders of one table take turns under: this, then its checkpoint
TURN_PREFIX = "cauce."


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
    def of(cls, records: pl.DataFrame, validated: Validated) -> Counts:
        """Count `records` once validated, vectorised: group by source and by each reason.
        Every record is either loaded or quarantined, so only the records and the (few)
        quarantined lines are grouped."""
        quarantined = dict(validated.rejected.group_by(SOURCE).len().iter_rows())
        files = {
            name: {"read": read, "loaded": read - quarantined.get(name, 0),
                   "quarantined": quarantined.get(name, 0)}
            for name, read in records.group_by(SOURCE, maintain_order=True).len().iter_rows()
        }
        reasons = (
            validated.rejected.select(pl.col(PROBLEM).str.split("; ").explode())
            .group_by(PROBLEM)
            .len()
            .sort(PROBLEM)
            .iter_rows()
        )
        return cls(
            read=records.height,
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
        reasons = dict(sorted(reasons.items()))
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
    """What the checkpoint holds: the cursor, the running totals, the sources' checksums and
    the Description the last chunk followed (`origin` and `sha256`; empty before any load)."""

    cursor: Cursor | None = None
    totals: Counts = field(default_factory=Counts)
    checksums: dict[str, str] = field(default_factory=dict)
    done: bool = False
    description: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor.to_json() if self.cursor else None,
            "totals": self.totals.to_json(),
            "checksums": self.checksums,
            "done": self.done,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> LoadState:
        if value is None:
            return cls()
        cursor = Cursor.from_json(value["cursor"]) if value["cursor"] else None
        totals = Counts.from_json(value["totals"])
        # Checkpoints written before the Description was recorded have none.
        followed = dict(value.get("description") or {})
        return cls(cursor, totals, dict(value["checksums"]), value["done"], followed)


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


def prepare(transaction: Transaction, description: Description, table: str, dialect: str,
            quote: Callable[[str], str]) -> None:
    """Create the table, its quarantine table and the views if they are missing; a table of
    that name that is not one of this Description's is refused before anything refers to its
    columns."""
    data_table, *others = create_statements(description, table, dialect, quote)
    transaction.execute(data_table)
    _refuse_other_columns(transaction, description, table, quote)
    for statement in others:
        transaction.execute(statement)


def _refuse_other_columns(transaction: Transaction, description: Description, table: str,
                          quote: Callable[[str], str]) -> None:
    """A relation named `table` whose columns are not the Description's (another table's
    quarantine or view, another app's table) failed later with the database's own words
    about a missing column, or on PostgreSQL in the middle of creating the views."""
    found = transaction.query(f"SELECT * FROM {quote(table)} WHERE 1 = 0").column_names
    wanted = [*description.names, SOURCE, LINE, DUPLICATE]
    if found != wanted:
        raise CauceError(
            f"{table!r} is not a census table of this Description: its columns are "
            f"{', '.join(found)}",
            hint="load into another table with --table (its quarantine goes to "
            "<table>_rejected and its views to <table>_income_by_...), or drop this one first",
        )


def read_sources(
    files: Sequence[SourceFile], pool: Executor, encoding: str | None = None
) -> list[Future[SourceLines]]:
    """Split every fetched file into records (in `encoding`, detected when None), each file in
    a thread of `pool`, so that two files split side by side; two sources may not share a
    file name, and a compressed one is refused rather than split into binary "records"."""
    names = [file.name for file in files]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CauceError(
            f"two sources are both named {repeated[0]!r}; rows are told apart by file name",
            hint="rename one of the files, or pass each file once",
        )
    for file in files:
        if kind := compression(file.data):
            raise CauceError(
                f"{file.name} is {kind}-compressed, not text: its records cannot be read",
                hint="decompress it and pass the file inside with --source",
            )
    return [pool.submit(read_lines, file.name, file.data, encoding) for file in files]


def load_chunk(
    warehouse: Warehouse,
    description: Description,
    table: str,
    files: Sequence[SourceFile],
    size: int | None,
    encoding: str | None = None,
    description_file: SourceFile | None = None,
    progress: Callable[[int, int], None] | None = None,
    waiting: Callable[[str], None] | None = None,
) -> ChunkResult:
    """Validate and commit the next `size` records (all when None) after the checkpoint,
    reading the files in `encoding` (detected when None). The checkpoint records where
    `description_file` (the file `description` was parsed from) came from, for the report.
    `progress(records written, records in the chunk)` hears of each batch; `waiting(what)`
    hears when the load waits for another loader of the table to commit."""
    name = checkpoint_name(table)
    # One connection and one transaction, tables included: the checkpoint is read in the
    # transaction that moves it, so a new database file is created, written and committed by
    # that one connection (its first write needs no WAL, see cauce.warehouse.sqlite). The
    # tables and views (created when missing), the checkpoint, the rows and the quarantined
    # lines commit together. The files are split into lines while the transaction opens.
    with ThreadPoolExecutor(max(2, len(files)), thread_name_prefix="census") as pool:
        reading = read_sources(files, pool, encoding)
        with warehouse.transaction() as transaction:
            _take_turn(transaction, warehouse.dialect, name, table, waiting)
            previous = transaction.checkpoint(name)
            state = LoadState.from_json(previous)
            checksums = _checked_checksums(state, files)
            sources = [future.result() for future in reading]
            described = [_describe(file, lines) for file, lines in zip(files, sources, strict=True)]
            check_order(sources, state.cursor, state.totals.files)
            chunk = next_chunk(sources, state.cursor, size)
            # The first batch is checked, in a thread the split left idle, while the tables
            # are made ready and the checkpoint claimed.
            batches = (_validated_batches(chunk.records, description, pool)
                       if chunk.records.height else None)
            prepare(transaction, description, table, warehouse.dialect, warehouse.quote)
            if batches is None:
                return ChunkResult(Counts(), state, 0, committed=False, sources=described)
            if previous is None:
                _refuse_unknown_rows(transaction, warehouse.quote, table)
            followed = (
                {"origin": description_file.origin, "sha256": description_file.sha256}
                if description_file is not None else state.description
            )
            # The checkpoint is claimed before any row: a loader that lost the race stops here.
            # The totals it ends with are known once every batch is validated.
            claim = {**state.to_json(), "loading": chunk.cursor.to_json() if chunk.cursor else None}
            transaction.set_checkpoint(name, claim, expect=previous)
            counts, rejected = Counts(), []
            for batch in batches:
                counts += batch.counts
                if batch.rows.num_rows:
                    transaction.load(table, batch.rows)
                if batch.rejected.height:
                    rejected.append(batch.rejected)
                if progress is not None:
                    progress(counts.read, chunk.records.height)
            if rejected:  # one statement for every batch's few quarantined lines
                transaction.load(rejected_table(table), pl.concat(rejected))
            new_state = LoadState(chunk.cursor, state.totals + counts, checksums, chunk.done,
                                  followed)
            transaction.set_checkpoint(name, new_state.to_json(), expect=claim)
    return ChunkResult(counts, new_state, chunk.remaining, committed=True, sources=described)


def _take_turn(transaction: Transaction, dialect: str, name: str, table: str,
               waiting: Callable[[str], None] | None) -> None:
    """On PostgreSQL, wait until no other loader of checkpoint `name` is in its transaction.

    Two loaders creating the tables at once failed inside PostgreSQL's catalog, even with IF
    NOT EXISTS ("duplicate key value violates unique constraint pg_type_typname_nsp_index").
    Holding a transaction-scoped advisory lock from before the checkpoint is read, the second
    loader reads the checkpoint the first committed and loads the chunk after it. (SQLite and
    DuckDB let one writer at a time into its transaction anyway.) A loader that has to wait
    says so first (a silent wait looks like a hang)."""
    if dialect != "postgresql":
        return
    # per schema: loads of tables of one name in two schemas do not wait for each other
    key = [f"{TURN_PREFIX}{name}"]
    turn = "hashtext(current_schema() || ':' || ?)"
    free = transaction.query(f"SELECT pg_try_advisory_xact_lock({turn}) AS turn", key)
    if free.column(0)[0].as_py():
        return
    if waiting is not None:
        waiting(f"another load of table {table!r} is in its transaction: this one waits for "
                "it to commit, then loads the chunk after it")
    transaction.query(f"SELECT pg_advisory_xact_lock({turn}) AS turn", key)


def _validated_batches(records: pl.DataFrame, description: Description,
                       pool: Executor) -> Iterator[_Checked]:
    """`records` in batches (see _batch_bounds), each validated and counted in a thread of
    `pool`, handed over in order.

    The first batch's check starts at once; each later one when the caller takes the batch
    before it, so it runs while the caller writes that one: the database drivers and Polars
    both release the GIL, so on two cores checking and writing overlap, and no two checks
    compete for the cores.
    """
    batches = [records.slice(start, size) for start, size in _batch_bounds(records.height)]
    first = pool.submit(_checked, batches[0], description)
    return _in_turn(first, batches[1:], description, pool)


def _in_turn(pending: Future[_Checked], later: list[pl.DataFrame], description: Description,
             pool: Executor) -> Iterator[_Checked]:
    for batch in later:
        done = pending.result()
        pending = pool.submit(_checked, batch, description)
        yield done
    yield pending.result()


def _batch_bounds(records: int) -> Iterator[tuple[int, int]]:
    """(start, size) of each batch: the whole chunk when it has at most OVERLAP_FROM records,
    else equal batches of at most BATCH_RECORDS, at least two.

    Only the first batch's check delays the first insert; every later one runs in a second
    thread beside the insert before it. On two free cores both Adult files load in about
    110 ms in two batches against 130 in one (docs/benchmarks.md, "Census load, 2026-12-06
    (evening)"). Smaller first batches gain nothing: the second one's check, larger, then
    outlasts the first insert. A small chunk is not worth the thread.
    """
    if records <= OVERLAP_FROM:
        yield 0, records
        return
    count = max(2, -(-records // BATCH_RECORDS))
    size, longer = divmod(records, count)
    start = 0
    for index in range(count):
        length = size + (index < longer)
        yield start, length
        start += length


@dataclass(frozen=True)
class _Checked:
    """One batch once checked: its valid rows already as Arrow (converted by the checking
    thread, so the writing thread only inserts), its quarantined lines and its counts."""

    rows: pa.Table
    rejected: pl.DataFrame
    counts: Counts


def _checked(records: pl.DataFrame, description: Description) -> _Checked:
    validated = validate(records, description)
    # Polars' own layout: text as string views, no copy (a warehouse whose driver does not
    # bind views converts them).
    rows = validated.rows.to_arrow(compat_level=pl.CompatLevel.newest())
    return _Checked(rows, validated.rejected.drop(PROBLEM), Counts.of(records, validated))


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


def _refuse_unknown_rows(
    transaction: Transaction, quote: Callable[[str], str], table: str
) -> None:
    """Rows without a checkpoint were not loaded by this app: never mix them in."""
    counted = transaction.query(f"SELECT COUNT(*) AS n FROM {quote(table)}")
    rows = counted.column(0)[0].as_py()
    if rows:
        raise CauceError(
            f"table {table!r} already holds {rows:,} rows that no census checkpoint accounts for",
            hint="load into another table with --table, or drop this one first",
        )
