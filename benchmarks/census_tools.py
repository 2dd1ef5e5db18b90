"""Census: the fastest whole-job loads well-known tools offer, against the census load.

Each contender loads both real Adult files into a fresh SQLite file, in the same process and
the same rounds as the census load (`cauce run census load --all`) and the polars + ADBC peer
of `census_load.py`:

- **polars + ADBC, tuned**: the peer with SQLite's pragmas set for a bulk load (16 KiB pages,
  a 32 MB cache), no quote handling in the reader, one `adbc_ingest` in one transaction;
- **DuckDB + ADBC**: DuckDB's multi-threaded `read_csv` of both files (comment lines skipped),
  fields trimmed and integers cast in SQL, the records whose integers do not parse dropped,
  the result handed to ADBC as Arrow (DuckDB's own SQLite extension needs a download, so it is
  not used);
- **pyarrow.csv + ADBC**: Arrow's multi-threaded CSV reader, fields trimmed, no integer cast
  (an untyped load), one `adbc_ingest`;
- **sqlite3 `.import`**: the SQLite shell's own C importer of both raw files into an untyped
  table (no cleaning, no typing; a child process, its start-up included, CPU of the child).

None of them checks listed values, gives reasons or keeps a checkpoint. Medians of wall and
CPU time (process time; the child's for the shell), contenders interleaved, a warm-up round.

    .venv/bin/python benchmarks/census_tools.py [--data ../shared/data/census] [--repeat 9]
"""

from __future__ import annotations

import datetime
import os
import statistics
import subprocess
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from census_load import (
    INTEGERS,
    NAMES,
    Timed,
    arguments,
    bulk_connection,
    cauce_census,
    polars_adbc,
    read_and_clean,
    rounds,
)


def ingest(table: pa.Table, database: Path) -> None:
    """One ADBC ingest into a new table, in one transaction, with bulk-load pragmas."""
    connection = bulk_connection(database)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN IMMEDIATE")
        cursor.adbc_ingest("adult", table, mode="create")
        cursor.execute("COMMIT")
    connection.close()


def polars_tuned(files: list[Path], database: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    ingest(read_and_clean(files, quote_char=None).to_arrow(), database)
    return time.perf_counter() - start, time.process_time() - cpu


def duckdb_adbc(files: list[Path], database: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fields = [f'TRY_CAST(trim(column{i:02d}) AS INTEGER) AS "{name}"' if name in INTEGERS
              else f'trim(column{i:02d}) AS "{name}"' for i, name in enumerate(NAMES)]
    columns = ", ".join(f"'column{i:02d}': 'VARCHAR'" for i in range(len(NAMES)))
    sources = ", ".join(f"'{file}'" for file in files)
    kept = " AND ".join(f'"{name}" IS NOT NULL' for name in INTEGERS)
    query = (
        f"SELECT * FROM (SELECT {', '.join(fields)} FROM read_csv([{sources}], header = false, "
        f"quote = '', comment = '|', null_padding = true, ignore_errors = true, "
        f"columns = {{{columns}}})) WHERE {kept}"
    )
    with duckdb.connect() as connection:
        table = connection.sql(query).to_arrow_table()
    ingest(table, database)
    return time.perf_counter() - start, time.process_time() - cpu


def pyarrow_adbc(files: list[Path], database: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    read = pa_csv.ReadOptions(column_names=NAMES)
    parse = pa_csv.ParseOptions(quote_char=False, invalid_row_handler=lambda row: "skip")
    convert = pa_csv.ConvertOptions(column_types=dict.fromkeys(NAMES, pa.string()))
    table = pa.concat_tables(
        pa_csv.read_csv(file, read_options=read, parse_options=parse, convert_options=convert)
        for file in files
    )
    trimmed = pa.table({name: pc.utf8_trim_whitespace(table[name]) for name in NAMES})
    ingest(trimmed, database)
    return time.perf_counter() - start, time.process_time() - cpu


def sqlite_import(files: list[Path], database: Path) -> tuple[float, float]:
    start, before = time.perf_counter(), os.times()
    columns = ", ".join(f'"{name}"' for name in NAMES)
    script = f"PRAGMA page_size = 16384;\nCREATE TABLE adult ({columns});\n" + "".join(
        f".import --csv {file} adult\n" for file in files
    )
    subprocess.run(["sqlite3", str(database)], input=script, text=True, check=True,
                   capture_output=True)
    after = os.times()
    child = (after.children_user - before.children_user) + (
        after.children_system - before.children_system)
    return time.perf_counter() - start, child


def main() -> None:
    args, files = arguments(__doc__)
    contenders: dict[str, Timed] = {
        "cauce census load --all": cauce_census,
        "polars + ADBC (census_load.py's peer)": polars_adbc,
        "polars + ADBC, tuned": polars_tuned,
        "DuckDB read_csv + ADBC": duckdb_adbc,
        "pyarrow.csv + ADBC, untyped": pyarrow_adbc,
        "sqlite3 .import, raw and untyped": sqlite_import,
    }
    load_before = os.getloadavg()[0]
    times, written = rounds(contenders, files, args.repeat, "census-tools-")
    print(f"census whole-job tools, {datetime.date.today()}, median of {args.repeat}, load "
          f"average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after")
    peer = statistics.median(wall for wall, _ in times["polars + ADBC (census_load.py's peer)"])
    for name, figures in times.items():
        wall = statistics.median(w for w, _ in figures)
        cpu = statistics.median(c for _, c in figures)
        print(f"  {name:<40} {wall * 1000:6.0f} ms  CPU {cpu * 1000:4.0f} ms  "
              f"{written[name]:>7,} rows  {wall / peer:.2f}x the peer")


if __name__ == "__main__":
    main()
