"""Stages: where each transaction boarded, and where it most likely alighted.

Boarding. A bus transaction takes its bus's position at the validation time, linearly
interpolated between the two pings around it (dropped when they are too far apart in time), and
snaps to a stop of the expedition's route: the stop just passed, or the next one when it is closer
than the parameter file's closeness threshold; beyond the off-route distance it stays unlocated.
A metro transaction is at its station. A zona-paga validation has a candidate boarding on the
first bus of every service listed for its validator that reaches the stop within the maximum
wait; the alighting step keeps the candidate that best explains the rider's next boarding.

Alighting. The rider's next boarding (for the day's last stage: the day's first boarding) is the
target. Candidates are the stops downstream on the same expedition (or the metro stations) within
the walking cap of the target; the chosen one minimises in-vehicle time plus weighted walking
time, and must leave time to walk to the next boarding. When the target is nearer the boarding
stop than any candidate, it lies upstream and no alighting is estimated.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..formats.inputs import plate_key
from ..spatial import near_index, search_in_order
from .network import Network
from .runs import TIME_OFFSET, Fleet

#: bus stages whose alighting candidates are weighed at once (bounds the memory of the search)
ALIGHTING_CHUNK = 150_000


@dataclass(frozen=True)
class StageSettings:
    """Alighting and boarding choices the parameter file does not carry (app configuration)."""

    walk_speed_ms: float = 1.2
    walk_detour: float = 1.3
    walk_cap_m: float = 1000.0
    walk_weight: float = 2.0
    max_ping_gap_s: float = 300.0
    metro_entry_s: float = 90.0
    metro_wait_s: float = 120.0
    time_slack_s: float = 300.0


def classify(trx: pl.DataFrame, network: Network, fleet: Fleet,
             rejects: dict[str, int]) -> pl.DataFrame:
    """mode = METRO / ZP / BUS by the site; unknown sites are counted and dropped."""
    stations = network.stations.select(pl.col("trx_name").alias("site"), "station_idx")
    zp = network.zonas_pagas.select(pl.col("validator_key").alias("site_key"),
                                    pl.lit(True).alias("is_zp")).unique("site_key")
    plates = fleet.expeditions.select(pl.col("plate_key").alias("site_key")).unique().with_columns(
        pl.lit(True).alias("is_bus"))
    # sites are few (plates, stations, validators): classify them once, then join once
    sites = trx.select("site").unique().with_columns(plate_key("site").alias("site_key")).join(
        stations, on="site", how="left").join(zp, on="site_key", how="left").join(
        plates, on="site_key", how="left")
    mode = (pl.when(pl.col("station_idx").is_not_null()).then(pl.lit("METRO"))
            .when(pl.col("is_zp").fill_null(False)).then(pl.lit("ZP"))
            .when(pl.col("is_bus").fill_null(False)).then(pl.lit("BUS")))
    sites = sites.with_columns(mode.alias("mode"))
    frame = trx.join(sites, on="site", how="left")
    unknown = frame["mode"].is_null()
    if unknown.any():
        rejects["trx: unknown plate, station or validator"] = int(unknown.sum())
    return frame.filter(~unknown).drop("is_zp", "is_bus")


def locate_bus(bus: pl.DataFrame, network: Network, fleet: Fleet, closeness_m: float,
               offroute_m: float, settings: StageSettings) -> pl.DataFrame:
    """Bus transactions -> exp, route_idx, board_seq (null when unlocated) and why not."""
    exps = fleet.expeditions.select("exp", pl.col("plate_key").alias("site_key"), "start",
                                    "end", "route_idx").sort("start")
    found = bus.sort("t").join_asof(exps, left_on="t", right_on="start", by="site_key",
                                    strategy="backward", check_sortedness=False)
    on_exp = found["exp"].is_not_null() & (found["t"] <= found["end"] + 120)
    found = found.with_columns(pl.when(pl.Series(on_exp)).then(pl.col("exp")).alias("exp"))
    pings = fleet.pings
    key = pings["exp"].to_numpy() * TIME_OFFSET + pings["t"].to_numpy()
    along_p = pings["along"].to_numpy()
    exp_p = pings["exp"].to_numpy()
    if key.size < 2:  # no GPS curve to read a position on (no ping matches an expedition)
        key, along_p, exp_p = np.array([0, 1]), np.zeros(2), np.full(2, -2)
    exp = found["exp"].fill_null(-1).to_numpy()
    q = exp * TIME_OFFSET + found["t"].to_numpy()
    hi = np.clip(search_in_order(key, q)[0], 1, key.size - 1)
    lo = hi - 1
    same = (exp_p[lo] == exp) & (exp_p[hi] == exp) & (exp >= 0)
    gap = key[hi] - key[lo]
    frac = np.clip((q - key[lo]) / np.maximum(gap, 1e-9), 0, 1)
    along = along_p[lo] + frac * (along_p[hi] - along_p[lo])
    ok_gps = same & (gap <= settings.max_ping_gap_s)
    rs = network.route_stops.sort("route_idx", "seq")
    skey = rs["route_idx"].to_numpy() * 1e6 + rs["dist"].to_numpy()
    s_route = rs["route_idx"].to_numpy()
    route = found["route_idx"].fill_null(-1).to_numpy()
    qq = route * 1e6 + along
    j = np.clip(np.searchsorted(skey, qq, side="right") - 1, 0, skey.size - 1)
    j = np.where(s_route[j] == route, j, np.clip(j + 1, 0, skey.size - 1))
    nxt = np.clip(j + 1, 0, skey.size - 1)
    use_next = (s_route[nxt] == route) & (skey[nxt] - qq <= closeness_m) & (skey[nxt] >= qq)
    j = np.where(use_next, nxt, j)
    off = np.abs(skey[j] - qq)
    located = ok_gps & (s_route[j] == route) & (off <= offroute_m)
    # why not located, as a code named afterwards (NumPy arrays of millions of texts cost 3.6 s)
    reason = np.where(exp < 0, 1, np.where(~ok_gps, 2, np.where(~located, 3, 0)))
    seq = rs["seq"].to_numpy()[j]
    return found.with_columns(
        pl.Series("board_seq", np.where(located, seq, -1)).replace(-1, None).cast(pl.Int32),
        pl.Series("reason", reason).replace_strict(dict(enumerate(UNLOCATED)),
                                                   return_dtype=pl.String),
        pl.col("t").cast(pl.Float64).alias("t_board"))


#: why a bus validation is not located, by code ("" when it is)
UNLOCATED = ("", "bus not on an expedition of the 1.96 report",
             "no GPS around the validation time", "validation off route")


def zp_candidates(zp: pl.DataFrame, network: Network, fleet: Fleet, max_wait_s: float
                  ) -> pl.DataFrame:
    """One row per (validation, listed service) with the first bus reaching the stop in time."""
    lists = network.zonas_pagas.select(pl.col("validator_key").alias("site_key"), "stop",
                                       "route_idx").explode("route_idx")
    stop_seq = network.route_stops.select("route_idx", "stop", pl.col("seq").alias(
        "board_seq"))
    cand = zp.join(lists, on="site_key").join(stop_seq, on=["route_idx", "stop"])
    passing = fleet.passing.select("route_idx", pl.col("seq").alias("board_seq"), "exp",
                                   pl.col("t_pass").alias("t_board")).drop_nulls().sort(
        "t_board")
    cand = cand.with_columns(pl.col("t").cast(pl.Float64).alias("t_board")).sort("t_board")
    found = cand.join_asof(passing, on="t_board", by=["route_idx", "board_seq"],
                           strategy="forward", tolerance=max_wait_s, check_sortedness=False)
    return found.filter(pl.col("exp").is_not_null()).drop("stop")


def estimate_alightings(stages: pl.DataFrame, network: Network, fleet: Fleet,
                        settings: StageSettings) -> pl.DataFrame:
    """Add alight_seq / alight_station, t_alight, walk_m, cost for every stage (or ZP
    candidate): each search returns row numbers, and its answers are put in place by them."""
    # one key per row: zona-paga stages come here as one row per candidate service
    stages = stages.with_row_index("_row")
    bus = _bus_alightings(stages.filter(
        pl.col("board_seq").is_not_null() & pl.col("next_x").is_not_null()
        & pl.col("mode").is_in(["BUS", "ZP"])), network, fleet, settings)
    rows = bus["_row"].to_numpy()
    columns = {"alight_seq": _placed(stages.height, rows, bus["alight_seq"].to_numpy(), -1),
               "t_alight": _placed(stages.height, rows, bus["t_alight"].to_numpy(), np.nan),
               "walk_m": _placed(stages.height, rows, bus["walk_m"].to_numpy(), np.nan),
               "cost": _placed(stages.height, rows, bus["cost"].to_numpy(), np.nan)}
    if "station_idx" in stages.columns:
        metro = _metro_alightings(stages.filter(
            (pl.col("mode") == "METRO") & pl.col("next_x").is_not_null()), network, settings)
        rows = metro["_row"]
        columns["alight_station"] = _placed(stages.height, rows, metro["alight_station"], -1)
        for name in ("t_alight", "walk_m", "cost"):
            columns[name][rows] = metro[name]
    return stages.drop("_row").with_columns(
        pl.Series("alight_seq", columns.pop("alight_seq"), dtype=pl.Int32).replace(-1, None),
        *(pl.Series(name, values, dtype=pl.Int64).replace(-1, None)
          for name, values in columns.items() if name == "alight_station"),
        *(pl.Series(name, values).fill_nan(None) for name, values in columns.items()
          if name != "alight_station"))


def _placed(size: int, rows: np.ndarray, values: np.ndarray, missing: float) -> np.ndarray:
    """An array of `size` holding `values` at `rows` and `missing` elsewhere."""
    out = np.full(size, missing, dtype=np.float64 if np.isnan(missing) else np.int64)
    out[rows] = values
    return out


def _metro_alightings(metro: pl.DataFrame, network: Network, settings: StageSettings
                      ) -> dict[str, np.ndarray]:
    """The best station to leave the metro for each metro stage: the stations within the
    walking cap of the next boarding, by ride plus weighted walk (the lower station on a tie);
    without metro travel times, the lowest station within reach and no time."""
    walk = settings.walk_detour / settings.walk_speed_ms
    stations = network.stations.sort("station_idx")
    li, ri, d = near_index(metro["next_x"].to_numpy(), metro["next_y"].to_numpy(),
                           stations["x"].to_numpy(), stations["y"].to_numpy(),
                           settings.walk_cap_m)
    board = metro["station_idx"].to_numpy()
    keep = ri != board[li]
    li, ri, d = li[keep], ri[keep], d[keep]
    t = metro["t"].to_numpy().astype(np.float64)[li]
    if network.metro_times.size:
        ride = network.metro_times[board[li], ri]
        t_alight = t + settings.metro_entry_s + settings.metro_wait_s + ride
        cost = t_alight - t + settings.walk_weight * d * walk
        feasible = np.isfinite(ride) & (metro["last_of_day"].to_numpy()[li] | (
            t_alight + d * walk <= metro["next_t"].to_numpy()[li] + settings.time_slack_s))
    else:
        t_alight = cost = np.full(li.size, np.nan)
        feasible = np.ones(li.size, dtype=bool)
    li, ri, d, t_alight, cost = li[feasible], ri[feasible], d[feasible], t_alight[feasible], \
        cost[feasible]
    # candidates in station order, so the first of the cheapest is the lowest station
    by_station = np.argsort(ri, kind="stable")
    li, ri, d, t_alight, cost = (a[by_station] for a in (li, ri, d, t_alight, cost))
    best = _first_per_group(li, np.nan_to_num(cost, nan=0.0))
    return {"_row": metro["_row"].to_numpy()[li[best]], "alight_station": ri[best],
            "t_alight": t_alight[best], "walk_m": d[best], "cost": cost[best]}


def with_places(stages: pl.DataFrame, network: Network) -> pl.DataFrame:
    """Numeric place columns of each stage (names are joined only when outputs are written):
    board_rs / alight_rs (row of the stop in the route-stop table), x/y and zone of boarding and
    alighting, and a service key (route_idx for buses, -1 - line number for metro)."""
    rs = network.route_stops.sort("route_idx", "seq")
    rs_routes = rs["route_idx"].to_numpy().astype(np.int64)
    offsets = np.zeros(int(rs_routes.max(initial=0)) + 1, dtype=np.int64)
    unique_routes, first_rows = np.unique(rs_routes, return_index=True)
    offsets[unique_routes] = first_rows
    route = stages["route_idx"].fill_null(0).to_numpy().astype(np.int64)

    def rs_row(seq_column: str) -> np.ndarray:
        seq = stages[seq_column].fill_null(0).to_numpy().astype(np.int64)
        return np.where(stages[seq_column].is_null().to_numpy(), -1, offsets[route] + seq - 1)

    board_rs, alight_rs = rs_row("board_seq"), rs_row("alight_seq")
    st = network.stations.sort("station_idx")
    lines = {line: i for i, line in enumerate(sorted(set(st["line"].to_list())))}
    st_line = np.array([lines[v] for v in st["line"].to_list()], dtype=np.int64)
    b_station = stages["station_idx"].fill_null(-1).to_numpy()
    a_station = stages["alight_station"].fill_null(-1).to_numpy()

    def pick(rs_values: np.ndarray, st_values: np.ndarray, rows: np.ndarray,
             stations: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
        out = np.full(rows.size, np.nan) if fallback is None else fallback.astype(np.float64)
        at_stop = rows >= 0
        out[at_stop] = rs_values[rows[at_stop]]
        at_station = stations >= 0
        out[at_station] = st_values[stations[at_station]]
        return out

    rx, ry = rs["x"].to_numpy(), rs["y"].to_numpy()
    rz = rs["zone"].cast(pl.Float64).to_numpy()
    sx, sy = st["x"].to_numpy(), st["y"].to_numpy()
    sz = st["zone"].cast(pl.Float64).to_numpy()
    # a metro stage's service is its line (-1 - line); a PO without stations has none
    service = route.copy()
    service[b_station >= 0] = -1 - st_line[b_station[b_station >= 0]]
    return stages.with_columns(
        pl.Series("board_rs", board_rs), pl.Series("alight_rs", alight_rs),
        pl.Series("x_board", pick(rx, sx, board_rs, b_station, stages["bx"].to_numpy())
                  ).fill_nan(None),
        pl.Series("y_board", pick(ry, sy, board_rs, b_station, stages["by"].to_numpy())
                  ).fill_nan(None),
        pl.Series("x_alight", pick(rx, sx, alight_rs, a_station)).fill_nan(None),
        pl.Series("y_alight", pick(ry, sy, alight_rs, a_station)).fill_nan(None),
        pl.Series("zone_board", pick(rz, sz, board_rs, b_station)).fill_nan(None).cast(pl.Int32),
        pl.Series("zone_alight", pick(rz, sz, alight_rs, a_station)).fill_nan(None).cast(
            pl.Int32),
        pl.Series("service_key", service.astype(np.int64)))


def _first_per_group(group: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Positions of the lowest cost in each group (the first one on a tie).

    A stable sort of the integer groups (radix) and a minimum per run of equal groups: about
    three times faster than sorting by (group, cost) with `lexsort`, with the same answer."""
    order = np.argsort(group, kind="stable")
    if not order.size:
        return order
    grouped, costs = group[order], cost[order]
    starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
    lowest = np.minimum.reduceat(costs, starts)
    hits = np.flatnonzero(costs == np.repeat(lowest, np.diff(np.append(starts, costs.size))))
    run = np.searchsorted(starts, hits, side="right") - 1
    first = np.concatenate(([True], run[1:] != run[:-1]))
    return order[hits[first]]


