"""Process one day with the open engine: the same contract as the closed executable.

Input: a rendered parameter file whose relative paths start in `workdir` (inputs unpacked in
`tmp/` as the original worker leaves them). Output: the ADATRAP files in the parameter file's
output folder, Parquet tables for analysis, and a summary with stage timings and bad rows.
"""

from __future__ import annotations

import itertools
import logging
import queue
import resource
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from ..errors import InputFileError
from ..formats.inputs import read_gps, read_runs, read_transactions
from ..metro import MetroTiming
from ..outputs import write_output
from ..params import ParFile
from ..zipping import deflated_dir
from . import tables
from .network import Network, load_network
from .runs import Fleet, build_fleet, section_speeds
from .stages import StageSettings, build_stages
from .trips import assign_periods, build_trips, chain_trips, run_ends, stage_expansion

log = logging.getLogger(__name__)
VERSION = "cauce-transit 1"
ROWS_PER_PART = 350_000
#: what `progress` counts: the engine's stages, each output file, the Parquet tables, the end
LAYOUT_KINDS = ("etapas", "viajes", "profile", "odbyroute", "expediciones", "speed", "bip",
                "general")
PARQUET = "Parquet"
STEPS = ("read", "runs", "boarding", "alighting", "chaining",
         *(f"wrote {kind}" for kind in LAYOUT_KINDS), PARQUET, "outputs")
#: the outputs written side by side, each chain by one thread in order; about the same CPU
#: each (`.viajes` costs about as much as `.etapas`, `.profile` and the Parquet tables)
CHAINS = (("viajes", "bip", "general", "expediciones", "speed"),
          ("etapas", "profile", "odbyroute", PARQUET))
Progress = Callable[[int, int, str], None]
DROPPED_BEFORE_OUTPUTS = ("bx", "by", "sid", "last_of_day", "next_x", "next_y", "next_t",
                          "n_card", "cost", "service_key", "alight_period_id")


class Cancelled(Exception):
    """The run was asked to stop between two stages of the engine."""


@dataclass(frozen=True)
class EngineSettings:
    """Engine choices the parameter file does not carry; the app exposes them as settings."""

    stages: StageSettings = field(default_factory=StageSettings)
    metro: MetroTiming = field(default_factory=MetroTiming)
    no_alight_allowance_min: float = 30.0
    home_radius_m: float = 500.0
    fare_window_min: float = 120.0
    max_paid_stages: int = 3


@dataclass
class EngineResult:
    outputs: dict[str, Path]
    parquet: dict[str, Path]
    rows: dict[str, int]
    rejects: dict[str, int]
    seconds: dict[str, float]
    stages: pl.DataFrame  # card, t, mode, has_alight, stop_alight, trip: for accuracy
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # all threads, per stage


def _input(workdir: Path, par: ParFile, field_name: str) -> Path:
    path = workdir / par.path(field_name)
    if not path.is_file():
        raise InputFileError(f"input missing: {par.path(field_name)}",
                             hint="the inputs are unpacked into tmp/ before the engine runs")
    return path


