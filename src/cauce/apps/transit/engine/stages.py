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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..formats.inputs import plate_key
from ..spatial import near_pairs
from .network import Network
from .runs import TIME_OFFSET, Fleet


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
    frame = trx.with_columns(plate_key("site").alias("site_key")).join(
        stations, on="site", how="left").join(zp, on="site_key", how="left").join(
        plates, on="site_key", how="left")
    mode = (pl.when(pl.col("station_idx").is_not_null()).then(pl.lit("METRO"))
            .when(pl.col("is_zp").fill_null(False)).then(pl.lit("ZP"))
            .when(pl.col("is_bus").fill_null(False)).then(pl.lit("BUS")))
    frame = frame.with_columns(mode.alias("mode"))
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
    exp = found["exp"].fill_null(-1).to_numpy()
    q = exp * TIME_OFFSET + found["t"].to_numpy()
    hi = np.clip(np.searchsorted(key, q), 1, key.size - 1)
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
    reason = np.where(exp < 0, "bus not on an expedition of the 1.96 report",
                      np.where(~ok_gps, "no GPS around the validation time",
                               np.where(~located, "validation off route", "")))
    seq = rs["seq"].to_numpy()[j]
    return found.with_columns(
        pl.Series("board_seq", np.where(located, seq, -1)).replace(-1, None).cast(pl.Int32),
        pl.Series("reason", reason), pl.col("t").cast(pl.Float64).alias("t_board"))


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
    """Add alight_seq / alight_station, t_alight, walk_m for every stage (or ZP candidate)."""
    walk = settings.walk_detour / settings.walk_speed_ms
    cap = settings.walk_cap_m
    rs = network.route_stops.select("route_idx", "seq", "x", "y")
    bus = stages.filter(pl.col("board_seq").is_not_null() & pl.col("next_x").is_not_null()
                        & pl.col("mode").is_in(["BUS", "ZP"]))
    bus = bus.select("sid", "exp", "route_idx", "board_seq", "t_board", "next_x", "next_y",
                     "next_t", "last_of_day", "bx", "by")
    cand = near_pairs(bus, rs.rename({"x": "sx", "y": "sy"}), cap, lx="next_x", ly="next_y",
                      rx="sx", ry="sy", by=["route_idx"])
    cand = cand.filter(pl.col("seq") > pl.col("board_seq")).join(
        fleet.passing.select("exp", "seq", "t_pass"), on=["exp", "seq"])
    cand = cand.with_columns(
        (pl.col("t_pass") - pl.col("t_board") + settings.walk_weight * pl.col("d") * walk)
        .alias("cost"))
    cand = cand.filter(pl.col("last_of_day") | (
        pl.col("t_pass") + pl.col("d") * walk <= pl.col("next_t") + settings.time_slack_s))
    best = cand.sort("cost").unique("sid", keep="first").select(
        "sid", pl.col("seq").alias("alight_seq"), pl.col("t_pass").alias("t_alight"),
        pl.col("d").alias("walk_m"), "cost")
    bus = bus.join(best, on="sid", how="left").with_columns(
        ((pl.col("bx") - pl.col("next_x")) ** 2 + (pl.col("by") - pl.col("next_y")) ** 2)
        .sqrt().alias("d_board"))
    upstream = pl.col("d_board") < pl.col("walk_m")
    bus = bus.with_columns(
        pl.when(upstream).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("alight_seq", "t_alight", "walk_m", "cost")).select(
        "sid", "alight_seq", "t_alight", "walk_m", "cost")

    if "station_idx" not in stages.columns:
        return stages.join(bus, on="sid", how="left")
    metro = stages.filter((pl.col("mode") == "METRO") & pl.col("next_x").is_not_null())
    st = network.stations.select(pl.col("station_idx").alias("alight_station"),
                                 pl.col("x").alias("sx"), pl.col("y").alias("sy"))
    mc = near_pairs(metro.select("sid", "t", "station_idx", "next_x", "next_y", "next_t",
                                 "last_of_day"), st, cap, lx="next_x", ly="next_y", rx="sx",
                    ry="sy")
    mc = mc.filter(pl.col("alight_station") != pl.col("station_idx"))
    if mc.height and network.metro_times.size:
        ride = network.metro_times[mc["station_idx"].to_numpy(), mc["alight_station"].to_numpy()]
        mc = mc.with_columns(pl.Series("ride", ride)).filter(pl.col("ride") < np.inf)
        mc = mc.with_columns(
            (pl.col("t") + settings.metro_entry_s + settings.metro_wait_s + pl.col("ride"))
            .alias("t_alight"))
        mc = mc.with_columns(
            (pl.col("t_alight") - pl.col("t") + settings.walk_weight * pl.col("d") * walk)
            .alias("cost")).filter(pl.col("last_of_day") | (
                pl.col("t_alight") + pl.col("d") * walk <= pl.col("next_t")
                + settings.time_slack_s))
    else:
        mc = mc.with_columns(pl.lit(None, pl.Float64).alias("t_alight"),
                             pl.lit(None, pl.Float64).alias("cost"))
    mbest = mc.sort("cost").unique("sid", keep="first").select(
        "sid", "alight_station", "t_alight", pl.col("d").alias("walk_m"), "cost")
    out = stages.join(bus, on="sid", how="left").join(mbest, on="sid", how="left",
                                                      suffix="_m")
    return out.with_columns(
        pl.coalesce("t_alight", "t_alight_m").alias("t_alight"),
        pl.coalesce("walk_m", "walk_m_m").alias("walk_m"),
        pl.coalesce("cost", "cost_m").alias("cost")).drop("t_alight_m", "walk_m_m", "cost_m")


