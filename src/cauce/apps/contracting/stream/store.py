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
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from cauce import Warehouse

from .alerts import Evaluated
from .reference import keys_of

ALERTS_TABLE = "t_result_indicadores_stream"
PAIRS_TABLE = "t_stream_pares_abuso"
OUTBOX_TABLE = "t_stream_alertas_por_publicar"


def ddl(wh: Warehouse) -> dict[str, str]:
    """The original's DDL for the alerts (``window`` quoted: a reserved word in PostgreSQL),
    and this app's two bookkeeping tables."""
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
    }


def create_tables(wh: Warehouse, shards: int) -> None:
    """The tables, and per shard the two staging tables its upserts go through."""
    for name, columns in ddl(wh).items():
        if not wh.table_exists(name):
            wh.execute(f"CREATE TABLE {name} {columns}")
    for shard in range(shards):
        for stage, table in _stages(shard):
            if not wh.table_exists(stage):
                wh.execute(f"CREATE TABLE {stage} AS SELECT * FROM {table} LIMIT 0")


def _stages(shard: int) -> tuple[tuple[str, str], tuple[str, str]]:
    return (f"_stage_alertas_{shard}", ALERTS_TABLE), (f"_stage_pares_{shard}", PAIRS_TABLE)


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
    """The outbox rows of the batch's ``Si`` alerts: one JSON message per alert."""
    alerts = ev.alerts
    si = pc.equal(alerts["tipo_alerta_irregularidad"], "Si")
    rows = alerts.filter(si).to_pylist()
    position = np.flatnonzero(si.to_numpy(zero_copy_only=False)) % df.height
    extra = (
        df[position.tolist()]
        .select(
            "event_date", "event_time", "id_nit_entidad", "id_nit_proveedor", "nombre_proveedor"
        )
        .to_dicts()
    )
    out_seq, out_msg = [], []
    for row, i, more in zip(rows, position.tolist(), extra, strict=True):
        window = json.loads(row["window"])
        body = {
            "id_alerta": f"{row['id_no_contrato']}|{row['nombre_indicador']}|{window['start']}",
            **row,
            "monto_contrato": str(row["monto_contrato"]),
            "window": window,
            **more,
            "shard": shard,
            "seq": int(seqs[i]),
            "puesto": datetime.fromtimestamp(float(arrival[i]), UTC).isoformat(),
        }
        out_seq.append(int(seqs[i]))
        out_msg.append(json.dumps(body, ensure_ascii=False))
    return pa.table(
        {
            "shard": pa.array([shard] * len(out_seq), pa.int32()),
            "seq": pa.array(out_seq, pa.int64()),
            "mensaje": pa.array(out_msg),
        }
    )


def apply(wh: Warehouse, tx: Any, ev: Evaluated, outbox: pa.Table, shard: int) -> None:
    """The batch's warehouse writes, inside transaction ``tx``."""
    window = wh.quote("window")
    (stage, _), (stage_pairs, _) = _stages(shard)
    tx.execute(f"DELETE FROM {stage}")
    tx.execute(f"DELETE FROM {stage_pairs}")
    tx.load(stage, ev.alerts)
    tx.execute(
        f"DELETE FROM {ALERTS_TABLE} AS t WHERE EXISTS (SELECT 1 FROM {stage} AS s "
        "WHERE s.id_no_contrato = t.id_no_contrato "
        f"AND s.nombre_indicador = t.nombre_indicador AND s.{window} = t.{window})"
    )
    tx.execute(f"INSERT INTO {ALERTS_TABLE} SELECT * FROM {stage}")
    if ev.pairs.size:
        pairs = ev.pair_names.with_columns(pl.Series("contratos", ev.pair_totals))
        tx.load(stage_pairs, pairs.to_arrow())
        tx.execute(
            f"DELETE FROM {PAIRS_TABLE} AS t WHERE EXISTS (SELECT 1 FROM {stage_pairs} "
            "AS s WHERE s.id_nit_entidad = t.id_nit_entidad "
            "AND s.id_nit_proveedor = t.id_nit_proveedor)"
        )
        tx.execute(f"INSERT INTO {PAIRS_TABLE} SELECT * FROM {stage_pairs}")
    if outbox.num_rows:
        tx.load(OUTBOX_TABLE, outbox)


def pending(wh: Warehouse, shard: int, first: int, last: int) -> list[str]:
    """The outbox messages of a batch, in stream order."""
    rows = wh.query(
        f"SELECT mensaje FROM {OUTBOX_TABLE} WHERE shard = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        [shard, first, last],
    )
    return rows.column("mensaje").to_pylist()


def published(wh: Warehouse, shard: int, upto: int) -> None:
    """Forget the outbox rows whose batches are published (the stream checkpoint moved)."""
    wh.execute(f"DELETE FROM {OUTBOX_TABLE} WHERE shard = ? AND seq <= ?", [shard, upto])