def _bus_alightings(bus: pl.DataFrame, network: Network, fleet: Fleet,
                    settings: StageSettings) -> pl.DataFrame:
    """The best downstream stop of each bus stage, in NumPy over all candidate pairs.

    Stages go through in chunks, two at a time in threads (NumPy releases the GIL in its
    kernels): the candidate pairs of a whole day would take gigabytes at once."""
    candidates = _Candidates(network, fleet, bus, settings)
    chunks = range(0, bus.height, ALIGHTING_CHUNK)
    with ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        parts = list(pool.map(lambda offset: candidates.best(
            bus.slice(offset, ALIGHTING_CHUNK)), chunks))
    return pl.concat(parts) if parts else candidates.best(bus)


class _Candidates:
    """What every chunk of bus stages shares: stop sequences and expedition passing times."""

    def __init__(self, network: Network, fleet: Fleet, bus: pl.DataFrame,
                 settings: StageSettings) -> None:
        self.settings = settings
        self.walk = settings.walk_detour / settings.walk_speed_ms
        rs = network.route_stops.sort("route_idx", "seq")
        self.rs_route, self.rs_seq = rs["route_idx"].to_numpy(), rs["seq"].to_numpy()
        self.rs_x, self.rs_y = rs["x"].to_numpy(), rs["y"].to_numpy()
        passing = fleet.passing.sort("exp", "seq")
        p_exp = passing["exp"].to_numpy()
        n_exp = int(max(p_exp.max(initial=-1), bus["exp"].max() or 0)) + 2
        self.start = np.full(n_exp, -1, dtype=np.int64)
        self.count = np.zeros(n_exp, dtype=np.int64)
        exps, first, counts = np.unique(p_exp, return_index=True, return_counts=True)
        self.start[exps], self.count[exps] = first, counts
        self.t_pass = passing["t_pass"].to_numpy()

    def best(self, bus: pl.DataFrame) -> pl.DataFrame:
        settings, walk = self.settings, self.walk
        nx, ny = bus["next_x"].to_numpy(), bus["next_y"].to_numpy()
        li, ri, d = near_index(nx, ny, self.rs_x, self.rs_y, settings.walk_cap_m,
                               bus["route_idx"].to_numpy(), self.rs_route)
        seq = self.rs_seq[ri]
        keep = seq > bus["board_seq"].to_numpy()[li]
        li, seq, d = li[keep], seq[keep], d[keep]
        exp = bus["exp"].to_numpy()[li]
        ok = (self.start[exp] >= 0) & (seq <= self.count[exp])
        li, seq, d, exp = li[ok], seq[ok], d[ok], exp[ok]
        t_pass = self.t_pass[self.start[exp] + seq - 1]
        t_board = bus["t_board"].to_numpy()[li]
        cost = t_pass - t_board + settings.walk_weight * d * walk
        feasible = bus["last_of_day"].to_numpy()[li] | (
            t_pass + d * walk <= bus["next_t"].to_numpy()[li] + settings.time_slack_s)
        feasible &= ~np.isnan(t_pass)
        li, seq, d, t_pass, cost = li[feasible], seq[feasible], d[feasible], \
            t_pass[feasible], cost[feasible]
        best = _first_per_group(li, cost)
        rows = li[best]
        d_board = np.hypot(bus["bx"].to_numpy()[rows] - nx[rows],
                           bus["by"].to_numpy()[rows] - ny[rows])
        # the target nearer the boarding stop than any candidate lies upstream: no alighting
        downstream = d_board >= d[best]
        sel = best[downstream]
        return pl.DataFrame({
            "_row": bus["_row"].to_numpy()[li[sel]], "alight_seq": seq[sel].astype(np.int32),
            "t_alight": t_pass[sel], "walk_m": d[sel], "cost": cost[sel]})


