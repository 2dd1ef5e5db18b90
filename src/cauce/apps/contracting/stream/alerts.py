"""The original's eight stream indicators, computed for a whole batch of records at once.

Each record gets one row per indicator (``Si`` when the reference matches, else ``No``) in the
5-minute window of its own event time, as `t_result_indicadores_stream` holds them. Lookups are
hashes of the batch's columns searched in the reference's sorted key arrays (`reference`).

Differences from the original loop (``spark_stream_ind_mini_batch_loop.py``), on purpose:

- windows are on the record's time (``event_date`` + ``event_time``, Bogotá), not on the time
  the plan was built;
- inactive suppliers: the provider (``id_nit_proveedor``) is looked up among cancelled
  registrations by NIT or identification number; the original keyed on ``id_nit_empresa`` and
  summed a text column, so it never fired;
- abuse counts the pair's historic processes plus its stream contracts so far (this one
  included), not only this contract with its history;
- ``monto_contrato`` is the contract's amount (the original multiplied it by the matches);
- the fiscal group is spelt ``indicadores por inhabilidad`` (the loop had ``iIndicadores``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .reference import PLACEHOLDERS, Reference, contains, keys_of

WINDOW = "5m"
WINDOW_SECONDS = 300
LATE_AFTER = 300  # the original's 5-minute watermark
TIMEZONE = "America/Bogota"
OTROS, INCUMPLIMIENTO, INHABILIDAD = (
    "otros indicadores",
    "indicadores incumplimiento",
    "indicadores por inhabilidad",
)
ABUSO = "abuso de la contratación"

#: (group, indicator, reference key set, record column looked up), in the original's order
LOOKUPS: tuple[tuple[str, str, str, str], ...] = (
    (OTROS, "contratos con proveedores inactivos", "inactivos", "id_nit_proveedor"),
    (OTROS, "contratos con proveedores PEP", "pep", "id_nit_proveedor"),
    (OTROS, "contratos con proveedores con puestos sensibles", "puestos", "id_nit_proveedor"),
    (INCUMPLIMIENTO, "contratistas con contratos cancelados", "cancelados", "id_nit_proveedor"),
    (INHABILIDAD, "inhabilitados por multa", "multas", "nombre_proveedor"),
    (INHABILIDAD, "inhabilitados por obras inconclusas", "obras", "nombre_proveedor"),
    (
        INHABILIDAD,
        "inhabilitados por responsabilidad fiscal",
        "fiscales",
        "nombre_responsable_fiscal",
    ),
)
INDICATORS: tuple[tuple[str, str], ...] = ((OTROS, ABUSO), *((g, n) for g, n, _, _ in LOOKUPS))
COLUMNS = (
    "id_no_contrato",
    "nombre_grupo_indicador",
    "nombre_indicador",
    "tipo_alerta_irregularidad",
    "monto_contrato",
    "window",
    "fecha_ejecucion",
)
FIELDS = (
    "event_date",
    "event_time",
    "id_no_contrato",
    "id_nit_entidad",
    "id_nit_proveedor",
    "id_nit_empresa",
    "id_portafolio",
    "nombre_proveedor",
    "nombre_responsable_fiscal",
)


@dataclass(frozen=True)
class Evaluated:
    """A batch's alerts, the stream's new contract count per pair, and its late records."""

    alerts: pa.Table
    pairs: np.ndarray  # hashes of the (entity, provider) pairs the batch touched
    pair_totals: np.ndarray  # their stream contract counts after the batch
    pair_names: pl.DataFrame  # id_nit_entidad, id_nit_proveedor of each pair
    watermark: float | None  # the latest event time seen (epoch seconds)
    late: int
    flags: dict[str, np.ndarray]  # per indicator, whether each record's alert is `Si`
    starts: pl.Series  # each record's window start and end, as the rows write them
    ends: pl.Series
    executed: str  # fecha_ejecucion


def frame(records: Sequence[dict], arrival: Sequence[float]) -> pl.DataFrame:
    """Records (JSON objects) as a frame; text fields as text whatever a feed sent, an event
    time that cannot be read replaced by the time the record reached the stream."""
    cols: dict[str, pl.Series] = {
        name: pl.Series(name, [text_of(r.get(name)) for r in records], dtype=pl.String)
        for name in FIELDS
    }
    cols["monto_contrato"] = pl.Series(
        "monto_contrato", [_number(r.get("monto_contrato")) for r in records], dtype=pl.Float64
    )
    df = pl.DataFrame(cols)
    local = (
        pl.concat_str("event_date", "event_time")
        .str.strptime(pl.Datetime("us"), "%Y-%m-%d%H%M%S", strict=False)
        .dt.replace_time_zone(TIMEZONE, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    arrived = pl.Series("arrival", arrival, dtype=pl.Float64)
    return df.with_columns(
        local.fill_null(
            pl.from_epoch(arrived * 1e6, time_unit="us").dt.replace_time_zone("UTC")
        ).alias("event_ts")
    )


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_of(value: object) -> str | None:
    """A field as text, without NUL characters (PostgreSQL cannot store them, and one failed
    its whole batch there) and with each lone surrogate as U+FFFD (JSON may escape half a
    pair, which has no UTF-8 form: its batch failed to encode on every engine)."""
    if value is None:
        return None
    text = str(value).replace("\x00", "")
    return text if text.isascii() else LONE_SURROGATE.sub("\ufffd", text)


MAX_AMOUNT = 1e27  # monto_contrato decimal(30,3): 27 digits before the point


def _number(value: object) -> float | None:
    """The amount as a number, None when it is none a decimal(30,3) holds (text that is no
    number, a boolean, NaN, infinities, 1e27 and more), as Spark's JSON schema read it."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if abs(round(number, 3)) < MAX_AMOUNT else None


