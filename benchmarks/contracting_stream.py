"""Contracting, streaming: records through the eight alerts, with Spark Structured Streaming
(local mode, the original's engine) computing the same alerts on the same records in the same run.

- throughput: a backlog of N producer records on stream `contracts`; `cauce serve contracting`
  (a separate process, the staging sink running too) drains it. Records per second through
  alert computation = records / seconds from the consumer's first checkpoint move to its last
  (so start-up and the first reference load are left out). Spark: the same records as JSON
  files, `readStream.json` + `foreachBatch` (the alerts written as Parquet), `availableNow`,
  timed from the query's start to its end (JVM start and reference load left out too);
- latency: the producer puts RATE records/s (batches every 50 ms) for SECONDS; a record's
  latency is from its put to the end of the run that committed its alerts (warehouse rows,
  `Si` messages and checkpoint). Spark: a file of the same records every 50 ms, latency from
  the file's write to the end of the micro-batch's `foreachBatch` (alerts written);
- same alerts: the `Si` (contract, indicator) pairs of the backlog, cauce against Spark.

Both read the same reference: the registries of `stream.sample` (BACKGROUND random rows each,
10 × as many processes) committed in the raw zone.

    python benchmarks/contracting_stream.py [--records 400000] [--rate 5000] [--seconds 30]
                                            [--background 100000] [--no-spark]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

DAY = date(2023, 4, 16)
TICK = 0.05


def percentiles(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "records": len(values),
    }


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants (Linux /proc)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu(int(child))
    except (FileNotFoundError, ProcessLookupError, IndexError):
        pass
    return total


# -- cauce -----------------------------------------------------------------------------------


def prepare(home: Path, n: int, background: int, spark_dir: Path) -> None:
    """Reference in the raw zone, a backlog of n records on the stream and as Spark's files."""
    from cauce import Runtime
    from cauce.apps.contracting import app
    from cauce.apps.contracting.stream import records as rec
    from cauce.apps.contracting.stream import sample

    spark_dir.mkdir(parents=True)
    with Runtime(app, home=home, settings={"download": False}) as rt:
        sample.publish(rt.bucket("raw"), rt.bucket("quarantine"), DAY, background)
        stream, now = rt.stream("contracts"), datetime.now().astimezone(app.tz)
        for i, first in enumerate(range(rec.FIRST_ID, rec.FIRST_ID + n, 10_000)):
            batch = rec.draw(1, first, min(10_000, rec.FIRST_ID + n - first), now)
            stream.put_many(batch)
            with open(spark_dir / f"part-{i:05d}.json", "w") as f:
                f.writelines(json.dumps(r) + "\n" for r, _ in batch)
        rt.table("stream_producer").put({"stream": "contracts", "next": rec.FIRST_ID + n})


def serve(home: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cauce.cli.main",
            "serve",
            "contracting",
            "--home",
            str(home),
            "--no-download",
            "--threads",
            "4",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(home / "serve.log", "w"),
    )


def consumer_seq(rt: Any) -> tuple[int, int]:
    """(checkpoint, lag) of handler `alert` on shard 0."""
    shard = rt.stream("contracts").describe().shards[0]
    where = shard.consumers.get("alert")
    return (where.checkpoint, where.lag) if where else (0, shard.last_seq)


def alert_runs(rt: Any) -> list[tuple[int, int, float, float]]:
    """(first seq, last seq, started, ended) of each succeeded run of handler `alert`."""
    found = []
    for run in rt.runs("alert", status="succeeded", limit=100_000):
        if run.event_id and run.started_at and run.ended_at:
            a, b = run.event_id.rsplit(":", 1)[1].split("-")
            found.append((int(a), int(b), run.started_at.timestamp(), run.ended_at.timestamp()))
    return sorted(found)


