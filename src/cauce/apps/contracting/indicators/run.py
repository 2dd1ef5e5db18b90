"""One indicators run for a cut date: the ten (fixed or as published), and with the fixed ones
the red flags, the per-contract flags table and the scores; every step reported, none
stopping the others."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from ..engine import Engine
from ..tables import PROCESOS
from .common import Inputs
from .compute import Outcome, compute_indicators, result_table
from .flags import FLAGS, Flag, base
from .scores import ATTRIBUTES, Fired, Scored, score

INDICATOR_WEIGHTS = {"I01": 8, "I02": 10, "I03": 10, "I04": 8, "I05": 8, "I06": 10, "I07": 10,
                     "I08": 20, "I09": 15, "I10": 20}
STATUS_SCHEMA = pa.schema([("fecha_ejecucion", pa.date32()), ("definicion", pa.string()),
                           ("codigo", pa.string()), ("nombre", pa.string()),
                           ("estado", pa.string()), ("motivo", pa.string())])


@dataclass(frozen=True)
class Step:
    """How one indicator or flag went: ok, skipped (a source missing) or failed."""

    code: str
    name: str
    status: str
    reason: str = ""


@dataclass
class Results:
    """Everything one run produced, as Arrow tables ready for the warehouse."""

    fecha_ejecucion: date
    as_published: bool
    indicators: pa.Table
    steps: list[Step] = field(default_factory=list)
    scored: Scored | None = None

    @property
    def definicion(self) -> str:
        return "publicada" if self.as_published else "corregida"

    def status_table(self) -> pa.Table:
        rows = [{"fecha_ejecucion": self.fecha_ejecucion, "definicion": self.definicion,
                 "codigo": s.code, "nombre": s.name, "estado": s.status, "motivo": s.reason}
                for s in self.steps]
        return pa.Table.from_pylist(rows, schema=STATUS_SCHEMA)

    def summary(self) -> dict[str, object]:
        counts: dict[str, list[str]] = {"ok": [], "skipped": [], "failed": []}
        for s in self.steps:
            counts[s.status].append(s.code)
        return {"fecha_ejecucion": self.fecha_ejecucion.isoformat(),
                "definicion": self.definicion, **counts,
                "rows": self.indicators.select([
                    "nombre_indicador", "cantidad_contratos_irregularidades",
                    "monto_total_irregularidades"]).to_pylist()}


def run_flag(engine: Engine, inputs: Inputs, flag: Flag,
             log: logging.Logger | None = None) -> tuple[Step, Fired | None]:
    """One red flag: skipped when a source is missing, failed alone when it raises."""
    log = log or logging.getLogger(__name__)
    missing = [t for t in flag.sources if t not in inputs.tables]
    if missing:
        reason = f"source(s) missing for {inputs.fecha_corte}: {', '.join(missing)}"
        log.warning("flag %s skipped: %s", flag.code, reason)
        return Step(flag.code, flag.name, "skipped", reason), None
    try:
        ids = engine.arrow(flag.fires(inputs))
    except Exception as err:  # one flag failing must not stop the others
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        log.error("flag %s failed: %s", flag.code, reason, exc_info=True)
        return Step(flag.code, flag.name, "failed", reason), None
    log.info("flag %s (%s): %s processes", flag.code, flag.name, f"{ids.num_rows:,}")
    return Step(flag.code, flag.name, "ok"), Fired(flag.code, flag.name, flag.weight, ids)


def assemble(engine: Engine, inputs: Inputs, outcomes: list[Outcome],
             flags: list[tuple[Step, Fired | None]], *, as_published: bool,
             fecha_ejecucion: date) -> Results:
    """The run's tables from what each indicator and flag gave: with the fixed definitions,
    the flags table and the scores."""
    results = Results(fecha_ejecucion, as_published, result_table(outcomes),
                      [_step(o) for o in outcomes] + [step for step, _ in flags])
    if as_published or PROCESOS not in inputs.tables:
        return results
    fired = [Fired(o.indicator.code, o.indicator.name, INDICATOR_WEIGHTS[o.indicator.code],
                   o.hits) for o in outcomes if o.ok and o.hits is not None]
    evaluated = sum(INDICATOR_WEIGHTS[o.indicator.code] for o in outcomes
                    if o.ok and o.hits is not None)
    processes = engine.arrow(base(inputs).select(*ATTRIBUTES))
    for _, flag in flags:
        if flag is not None:
            fired.append(flag)
            evaluated += flag.weight
    results.scored = score(fired, processes, evaluated, fecha_ejecucion)
    return results


def run_all(engine: Engine, inputs: Inputs, *, as_published: bool, fecha_ejecucion: date,
            log: logging.Logger | None = None) -> Results:
    """The ten indicators; with the fixed definitions, also the flags and scores."""
    outcomes = compute_indicators(engine, inputs, as_published=as_published,
                                  fecha_ejecucion=fecha_ejecucion, log=log)
    flags = [] if as_published else [run_flag(engine, inputs, f, log) for f in FLAGS]
    return assemble(engine, inputs, outcomes, flags, as_published=as_published,
                    fecha_ejecucion=fecha_ejecucion)


def _step(outcome: Outcome) -> Step:
    return Step(outcome.indicator.code, outcome.indicator.name, outcome.status, outcome.reason)
