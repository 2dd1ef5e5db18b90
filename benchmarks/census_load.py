"""Census: full load of both Adult files into SQLite, the census app against three peers.

The census side is `cauce run census load --all`: read both files, validate every record
(field count, integers, listed values, known class), flag duplicates, create the STRICT typed
table (NOT NULL class), its quarantine table and six views, and write the valid rows, the
quarantined lines with their reasons and the checkpoint in one transaction.

The peers, run in the same process and the same rounds:

- **polars + ADBC**, what a well-known-library load of the same files looks like: polars
  `read_csv` of both files (comment lines skipped), every text field stripped, the six integer
  columns cast (a record whose integer does not parse becomes NULL), the records with a NULL
  integer (the 5 bad ones) dropped, then `write_database` through ADBC's SQLite driver, which
  creates an untyped, unconstrained table and inserts the Arrow data in native code. No
  listed-value checks, no reasons, no duplicates flag, no checkpoint;
- **pandas**: `read_csv` of both files and one `to_sql` into SQLite, with no cleaning at all
  (the original exercise's approach in its fastest form);
- **the floor**: the polars + ADBC load given the census load's database guarantees, to show
  what those cost with the fastest well-known tools: polars `read_csv`, fields stripped,
  integers cast, every nominal field checked against the Description's listed values, the
  records failing either dropped (no reasons), a row number and the file name added, then one
  ADBC ingest into the census app's own STRICT typed table (NOT NULL class; 16 KiB pages and
  the first write of a new file under a rollback journal, then WAL, as the warehouse does),
  created in the same transaction that also writes a checkpoint row. No quarantine, no
  reasons, no duplicates flag, no run records;
- **the floor, pipelined**: the same work, the first file cut at a line end into two pieces,
  each piece read and checked in a second thread while the piece before it is inserted (the
  overlap the census load has between its checks and its inserts).

Each repetition writes a fresh database file. The figures are medians of wall time and of
process CPU time (`time.process_time`: every thread, user + system), which a busy machine
inflates much less than wall time; the ratios are of medians in this run.

    .venv/bin/python benchmarks/census_load.py [--data ../shared/data/census] [--repeat 9]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pandas as pd
import polars as pl

from cauce import Runtime
from cauce.apps.census import app, load
from cauce.apps.census.description import DESCRIPTION_FILE, Description, read_description
from cauce.apps.census.schema import create_statements

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "census"
NAMES = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "class",
]
INTEGERS = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CENSUS = "cauce census load --all"
POLARS = "polars read_csv + ADBC write_database"
PANDAS = "pandas read_csv + one to_sql"
FLOOR = "floor: polars + ADBC, census guarantees"
PIPELINED = "floor, pipelined in pieces"


def cauce_census(files: list[Path], database: Path) -> tuple[float, float]:
    """`cauce run census load --all` on a fresh database, checked for the expected counts.

    Timed: the run (read, validate, create tables and views, write, checkpoint, run records);
    not timed: opening the in-process runtime, which `cauce run` does once at start-up.
    """
    settings = {"db": f"sqlite:///{database}", "source": [str(f) for f in files]}
    with Runtime(app, settings=settings, home=database.parent / "home") as runtime:
        start, cpu = time.perf_counter(), time.process_time()
        run = runtime.run(load, all=True)
        elapsed = time.perf_counter() - start, time.process_time() - cpu
    if run.error or not run.result:
        raise SystemExit(f"the census load failed: {run.error}")
    total = run.result["total"]
    if (total["read"], total["loaded"], total["quarantined"]) != (48_842, 48_837, 5):
        raise SystemExit(f"unexpected counts: {total}")
    return elapsed


def bulk_connection(database: Path) -> adbc_sqlite.Connection:
    """An ADBC connection to a new SQLite file with the census warehouse's page size and a
    larger cache, as a bulk load would set them."""
    connection = adbc_sqlite.connect(str(database), autocommit=True)
    with connection.cursor() as cursor:
        for pragma in ("page_size = 16384", "cache_size = -32768"):
            cursor.execute(f"PRAGMA {pragma}")
            cursor.fetchall()
    return connection


def read_and_clean(files: list[Path], *, quote_char: str | None = '"') -> pl.DataFrame:
    """The peer's cleaning: both files read as text, stripped, the integers typed, the records
    they reject dropped."""
    frames = [
        pl.read_csv(file, has_header=False, new_columns=NAMES, comment_prefix="|",
                    quote_char=quote_char, schema_overrides=dict.fromkeys(NAMES, pl.String))
        for file in files
    ]
    return (
        pl.concat(frames)
        .with_columns(pl.col(pl.String).str.strip_chars())
        .with_columns(pl.col(INTEGERS).cast(pl.Int64, strict=False))
        .drop_nulls(INTEGERS)
    )


def polars_adbc(files: list[Path], database: Path) -> tuple[float, float]:
    """Read, strip, type the integers, drop the records they reject, write through ADBC."""
    start, cpu = time.perf_counter(), time.process_time()
    read_and_clean(files).write_database("adult", f"sqlite:///{database}", engine="adbc")
    return time.perf_counter() - start, time.process_time() - cpu


def checked_rows(sources: list[tuple[str, bytes | Path]], description: Description,
                 offsets: list[int] | None = None) -> pl.DataFrame:
    """The floor's checks: each (file name, bytes or path) read by polars `read_csv`, fields
    stripped, integers cast, every nominal field checked against the Description's listed
    values, the records failing either dropped (no reasons), a row number (from `offsets`,
    else 1) and the file name added."""
    listed = [
        pl.col(column.name).is_in([*column.values, "?"])
        for column in description.columns
        if column.kind == "nominal"
    ]
    frames = [
        pl.read_csv(
            data,
            has_header=False,
            new_columns=NAMES,
            comment_prefix="|",
            quote_char=None,
            schema_overrides=dict.fromkeys(NAMES, pl.String),
        )
        .with_row_index("_line", offset=offset)
        .with_columns(pl.lit(name).alias("_source"))
        for (name, data), offset in zip(sources, offsets or [1] * len(sources), strict=True)
    ]
    return (
        pl.concat(frames)
        .with_columns(pl.col(pl.String).str.strip_chars())
        .with_columns(
            pl.col(INTEGERS).cast(pl.Int32, strict=False), pl.col("class").str.strip_suffix(".")
        )
        .filter(pl.all_horizontal(pl.col(INTEGERS).is_not_null(), *listed))
        .select(
            *NAMES, "_source", pl.col("_line").cast(pl.Int32), pl.lit(False).alias("_duplicate")
        )
    )


def census_description(files: list[Path]) -> Description:
    return read_description((files[0].parent / DESCRIPTION_FILE).read_bytes(), DESCRIPTION_FILE)


@contextmanager
def census_table(database: Path, description: Description) -> Iterator[adbc_sqlite.Cursor]:
    """A cursor in one transaction that creates the census app's STRICT table and a
    checkpoint table, writes a checkpoint row once the body has inserted the rows, commits,
    then switches the new file to WAL, as the warehouse does."""
    connection = bulk_connection(database)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute(create_statements(description, "adult", "sqlite", quoted)[0])
        cursor.execute("CREATE TABLE checkpoint (name TEXT PRIMARY KEY, value TEXT) STRICT")
        yield cursor
        cursor.execute("INSERT INTO checkpoint VALUES ('census:adult', '{}')")
        cursor.execute("COMMIT")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.fetchall()
    connection.close()


def floor(files: list[Path], database: Path) -> tuple[float, float]:
    """Polars read and checks, then one ADBC ingest into the census STRICT table."""
    start, cpu = time.perf_counter(), time.process_time()
    description = census_description(files)
    rows = checked_rows([(file.name, file) for file in files], description)
    with census_table(database, description) as cursor:
        cursor.adbc_ingest("adult", rows.to_arrow(), mode="append")
    return time.perf_counter() - start, time.process_time() - cpu


def pieces(file: Path, count: int) -> list[tuple[bytes, int]]:
    """`file` cut at line ends into `count` pieces of about equal size, each with the number
    of its first line."""
    data = file.read_bytes()
    bounds = [0, *(data.index(b"\n", len(data) * i // count) + 1 for i in range(1, count)),
              len(data)]
    return [(data[start:end], data.count(b"\n", 0, start) + 1)
            for start, end in itertools.pairwise(bounds)]


def floor_pipelined(files: list[Path], database: Path) -> tuple[float, float]:
    """The floor, each piece read and checked in a second thread while the piece before it is
    inserted: the first file in two pieces, the others whole (fewer, larger pieces measured
    slower; more, smaller ones too)."""
    start, cpu = time.perf_counter(), time.process_time()
    description = census_description(files)
    work = [(file.name, piece) for index, file in enumerate(files)
            for piece in pieces(file, 2 if index == 0 else 1)]
    with ThreadPoolExecutor(1) as pool:
        checked = [
            pool.submit(lambda name, data, line: checked_rows([(name, data)], description,
                                                              [line]).to_arrow(),
                        name, data, line)
            for name, (data, line) in work
        ]
        with census_table(database, description) as cursor:
            for piece in checked:
                cursor.adbc_ingest("adult", piece.result(), mode="append")
    return time.perf_counter() - start, time.process_time() - cpu


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def pandas_to_sql(files: list[Path], database: Path) -> tuple[float, float]:
    """Both files read by pandas and written by one `to_sql` call, unchecked."""
    start, cpu = time.perf_counter(), time.process_time()
    connection = sqlite3.connect(database)
    pd.concat([pd.read_csv(f, names=NAMES) for f in files]).to_sql(
        "adult", con=connection, index=False
    )
    connection.close()
    return time.perf_counter() - start, time.process_time() - cpu


def rows_written(database: Path) -> int:
    connection = sqlite3.connect(database)
    try:
        return connection.execute('SELECT COUNT(*) FROM "adult"').fetchone()[0]
    finally:
        connection.close()


Timed = Callable[[list[Path], Path], tuple[float, float]]


def arguments(description: str) -> tuple[argparse.Namespace, list[Path]]:
    """The command line of the census benchmarks (``--data``, ``--repeat``) and both files."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    files = [args.data / "Adult.data", args.data / "Adult.test"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}; pass --data with the census folder")
    return args, files


