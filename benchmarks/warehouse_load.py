"""Warehouse load: 48,842 rows x 17 columns through `load()`, against the libraries' loads.

The data has the census table's shape (7 integer columns, 10 short text columns, 48,842 rows),
generated with a fixed seed. Each repetition loads it into a fresh table in one `load()` call
(creating the table, inserting, committing with SQLite's default durability). Peers, on the
same data in the same rounds: polars `write_database` through ADBC's SQLite driver and pandas
`to_sql` into SQLite; on PostgreSQL, ADBC's own `adbc_ingest` (COPY in binary form) against
cauce's COPY of CSV that Arrow writes. Ratios are of medians in one run.

    .venv/bin/python benchmarks/warehouse_load.py [--repeat 7]

PostgreSQL is measured when 127.0.0.1:5432 (user postgres, database test) answers; it needs
the `bench` extra (adbc-driver-postgresql).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from cauce.errors import WarehouseError
from cauce.warehouse import connect

ROWS = 48_842
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SQLITE = "cauce load, SQLite file (ADBC ingest, WAL, synchronous=FULL)"
PANDAS = "pandas to_sql, SQLite file"
POSTGRES_COPY = "cauce load, PostgreSQL (COPY csv written by Arrow)"
POSTGRES_ADBC = "ADBC adbc_ingest, PostgreSQL (COPY binary)"
INTEGER_COLUMNS = (
    "row_id",
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
)
TEXT_COLUMNS = {
    "workclass": ["Private", "Self-emp-not-inc", "Local-gov", "State-gov", "?"],
    "education": ["Bachelors", "HS-grad", "11th", "Masters", "Some-college", "Doctorate"],
    "marital_status": ["Married-civ-spouse", "Divorced", "Never-married", "Widowed"],
    "occupation": ["Tech-support", "Craft-repair", "Sales", "Exec-managerial", "?"],
    "relationship": ["Wife", "Own-child", "Husband", "Not-in-family", "Unmarried"],
    "race": ["White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black"],
    "sex": ["Female", "Male"],
    "native_country": ["United-States", "Mexico", "Chile", "Philippines", "Germany"],
    "income": ["<=50K", ">50K", "<=50K.", ">50K."],
    "source": ["adult.data", "adult.test"],
}


def census_like(rows: int = ROWS) -> pa.Table:
    generator = np.random.default_rng(42)
    columns: dict[str, pa.Array] = {"row_id": pa.array(np.arange(rows, dtype=np.int64))}
    for name in INTEGER_COLUMNS[1:]:
        columns[name] = pa.array(generator.integers(0, 100_000, rows, dtype=np.int64))
    for name, values in TEXT_COLUMNS.items():
        columns[name] = pa.array(generator.choice(values, rows).tolist(), pa.string())
    return pa.table(columns)


def timed(contenders: dict[str, Callable[[int], None]], repeat: int) -> dict[str, list[float]]:
    """Seconds of each contender's ``run(i)``, interleaved round by round so that a busy
    machine slows them alike (each run loads into fresh storage); round 0 only warms up."""
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for index in range(repeat + 1):
        for name, run in contenders.items():
            started = time.perf_counter()
            run(index)
            if index:
                seconds[name].append(time.perf_counter() - started)
    return seconds


def describe(name: str, seconds: list[float]) -> str:
    median = statistics.median(seconds)
    return f"| {name} | {median:.3f} | {min(seconds):.3f} | {ROWS / median:,.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    data = census_like()
    frame = data.to_pandas()
    polars_frame = pl.from_arrow(data)
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)

        def cauce_sqlite(index: int) -> None:
            with connect(f"sqlite:///{work / f'cauce-{index}.db'}") as warehouse:
                warehouse.load("census", data)

        def polars_sqlite(index: int) -> None:
            polars_frame.write_database(  # type: ignore[union-attr]
                "census", f"sqlite:///{work / f'polars-{index}.db'}", engine="adbc"
            )

        def pandas_sqlite(index: int) -> None:
            connection = sqlite3.connect(work / f"pandas-{index}.db")
            try:
                frame.to_sql("census", connection, index=False)
            finally:
                connection.close()

        def cauce_duckdb(index: int) -> None:
            with connect(f"duckdb:///{work / f'cauce-{index}.duckdb'}") as warehouse:
                warehouse.load("census", data)

        contenders = {
            SQLITE: cauce_sqlite,
            "polars write_database (ADBC), SQLite file": polars_sqlite,
            PANDAS: pandas_sqlite,
            "cauce load, DuckDB file (open, load, close)": cauce_duckdb,
        }
        with postgres_contenders(data) as postgres:
            contenders.update(postgres)
            results = timed(contenders, args.repeat)

    print(f"Warehouse load of {ROWS:,} rows x {data.num_columns} columns, median of "
          f"{args.repeat}")
    print(f"{datetime.date.today()}, Python {platform.python_version()}, {platform.machine()}, "
          f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after")
    print("| target | median s | best s | rows/s |")
    print("|---|---|---|---|")
    for name, seconds in results.items():
        print(describe(name, seconds))
    median = {name: statistics.median(seconds) for name, seconds in results.items()}
    print(f"SQLite: pandas to_sql / cauce load = {median[PANDAS] / median[SQLITE]:.2f}x")
    if POSTGRES_COPY in median:
        print(f"PostgreSQL: ADBC ingest / cauce COPY = "
              f"{median[POSTGRES_ADBC] / median[POSTGRES_COPY]:.2f}x")
    else:
        print(f"PostgreSQL: not measured ({POSTGRES} not reachable)")


@contextmanager
def postgres_contenders(data: pa.Table) -> Iterator[dict[str, Callable[[int], None]]]:
    """cauce's COPY load and ADBC's ingest into a throwaway schema; none when the server is
    not reachable."""
    schema = f"cauce_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = connect(POSTGRES)
        admin.execute(f'CREATE SCHEMA "{schema}"')
    except WarehouseError:
        yield {}
        return
    import adbc_driver_postgresql.dbapi as adbc_postgresql

    try:
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
        with connect(url) as warehouse, adbc_postgresql.connect(POSTGRES) as adbc:

            def cauce_postgres(index: int) -> None:
                warehouse.load(f"cauce_{index}", data)

            def adbc_postgres(index: int) -> None:
                with adbc.cursor() as cursor:
                    cursor.adbc_ingest(f"adbc_{index}", data, db_schema_name=schema)
                adbc.commit()

            yield {POSTGRES_COPY: cauce_postgres, POSTGRES_ADBC: adbc_postgres}
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


if __name__ == "__main__":
    main()
