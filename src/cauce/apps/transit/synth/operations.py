"""Bus operations of a synthetic day: runs (the 1.96 report), true stop passing times, GPS pings.

Each bus serves one service, alternating directions with a layover at each terminal. All-day buses
work from about 05:20 to 23:30; peak buses only in the morning and evening peaks. Speeds depend on
the time of day, the run and the street segment; buses dwell at every stop. Pings come every
26-40 s (from the depot too, before and after service) with metric noise, some buses lose their
signal for minutes, and a few rows are impossible (zero coordinates, a time on another day), as in
real feeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..geo import to_latlon
from .city import City

#: (hour from, km/h) the base bus speed by time of day
SPEED_BY_HOUR = ((0, 30.0), (5, 26.0), (6.5, 16.0), (9, 21.0), (17, 15.0), (20.5, 24.0))
DAY_START, DAY_END = 5.3 * 3600, 23.5 * 3600
PEAK_WINDOWS = ((6.0 * 3600, 10.5 * 3600), (16.5 * 3600, 21.0 * 3600))


@dataclass
class Operations:
    runs: pl.DataFrame     # run_id, bus, plate, route_idx, operator, start, end
    events: pl.DataFrame   # run_id, route_idx, seq, arrive, depart (true passing times)
    pings: pl.DataFrame    # plate, t, lat, lon (with the noise and bad rows of a real feed)


def base_speed(seconds: np.ndarray) -> np.ndarray:
    hours = np.asarray(seconds) / 3600.0
    bounds = np.array([h for h, _ in SPEED_BY_HOUR])
    speeds = np.array([v for _, v in SPEED_BY_HOUR])
    return speeds[np.searchsorted(bounds, hours, side="right") - 1]


def simulate_operations(city: City, rng: np.random.Generator) -> Operations:
    routes = city.routes.sort("route_idx")
    route_of = {(b, d): i for i, b, d in routes.select("route_idx", "base", "direction").rows()}
    rs = city.route_stops.sort("route_idx", "seq")
    offsets = np.concatenate([[0], np.cumsum(routes["n"].to_numpy())])
    stop_dist = rs["dist"].to_numpy()

    fleet = city.fleet.with_row_index("bus")
    n_bus = fleet.height
    route_i = np.array([route_of[(s, "I")] for s in fleet["service"]])
    route_r = np.array([route_of[(s, "R")] for s in fleet["service"]])
    rank = fleet.select(pl.col("bus").rank("ordinal").over("service") - 1).to_series().to_numpy()
    size = fleet.group_by("service").len().rename({"len": "size"})
    per_service = fleet.join(size, on="service", maintain_order="left")["size"].to_numpy()
    length = routes["length"].to_numpy()
    cycle = 2 * (length[route_i] / (19 / 3.6) + 600)
    peak_bus = rng.random(n_bus) < 0.3
    start = np.where(peak_bus, PEAK_WINDOWS[0][0], DAY_START) + rank / per_service * cycle * (
        np.where(peak_bus, 0.5, 1.0)) + rng.uniform(0, 120, n_bus)
    direction = (rank % 2).astype(np.int8)  # 0 = I first, 1 = R first
    stop_time = np.where(peak_bus, PEAK_WINDOWS[0][1], DAY_END)

    run_parts, event_parts = [], []
    t = start.copy()
    active = np.ones(n_bus, dtype=bool)
    evening = np.zeros(n_bus, dtype=bool)
    run_id = 0
    while active.any():
        buses = np.flatnonzero(active)
        route = np.where(direction[buses] == 0, route_i[buses], route_r[buses])
        n_stops = offsets[route + 1] - offsets[route]
        rows = np.repeat(np.arange(buses.size), n_stops)
        within = np.arange(rows.size) - np.repeat(np.cumsum(n_stops) - n_stops, n_stops)
        dist = stop_dist[offsets[route][rows] + within]
        seg = np.diff(dist, prepend=0.0)
        seg[within == 0] = dist[within == 0]
        factor = rng.uniform(0.85, 1.15, buses.size)[rows] * rng.lognormal(0, 0.2, rows.size)
        speed = base_speed(t[buses])[rows] / 3.6 * factor
        dwell = np.minimum(8 + rng.exponential(12, rows.size), 60)
        step = seg / speed + np.where(within == 0, 0, np.roll(dwell, 1))
        cum = np.cumsum(step)
        group_start = np.repeat(np.cumsum(n_stops) - n_stops, n_stops)
        arrive = t[buses][rows] + cum - (cum[group_start] - step[group_start])
        depart = arrive + dwell
        ids = run_id + np.arange(buses.size)
        last = np.cumsum(n_stops) - 1
        end = arrive[last]
        run_parts.append(pl.DataFrame({
            "run_id": ids, "bus": buses, "route_idx": route, "start": t[buses], "end": end}))
        event_parts.append(pl.DataFrame({
            "run_id": ids[rows], "route_idx": route[rows], "seq": within + 1,
            "arrive": arrive, "depart": depart}))
        run_id += buses.size
        t[buses] = end + rng.uniform(240, 720, buses.size)
        direction[buses] ^= 1
        done = t[buses] >= stop_time[buses]
        # peak buses rest at midday and come back for the evening peak
        resume = done & peak_bus[buses] & ~evening[buses]
        evening[buses[resume]] = True
        t[buses[resume]] = np.maximum(t[buses[resume]], PEAK_WINDOWS[1][0]) + rng.uniform(
            0, 1800, int(resume.sum()))
        stop_time[buses[resume]] = PEAK_WINDOWS[1][1]
        active[buses[done & ~resume]] = False

    runs = pl.concat(run_parts).join(
        fleet.select("bus", "plate", "operator"), on="bus").sort("run_id")
    events = pl.concat(event_parts).sort("run_id", "seq")
    pings = _pings(city, runs, events, rng)
    return Operations(runs, events, pings)


def _pings(city: City, runs: pl.DataFrame, events: pl.DataFrame,
           rng: np.random.Generator) -> pl.DataFrame:
    """Pings along each bus's day, from its true position, with noise, gaps and bad rows."""
    per_bus = runs.group_by("bus").agg(pl.col("start").min(), pl.col("end").max()).sort("bus")
    # units report from the depot before the first run and after the last one ("sin servicio")
    first = per_bus["start"].to_numpy() - rng.uniform(1800, 5400, per_bus.height)
    last = per_bus["end"].to_numpy() + rng.uniform(600, 2400, per_bus.height)
    counts = np.ceil((last - first) / 26.0).astype(int)
    bus = np.repeat(per_bus["bus"].to_numpy(), counts)
    steps = rng.uniform(26, 40, counts.sum())
    cum = np.cumsum(steps)
    starts = np.cumsum(counts) - counts
    t = np.repeat(first, counts) + cum - np.repeat(cum[starts] - steps[starts], counts)
    keep = t <= np.repeat(last, counts)
    bus, t = bus[keep], t[keep]

    runs_sorted = runs.sort("bus", "start")
    rbus = runs_sorted["bus"].to_numpy()
    rstart = runs_sorted["start"].to_numpy()
    rend = runs_sorted["end"].to_numpy()
    rid = runs_sorted["run_id"].to_numpy()
    rroute = runs_sorted["route_idx"].to_numpy()
    key_runs = rbus * 1e5 + rstart
    index = np.searchsorted(key_runs, bus * 1e5 + t, side="right") - 1
    before_first = (index < 0) | (rbus[np.maximum(index, 0)] != bus)
    index = np.where(before_first, np.searchsorted(key_runs, bus * 1e5), index)
    run_of = rid[index]
    # long rests between runs (peak buses at midday) are spent at the depot with the unit off
    next_start = np.where(index + 1 < rbus.size, rstart[np.minimum(index + 1, rbus.size - 1)],
                          np.inf)
    same_bus_next = (index + 1 < rbus.size) & (rbus[np.minimum(index + 1, rbus.size - 1)] == bus)
    resting = ~before_first & (t > rend[index]) & same_bus_next & (next_start - rend[index] > 3600)
    bus, t, index, run_of, before_first = (a[~resting] for a in (bus, t, index, run_of,
                                                                  before_first))

    ev_run = events["run_id"].to_numpy()
    ev_dist = city.route_stops.sort("route_idx", "seq")
    dist_lookup = ev_dist.select("route_idx", "seq", "dist")
    ev = events.join(dist_lookup, on=["route_idx", "seq"]).sort("run_id", "seq")
    ev_run = ev["run_id"].to_numpy()
    times = np.column_stack([ev["arrive"].to_numpy(), ev["depart"].to_numpy()]).ravel()
    dists = np.repeat(ev["dist"].to_numpy(), 2)
    runs_by_id = runs.sort("run_id")
    run_start = runs_by_id["start"].to_numpy()
    key = np.repeat(ev_run, 2) * 1e5 + times
    # add the terminal departure point (start, 0) of every run
    key = np.concatenate([key, runs_by_id["run_id"].to_numpy() * 1e5 + run_start])
    dists = np.concatenate([dists, np.zeros(runs_by_id.height)])
    order = np.argsort(key, kind="stable")
    key, dists = key[order], dists[order]
    clamp_t = np.clip(t, rstart[index], rend[index])
    dist = np.interp(run_of * 1e5 + clamp_t, key, dists)
    dist = np.where(before_first, 0.0, dist)
    route = rroute[index]

    shapes = city.shapes.sort("route_idx", "point")
    skey = shapes["route_idx"].to_numpy() * 1e6 + shapes["dist"].to_numpy()
    query = route * 1e6 + dist
    x = np.interp(query, skey, shapes["x"].to_numpy()) + rng.normal(0, 8, t.size)
    y = np.interp(query, skey, shapes["y"].to_numpy()) + rng.normal(0, 8, t.size)

    # signal gaps: a third of the buses lose 3-15 minutes once or twice a day
    drop = rng.random(t.size) < 0.01
    gap_bus = rng.random(per_bus.height) < 0.33
    for _ in range(2):
        gap_at = rng.uniform(first, last)
        gap_len = rng.uniform(180, 900, per_bus.height)
        b = np.searchsorted(per_bus["bus"].to_numpy(), bus)
        drop |= gap_bus[b] & (t >= gap_at[b]) & (t < gap_at[b] + gap_len[b])
    lat, lon = to_latlon(x, y)
    bad = rng.random(t.size)
    lat = np.where(bad < 2e-4, 0.0, lat)
    lon = np.where(bad < 2e-4, 0.0, lon)
    t = np.where((bad >= 2e-4) & (bad < 3e-4), t + 86400, t)
    plates = city.fleet["plate"].to_numpy()
    keep = ~drop
    return pl.DataFrame({"plate": plates[bus[keep]], "t": np.round(t[keep]).astype(np.int64),
                         "lat": np.round(lat[keep], 6), "lon": np.round(lon[keep], 6)}).sort(
        "plate", "t", maintain_order=True)