def evaluate(
    df: pl.DataFrame,
    ref: Reference,
    stream_counts: dict[int, int],
    watermark: float | None,
    now: datetime,
    arrival: np.ndarray,
) -> Evaluated:
    """The eight alerts of each record of ``df`` (in stream order; ``arrival``: when each
    reached the stream, epoch seconds)."""
    n = df.height
    flags: dict[str, np.ndarray] = {}
    for _group, name, key_set, column in LOOKUPS:
        values = df.select(column)
        hit = contains(ref.sets.get(key_set, np.zeros(0, np.uint64)), keys_of(values))
        flags[name] = hit & values[column].is_not_null().to_numpy()

    # abuse: history ∪ the stream's contracts of the pair so far (each contract once)
    pair_cols = df.select("id_nit_entidad", "id_nit_proveedor")
    pair_keys = keys_of(pair_cols)
    eligible = (
        df["id_nit_entidad"].is_not_null()
        & df["id_nit_proveedor"].is_not_null()
        & ~df["id_nit_proveedor"].is_in(PLACEHOLDERS)
        & df["id_no_contrato"].is_first_distinct()
    ).to_numpy()
    uniq, inverse = np.unique(pair_keys, return_inverse=True)
    before = np.fromiter((stream_counts.get(int(k), 0) for k in uniq), np.int64, uniq.size)
    order_in_pair = (
        pl.DataFrame({"g": inverse, "e": eligible.astype(np.int64)})
        .select(pl.col("e").cum_sum().over("g"))["e"]
        .to_numpy()
    )
    total = ref.pair_counts(pair_keys) + before[inverse] + order_in_pair
    flags[ABUSO] = eligible & (total >= 3)
    added = np.bincount(inverse, weights=eligible, minlength=uniq.size).astype(np.int64)
    touched = added > 0
    first_row = np.unique(inverse, return_index=True)[1]

    # windows, lateness
    ts = df["event_ts"].dt.epoch("us").to_numpy() / 1e6
    # an event time ahead of its arrival (a clock set wrong, a year typed 2099) moves the
    # watermark only as far as the arrival plus the lateness allowed: one such record made
    # every later record late
    seen = np.maximum.accumulate(
        np.concatenate([[watermark if watermark is not None else -np.inf],
                        np.minimum(ts, np.asarray(arrival, np.float64) + LATE_AFTER)])
    )
    late = int(np.count_nonzero(ts < seen[:-1] - LATE_AFTER))
    start = df["event_ts"].dt.convert_time_zone(TIMEZONE).dt.truncate(WINDOW)
    fmt = "%Y-%m-%dT%H:%M:%S%.3f%:z"
    starts = start.dt.strftime(fmt)
    ends = start.dt.offset_by(WINDOW).dt.strftime(fmt)
    window = '{"start":"' + starts + '","end":"' + ends + '"}'

    amounts = pa.array(df["monto_contrato"].to_numpy(), pa.float64(), from_pandas=True)
    monto = pc.cast(pc.cast(pc.round(amounts, 3), pa.string()), pa.decimal128(30, 3))
    ids = df["id_no_contrato"].to_arrow()
    windows = window.to_arrow()
    executed = now.astimezone(ZoneInfo(TIMEZONE)).isoformat(timespec="seconds")
    parts = []
    for group, name in INDICATORS:
        parts.append(
            pa.table(
                {
                    "id_no_contrato": ids,
                    "nombre_grupo_indicador": _repeat(group, n),
                    "nombre_indicador": _repeat(name, n),
                    "tipo_alerta_irregularidad": pc.if_else(pa.array(flags[name]), "Si", "No"),
                    "monto_contrato": monto,
                    "window": windows,
                    "fecha_ejecucion": _repeat(executed, n),
                }
            )
        )
    return Evaluated(
        alerts=pa.concat_tables(parts).combine_chunks(),
        pairs=uniq[touched],
        pair_totals=(before + added)[touched],
        pair_names=pair_cols[first_row[touched].tolist()],
        watermark=float(seen[-1]) if n else watermark,
        late=late,
        flags=flags,
        starts=starts,
        ends=ends,
        executed=executed,
    )


def _repeat(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, np.int64)))
