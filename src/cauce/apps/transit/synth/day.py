"""Generate one synthetic day end to end: city, bus operations, riders, files."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from ..params import ParFile
from .city import SCALES, build_city
from .demand import build_demand
from .operations import simulate_operations
from .write import DayFiles, write_day

#: the generator's steps, as progress reports them
STEPS = {"city": "city laid out", "operations": "buses simulated", "riders": "riders simulated",
         "write": "files written"}


@dataclass
class GeneratedDay:
    files: DayFiles
    counts: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)


def generate_day(scale: str, day: date, seed: int, par: ParFile, folder: Path, *,
                 progress: Callable[[int, int, str], None] = lambda done, total, label: None
                 ) -> GeneratedDay:
    """Build a city of `scale`, simulate `day` with `seed`, and write its files into `folder`.

    `progress(done, total, label)` hears of the start, and of each of the four steps as it
    ends."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    rng = np.random.default_rng(seed)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 2)
        clock = now
        progress(len(seconds), len(STEPS), STEPS[name])

    progress(0, len(STEPS), "laying out the city")  # a santiago day takes a minute: say so now
    city = build_city(SCALES[scale], rng)
    lap("city")
    ops = simulate_operations(city, rng)
    lap("operations")
    demand = build_demand(city, ops, rng)
    lap("riders")
    files = write_day(city, ops, demand, day, par, folder)
    lap("write")
    counts = {"stops": city.stops.height, "services": city.routes.height // 2,
              "metro_stations": city.stations.height, "zonas_pagas": city.zonas_pagas.height,
              "buses": city.fleet.height, "runs": ops.runs.height, "gps": ops.pings.height,
              "transactions": demand.transactions.height,
              "cards": int(demand.truth["card"].n_unique())}
    return GeneratedDay(files, counts, seconds)
