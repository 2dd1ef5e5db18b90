"""The data-out jobs: indicators, load, dashboard, and `weekly`, the original's whole DAG.

`weekly` (Sundays 00:00 in Bogotá, retries 1, as the original's Airflow DAG) runs for one week
key: download → ETL per source → each indicator and flag once exactly the sources it reads are
in → results → warehouse load → dashboard. A failing source skips only what reads it; the run
then fails (so it is retried and shows in `cauce runs`) after loading everything else.
"""

from __future__ import annotations

import logging
import shlex
import threading
import time
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from cauce import CauceError, Context, Runtime, daily, weekly
from cauce.apps.contracting import rawzone
from cauce.apps.contracting.app import app, raw
from cauce.apps.contracting.dag import FAILED, OK, SKIPPED, Done, Graph, Skip
from cauce.apps.contracting.errors import PartitionDamaged, SourceMissing
from cauce.apps.contracting.formats import cop, miles
from cauce.apps.contracting.jobs_in import SHORT, download_source, etl_source, iso_day
from cauce.apps.contracting.sources import SOURCES

log = logging.getLogger("cauce.apps.contracting")
# Ibis, PyArrow, Polars, Altair and httpx load when a run first needs them: declaring these jobs
# (`cauce apps`, every worker's start) imports none of them.
if TYPE_CHECKING:
    from cauce.apps.contracting.engine import Engine
    from cauce.apps.contracting.indicators.common import Inputs
    from cauce.apps.contracting.indicators.compute import IndicatorRunner, Outcome
    from cauce.apps.contracting.indicators.flags import Flag
    from cauce.apps.contracting.indicators.original import Indicator
    from cauce.apps.contracting.indicators.run import Results, Step
    from cauce.apps.contracting.indicators.scores import Fired

engine_name = app.setting(
    "engine", Literal["duckdb", "spark"], default="duckdb",
    help="where the indicators run: duckdb (in process) or spark (pip install 'cauce[spark]')")
spark_master = app.setting(
    "spark_master", str, default="local[2]",
    help="Spark master for --engine spark: local[N], or a cluster URL such as "
    "spark://host:7077 (the raw-zone files must be readable from its workers)")
as_published = app.setting(
    "as_published", bool, default=False,
    help="compute the ten indicators exactly as the original published them, defects "
    "included, into t_result_indicadores_batch_publicado (no flags or scores)")
fetch_first = app.setting(
    "download", bool, default=True,
    help="weekly: download every source from the portal first; --no-download uses the "
    "exports already in bucket staging")
warehouse_url = app.setting(
    "warehouse", str | None, default=None,
    help="results database: duckdb:///file.duckdb (default: a DuckDB file under the cauce "
    "home) or postgresql://user@host:5432/db")
dashboard_dir = app.setting(
    "dashboard_dir", str, default="contracting-dashboard",
    help="folder the dashboard is written to (index.html, a .svg and a .png per chart)")
dashboard_images = app.setting(
    "dashboard_images", bool, default=True,
    help="also write each dashboard chart as PNG (the SVG is always written)")

curated = app.bucket("curated")  # <definicion>/fecha_ejecucion=<date>/<table>.parquet
results = app.warehouse("results", url=warehouse_url)

DAY_START = "2015-01-01"  # as the ETL's partitions
WEEK_START = "2023-03-12"  # the original DAG's start_date, a Sunday


def _engine(ctx: Context) -> Engine:
    from cauce.apps.contracting.engine import connect

    name = ctx.settings["engine"]
    engine = connect(name, spark_master=ctx.settings["spark_master"])
    ctx.log.info("engine: %s%s", name,
                 f" ({ctx.settings['spark_master']})" if name == "spark" else "")
    return engine


def _committed_files(day: date, tables: list[str] | None = None) -> dict[str, list[Path] | None]:
    """Local files of each raw table committed for ``day``; None where it is missing."""
    from cauce.apps.contracting.tables import COLUMNS

    files: dict[str, list[Path] | None] = {}
    for table in tables if tables is not None else list(COLUMNS):
        try:
            files[table] = rawzone.local_paths(raw, table, day)
        except PartitionDamaged as err:  # skipped as missing, and said why
            log.warning("%s (hint: %s)", err.message, err.hint)
            files[table] = None
        except SourceMissing:
            files[table] = None
    return files


