"""Warehouse load: 48,842 rows x 17 columns through `load()`, against pandas `to_sql`.

The data has the census table's shape (7 integer columns, 10 short text columns, 48,842 rows),
generated with a fixed seed. Each repetition loads it into a fresh table in one `load()` call
(creating the table, inserting, committing with SQLite's default durability). The peer is
pandas `DataFrame.to_sql` into SQLite, the way the original census loader wrote rows, run in
the same process on the same data; the ratio is pandas' median over cauce's.

    .venv/bin/python benchmarks/warehouse_load.py [--repeat 7]

PostgreSQL is measured when 127.0.0.1:5432 (user postgres, database test) answers.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from cauce.errors import WarehouseError
from cauce.warehouse import connect

ROWS = 48_842
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
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


def timed(run: Callable[[int], None], repeat: int) -> list[float]:
    """Seconds of ``run(i)`` for each repetition (each one loads into fresh storage)."""
    seconds = []
    for index in range(repeat):
        started = time.perf_counter()
        run(index)
        seconds.append(time.perf_counter() - started)
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
    results: dict[str, list[float]] = {}

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)

        def cauce_sqlite(index: int) -> None:
            with connect(f"sqlite:///{work / f'cauce-{index}.db'}") as warehouse:
                warehouse.load("census", data)

        def pandas_sqlite(index: int) -> None:
            connection = sqlite3.connect(work / f"pandas-{index}.db")
            try:
                frame.to_sql("census", connection, index=False)
            finally:
                connection.close()

        def cauce_duckdb(index: int) -> None:
            with connect(f"duckdb:///{work / f'cauce-{index}.duckdb'}") as warehouse:
                warehouse.load("census", data)

        results["cauce load, SQLite file"] = timed(cauce_sqlite, args.repeat)
        results["pandas to_sql, SQLite file"] = timed(pandas_sqlite, args.repeat)
        results["cauce load, DuckDB file"] = timed(cauce_duckdb, args.repeat)
        postgres = postgres_timings(data, args.repeat)
        if postgres:
            results["cauce load, PostgreSQL (COPY)"] = postgres

    print(f"Warehouse load of {ROWS:,} rows x {data.num_columns} columns")
    print(f"{datetime.date.today()}, Python {platform.python_version()}, {platform.machine()}")
    print("| target | median s | best s | rows/s |")
    print("|---|---|---|---|")
    for name, seconds in results.items():
        print(describe(name, seconds))
    ratio = statistics.median(results["pandas to_sql, SQLite file"]) / statistics.median(
        results["cauce load, SQLite file"]
    )
    print(f"SQLite: cauce load is {ratio:.2f}x the speed of pandas to_sql (median over median)")
    if "cauce load, PostgreSQL (COPY)" not in results:
        print(f"PostgreSQL: not measured ({POSTGRES} not reachable)")


def postgres_timings(data: pa.Table, repeat: int) -> list[float]:
    """Load timings into a throwaway schema, or [] when the server is not reachable."""
    schema = f"cauce_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = connect(POSTGRES)
        admin.execute(f'CREATE SCHEMA "{schema}"')
    except WarehouseError:
        return []
    try:
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
        with connect(url) as warehouse:

            def load(index: int) -> None:
                warehouse.load(f"census_{index}", data)

            return timed(load, repeat)
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


if __name__ == "__main__":
    main()
