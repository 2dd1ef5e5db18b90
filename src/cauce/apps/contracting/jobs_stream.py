"""The streaming half's declarations: stream ``contracts``, topic ``alerts``, the Firehose-like
sink into bucket ``staging``, the ``produce`` job and the ``alert`` handler."""

from __future__ import annotations

import math
import re
import shlex
from datetime import date
from typing import Annotated, Any

from annotated_types import Ge, Gt, Interval

from cauce import Context, Duration, Record, Runtime

from .app import app, quarantine, raw, staging
from .jobs_out import results

reference_check = app.setting(
    "reference_check",
    Annotated[float, Gt(0)],
    default=10.0,
    help="seconds between looks into the raw zone for a newer weekly ETL (the stream keeps "
    "running while the new reference loads)",
)
sink_max_bytes = app.setting(
    "sink_max_bytes",
    str,
    default="128MB",
    help="the staging sink closes a file at this size (Firehose's buffer size)",
)
sink_max_seconds = app.setting(
    "sink_max_seconds",
    str,
    default="100s",
    help="... or once its first record is this old (Firehose's buffer interval)",
)

# One shard: the abuse count of a contract takes the pair's earlier stream contracts, which
# needs one order over the whole stream (a cauce shard has no per-shard throughput limit).
contracts = app.stream("contracts", shards=1, retention="7d")
alerts = app.topic("alerts")  # one message per `Si` alert; subscribe a queue or a handler

MAX_RATE = 50_000.0
MIN_RATE = 0.05  # one record every 20 s, the original producer's pace
TICK = 0.05  # above 20 records/s, records are put in batches every TICK seconds
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _event_date(record: Record) -> str:
    """The sink's folder: the record's event date, as Firehose's dynamic partitioning; a
    record without a real day (YYYY-MM-DD, ASCII digits, nothing around) goes to sin-fecha."""
    data = record.data if isinstance(record.data, dict) else {}
    day = str(data.get("event_date", ""))
    return day if _DATE.fullmatch(day) and _is_day(day) else "sin-fecha"


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


app.sink(
    contracts,
    bucket=staging,
    prefix="t_streaming_contracts/",
    partition_by=_event_date,
    max_bytes=sink_max_bytes,
    max_seconds=sink_max_seconds,
    name="contracts-to-staging",
)

producer = app.table("stream_producer", key="stream")  # the next contract number per stream


@app.job(retries=0)
def produce(
    ctx: Context,
    rate: Annotated[float, "records per second (0.05: one every 20 s)",
                    Interval(ge=MIN_RATE, le=MAX_RATE)] = MIN_RATE,
    for_: Annotated[Duration | None, "how long, e.g. 30s, 5m, 1h (default: until stopped)",
                    Gt(0)] = None,
    seed: Annotated[int, "random seed: the same seed puts the same records", Ge(0)] = 0,
) -> dict[str, Any]:
    """Put contract records on stream `contracts` as the original producer did, at a steady
    rate on the runtime clock; contract numbers continue from the last run."""
    from .stream import records  # NumPy, PyArrow: loaded when the producer runs

    total = math.ceil(for_ * rate) if for_ is not None else None
    start = ctx.now().timestamp()
    sent, first = 0, None
    while (total is None or sent < total) and not ctx.cancelled:
        due = min(int((ctx.now().timestamp() - start) * rate) + 1, total or math.inf)
        if due > sent:
            n = put(ctx, seed, int(due - sent))
            first = n if first is None else first
            sent = int(due)
        if total is not None and sent >= total:
            break
        ctx.sleep(max(start + sent / rate - ctx.now().timestamp(), TICK))
    elapsed = ctx.now().timestamp() - start
    done = {
        "records": sent,
        "seconds": round(elapsed, 3),
        "rate": round(sent / elapsed, 1) if elapsed > 0 else None,
    }
    if first is not None:
        done |= {"first": records.contract_id(first), "last": records.contract_id(first + sent - 1)}
    ctx.log.info("put %s record(s) on stream contracts", f"{sent:,}")
    return done


def put(ctx: Context, seed: int, count: int) -> int:
    """Put the next ``count`` records of ``seed``, and move the counter, in one transaction;
    returns the first record's number."""
    from .stream import records

    with ctx.atomic():
        item = producer.get("contracts") or {"stream": "contracts", "next": records.FIRST_ID}
        first = int(item["next"])
        contracts.put_many(records.draw(seed, first, count, ctx.local_now()))
        producer.put({"stream": "contracts", "next": first + count})
    return first


@app.on(contracts, batch_size=20_000, max_attempts=10)
def alert(batch: list[Record], ctx: Context) -> dict[str, Any]:
    """The eight stream indicators of each record, into `t_result_indicadores_stream` (upserted
    per contract, indicator and window) and, for each `Si`, a message on topic `alerts`."""
    from .stream import consumer  # Polars, DuckDB: loaded by the first batch

    return consumer.handle(
        batch,
        ctx,
        stream=contracts,
        wh=results,
        raw=raw,
        topic=alerts,
        every=ctx.settings["reference_check"],
        quarantine=quarantine,
    )


def demo_stream(rt: Runtime, seconds: float = 4.0, rate: float = 200.0) -> list[str]:
    """A few seconds of the stream: registries holding some of the producer's pool values as a
    newer weekly cut, the producer at ``rate``, the alerts as they are computed."""
    from .stream import sample

    day = date(2023, 4, 23)
    sample.publish(raw, quarantine, day, background=2_000)
    run_id = rt.submit(produce, params={"rate": rate, "for_": f"{seconds:g}s", "seed": 0})

    def done() -> bool:
        finished = rt.get_run(run_id).status.value not in ("queued", "running")
        lag = contracts.describe().lag  # the alerts computed, the sink's files written
        return finished and lag.get("alert", 1) == lag.get("contracts-to-staging", 1) == 0

    rt.serve(until=done, timeout=f"{seconds + 60:g}s", scheduler=False)
    counts = results.query(
        "SELECT nombre_indicador AS i, count(*) FILTER (WHERE tipo_alerta_irregularidad = 'Si') "
        "AS si, count(DISTINCT id_no_contrato) AS n FROM t_result_indicadores_stream GROUP BY 1 "
        "ORDER BY 2 DESC"
    ).to_pylist()
    examples = results.query(
        "SELECT id_no_contrato AS c, string_agg(nombre_indicador, ', ' ORDER BY "
        "nombre_indicador) AS i FROM t_result_indicadores_stream WHERE "
        "tipo_alerta_irregularidad = 'Si' GROUP BY 1 ORDER BY 1 LIMIT 3"
    ).to_pylist()
    total = counts[0]["n"] if counts else 0
    return [
        f"stream: {total:,} contract records in {seconds:g} s on stream contracts, each with its "
        f"8 alerts in t_result_indicadores_stream (reference: registries cut {day})",
        "Si per indicator: " + "; ".join(f"{c['i']} {c['si']:,}" for c in counts),
        *(f"  {e['c']}: {e['i']}" for e in examples),
        f"stream, consumers and lag: cauce --home {shlex.quote(str(rt.home))} streams "
        "contracting",
    ]