def cauce_throughput(home: Path, n: int, pid: int) -> dict[str, Any]:
    """From the start of the second batch to the end of the last (the first loads the
    reference); CPU seconds of the serving process (start-up and sink included)."""
    from cauce import Runtime
    from cauce.apps.contracting import app

    with Runtime(app, home=home, settings={"download": False}) as rt:
        while consumer_seq(rt)[1] > 0:
            time.sleep(0.2)
        cpu = tree_cpu(pid)
        runs = alert_runs(rt)
    first_batch = runs[0][1]
    timed = runs[1:]
    records = timed[-1][1] - first_batch
    seconds = timed[-1][3] - timed[0][2]
    return {
        "records": records,
        "batches": len(timed),
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds),
        "records_per_cpu_s": round(n / cpu),
    }


def cauce_latency(home: Path, rate: float, seconds: float) -> dict[str, Any]:
    from cauce import Runtime
    from cauce.apps.contracting import app
    from cauce.apps.contracting.stream import records as rec

    puts: list[tuple[int, int, float]] = []  # (first seq, last seq, put time)
    with Runtime(app, home=home, settings={"download": False}) as rt:
        stream, counter = rt.stream("contracts"), rt.table("stream_producer")
        nxt = counter.get("contracts")["next"]
        start, sent, total = time.time(), 0, int(rate * seconds)
        while sent < total:
            due = min(int((time.time() - start) * rate) + 1, total)
            if due > sent:
                batch = rec.draw(2, nxt + sent, due - sent, datetime.now().astimezone(app.tz))
                placed = stream.put_many(batch)
                puts.append((placed[0][1], placed[-1][1], time.time()))
                sent = due
            time.sleep(max(start + sent / rate - time.time(), TICK))
        counter.put({"stream": "contracts", "next": nxt + sent})
        while consumer_seq(rt)[1] > 0:
            time.sleep(0.1)
        ends = alert_runs(rt)
    latencies = []
    for first, last, put_at in puts:
        for a, b, _, ended in ends:
            if a <= last and b >= first:
                latencies += [ended - put_at] * (min(b, last) - max(a, first) + 1)
    return {"rate": rate, "seconds": seconds, **percentiles(latencies)}


def cauce_si(home: Path, n: int) -> set[tuple[str, str]]:
    from cauce import Runtime
    from cauce.apps.contracting import app
    from cauce.apps.contracting.stream import records as rec

    with Runtime(app, home=home, settings={"download": False}) as rt:
        rows = (
            rt.warehouse("results")
            .query(
                "SELECT id_no_contrato, nombre_indicador FROM t_result_indicadores_stream "
                "WHERE tipo_alerta_irregularidad = 'Si' AND id_no_contrato <= ?",
                [rec.contract_id(rec.FIRST_ID + n - 1)],
            )
            .to_pylist()
        )
    return {(r["id_no_contrato"], r["nombre_indicador"]) for r in rows}


# -- Spark -----------------------------------------------------------------------------------


def spark_reference(spark: Any, home: Path) -> dict[str, Any]:
    """The same key sets as `stream.reference`, from the same committed raw-zone files."""
    from cauce import Runtime
    from cauce.apps.contracting import app, rawzone
    from cauce.apps.contracting.stream.reference import QUERIES

    out = {}
    with Runtime(app, home=home, settings={"download": False}) as rt:
        raw = rt.bucket("raw")
        for name, (table, sql) in QUERIES.items():
            files = [str(p) for p in rawzone.local_paths(raw, table, DAY)]
            spark.read.parquet(*files).createOrReplaceTempView("t")
            spark_sql = sql.replace("GROUP BY ALL", "GROUP BY id_nit_entidad, id_nit_proveedor")
            if "QUALIFY" in spark_sql:
                spark_sql = spark_sql.replace(
                    "SELECT id_nit_entidad, id_nit_proveedor FROM t QUALIFY row_number() OVER ("
                    "PARTITION BY id_proceso ORDER BY id_nit_entidad, id_nit_proveedor) = 1",
                    "SELECT id_nit_entidad, id_nit_proveedor FROM (SELECT *, row_number() OVER ("
                    "PARTITION BY id_proceso ORDER BY id_nit_entidad, id_nit_proveedor) AS rn "
                    "FROM t) WHERE rn = 1",
                )
            out[name] = spark.sql(spark_sql).cache()
            out[name].count()
    return out


