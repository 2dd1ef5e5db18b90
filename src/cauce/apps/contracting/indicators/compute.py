"""Run the ten indicators on one engine: each after exactly its sources, a missing source
skipping only the indicators that read it, a failing indicator failing alone.

The result rows have the shape of the original's `t_result_indicadores_batch`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from ibis import _

from ..engine import Engine
from ..formats import cop, miles
from ..tables import COLUMNS
from .common import Inputs, processes
from .original import INDICATORS, Hits, Indicator

MONEY = pa.decimal128(30, 3)
RESULT_SCHEMA = pa.schema([
    ("nombre_grupo_indicador", pa.string()),
    ("nombre_indicador", pa.string()),
    ("cantidad_irregularidades", pa.int64()),
    ("cantidad_contratos_irregularidades", pa.int64()),
    ("monto_total_irregularidades", MONEY),
    ("cantidad_contratos_totales", pa.int64()),
    ("fecha_ejecucion", pa.date32()),
])
MEASURES = ("cantidad_irregularidades", "cantidad_contratos_irregularidades",
            "monto_total_irregularidades", "cantidad_contratos_totales")
HITS_SCHEMA = pa.schema([("id_proceso", pa.string()), ("doc_proveedor", pa.string()),
                         ("monto", MONEY)])
CENT = Decimal("0.001")
# decimal(30,3): 27 digits before the point; Python's default context keeps 28 in all
TOP = Decimal(10) ** 27
WIDE = Context(prec=80)


@dataclass
class Outcome:
    """How one indicator went: ``ok`` with its row, ``skipped`` (a source is missing) or
    ``failed``, with the reason."""

    indicator: Indicator
    status: str
    row: dict[str, Any] | None = None
    reason: str = ""
    hits: pa.Table | None = None
    nulls: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def load_inputs(engine: Engine, files: Mapping[str, list[Path] | None],
                fecha_corte: date) -> Inputs:
    """The raw tables whose files are given (None: the source is missing for this date)."""
    tables = {name: engine.read(name, paths, COLUMNS[name]) for name, paths in files.items()
              if paths is not None and name in COLUMNS}
    return Inputs(tables, fecha_corte, materialize=engine.materialize)


class IndicatorRunner:
    """Computes indicators one at a time on one engine (the fixed `totales` once)."""

    def __init__(self, engine: Engine, inputs: Inputs, *, as_published: bool,
                 fecha_ejecucion: date, log: logging.Logger | None = None) -> None:
        self.engine, self.inputs = engine, inputs
        self.as_published, self.fecha_ejecucion = as_published, fecha_ejecucion
        self.log = log or logging.getLogger(__name__)
        self._totales: int | None = None

    def run(self, indicator: Indicator) -> Outcome:
        """The indicator's outcome: skipped when a source it reads is missing, failed (with
        the reason, the traceback in the log) when it raises."""
        inputs, log = self.inputs, self.log
        missing = [t for t in indicator.needs(self.as_published) if t not in inputs.tables]
        if missing:
            reason = f"source(s) missing for {inputs.fecha_corte}: {', '.join(missing)}"
            log.warning("%s skipped: %s", indicator.name, reason)
            return Outcome(indicator, "skipped", reason=reason)
        try:
            if self.as_published:
                row, nulls = _published_row(self.engine, indicator, inputs)
                outcome = Outcome(indicator, "ok", row, nulls=nulls)
            else:
                if self._totales is None:
                    self._totales = _scalar(self.engine,
                                            processes(inputs).aggregate(n=_.count()))
                outcome = _fixed_outcome(self.engine, indicator, indicator.fixed(inputs),
                                         self._totales)
        except Exception as err:  # one indicator failing must not stop the others
            reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            log.error("%s failed: %s", indicator.name, reason, exc_info=True)
            return Outcome(indicator, "failed", reason=reason)
        outcome.row = {"nombre_grupo_indicador": indicator.group,
                       "nombre_indicador": indicator.name, **(outcome.row or {}),
                       "fecha_ejecucion": self.fecha_ejecucion}
        if outcome.row["monto_total_irregularidades"] is None:
            log.warning("%s: its total amount does not fit decimal(30,3), the table's type "
                        "(amounts near its top, summed): loaded as null", indicator.name)
        if outcome.nulls:
            log.warning("%s: the original's global sums are null here (%s): it would have "
                        "failed its NOT NULL COPY; loaded as 0", indicator.name,
                        ", ".join(outcome.nulls))
        row = outcome.row
        log.info("%s: %s irregularidades, %s contratos, %s, de %s contratos", indicator.name,
                 miles(row["cantidad_irregularidades"]),
                 miles(row["cantidad_contratos_irregularidades"]),
                 cop(row["monto_total_irregularidades"]), miles(row["cantidad_contratos_totales"]))
        return outcome


def compute_indicators(engine: Engine, inputs: Inputs, *, as_published: bool,
                       fecha_ejecucion: date, only: set[str] | None = None,
                       log: logging.Logger | None = None) -> list[Outcome]:
    """Each of the ten indicators (or those whose code is in ``only``), in order."""
    runner = IndicatorRunner(engine, inputs, as_published=as_published,
                             fecha_ejecucion=fecha_ejecucion, log=log)
    return [runner.run(i) for i in INDICATORS if only is None or i.code in only]


def result_table(outcomes: list[Outcome]) -> pa.Table:
    """The rows of `t_result_indicadores_batch` for the indicators that ran."""
    rows = [o.row for o in outcomes if o.ok and o.row is not None]
    return pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)


def _scalar(engine: Engine, expr: Any) -> Any:
    table = engine.arrow(expr)
    return table.column(0)[0].as_py() if table.num_rows else None


def _money(value: Any) -> Decimal | None:
    """A total as the tables' decimal(30,3): 0 when there is none, None when it does not fit
    (amounts near the type's top, summed)."""
    total = (Decimal(value) if value is not None else Decimal(0)).quantize(CENT, context=WIDE)
    return total if abs(total) < TOP else None


def _fixed_outcome(engine: Engine, indicator: Indicator, hits: Hits, totales: int) -> Outcome:
    flagged = engine.arrow(hits.processes).cast(HITS_SCHEMA)
    if isinstance(hits.irregularidades, str):
        irregular = (flagged.num_rows if hits.irregularidades == "processes"
                     else pc.count_distinct(flagged["doc_proveedor"]).as_py())
    else:
        irregular = _scalar(engine, hits.irregularidades) or 0
    row = {"cantidad_irregularidades": int(irregular),
           "cantidad_contratos_irregularidades": pc.count_distinct(flagged["id_proceso"]).as_py(),
           "monto_total_irregularidades": _money(pc.sum(flagged["monto"]).as_py()),
           "cantidad_contratos_totales": totales}
    return Outcome(indicator, "ok", row, hits=flagged)


def _published_row(engine: Engine, indicator: Indicator,
                   inputs: Inputs) -> tuple[dict[str, Any], list[str]]:
    values = engine.arrow(indicator.published(inputs)).to_pylist()[0]
    nulls = [m for m in MEASURES if values.get(m) is None]
    row = {m: int(values[m] or 0) for m in MEASURES if m != "monto_total_irregularidades"}
    row["monto_total_irregularidades"] = _money(values["monto_total_irregularidades"])
    return row, nulls
