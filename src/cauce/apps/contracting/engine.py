"""The two engines the indicators run on, behind one small interface: DuckDB (the default)
and PySpark, both through Ibis, so every transform is written once.

Only reading files and starting the engine differ per engine; everything the indicators
compute is an Ibis expression executed by `Engine.arrow`.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cauce import CauceError

ENGINES = ("duckdb", "spark")
_names = itertools.count()


@dataclass
class Engine:
    """An Ibis backend plus what it needs to read raw-zone Parquet files."""

    name: str
    backend: Any
    session: Any = None
    _owned: bool = field(default=False, repr=False)
    _kept: list[ir.Table] = field(default_factory=list, repr=False)

    def read(self, table_name: str, paths: Iterable[Path],
             schema: dict[str, pa.DataType]) -> ir.Table:
        """The rows of ``paths`` (Parquet files of raw table ``table_name``), as the columns of
        ``schema`` with its types; columns the files lack are an error naming them. Partition
        folders (``col=value``) are not read as columns: the files hold every column."""
        files = [str(p) for p in paths]
        if not files:  # a source committed with no rows
            return ibis.memtable(pa.schema(schema).empty_table())
        if self.name == "spark":
            view = f"raw_{next(_names)}"
            self.session.read.parquet(*files).createOrReplaceTempView(view)
            table = self.backend.table(view)
        else:
            table = self.backend.read_parquet(files, hive_partitioning=False)
        missing = [c for c in schema if c not in table.columns]
        if missing:
            raise CauceError(f"raw table {table_name} lacks column(s) "
                             f"{', '.join(missing)}",
                             hint="the raw zone was written by another version of the ETL: "
                             "run the etl job again for this date")
        wanted = ibis.schema(pa.schema(schema))
        return table.select(**{c: table[c].cast(wanted[c]) for c in schema})

    def arrow(self, expr: ir.Expr) -> pa.Table:
        """Execute ``expr`` and return its rows as Arrow."""
        with self._quiet():
            return self.backend.to_pyarrow(expr)

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """PySpark 4.0 converts results through pandas, and pandas 3 warns about the options
        PySpark still sets; those warnings say nothing about the results, so they are muted
        (only around Spark calls)."""
        if self.name != "spark":
            yield
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield

    def materialize(self, expr: ir.Table) -> ir.Table:
        """``expr`` computed once and kept by the engine for the rest of the run: a DuckDB
        temporary table (gone with the connection), a cached Spark DataFrame."""
        if self.name == "duckdb":
            return self.backend.create_table(f"shared_{next(_names)}", expr, temp=True)
        with self._quiet():
            kept = expr.cache()
        self._kept.append(kept)
        return kept

    def close(self) -> None:
        """Let the engine go, with what the run materialised."""
        for table in self._kept:
            table.release()
        self._kept.clear()
        if self.name == "duckdb":
            self.backend.disconnect()
        elif self._owned and self.session is not None:
            self.session.stop()


def connect(name: str = "duckdb", *, spark_master: str = "local[2]",
            session: Any = None) -> Engine:
    """An engine by name; for Spark, ``session`` reuses a running SparkSession (tests share
    one), otherwise one is started on ``spark_master``."""
    if name == "duckdb":
        return Engine("duckdb", ibis.duckdb.connect())
    if name != "spark":
        raise CauceError(f"unknown engine {name!r}", hint=f"choose one of: {', '.join(ENGINES)}")
    owned = session is None
    if owned:
        session = spark_session(spark_master)
    return Engine("spark", ibis.pyspark.connect(session), session, owned)


# the master URLs Spark accepts (SparkContext refuses any other after starting the JVM)
MASTER = re.compile(r"local(\[(\*|[1-9]\d*)(,[1-9]\d*)?\])?|(spark|k8s|mesos)://\S+|yarn")


def check_master(master: str) -> None:
    """CauceError at once when ``master`` is no Spark master URL (Spark said so only after its
    JVM had started, some seconds later, with a hint about Java)."""
    if not MASTER.fullmatch(master):
        raise CauceError(f"spark_master {master!r} is not a Spark master URL",
                         hint="use local[2], local[*], spark://host:7077, k8s://… or yarn")


def spark_session(master: str = "local[2]") -> Any:
    """A SparkSession for the indicators: no UI, UTC, few shuffle partitions for one machine."""
    check_master(master)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise CauceError("the spark engine needs PySpark, which is not installed",
                         hint="pip install 'cauce[spark]' (Java 17 must be on the PATH)") from None
    try:
        builder = (SparkSession.builder.master(master).appName("cauce-contracting")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.session.timeZone", "UTC"))
        if master.startswith("local"):  # one machine: few shuffle partitions, no network
            builder = (builder.config("spark.driver.host", "127.0.0.1")
                       .config("spark.sql.shuffle.partitions", "4"))
        session = builder.getOrCreate()
    except Exception as err:  # the JVM could not start or the master is unreachable
        raise CauceError(f"could not start Spark on {master}: {str(err).splitlines()[0]}",
                         hint="check that Java 17 is installed and the master URL is right")\
            from None
    session.sparkContext.setLogLevel("ERROR")
    return session