def spark_job(ref: dict[str, Any], output: Path, latencies: list[float] | None):
    """The foreachBatch function: the eight alerts of a micro-batch, as cauce computes them."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    from cauce.apps.contracting.stream.alerts import ABUSO, LOOKUPS, OTROS

    state: dict[str, Any] = {"acc": None}

    def run(batch: Any, batch_id: int) -> None:
        b = (
            batch.withColumn(
                "event_ts", F.to_timestamp(F.concat("event_date", "event_time"), "yyyy-MM-ddHHmmss")
            )
            .withColumn("w", F.window("event_ts", "5 minutes"))
            .withColumn("n", F.substring("id_no_contrato", 9, 7).cast("long"))
        )
        eligible = (
            F.col("id_nit_entidad").isNotNull()
            & F.col("id_nit_proveedor").isNotNull()
            & ~F.col("id_nit_proveedor").isin("No Definido", "No Adjudicado")
        )
        b = b.withColumn("eligible", eligible)
        order = Window.partitionBy("id_nit_entidad", "id_nit_proveedor").orderBy("n")
        b = b.withColumn("k", F.sum(F.col("eligible").cast("long")).over(order))
        hist = ref["abuso"].withColumnRenamed("n", "hist")
        b = b.join(F.broadcast(hist), ["id_nit_entidad", "id_nit_proveedor"], "left")
        acc = state["acc"]
        if acc is not None:
            b = b.join(acc, ["id_nit_entidad", "id_nit_proveedor"], "left")
        else:
            b = b.withColumn("prior", F.lit(0))
        b = b.withColumn(
            ABUSO,
            F.col("eligible")
            & (F.coalesce("hist", F.lit(0)) + F.coalesce("prior", F.lit(0)) + F.col("k") >= 3),
        )
        for _group, name, key_set, column in LOOKUPS:
            keys = ref[key_set]
            key = keys.columns[0]
            marked = keys.select(F.col(key).alias(column), F.lit(True).alias(name))
            b = b.join(F.broadcast(marked), column, "left")
        b = b.cache()
        groups = {ABUSO: OTROS, **{name: group for group, name, _, _ in LOOKUPS}}
        stack = ", ".join(f"'{g}', '{n}', `{n}`" for n, g in groups.items())
        alerts = b.select(
            "id_no_contrato",
            "monto_contrato",
            F.to_json("w").alias("window"),
            F.expr(f"stack({len(groups)}, {stack}) AS (grupo, indicador, hit)"),
        ).select(
            "id_no_contrato",
            F.col("grupo").alias("nombre_grupo_indicador"),
            F.col("indicador").alias("nombre_indicador"),
            F.when(F.col("hit"), "Si").otherwise("No").alias("tipo_alerta_irregularidad"),
            F.col("monto_contrato").cast("decimal(30,3)"),
            "window",
            F.date_format(F.current_timestamp(), "yyyy-MM-dd'T'HH:mm:ssXXX").alias(
                "fecha_ejecucion"
            ),
        )
        alerts.write.mode("append").parquet(str(output))
        added = (
            b.where("eligible")
            .groupBy("id_nit_entidad", "id_nit_proveedor")
            .agg(F.count("*").alias("prior"))
        )
        merged = (
            added
            if acc is None
            else (
                acc.unionByName(added)
                .groupBy("id_nit_entidad", "id_nit_proveedor")
                .agg(F.sum("prior").alias("prior"))
            )
        )
        state["acc"] = merged.localCheckpoint()
        if latencies is not None:
            ended = time.time()
            latencies.extend(ended - r[0] for r in b.select("puesto").collect())
        b.unpersist()

    return run


def spark_schema() -> Any:
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    from cauce.apps.contracting.stream.alerts import FIELDS

    return StructType(
        [StructField(n, StringType()) for n in FIELDS]
        + [StructField("monto_contrato", DoubleType()), StructField("puesto", DoubleType())]
    )


def spark_bench(
    home: Path, files: Path, work: Path, n: int, rate: float, seconds: float
) -> dict[str, Any]:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("contracting-stream")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "America/Bogota")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        ref = spark_reference(spark, home)
        out = work / "spark-alerts"
        started, cpu = time.perf_counter(), tree_cpu(os.getpid())
        query = (
            spark.readStream.schema(spark_schema())
            .json(str(files))
            .writeStream.foreachBatch(spark_job(ref, out, None))
            .option("checkpointLocation", str(work / "spark-ckpt"))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        took, cpu = time.perf_counter() - started, tree_cpu(os.getpid()) - cpu
        rows = spark.read.parquet(str(out)).where("tipo_alerta_irregularidad = 'Si'").collect()
        si = {(r["id_no_contrato"], r["nombre_indicador"]) for r in rows}
        throughput = {
            "records": n,
            "seconds": round(took, 2),
            "records_per_s": round(n / took),
            "records_per_cpu_s": round(n / cpu),
        }
        latency = spark_latency(spark, ref, work, rate, seconds)
        return {"throughput": throughput, "latency": latency, "si": si}
    finally:
        spark.stop()


def spark_latency(
    spark: Any, ref: dict[str, Any], work: Path, rate: float, seconds: float
) -> dict[str, Any]:
    from cauce.apps.contracting.stream import records as rec

    inbox = work / "spark-inbox"
    inbox.mkdir()
    latencies: list[float] = []
    query = (
        spark.readStream.schema(spark_schema())
        .json(str(inbox))
        .writeStream.foreachBatch(spark_job(ref, work / "spark-alerts-2", latencies))
        .option("checkpointLocation", str(work / "spark-ckpt-2"))
        .trigger(processingTime="0 seconds")
        .start()
    )
    time.sleep(5)  # the first (empty) micro-batches
    start, sent, total, i = time.time(), 0, int(rate * seconds), 0
    from cauce.apps.contracting import app

    while sent < total:
        due = min(int((time.time() - start) * rate) + 1, total)
        if due > sent:
            batch = rec.draw(3, rec.FIRST_ID + sent, due - sent, datetime.now().astimezone(app.tz))
            now = time.time()
            tmp = inbox / f".part-{i:06d}.json"
            tmp.write_text("".join(json.dumps({**r, "puesto": now}) + "\n" for r, _ in batch))
            tmp.rename(inbox / f"part-{i:06d}.json")
            sent, i = due, i + 1
        time.sleep(max(start + sent / rate - time.time(), TICK))
    deadline = time.time() + 120
    while len(latencies) < total and time.time() < deadline:
        time.sleep(0.2)
    query.stop()
    return {"rate": rate, "seconds": seconds, **percentiles(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--background", type=int, default=100_000)
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="contracting-stream-"))
    home, files = work / "home", work / "spark-in"
    result: dict[str, Any] = {"load_before": os.getloadavg(), "cpus": os.cpu_count()}
    t = time.perf_counter()
    prepare(home, args.records, args.background, files)
    result["prepare_s"] = round(time.perf_counter() - t, 1)
    server = serve(home)
    try:
        result["cauce_throughput"] = cauce_throughput(home, args.records, server.pid)
        result["cauce_latency"] = cauce_latency(home, args.rate, args.seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    if not args.no_spark:
        peer = spark_bench(home, files, work, args.records, args.rate, args.seconds)
        ours = cauce_si(home, args.records)
        result["spark_throughput"], result["spark_latency"] = peer["throughput"], peer["latency"]
        result["same_si_alerts"] = ours == peer["si"]
        result["si_alerts"] = {
            "cauce": len(ours),
            "spark": len(peer["si"]),
            "only_cauce": len(ours - peer["si"]),
            "only_spark": len(peer["si"] - ours),
        }
        result["throughput_ratio"] = round(
            result["cauce_throughput"]["records_per_s"] / peer["throughput"]["records_per_s"], 1
        )
        result["p99_ratio_spark_over_cauce"] = round(
            peer["latency"]["p99_ms"] / result["cauce_latency"]["p99_ms"], 1
        )
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    threading.excepthook = lambda a: None
    main()