def run_engine(par: ParFile, workdir: Path, day: date, *, settings: EngineSettings | None = None,
               parquet_dir: Path | None = None,
               cancelled: Callable[[], bool] = lambda: False,
               progress: Progress = lambda done, total, label: None) -> EngineResult:
    """Process the day; `progress(done, total, label)` hears of each step as it ends."""
    settings = settings or EngineSettings()
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    rejects: dict[str, int] = {}
    clock, cpu_clock = time.perf_counter(), _cpu_seconds()
    done, total = 0, len(STEPS) - (parquet_dir is None)

    def step(label: str) -> None:
        nonlocal done
        done += 1
        progress(done, total, label)

    def lap(name: str) -> None:
        nonlocal clock, cpu_clock
        now, cpu_now = time.perf_counter(), _cpu_seconds()
        seconds[name] = round(seconds.get(name, 0.0) + now - clock, 2)
        cpu[name] = round(cpu.get(name, 0.0) + cpu_now - cpu_clock, 2)
        clock, cpu_clock = now, cpu_now
        log.info("engine: %s done in %.1f s, %.1f s of CPU (peak memory so far %.2f GB)", name,
                 seconds[name], cpu[name],
                 resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024)
        step(name)
        if cancelled():
            raise Cancelled(f"cancelled after {name}")

    gps_path, runs_path, trx_path = (_input(workdir, par, f"{kind}_file")
                                     for kind in ("gps", "runs", "trx"))
    # the two big inputs are read side by side while this thread reads the rest: each reader
    # has stretches on one core (checking the text, converting coordinates)
    with ThreadPoolExecutor(2, thread_name_prefix="read") as pool:
        reading_gps = pool.submit(read_gps, gps_path, par, day)
        reading_trx = pool.submit(read_transactions, trx_path, par, day)
        network = load_network(workdir, par, day, settings.metro)
        runs, runs_rejects = read_runs(runs_path, par, day)
        gps, gps_rejects = reading_gps.result()
        trx, trx_rejects = reading_trx.result()
    for path, frame, found in ((gps_path, gps, gps_rejects), (runs_path, runs, runs_rejects),
                               (trx_path, trx, trx_rejects)):
        rejects.update(found)
        if frame.is_empty() and not found:
            # nothing unusable to count: without a word the day would look like a quiet one
            log.warning("%s holds no data row: the day is processed without it", path.name)
    gps_rows = gps.height
    lap("read")
    fleet = build_fleet(runs, gps, network, par.number("route_offroute_m"), rejects)
    del gps, runs  # the pings live on, projected, in the fleet
    lap("runs")
    stages = build_stages(
        trx, network, fleet, closeness_m=par.number("next_stop_closeness_m"),
        offroute_m=par.number("validation_offroute_m"),
        zp_wait_s=par.number("zp_max_wait_min") * 60, settings=settings.stages,
        rejects=rejects, boarded=lambda: lap("boarding"))
    del trx  # the transactions live on as stages; held, they would last to the end
    lap("alighting")
    stages = assign_periods(stages, "t_board", network, "board")
    stages = assign_periods(stages, "t_alight", network, "alight")
    stages = chain_trips(stages, network, cut_minutes=par.number("trip_cut_minutes"),
                         no_alight_allowance_min=settings.no_alight_allowance_min,
                         max_paid_stages=settings.max_paid_stages,
                         fare_window_min=settings.fare_window_min)
    stages = stage_expansion(stages)
    trips = build_trips(stages, network, settings.home_radius_m)
    lap("chaining")
    folder = workdir / par.path("output_folder")
    folder.mkdir(parents=True, exist_ok=True)
    # only what the outputs use goes on; texts repeated millions of times become categorical
    stages = stages.select(pl.exclude(DROPPED_BEFORE_OUTPUTS)).with_columns(
        pl.col("site", "mode", "board_period", "alight_period", "end_reason").cast(
            pl.Categorical))
    enriched = tables.enrich_stages(stages, network, fleet)
    del stages  # enriched holds everything the outputs need from here on
    log.info("engine: stages enriched (peak memory so far %.2f GB)",
             resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024)
    name = day.isoformat()
    paths = {kind: (workdir / par.path(f"out_{kind}")) if f"out_{kind}" in par.values else (
        folder / f"{name}.{kind}") for kind in LAYOUT_KINDS}
    day_tables = DayTables.of(enriched, trips, fleet, network, gps_rows)
    del fleet, trips  # the day's pings go before the files are written
    outputs, rows, parquet = write_outputs(day_tables, paths, day, parquet_dir=parquet_dir,
                                           written=step)
    outputs["rechazos"] = write_rejects(rejects, folder / f"{name}.rechazos")
    summary = enriched.select("card", "t", "mode", "has_alight",
                              pl.col("stop_alight").cast(pl.String), "trip")
    lap("outputs")
    return EngineResult(outputs, parquet, rows, rejects, seconds, summary, cpu)


@dataclass(frozen=True)
class DayTables:
    """What the day's outputs are made of, once the engine has run."""

    stages: pl.DataFrame  # enriched (tables.enrich_stages), sorted by card, time
    trips: pl.DataFrame   # sorted by card, trip
    fleet: Fleet          # without its pings: what the outputs need of them is below
    network: Network
    gps_rows: int
    speeds: pl.DataFrame  # runs.section_speeds
    ping_gaps: pl.Series  # tables.mean_ping_gaps, for `.general`

    @classmethod
    def of(cls, stages: pl.DataFrame, trips: pl.DataFrame, fleet: Fleet, network: Network,
           gps_rows: int) -> DayTables:
        """The outputs' tables; the pings (0.2 GB on a santiago day) are read here and not
        kept, so they are not held while the files are written."""
        return cls(stages, trips, replace(fleet, pings=fleet.pings.clear()), network, gps_rows,
                   section_speeds(fleet, network), tables.mean_ping_gaps(fleet.pings))