def rounds(contenders: dict[str, Timed], files: list[Path], repeat: int,
           prefix: str) -> tuple[dict[str, list[tuple[float, float]]], dict[str, int]]:
    """Each contender's (wall, CPU) seconds in each of ``repeat`` rounds, each on a fresh
    database, contenders interleaved after a first round that warms caches and is not counted;
    and the rows each wrote."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    written: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        for repetition in range(repeat + 1):
            for index, (name, work) in enumerate(contenders.items()):
                folder = Path(scratch) / f"{repetition}-{index}"
                folder.mkdir(parents=True)
                elapsed = work(files, folder / "target.db")
                written[name] = rows_written(folder / "target.db")
                if repetition:
                    times[name].append(elapsed)
    return times, written


def main() -> None:
    args, files = arguments(__doc__)
    contenders = {CENSUS: cauce_census, POLARS: polars_adbc, PANDAS: pandas_to_sql, FLOOR: floor,
                  PIPELINED: floor_pipelined}
    load_before = os.getloadavg()[0]
    figures, written = rounds(contenders, files, args.repeat, "census-bench-")
    times = {name: [wall for wall, _ in pairs] for name, pairs in figures.items()}
    cpus = {name: [cpu for _, cpu in pairs] for name, pairs in figures.items()}
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpus.items()}
    print(
        f"census load benchmark, {datetime.date.today()}, Python {platform.python_version()}, "
        f"polars {pl.__version__}, pandas {pd.__version__}, median of {args.repeat}, "
        f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after"
    )
    for name, median in medians.items():
        spread = f"{min(times[name]) * 1000:.0f}-{max(times[name]) * 1000:.0f}"
        print(
            f"  {name:<40} {median * 1000:6.0f} ms (range {spread:>9})  "
            f"CPU {cpu_medians[name] * 1000:4.0f} ms  {written[name]:>7,} rows"
        )
    for kind, figures in (("wall", medians), ("CPU", cpu_medians)):
        ours = figures[CENSUS]
        print(
            f"  {kind:>4}: census / polars+ADBC {ours / figures[POLARS]:.2f}x (target at most "
            f"1.2x), pandas / census {figures[PANDAS] / ours:.2f}x (target at least 3x), "
            f"floor / polars+ADBC {figures[FLOOR] / figures[POLARS]:.2f}x, "
            f"census / floor {ours / figures[FLOOR]:.2f}x, pipelined floor / polars+ADBC "
            f"{figures[PIPELINED] / figures[POLARS]:.2f}x, pandas / pipelined floor "
            f"{figures[PANDAS] / figures[PIPELINED]:.2f}x"
        )


if __name__ == "__main__":
    main()