def _compute(ctx: Context, day: date) -> Results:
    from cauce.apps.contracting.indicators.compute import load_inputs
    from cauce.apps.contracting.indicators.run import run_all

    published = ctx.settings["as_published"]
    files = _committed_files(day)
    missing = [t for t, f in files.items() if f is None]
    if len(missing) == len(files):
        raise CauceError(f"no source is in the raw zone for {day}",
                         hint=f"run `cauce run contracting etl --partition {day}` first "
                         "(or the whole week: weekly)")
    if missing:
        ctx.log.warning("raw zone %s: no committed partition for %s", day, ", ".join(missing))
    engine = _engine(ctx)
    try:
        inputs = load_inputs(engine, files, day)
        return run_all(engine, inputs, as_published=published, fecha_ejecucion=day,
                       log=ctx.log)
    finally:
        engine.close()


def _store(ctx: Context, outcome: Results) -> dict[str, Any]:
    from cauce.apps.contracting.results import write_curated

    counts = write_curated(curated, outcome)
    ctx.log.info("curated zone: %s", ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    return {**outcome.summary(), "tables": counts}


@app.job(partitions=daily(start=DAY_START), retries=1)
def indicators(ctx: Context) -> dict[str, Any]:
    """The ten indicators (fixed, or --as-published), the red flags and the risk scores for the
    partition's cut date, from the raw zone into the curated zone; what could not be computed
    is reported, and fails the run once the rest is stored."""
    day = _day(ctx)
    outcome = _compute(ctx, day)
    stored = _store(ctx, outcome)
    missed: dict[str, list[str]] = {}  # the codes of each reason, so the line stays short
    for step in outcome.steps:
        if step.status != "ok":
            missed.setdefault(f"{step.status}: {step.reason}", []).append(step.code)
    if missed:
        count = sum(len(codes) for codes in missed.values())
        raise CauceError(f"{count} of {len(outcome.steps)} indicators and flags not computed "
                         f"for {day}: " + "; ".join(f"{', '.join(codes)} ({why})"
                                                   for why, codes in missed.items()),
                         hint="the others are in the curated zone; run the ETL of the missing "
                         "sources, then this again")
    return stored


@app.job(partitions=daily(start=DAY_START), retries=1)
def load(ctx: Context) -> dict[str, Any]:
    """The date's results from the curated zone into the warehouse, replacing that date in every
    result table in one transaction."""
    from cauce.apps.contracting.results import load_warehouse, read_curated

    day = _day(ctx)
    run = read_curated(curated, day, ctx.settings["as_published"])
    loaded = load_warehouse(results, run)
    ctx.log.info("warehouse %s: %s", results.resolved_url,
                 ", ".join(f"{t} {n:,}" for t, n in loaded.items()))
    return {"fecha_ejecucion": day.isoformat(), "definicion": run.definicion, "rows": loaded}


@app.job(retries=0)
def dashboard(
    ctx: Context,
    fecha: Annotated[str, "execution date to show (default: the latest one)"] = "",
) -> dict[str, Any]:
    """The panel (contracts and amounts per indicator, trend, riskiest buyers and suppliers,
    departments, red flags) as an offline HTML page plus a PNG and SVG per chart."""
    day = iso_day(fecha, "--fecha") if fecha else None
    return _dashboard(ctx, day, ctx.settings["dashboard_images"])


def _dashboard(ctx: Context, day: date | None, images: bool) -> dict[str, Any]:
    from cauce.apps.contracting.dashboard.page import read_panel, write_dashboard

    panel = read_panel(results, day, as_published=ctx.settings["as_published"])
    written = write_dashboard(ctx.settings["dashboard_dir"], panel, images=images)
    ctx.log.info("dashboard for %s: %s", panel.fecha, written["page"])
    return {"fecha_ejecucion": panel.fecha.isoformat(), **written}


# -- the weekly DAG ------------------------------------------------------------------------------
class Week:
    """One weekly run's step graph and what its steps share: the engine (started on first
    use), the raw tables read so far, the relations materialised once, and each indicator's
    and flag's outcome."""

    def __init__(self, ctx: Context, day: date) -> None:
        self.ctx, self.day = ctx, day
        self.published: bool = ctx.settings["as_published"]
        self.graph = Graph()
        self.finished: dict[str, Done] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.flags: dict[str, tuple[Step, Fired | None]] = {}
        self._engine: Engine | None = None
        self._runner: IndicatorRunner | None = None
        self._tables: dict[str, Any] = {}
        self._shared: dict[str, Any] = {}
        self._start_lock, self._engine_lock = threading.Lock(), threading.Lock()
        self._build()

    def engine(self) -> Engine:
        with self._start_lock:
            if self._engine is None:
                self._engine = _engine(self.ctx)
            return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()

    def inputs(self, names: tuple[str, ...]) -> Inputs:
        """The raw tables committed for the day among ``names``, each read once."""
        from cauce.apps.contracting.indicators.common import Inputs
        from cauce.apps.contracting.indicators.compute import load_inputs

        engine = self.engine()
        for name in names:
            if name not in self._tables:
                loaded = load_inputs(engine, _committed_files(self.day, [name]), self.day)
                self._tables.update(loaded.tables)
        return Inputs({n: self._tables[n] for n in names if n in self._tables}, self.day,
                      self._shared, engine.materialize)

    def _build(self) -> None:
        from cauce.apps.contracting.download import downloadable
        from cauce.apps.contracting.indicators.flags import FLAGS
        from cauce.apps.contracting.indicators.original import INDICATORS

        etl_of: dict[str, str] = {}
        for src in SOURCES.values():
            short = SHORT[src.key]
            needs: list[str] = []
            if self.ctx.settings["download"] and downloadable(src):
                self.graph.add(f"download-{short}", _bind(download_source, self.ctx, src.key,
                                                          self.day))
                needs = [f"download-{short}"]
            self.graph.add(f"etl-{short}", _bind(etl_source, self.ctx, src.key, self.day),
                           needs)
            etl_of[src.key] = f"etl-{short}"
        computed = []
        for i in INDICATORS:
            self.graph.add(i.code, partial(self._indicator, i),
                           [etl_of[t] for t in i.needs(self.published) if t in etl_of],
                           lock=self._engine_lock)
            computed.append(i.code)
        for f in () if self.published else FLAGS:
            self.graph.add(f.code, partial(self._flag, f),
                           [etl_of[t] for t in f.sources if t in etl_of], lock=self._engine_lock)
            computed.append(f.code)
        self.graph.add("resultados", self._results, computed, always=True)
        self.graph.add("carga", lambda: load(self.ctx), ["resultados"])
        self.graph.add("tablero", lambda: _dashboard(self.ctx, self.day,
                                                     self.ctx.settings["dashboard_images"]),
                       ["carga"])

    def _indicator(self, indicator: Indicator) -> str:
        from cauce.apps.contracting.indicators.compute import IndicatorRunner

        inputs = self.inputs(indicator.needs(self.published))
        if self._runner is None:
            self._runner = IndicatorRunner(self.engine(), inputs, as_published=self.published,
                                           fecha_ejecucion=self.day, log=self.ctx.log)
        self._runner.inputs = inputs
        outcome = self.outcomes[indicator.code] = self._runner.run(indicator)
        return _settle(outcome.status, outcome.reason)

    def _flag(self, flag: Flag) -> str:
        from cauce.apps.contracting.indicators.run import run_flag

        result = self.flags[flag.code] = run_flag(self.engine(), self.inputs(flag.sources), flag,
                                                  self.ctx.log)
        return _settle(result[0].status, result[0].reason)

    def _results(self) -> dict[str, Any]:
        from cauce.apps.contracting.indicators.flags import FLAGS
        from cauce.apps.contracting.indicators.original import INDICATORS
        from cauce.apps.contracting.indicators.run import Step, assemble
        from cauce.apps.contracting.tables import COLUMNS

        outcomes = [self.outcomes[i.code] for i in INDICATORS if i.code in self.outcomes]
        flags = [self.flags[f.code] for f in FLAGS if f.code in self.flags]
        with self._engine_lock:
            available = tuple(t for t in COLUMNS if t in self._tables)
            assembled = assemble(self.engine(), self.inputs(available), outcomes, flags,
                                 as_published=self.published, fecha_ejecucion=self.day)
        names = {i.code: i.name for i in INDICATORS} | {f.code: f.name for f in FLAGS}
        reported = {s.code for s in assembled.steps}
        for done in self.finished.values():  # never ran: a source they read failed
            if done.name in names and done.name not in reported:
                assembled.steps.append(Step(done.name, names[done.name], SKIPPED, done.error))
        return _store(self.ctx, assembled)


def _settle(status: str, reason: str) -> str:
    """Turn an indicator's or flag's status into the step's ending."""
    if status == SKIPPED:
        raise Skip(reason)
    if status != OK:
        raise CauceError(reason)
    return status


def _bind(func: Any, ctx: Context, key: str, day: date) -> Any:
    return lambda: func(ctx, key, day)


@app.job(name="weekly", partitions=weekly(start=WEEK_START), schedule="0 0 * * 0", retries=1,
         retry_delay="5m")
def weekly_job(ctx: Context) -> dict[str, Any]:
    """The original's weekly DAG for one week (its Sunday): download → ETL per source → each
    indicator after exactly its sources → warehouse load → dashboard."""
    from cauce.apps.contracting.etl import check_memory_limit  # DuckDB

    day = _day(ctx)
    check_memory_limit(ctx.settings["etl_memory"])
    week = Week(ctx, day)
    started = time.perf_counter()

    def report(done: Done) -> None:
        week.finished[done.name] = done
        level = logging.INFO if done.status == OK else (
            logging.WARNING if done.status == SKIPPED else logging.ERROR)
        ctx.log.log(level, "step %s %s%s%s", done.name, done.status,
                    f" in {done.seconds:.1f}s" if done.status != SKIPPED else "",
                    f": {done.error}" if done.error else "")
        ctx.progress(len(week.finished), len(week.graph.steps), done.name)

    try:
        finished = week.graph.run(workers=2, on_done=report, cancelled=lambda: ctx.cancelled)
    finally:
        week.close()
    summary = {
        "fecha_ejecucion": day.isoformat(),
        "definicion": "publicada" if ctx.settings["as_published"] else "corregida",
        "seconds": round(time.perf_counter() - started, 1),
        "steps": {n: d.status for n, d in finished.items()},
    }
    failed = {n: d.error for n, d in finished.items() if d.status == FAILED}
    skipped = [n for n, d in finished.items() if d.status == SKIPPED]
    if failed:
        raise CauceError(
            f"{len(failed)} step(s) failed for {day}: "
            + "; ".join(f"{n}: {e}" for n, e in failed.items())
            + (f"; not computed: {', '.join(skipped)}" if skipped else ""),
            hint="everything else was loaded; fix the cause and run the same week again "
            "(its rows are replaced, never duplicated)")
    return summary



def _day(ctx: Context) -> date:
    if ctx.partition_date is None:
        raise CauceError("this job needs a partition date", hint="pass --partition DATE")
    return ctx.partition_date


DEMO_DAY = "2023-04-16"


@app.demo(settings={"download": False, "dashboard_dir": "contracting-dashboard",
                    "sink_max_seconds": "1s"})
def demo(rt: Runtime) -> list[str]:
    """Synthetic exports (tiny scale), the whole weekly DAG for one Sunday, then a few seconds
    of the contracts stream with its alerts, offline."""
    from cauce.apps.contracting.indicators.flags import FLAGS
    from cauce.apps.contracting.jobs_in import synth

    made = rt.run(synth, scale="tiny", date=DEMO_DAY)
    if not made.succeeded:
        raise CauceError(f"the synthetic exports failed: {made.error}")
    run = rt.run(weekly_job, partition=DEMO_DAY)
    if not run.succeeded:
        raise CauceError(f"the weekly run failed: {run.error}")
    table = results.query(
        "SELECT sum(cantidad_contratos_irregularidades) AS c, "
        "sum(monto_total_irregularidades) AS m FROM t_result_indicadores_batch "
        "WHERE fecha_ejecucion = ?", [date.fromisoformat(DEMO_DAY)]).to_pylist()[0]
    flagged = results.query("SELECT count(*) AS n FROM t_result_puntaje_contrato").to_pylist()[0]
    page = Path(rt.settings["dashboard_dir"]).resolve() / "index.html"
    steps = run.result["steps"]
    from cauce.apps.contracting.jobs_stream import demo_stream

    return [
        f"weekly {DEMO_DAY}: {sum(s == OK for s in steps.values())} of {len(steps)} steps ok "
        f"(ETL of {len(SOURCES)} sources, 10 indicators, {len(FLAGS)} red flags, load, "
        "dashboard) "
        f"in {run.result['seconds']:.1f}s",
        f"{cop(table['m'])} in {miles(table['c'])} irregular contracts; "
        f"{miles(flagged['n'])} contracts with a risk score above 0",
        f"dashboard: {page}",
        f"warehouse: {results.resolved_url}  (t_result_indicadores_batch, "
        "t_result_banderas_contrato, t_result_puntaje_*)",
        f"as the original published: cauce --home {shlex.quote(str(rt.home))} run contracting "
        f"weekly --partition {DEMO_DAY} --no-download --as-published",
        *demo_stream(rt),
    ]
