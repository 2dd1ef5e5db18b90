"""Alerts into the warehouse and onto topic ``alerts``, each effect exactly once per record.

A batch is applied in two commits, both guarded by a checkpoint:

1. one warehouse transaction upserts the batch's rows of `t_result_indicadores_stream` per
   (contract, indicator, window) — delete those keys, insert the rows; never the original's
   delete-everything-then-COPY — adds the batch's contracts to the abuse pair counts, keeps
   its ``Si`` messages in an outbox table and moves the warehouse checkpoint of the shard past
   the batch. A batch delivered again after this commit is not applied twice;
2. ``ctx.atomic()`` publishes the batch's ``Si`` messages, read back from the outbox, and
   moves the stream checkpoint, in one state transaction. A batch delivered again after that
   commit is not delivered at all; before it, the messages were not published.

The outbox rows of batches whose stream checkpoint moved are deleted afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from cauce import Warehouse

from .alerts import INDICATORS, Evaluated
from .reference import keys_of

ALERTS_TABLE = "t_result_indicadores_stream"
PAIRS_TABLE = "t_stream_pares_abuso"
OUTBOX_TABLE = "t_stream_alertas_por_publicar"
GAPS_TABLE = "t_stream_sin_aplicar"


def ddl(wh: Warehouse) -> dict[str, str]:
    """The original's DDL for the alerts (``window`` quoted: a reserved word in PostgreSQL),
    and this app's bookkeeping tables."""
    window = wh.quote("window")
    return {
        ALERTS_TABLE: f"""(
    id_no_contrato varchar(100) not null,
    nombre_grupo_indicador varchar(100) not null,
    nombre_indicador varchar(100) not null,
    tipo_alerta_irregularidad char(2),
    monto_contrato decimal(30,3),
    {window} varchar(100),
    fecha_ejecucion char(25)
)""",
        PAIRS_TABLE: """(
    id_nit_entidad varchar not null,
    id_nit_proveedor varchar not null,
    contratos bigint not null,
    primary key (id_nit_entidad, id_nit_proveedor)
)""",
        OUTBOX_TABLE: """(
    shard integer not null,
    seq bigint not null,
    mensaje varchar not null
)""",
        GAPS_TABLE: """(
    shard integer not null,
    desde bigint not null,
    hasta bigint not null
)""",
    }


def create_tables(wh: Warehouse, shards: int) -> None:
    """The tables, and per shard the two staging tables its upserts go through."""
    for name, columns in ddl(wh).items():
        if not wh.table_exists(name):
            wh.execute(f"CREATE TABLE {name} {columns}")
    for shard in range(shards):
        keys, pairs = _stages(shard)
        window = wh.quote("window")
        for stage, select in (
            (keys, f"id_no_contrato, {window} FROM {ALERTS_TABLE}"),
            (pairs, f"* FROM {PAIRS_TABLE}"),
        ):
            if not wh.table_exists(stage):
                wh.execute(f"CREATE TABLE {stage} AS SELECT {select} LIMIT 0")


def _stages(shard: int) -> tuple[str, str]:
    """The staging tables of a shard: the batch's (contract, window) keys, its pair counts."""
    return f"_stage_claves_{shard}", f"_stage_pares_{shard}"


def checkpoint_name(stream: str, shard: int) -> str:
    return f"contracting.{stream}.{shard}"


@dataclass
class PairCounts:
    """The stream's contracts per (entity, provider) hash, as of warehouse checkpoint ``at``."""

    at: Any = None
    counts: dict[int, int] = field(default_factory=dict)
    loaded: bool = False

    def load(self, wh_rows: pa.Table, at: Any) -> None:
        frame = pl.from_arrow(wh_rows)
        assert isinstance(frame, pl.DataFrame)
        hashes = (
            keys_of(frame.select("id_nit_entidad", "id_nit_proveedor"))
            if frame.height
            else np.zeros(0, np.uint64)
        )
        self.counts = dict(zip(hashes.tolist(), frame["contratos"].to_list(), strict=True))
        self.at = at
        self.loaded = True


