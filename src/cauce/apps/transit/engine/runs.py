"""Expeditions from the 1.96 report, GPS attached to them, stop passing times and speeds.

Every ping is attached to its plate's expedition at that time, projected on the expedition's route
(pings farther than the parameter file's off-route distance are set aside), and made monotone
along the route. Passing times at stops and section limits are read off the resulting
distance-time curve: one NumPy interpolation over all expeditions at once, each expedition's
curve shifted by a large offset so that the concatenation stays sorted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .network import Network, project

EXP_OFFSET = 1.0e6   # metres; larger than any route
TIME_OFFSET = 1.0e5  # seconds; larger than a day


@dataclass
class Fleet:
    expeditions: pl.DataFrame  # exp, plate, plate_key, route_idx, operator, start, end, ...
    pings: pl.DataFrame        # exp, t, along (monotone), sorted by exp, t
    passing: pl.DataFrame      # exp, route_idx, seq, t_pass (s, float), gps (bool)
    counts: dict[str, int]

    def part(self, lo: int, hi: int) -> Fleet:
        """Expeditions lo to hi - 1 with their pings and passing times: slices, since the three
        tables are sorted by expedition (a filter read the day's 11 M pings for every part)."""
        return Fleet(_exp_slice(self.expeditions, lo, hi), _exp_slice(self.pings, lo, hi),
                     _exp_slice(self.passing, lo, hi), self.counts)


def _exp_slice(frame: pl.DataFrame, lo: int, hi: int) -> pl.DataFrame:
    """The rows of `frame` (sorted by exp) whose exp is in [lo, hi)."""
    exp = frame["exp"]
    start = int(exp.search_sorted(lo, side="left"))
    return frame.slice(start, int(exp.search_sorted(hi, side="left")) - start)


def build_expeditions(runs: pl.DataFrame, network: Network, rejects: dict[str, int]
                      ) -> pl.DataFrame:
    routes = network.routes.select("route_idx", pl.col("route").alias("service"), "length")
    known = runs.join(routes, on="service", how="inner", maintain_order="left")
    unknown = runs.height - known.height
    if unknown:
        rejects["196: service not in the PO dictionary"] = unknown
    return known.sort("plate_key", "start", maintain_order=True).with_row_index(
        "exp").with_columns(
        pl.col("exp").cast(pl.Int64))


def attach_gps(gps: pl.DataFrame, expeditions: pl.DataFrame, network: Network,
               offroute_m: float, rejects: dict[str, int]) -> tuple[pl.DataFrame, dict[str, int]]:
    """Pings of each expedition with their distance along its route (monotone)."""
    exps = expeditions.select("exp", "plate_key", "start", "end", "route_idx").sort("start")
    pings = gps.sort("t", maintain_order=True).join_asof(
        exps, left_on="t", right_on="start", by="plate_key", strategy="backward",
        check_sortedness=False)
    in_service = pings["exp"].is_not_null() & (pings["t"] <= pings["end"])
    counts = {"gps_with_service": int(in_service.sum()),
              "gps_without_service": int((~in_service).sum())}
    pings = pings.filter(in_service)
    along, _ = project(pings["x"].to_numpy(), pings["y"].to_numpy(),
                       pings["route_idx"].to_numpy(), network.shapes, offroute_m)
    off = np.isnan(along)
    if off.any():
        rejects["gps: farther than the off-route distance from the expedition's route"] = int(
            off.sum())
    pings = pings.with_columns(pl.Series("along", along)).filter(~pl.Series(off))
    pings = pings.sort("exp", "t", maintain_order=True).with_columns(
        pl.col("along").cum_max().over("exp"))
    return pings.select("exp", "t", "along"), counts


def curve_keys(pings: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exp*EXP_OFFSET + along, exp*TIME_OFFSET + t, t) arrays, sorted by exp then t."""
    exp = pings["exp"].to_numpy().astype(np.float64)
    along = pings["along"].to_numpy()
    t = pings["t"].to_numpy().astype(np.float64)
    return exp * EXP_OFFSET + along, exp * TIME_OFFSET + t, t


def times_at(exp: np.ndarray, dist: np.ndarray, pings: pl.DataFrame, bounds: pl.DataFrame
             ) -> tuple[np.ndarray, np.ndarray]:
    """Time each expedition passes distance `dist`, and whether GPS covers that point.

    Outside the GPS coverage the time is extrapolated at the expedition's mean speed.
    """
    key_along, _, t = curve_keys(pings)
    # a day whose GPS matches no expedition has no curve at all: nothing is covered
    inside = (np.interp(exp * EXP_OFFSET + dist, key_along, t) if key_along.size
              else np.full(exp.shape, np.nan))
    b = pl.DataFrame({"exp": exp.astype(np.int64)}).join(bounds, on="exp", how="left",
                                                          maintain_order="left")
    a0, a1 = b["a0"].to_numpy(), b["a1"].to_numpy()
    t0, t1 = b["t0"].to_numpy(), b["t1"].to_numpy()
    speed = np.clip((a1 - a0) / np.maximum(t1 - t0, 1), 2.0, 20.0)
    covered = (dist >= a0) & (dist <= a1)
    result = np.where(dist < a0, t0 - (a0 - dist) / speed,
                      np.where(dist > a1, t1 + (dist - a1) / speed, inside))
    result = np.where(np.isnan(a0), np.nan, result)
    return result, covered & ~np.isnan(a0)


def coverage(pings: pl.DataFrame) -> pl.DataFrame:
    """First/last (distance, time) of each expedition's GPS; at least two pings needed."""
    return pings.group_by("exp").agg(
        pl.col("along").first().alias("a0"), pl.col("along").last().alias("a1"),
        pl.col("t").first().cast(pl.Float64).alias("t0"),
        pl.col("t").last().cast(pl.Float64).alias("t1"), pl.len().alias("n_pings")
    ).filter((pl.col("n_pings") >= 2) & (pl.col("a1") > pl.col("a0")))


def passing_times(expeditions: pl.DataFrame, pings: pl.DataFrame, network: Network
                  ) -> pl.DataFrame:
    bounds = coverage(pings)
    grid = expeditions.select("exp", "route_idx").join(bounds.select("exp"), on="exp").join(
        network.route_stops.select("route_idx", "seq", "dist"), on="route_idx").sort(
        "exp", "seq")
    t_pass, covered = times_at(grid["exp"].to_numpy().astype(np.float64),
                               grid["dist"].to_numpy(), pings, bounds)
    return grid.with_columns(pl.Series("t_pass", t_pass), pl.Series("gps", covered))


def build_fleet(runs: pl.DataFrame, gps: pl.DataFrame, network: Network, offroute_m: float,
                rejects: dict[str, int]) -> Fleet:
    expeditions = build_expeditions(runs, network, rejects)
    pings, counts = attach_gps(gps, expeditions, network, offroute_m, rejects)
    passing = passing_times(expeditions, pings, network)
    return Fleet(expeditions, pings, passing, counts)


def section_speeds(fleet: Fleet, network: Network, section_m: float = 500.0) -> pl.DataFrame:
    """Traversals of each 500 m route section, by route, section and half-hour of entry."""
    bounds = coverage(fleet.pings)
    exps = fleet.expeditions.select("exp", "route_idx", "operator").join(bounds, on="exp").join(
        network.routes.select("route_idx", "length"), on="route_idx")
    n_sections = np.ceil(exps["length"].to_numpy() / section_m).astype(int)
    exp = np.repeat(exps["exp"].to_numpy(), n_sections + 1).astype(np.float64)
    k = np.arange(exp.size) - np.repeat(np.cumsum(n_sections + 1) - (n_sections + 1),
                                        n_sections + 1)
    length = np.repeat(exps["length"].to_numpy(), n_sections + 1)
    dist = np.minimum(k * section_m, length)
    times, covered = times_at(exp, dist, fleet.pings, bounds)
    frame = pl.DataFrame({"exp": exp.astype(np.int64), "k": k, "dist": dist, "t": times,
                          "covered": covered}).with_columns(
        pl.col("dist").shift(-1).over("exp").alias("dist1"),
        pl.col("t").shift(-1).over("exp").alias("t1"),
        pl.col("covered").shift(-1).over("exp").alias("covered1")).drop_nulls("dist1")
    frame = frame.filter(pl.col("covered") & pl.col("covered1") & (pl.col("dist1")
                                                                     > pl.col("dist")))
    frame = frame.join(exps.select("exp", "route_idx", "operator"), on="exp",
                       maintain_order="left").with_columns(
        (pl.col("dist1") - pl.col("dist")).alias("d"), (pl.col("t1") - pl.col("t")).alias("dt"),
        (pl.col("t") // 1800).cast(pl.Int32).alias("period"),
        (pl.col("dist1") >= pl.col("dist").max().over("exp")).alias("is_end"))
    speed = pl.col("d") / pl.col("dt").clip(lower_bound=1e-6) * 3.6
    frame = frame.with_columns(((speed > 100) | (speed < 1) | (pl.col("dt") <= 0))
                               .alias("invalid"))
    return frame.group_by("route_idx", "k", "period").agg(
        pl.col("d").filter(~pl.col("invalid")).sum().alias("total_distance"),
        pl.col("dt").filter(~pl.col("invalid")).sum().alias("total_time"),
        (~pl.col("invalid")).sum().alias("observations"),
        pl.col("invalid").sum().alias("invalid_observations"),
        pl.col("operator").first(), pl.col("is_end").any().alias("is_end"),
    ).sort("route_idx", "k", "period")