def with_next_boarding(stages: pl.DataFrame) -> pl.DataFrame:
    """Target of each stage: the card's next boarding; for the last, the day's first."""
    stages = stages.sort("card", "t")
    nxt = [pl.col(c).shift(-1).over("card") for c in ("bx", "by", "t")]
    first = [pl.col(c).first().over("card") for c in ("bx", "by", "t")]
    last = pl.col("t") == pl.col("t").max().over("card")
    return stages.with_columns(
        last.alias("last_of_day"),
        pl.when(last).then(first[0]).otherwise(nxt[0]).alias("next_x"),
        pl.when(last).then(first[1]).otherwise(nxt[1]).alias("next_y"),
        pl.when(last).then(first[2] + 86400).otherwise(nxt[2]).cast(pl.Float64).alias(
            "next_t"),
        pl.len().over("card").alias("n_card"))


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
        [pl.col("rank_cost").is_null(), "rank_cost", "t_board"]).unique("sid", keep="first")
    others = estimate_alightings(base.filter(pl.col("mode") != "ZP"), network, fleet, settings)
    zp_stage = base.filter(pl.col("mode") == "ZP").drop(
        "exp", "route_idx", "board_seq", "t_board", "bx", "by").join(
        zp_best.select("sid", "exp", "route_idx", "board_seq", "t_board", "bx", "by",
                       "alight_seq", "t_alight", "walk_m", "cost"), on="sid", how="left")
    zp_pos_xy = base.filter(pl.col("mode") == "ZP").select("sid", pl.col("bx").alias("zx"),
                                                           pl.col("by").alias("zy"))
    zp_stage = zp_stage.join(zp_pos_xy, on="sid").with_columns(
        pl.coalesce("bx", "zx").alias("bx"), pl.coalesce("by", "zy").alias("by")).drop(
        "zx", "zy")
    columns = others.columns
    for column in columns:
        if column not in zp_stage.columns:
            zp_stage = zp_stage.with_columns(pl.lit(None).alias(column))
    stages = pl.concat([others, zp_stage.select(columns)], how="vertical_relaxed").sort(
        "card", "t")
    rs_names = network.route_stops.select(
        "route_idx", "seq", "stop", "user_stop", "name", "comuna", "zone", "x", "y", "dist")
    stages = stages.join(rs_names.rename({c: f"board_{c}" for c in rs_names.columns
                                          if c not in ("route_idx",)}).rename(
        {"board_seq": "board_seq"}), on=["route_idx", "board_seq"], how="left")
    stages = stages.join(rs_names.rename({c: f"alight_{c}" for c in rs_names.columns
                                          if c != "route_idx"}), on=["route_idx", "alight_seq"],
                         how="left")
    st = network.stations.select("station_idx", "standard", "unique", "line", "comuna", "zone",
                                 "x", "y")
    stages = stages.join(st.rename({c: f"bst_{c}" for c in st.columns if c != "station_idx"}),
                         on="station_idx", how="left")
    stages = stages.join(st.rename({c: f"ast_{c}" for c in st.columns}).rename(
        {"ast_station_idx": "alight_station"}), on="alight_station", how="left")
    return stages.with_columns(pl.col("t_alight").is_not_null().alias("has_alight"))