def messages(
    ev: Evaluated, df: pl.DataFrame, seqs: np.ndarray, arrival: np.ndarray, shard: int
) -> pa.Table:
    """The outbox rows: one JSON message per contract with at least one ``Si`` alert, listing
    them (built column-wise; ``id_alerta`` names the contract and window, for subscribers that
    want to deduplicate what they forward)."""
    # the alert list as JSON text: one constant fragment per indicator that fires
    fragments = [
        pl.when(pl.Series(ev.flags[name])).then(
            pl.lit(
                json.dumps(
                    {"nombre_grupo_indicador": group, "nombre_indicador": name}, ensure_ascii=False
                )
            )
        )
        for group, name in INDICATORS
    ]
    alertas = pl.concat_str(fragments, separator=",", ignore_nulls=True)
    monto = pl.from_arrow(ev.alerts["monto_contrato"].slice(0, df.height).cast(pa.string()))
    body = df.select(
        pl.concat_str("id_no_contrato", pl.lit("|"), ev.starts).alias("id_alerta"),
        "id_no_contrato",
        "event_date",
        "event_time",
        "id_nit_entidad",
        "id_nit_proveedor",
        "nombre_proveedor",
        pl.lit(monto).alias("monto_contrato"),
        pl.struct(start=ev.starts, end=ev.ends).alias("window"),
        pl.lit(ev.executed).alias("fecha_ejecucion"),
        pl.lit(shard).alias("shard"),
        pl.Series("seq", seqs),
        pl.from_epoch(pl.Series(arrival * 1e6).cast(pl.Int64), time_unit="us")
        .dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .alias("puesto"),
        alertas.alias("alertas"),
    ).filter(pl.col("alertas").str.len_bytes() > 0)
    head = body.drop("alertas").select(pl.struct(pl.all()).struct.json_encode()).to_series()
    text = head.str.head(-1) + ',"alertas":[' + body["alertas"] + "]}"
    return pa.table(
        {
            "shard": pa.array(np.full(body.height, shard), pa.int32()),
            "seq": body["seq"].to_arrow().cast(pa.int64()),
            "mensaje": text.to_arrow().cast(pa.string()),
        }
    )


def apply(
    wh: Warehouse,
    tx: Any,
    ev: Evaluated,
    outbox: pa.Table,
    shard: int,
    published: tuple[int, int] | None,
) -> None:
    """The batch's warehouse writes, inside transaction ``tx``; the outbox rows of sequences
    ``published`` (the batches before it, whose stream checkpoint moved) are dropped."""
    window = wh.quote("window")
    stage, stage_pairs = _stages(shard)
    tx.execute(f"DELETE FROM {stage}")
    tx.execute(f"DELETE FROM {stage_pairs}")
    # a record's eight rows share its (contract, window): replacing them by that key is the
    # upsert per (contract, indicator, window)
    tx.load(stage, ev.alerts.select(["id_no_contrato", "window"]).slice(0, ev.starts.len()))
    tx.execute(
        f"DELETE FROM {ALERTS_TABLE} AS t WHERE EXISTS (SELECT 1 FROM {stage} AS s "
        f"WHERE s.id_no_contrato = t.id_no_contrato AND s.{window} = t.{window})"
    )
    tx.load(ALERTS_TABLE, ev.alerts)
    if ev.pairs.size:
        pairs = ev.pair_names.with_columns(pl.Series("contratos", ev.pair_totals))
        tx.load(stage_pairs, pairs.to_arrow())
        tx.execute(
            f"DELETE FROM {PAIRS_TABLE} AS t WHERE EXISTS (SELECT 1 FROM {stage_pairs} "
            "AS s WHERE s.id_nit_entidad = t.id_nit_entidad "
            "AND s.id_nit_proveedor = t.id_nit_proveedor)"
        )
        tx.execute(f"INSERT INTO {PAIRS_TABLE} SELECT * FROM {stage_pairs}")
    if published is not None:
        tx.execute(
            f"DELETE FROM {OUTBOX_TABLE} WHERE shard = ? AND seq BETWEEN ? AND ?",
            [shard, *published],
        )
    if outbox.num_rows:
        tx.load(OUTBOX_TABLE, outbox)


def pending(tx: Any, shard: int, first: int, last: int) -> list[str]:
    """The outbox messages of records ``first`` … ``last``, in stream order (in ``tx``)."""
    rows = tx.query(
        f"SELECT mensaje FROM {OUTBOX_TABLE} WHERE shard = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        [shard, first, last],
    )
    return rows.column("mensaje").to_pylist()


def unapplied(tx: Any, shard: int, first: int, last: int) -> list[tuple[int, int]]:
    """The ranges of sequence numbers below the warehouse checkpoint that were never applied
    (a batch dead-lettered, so the shard moved on without it) meeting ``first`` … ``last``."""
    rows = tx.query(
        f"SELECT desde, hasta FROM {GAPS_TABLE} WHERE shard = ? AND desde <= ? AND hasta >= ?",
        [shard, last, first],
    )
    return list(
        zip(rows.column("desde").to_pylist(), rows.column("hasta").to_pylist(), strict=True)
    )


def mark(
    tx: Any, shard: int, first: int, last: int, done: int, gaps: list[tuple[int, int]]
) -> None:
    """Record, in ``tx``, the sequences skipped before batch ``first`` … ``last`` (above
    checkpoint ``done``) as never applied, and the batch's own, from ``gaps``, as applied."""
    if first > done + 1:
        tx.execute(f"INSERT INTO {GAPS_TABLE} VALUES (?, ?, ?)", [shard, done + 1, first - 1])
    for low, high in gaps:
        tx.execute(
            f"DELETE FROM {GAPS_TABLE} WHERE shard = ? AND desde = ? AND hasta = ?",
            [shard, low, high],
        )
        for rest in ((low, first - 1), (last + 1, high)):
            if rest[0] <= rest[1]:
                tx.execute(f"INSERT INTO {GAPS_TABLE} VALUES (?, ?, ?)", [shard, *rest])