def with_next_boarding(stages: pl.DataFrame) -> pl.DataFrame:
    """Target of each stage: the card's next boarding; for the last, the day's first.

    Rows are sorted by card and time, so neighbours and group starts are plain array shifts."""
    stages = stages.sort("card", "t")
    card = stages["card"].to_numpy()
    n = card.size
    index = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = card[1:] != card[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    group_first = np.maximum.accumulate(np.where(first, index, 0))
    target = np.where(last, group_first, np.minimum(index + 1, n - 1))
    sizes = np.diff(np.append(np.flatnonzero(first), n))
    bx = stages["bx"].to_numpy().astype(np.float64)
    by = stages["by"].to_numpy().astype(np.float64)
    t = stages["t"].to_numpy().astype(np.float64)
    return stages.with_columns(
        pl.Series("last_of_day", last),
        pl.Series("next_x", bx[target]).fill_nan(None),
        pl.Series("next_y", by[target]).fill_nan(None),
        pl.Series("next_t", np.where(last, t[target] + 86400, t[target])),
        pl.Series("n_card", np.repeat(sizes, sizes)))


def build_stages(trx: pl.DataFrame, network: Network, fleet: Fleet, *, closeness_m: float,
                 offroute_m: float, zp_wait_s: float, settings: StageSettings,
                 rejects: dict[str, int], boarded: Callable[[], None] = lambda: None
                 ) -> pl.DataFrame:
    """One row per transaction with its boarding and estimated alighting."""
    frame = classify(trx, network, fleet, rejects)
    bus = locate_bus(frame.filter(pl.col("mode") == "BUS"), network, fleet, closeness_m,
                     offroute_m, settings)
    for reason, count in bus.filter(pl.col("reason") != "")["reason"].value_counts().rows():
        rejects[f"trx: unlocated, {reason}"] = int(count)
    zp = frame.filter(pl.col("mode") == "ZP")
    metro = frame.filter(pl.col("mode") == "METRO")
    rs_xy = network.route_stops.select("route_idx", pl.col("seq").alias("board_seq"),
                                       pl.col("x").alias("bx"), pl.col("y").alias("by"))
    zp_cand = zp_candidates(zp, network, fleet, zp_wait_s)
    common = ["card", "t", "site", "operator", "mode", "station_idx", "exp", "route_idx",
              "board_seq", "t_board"]
    # position of the validation for the targets: the ZP stop, the located stop, the station
    zp_pos = zp.join(network.zonas_pagas.select(pl.col("validator_key").alias("site_key"),
                                                "stop").unique("site_key"), on="site_key").join(
        network.route_stops.select("stop", pl.col("x").alias("bx"), pl.col("y").alias("by"))
        .unique("stop"), on="stop", how="left")
    typed = {"exp": pl.Int64, "route_idx": pl.Int32, "board_seq": pl.Int32,
             "t_board": pl.Float64, "station_idx": pl.Int64}
    base = pl.concat([
        bus.join(rs_xy, on=["route_idx", "board_seq"], how="left").select(
            *common, "bx", "by"),
        zp_pos.with_columns(*(pl.lit(None, d).alias(c) for c, d in typed.items()
                              if c != "station_idx")).select(*common, "bx", "by"),
        metro.join(network.stations.select("station_idx", pl.col("x").alias("bx"),
                                           pl.col("y").alias("by")), on="station_idx").with_columns(
            *(pl.lit(None, d).alias(c) for c, d in typed.items()
              if c not in ("station_idx", "t_board")),
            pl.col("t").cast(pl.Float64).alias("t_board")).select(*common, "bx", "by"),
    ], how="vertical_relaxed")
    del frame, bus, zp, metro, zp_pos  # what is left of them lives on in `base`
    base = with_next_boarding(base).with_row_index("sid").with_columns(pl.col("sid").cast(
        pl.Int64))
    boarded()
    # zona-paga stages become one row per candidate service, then keep the best candidate
    targets = base.filter(pl.col("mode") == "ZP").select("card", "t", "sid", "next_x",
                                                          "next_y", "next_t", "last_of_day")
    zp_rows = zp_cand.select("card", "t", "exp", "route_idx", "board_seq", "t_board").join(
        targets, on=["card", "t"]).join(rs_xy, on=["route_idx", "board_seq"]).with_columns(
        pl.lit("ZP").alias("mode"))
    zp_est = estimate_alightings(zp_rows, network, fleet, settings)
    zp_best = zp_est.with_columns(
        (pl.col("cost") + (pl.col("t_board") - pl.col("t"))).alias("rank_cost")).sort(
        [pl.col("rank_cost").is_null(), "rank_cost", "t_board", "exp"]).unique(
        "sid", keep="first")
    del zp_rows, zp_est
    # every stage keeps its place (card, time): zona-paga rows take their best candidate's
    # answer by row number (sid), so the day's stages are never concatenated and sorted again
    stages = estimate_alightings(base, network, fleet, settings)
    del base
    chosen = zp_best.filter(pl.col("exp").is_not_null())
    at = pl.Series(chosen["sid"].to_numpy())
    stages = stages.with_columns(
        stages[column].scatter(at, chosen[column].cast(stages[column].dtype))
        for column in ("exp", "route_idx", "board_seq", "t_board", "bx", "by", "alight_seq",
                       "t_alight", "walk_m", "cost"))
    stages = with_places(stages, network)
    return stages.with_columns(pl.col("t_alight").is_not_null().alias("has_alight"))
