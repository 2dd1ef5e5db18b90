"""The per-contract flags table and the composite risk scores per contract, buyer and supplier.

Score of a contract = 100 × Σ weights of the flags it fired / Σ weights of the flags evaluated
in the run (a flag whose source is missing is not counted against anyone). Buyers and
suppliers get the amount-weighted mean of their contracts' scores (suppliers none of whose
contracts fired a flag are left out: their score is 0). Levels follow the public
"Radar" scale: Bajo < 20 ≤ Medio < 40 ≤ Alto < 60 ≤ Crítico. Computed in Polars from the
engines' Arrow results, so both engines give identical scores by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import pyarrow as pa

MONEY = pl.Decimal(30, 3)
LEVELS = ((20.0, "Bajo"), (40.0, "Medio"), (60.0, "Alto"))
ATTRIBUTES = ("id_proceso", "id_nit_entidad", "nombre_entidad", "nombre_depto_entidad",
              "id_nit_proveedor", "nombre_proveedor", "doc_entidad", "doc_proveedor", "monto",
              "desc_url_proceso")


@dataclass(frozen=True)
class Fired:
    """The processes one flag (or fixed indicator) fired on, with the amount at stake when it
    is not the process's own (a fixed indicator's)."""

    code: str
    name: str
    weight: int
    rows: pa.Table  # id_proceso[, monto]


@dataclass(frozen=True)
class Scored:
    flags: pa.Table
    contracts: pa.Table
    buyers: pa.Table
    suppliers: pa.Table


def level(score: pl.Expr) -> pl.Expr:
    expr = pl.lit("Crítico")
    for bound, label in reversed(LEVELS):
        expr = pl.when(score < bound).then(pl.lit(label)).otherwise(expr)
    return expr


def score(fired: list[Fired], processes: pa.Table, evaluated_weight: int,
          fecha_ejecucion: date) -> Scored:
    """Flags table and scores from what fired; ``processes`` has `ATTRIBUTES` for every awarded
    process of the cut."""
    procs = pl.from_arrow(processes.select(list(ATTRIBUTES)))
    assert isinstance(procs, pl.DataFrame)
    procs = procs.with_columns(pl.col("monto").cast(MONEY))
    frames = [_hits(f) for f in fired]
    empty = pl.DataFrame(schema={"id_proceso": pl.String, "codigo_bandera": pl.String,
                                 "nombre_bandera": pl.String, "peso": pl.Int32,
                                 "monto_bandera": MONEY})
    hits = pl.concat(frames) if frames else empty
    hits = hits.unique(["id_proceso", "codigo_bandera"])
    day = pl.lit(fecha_ejecucion, pl.Date)
    # one join gives every flag its process's attributes, and its amount when it has none
    flags = hits.join(procs.drop("doc_entidad", "doc_proveedor"), "id_proceso").with_columns(
        monto_bandera=pl.coalesce("monto_bandera", "monto"), fecha_ejecucion=day).drop("monto")
    per_contract = hits.group_by("id_proceso").agg(
        banderas=pl.col("codigo_bandera").sort().str.join(","),
        cantidad_banderas=pl.len().cast(pl.Int32), peso=pl.col("peso").sum())
    contracts = procs.join(per_contract, "id_proceso", how="left").with_columns(
        cantidad_banderas=pl.col("cantidad_banderas").fill_null(0),
        puntaje=(100.0 * pl.col("peso").fill_null(0) / max(evaluated_weight, 1)).round(4),
    )
    contracts = contracts.with_columns(nivel=level(pl.col("puntaje")))
    buyers = _rollup(contracts, "doc_entidad", ["id_nit_entidad", "nombre_entidad",
                                                "nombre_depto_entidad"], day)
    suppliers = _rollup(contracts, "doc_proveedor", ["id_nit_proveedor", "nombre_proveedor"], day)
    suppliers = suppliers.filter(pl.col("contratos_con_banderas") > 0)  # the rest score 0
    flagged = contracts.filter(pl.col("cantidad_banderas") > 0).with_columns(
        fecha_ejecucion=day).drop("doc_entidad", "doc_proveedor", "peso")
    return Scored(flags.to_arrow(), flagged.to_arrow(), buyers.to_arrow(), suppliers.to_arrow())


def _hits(fired: Fired) -> pl.DataFrame:
    """One flag's rows: its amount when it has its own (the fixed indicators), else null."""
    frame = pl.from_arrow(fired.rows)
    assert isinstance(frame, pl.DataFrame)
    amount = (pl.col("monto").cast(MONEY) if "monto" in frame.columns
              else pl.lit(None, MONEY))
    return frame.select(
        "id_proceso", codigo_bandera=pl.lit(fired.code), nombre_bandera=pl.lit(fired.name),
        peso=pl.lit(fired.weight, pl.Int32), monto_bandera=amount)


def _rollup(contracts: pl.DataFrame, key: str, names: list[str], day: pl.Expr) -> pl.DataFrame:
    weight = pl.col("monto").cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0)
    scored = contracts.filter(pl.col(key).is_not_null()).with_columns(w=weight)
    grouped = scored.group_by(key).agg(
        *(pl.col(n).min() for n in names),  # one deterministic name among its processes
        contratos=pl.len().cast(pl.Int64),
        contratos_con_banderas=(pl.col("cantidad_banderas") > 0).sum().cast(pl.Int64),
        # null when the sum passes decimal(30,3), the tables' type
        monto_total=pl.col("monto").sum().cast(MONEY, strict=False),
        monto_con_banderas=pl.col("monto").filter(pl.col("cantidad_banderas") > 0).sum()
        .cast(MONEY, strict=False),
        peso_total=pl.col("w").sum(),
        puntaje_ponderado=(pl.col("w") * pl.col("puntaje")).sum(),
        puntaje_medio=pl.col("puntaje").mean(),
    )
    puntaje = pl.when(pl.col("peso_total") > 0).then(
        pl.col("puntaje_ponderado") / pl.col("peso_total")).otherwise(pl.col("puntaje_medio"))
    return grouped.with_columns(puntaje=puntaje.round(4)).with_columns(
        nivel=level(pl.col("puntaje")), fecha_ejecucion=day,
    ).drop("peso_total", "puntaje_ponderado", "puntaje_medio").rename({key: "documento"})