def write_outputs(day_tables: DayTables, paths: dict[str, Path], day: date, *,
                  parquet_dir: Path | None = None,
                  written: Callable[[str], None] = lambda label: None
                  ) -> tuple[dict[str, Path], dict[str, int], dict[str, Path]]:
    """Write the ADATRAP files at `paths` (kind -> path) and, with `parquet_dir`, the Parquet
    tables; `written(label)` hears of each as it ends, in this thread. Returns the files, their
    data rows and the Parquet tables.

    The files are written by `len(CHAINS)` threads side by side, each taking its chain in
    order: Polars and the deflate streams release the GIL, so while one file is in a stretch
    that runs on one core (NumPy gathers, a group-by's merge, a deflate) the other keeps the
    second core busy."""
    t = day_tables
    enriched, trips, fleet, network = t.stages, t.trips, t.fleet, t.network
    general_input = enriched.select("mode", "board_seq", "has_alight", "card", "trip",
                                    "stage_in_trip", "t", "t_alight", "board_stop", "bst_unique")
    # the biggest tables are written by groups of whole cards (or expeditions) to bound memory
    card_parts = card_slices(enriched["card"], trips["card"], ROWS_PER_PART)
    exp_parts = exp_ranges(fleet.expeditions.height,
                           max(1, enriched.height // ROWS_PER_PART))
    profile_tables: list[pl.DataFrame] = []

    def profile_parts() -> Iterator[pl.DataFrame]:
        # each part feeds the text file and, narrowed, the Parquet table: computed once
        for lo, hi in exp_parts:
            condition = pl.col("exp").is_between(lo, hi, closed="left")
            part = tables.profile(enriched.lazy().filter(condition), fleet.part(lo, hi),
                                  network, day).collect()
            profile_tables.append(profile_table(part, day))
            yield part

    builders: dict[str, Callable[[], object]] = {
        "etapas": lambda: (tables.etapas(enriched.slice(*rows), network, day)
                           for rows, _ in card_parts),
        "viajes": lambda: (tables.viajes(enriched.slice(*rows), trips.slice(*trip_rows),
                                         network, day) for rows, trip_rows in card_parts),
        "profile": profile_parts,
        "odbyroute": lambda: tables.odbyroute(enriched, network, fleet, day),
        "expediciones": lambda: tables.expediciones(fleet, network, day),
        "speed": lambda: tables.speed(t.speeds, network, day),
        "bip": lambda: (tables.bip(enriched.slice(*rows), network, day)
                        for rows, _ in card_parts),
        "general": lambda: tables.general(day, network, fleet, general_input, trips,
                                          t.gps_rows, t.ping_gaps, VERSION),
    }
    rows: dict[str, int] = {}
    parquet: dict[str, Path] = {}

    def write(kind: str) -> str:
        if kind == PARQUET:
            parquet.update(write_parquet(parquet_dir, day, enriched, trips,  # type: ignore
                                         pl.concat(profile_tables)))
            return "wrote the Parquet tables"
        path = paths[kind]
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        rows[kind] = write_output(builders[kind](), kind, path,  # type: ignore[arg-type]
                                  deflate_to=deflated_dir(path.parent))
        log.info("engine: wrote %s (%d rows) in %.1f s", path.name, rows[kind],
                 time.perf_counter() - started)
        return f"wrote {path.name}"

    chains = [[kind for kind in chain if kind != PARQUET or parquet_dir is not None]
              for chain in CHAINS]
    heard: queue.Queue[str | BaseException] = queue.Queue()
    failed = threading.Event()

    def run_chain(chain: list[str]) -> None:
        for kind in chain:
            if failed.is_set():
                return
            try:
                heard.put(write(kind))
            except BaseException as error:  # handed to the calling thread, which raises it
                failed.set()
                heard.put(error)
                return

    with ThreadPoolExecutor(len(chains), thread_name_prefix="outputs") as pool:
        for chain in chains:
            pool.submit(run_chain, chain)
        for _ in range(sum(map(len, chains))):
            label = heard.get()
            if isinstance(label, BaseException):
                raise label
            written(label)
    return {kind: paths[kind] for kind in builders}, rows, parquet


def _cpu_seconds() -> float:
    """CPU time of the process so far, every thread (user and system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def profile_table(profile: pl.DataFrame, day: date) -> pl.DataFrame:
    """The analysis columns of a `.profile` part."""
    return profile.select(
        pl.lit(day).alias("day"), pl.col("idExpedicion").alias("expedition"),
        pl.col("ServicioSentido").alias("service"), pl.col("Patente").alias("plate"),
        pl.col("Correlativo").alias("seq"), pl.col("Paradero").alias("stop"),
        pl.col("t_pass"), pl.col("#Subidas").alias("boardings"),
        pl.col("#Bajadas").alias("alightings"), pl.col("load_after").alias("load"),
        pl.col("Capacidad").alias("capacity"))


def card_slices(stage_cards: pl.Series, trip_cards: pl.Series, rows: int
                ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Cut stages (sorted by card) into runs of about `rows` rows ending at a card boundary;
    each run's (offset, length) in the stages and in the trips (also sorted by card)."""
    cards = stage_cards.to_numpy()
    bounds = [0]
    while bounds[-1] < cards.size:
        cut = min(bounds[-1] + rows, cards.size)
        if cut < cards.size:  # move the cut to the first row of the next card
            cut = int(np.searchsorted(cards, cards[cut - 1], side="right"))
        bounds.append(cut)
    trip_of = trip_cards.to_numpy()
    trip_bounds = [0] + [int(np.searchsorted(trip_of, cards[b - 1], side="right"))
                         for b in bounds[1:]]
    return [((a, b - a), (ta, tb - ta)) for (a, b), (ta, tb) in
            zip(itertools.pairwise(bounds), itertools.pairwise(trip_bounds), strict=True)] or [
        ((0, 0), (0, 0))]


def exp_ranges(n_exp: int, parts: int) -> list[tuple[int, int]]:
    """`parts` consecutive [lo, hi) ranges of expedition numbers covering 0..n_exp."""
    edges = np.linspace(0, n_exp, parts + 1).round().astype(int)
    return [(int(lo), int(hi)) for lo, hi in itertools.pairwise(edges)] or [(0, 0)]


def write_rejects(rejects: dict[str, int], path: Path) -> Path:
    """Unusable rows per reason, one per line: cauce's own file beside the ADATRAP outputs."""
    lines = ["motivo|filas"] + [f"{reason}|{count}" for reason, count in sorted(rejects.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _od(trips: pl.DataFrame, origin: str, destination: str) -> pl.DataFrame:
    """Trips with a final alighting and their expanded count, by period, origin, destination
    (an eager group-by: the sums are added in row order, whatever the thread count)."""
    keys = ["day", "period", origin, destination]
    # narrowed before the filter, which copies what it keeps (all 15 columns: 0.6 GB)
    return trips.select(*keys, "last_has_alight", "factor_expansion").filter(
        pl.col("last_has_alight")).group_by(keys).agg(
        pl.len().alias("trips"), pl.col("factor_expansion").sum().alias("expanded_trips")
    ).sort(keys, nulls_last=True)


def write_parquet(folder: Path, day: date, stages: pl.DataFrame, trips: pl.DataFrame,
                  profiles: pl.DataFrame) -> dict[str, Path]:
    """Stages, trips, OD by zone and by comuna, and load profiles, for analysis."""
    folder.mkdir(parents=True, exist_ok=True)
    d = day.isoformat()
    stage_table = stages.lazy().select(
        pl.lit(day).alias("day"), "card", "trip", "stage_in_trip", "mode", "site",
        pl.col("op").alias("operator"), pl.col("service_board").alias("service"),
        pl.col("t").alias("t_validation"), "t_board", "t_alight", "has_alight",
        pl.col("stop_board").alias("board_stop"), pl.col("stop_alight").alias("alight_stop"),
        "comuna_board", "comuna_alight", "zone_board", "zone_alight", "x_board", "y_board",
        "x_alight", "y_alight", pl.col("board_period").alias("period"), "f_service", "f_zone")
    # a trip's stages are consecutive rows, in the trips' order: its ends are gathered
    first = np.flatnonzero(stages["stage_in_trip"].to_numpy() == 1)
    last = run_ends(first, stages.height)
    # (the two columns are chosen before the rows: gathering whole rows of the enriched stages
    # cost 1.5 CPU s each)
    ends = pl.concat([
        stages.select(pl.col("zone_board").alias("zone_origin"),
                      pl.col("comuna_board").alias("comuna_origin"))[first],
        stages.select(pl.col("zone_alight").alias("zone_destination"),
                      pl.col("comuna_alight").alias("comuna_destination"))[last]],
        how="horizontal")
    trip_table = pl.concat([trips, ends], how="horizontal").select(
        pl.lit(day).alias("day"), "card", "trip", "n_stages", "t_start", "t_end",
        "last_has_alight", "purpose", "end_reason", "factor_expansion", "period",
        "zone_origin", "zone_destination", "comuna_origin", "comuna_destination")
    od_zone = _od(trip_table, "zone_origin", "zone_destination")
    od_comuna = _od(trip_table, "comuna_origin", "comuna_destination")
    out = {}
    for name, frame in (("stages", stage_table), ("trips", trip_table), ("od_zone", od_zone),
                        ("od_comuna", od_comuna), ("profiles", profiles)):
        path = folder / f"{d}.{name}.parquet"
        frame.lazy().sink_parquet(path)
        out[name] = path
    return out
