"""Trips from stages, expansion factors and trip purposes.

A new trip starts at a stage when: the previous stage and this one are both metro (re-entering
the paid area, `MS_M_M`); the time from the previous alighting to this boarding exceeds the cut
(without an alighting: from the previous boarding, plus an allowance for the ride); the fare
rule would break — a 4th paid stage (`M3B`), more than 2 hours since the trip began (`SM2H`), or
the same bus service again (`RS`). The day's last trip ends with `UE`; a trip cut by time ends
with `TC`. The fare-rule checks depend on where the current trip began, so they run as one
vectorised step per stage position (a card rarely has more than ten stages).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .network import Network


def assign_periods(frame: pl.DataFrame, column: str, network: Network, prefix: str
                   ) -> pl.DataFrame:
    """TS period id and name of the day type for the time in `column` (seconds)."""
    periods = network.periods.filter(pl.col("day_type") == network.day_type).sort("start_s")
    starts = periods["start_s"].to_numpy()
    ids = periods["id"].to_numpy()
    names = periods["name"].to_numpy()
    t = frame[column].to_numpy()
    valid = ~np.isnan(t.astype(np.float64)) if t.dtype.kind == "f" else np.ones(t.size, bool)
    tt = np.where(valid, np.nan_to_num(t.astype(np.float64)) % 86400, 0)
    index = np.clip(np.searchsorted(starts, tt, side="right") - 1, 0, max(len(starts) - 1, 0))
    if not len(starts):
        return frame.with_columns(pl.lit(None, pl.Int32).alias(f"{prefix}_period_id"),
                                  pl.lit(None, pl.String).alias(f"{prefix}_period"))
    # names are gathered by position in Polars: no Python string per row
    at = pl.Series(np.where(valid, index, -1)).to_frame("i").select(
        pl.when(pl.col("i") >= 0).then(pl.col("i"))).to_series()
    return frame.with_columns(
        pl.Series(f"{prefix}_period_id", np.where(valid, ids[index], -1)).replace(-1, None)
        .cast(pl.Int32),
        pl.Series(f"{prefix}_period", names, dtype=pl.String).gather(at))


#: why a trip ended (codes of `.viajes`' tipo_corte_etapa_viaje; "" = the trip goes on)
CUT_REASONS = ("", "TC", "MS_M_M", "RS", "SM2H", "M3B", "UE")


def chain_trips(stages: pl.DataFrame, network: Network, *, cut_minutes: float,
                no_alight_allowance_min: float, max_paid_stages: int = 3,
                fare_window_min: float = 120.0) -> pl.DataFrame:
    """Add trip (number within the card), stage_in_trip and cut (why the trip ended)."""
    if not _sorted_by_card_and_time(stages):
        stages = stages.sort("card", "t")
    # the user service of each stage as a number (0: none), looked up by route position
    routes = network.routes.select("route_idx", "user")
    users = routes["user"].unique().sort()
    by_route = np.zeros(int(routes["route_idx"].max() or 0) + 1, dtype=np.int64)
    by_route[routes["route_idx"].to_numpy()] = np.searchsorted(
        users.to_numpy(), routes["user"].to_numpy()) + 1
    route_idx = stages["route_idx"].fill_null(-1).to_numpy().astype(np.int64)
    known = (route_idx >= 0) & (route_idx < by_route.size)
    service_id = np.where(known, by_route[np.where(known, route_idx, 0)], 0)
    card = stages["card"].to_numpy()
    t = stages["t"].to_numpy().astype(np.float64)
    t_alight = stages["t_alight"].to_numpy().astype(np.float64)
    is_metro = (stages["mode"] == "METRO").to_numpy()
    n = card.size
    first = np.ones(n, dtype=bool)
    first[1:] = card[1:] != card[:-1]
    pos = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    prev = np.maximum(np.arange(n) - 1, 0)
    cut_s = cut_minutes * 60
    gap_from = np.where(np.isnan(t_alight[prev]), t[prev] + no_alight_allowance_min * 60,
                        t_alight[prev])
    reason = np.zeros(n, dtype=np.int8)  # index into CUT_REASONS
    metro_again = ~first & is_metro & is_metro[prev]
    time_cut = ~first & (t - gap_from > cut_s)
    reason[time_cut] = CUT_REASONS.index("TC")
    reason[metro_again] = CUT_REASONS.index("MS_M_M")
    cut = first | metro_again | time_cut
    trip_start = t.copy()
    count = np.ones(n, dtype=np.int64)
    services = np.zeros((n, max_paid_stages), dtype=np.int64)
    services[:, 0] = np.where(is_metro, 0, service_id)
    for k in range(1, int(pos.max(initial=0)) + 1):
        rows = np.flatnonzero(pos == k)
        p = rows - 1
        svc = np.where(is_metro[rows], 0, service_id[rows])
        repeated = (svc > 0) & (services[p] == svc[:, None]).any(axis=1)
        too_many = count[p] >= max_paid_stages
        too_long = t[rows] - trip_start[p] > fare_window_min * 60
        extra = ~cut[rows] & (repeated | too_many | too_long)
        reason[rows[extra & repeated]] = CUT_REASONS.index("RS")
        reason[rows[extra & too_long]] = CUT_REASONS.index("SM2H")
        reason[rows[extra & too_many]] = CUT_REASONS.index("M3B")
        cut[rows] |= extra
        new = cut[rows]
        trip_start[rows] = np.where(new, t[rows], trip_start[p])
        count[rows] = np.where(new, 1, count[p] + 1)
        services[rows] = np.where(new[:, None], 0, services[p])
        slot = np.clip(count[rows] - 1, 0, max_paid_stages - 1)
        services[rows, slot] = svc
    trip = np.cumsum(cut) - np.maximum.accumulate(np.where(first, np.cumsum(cut) - 1, 0))
    stage_in_trip = count
    # the reason a trip ended is the reason the next one started; the day's last trip is UE
    ends = np.roll(reason, -1)
    last_of_card = np.ones(n, dtype=bool)
    last_of_card[:-1] = card[1:] != card[:-1]
    end_reason = np.where(last_of_card, CUT_REASONS.index("UE"), ends)
    return stages.with_columns(
        pl.Series("trip", trip.astype(np.int32)),
        pl.Series("stage_in_trip", stage_in_trip.astype(np.int32)),
        pl.Series("end_reason", CUT_REASONS, dtype=pl.String).gather(end_reason))


def _sorted_by_card_and_time(stages: pl.DataFrame) -> bool:
    card, t = stages["card"].to_numpy(), stages["t"].to_numpy()
    return bool(np.all((card[1:] > card[:-1]) | ((card[1:] == card[:-1]) & (t[1:] >= t[:-1]))))


def stage_expansion(stages: pl.DataFrame) -> pl.DataFrame:
    """fExpansionServicioPeriodoTS: boardings / boardings with alighting, per service-period.

    fExpansionZonaPeriodoTS: the same by boarding zone and period. Stages without an alighting
    carry 0 (their riders are represented by the others)."""
    factor = (pl.len() / pl.col("has_alight").sum()).over("service_key", "board_period_id")
    zone_factor = (pl.len() / pl.col("has_alight").sum()).over("zone_board", "board_period_id")
    return stages.with_columns(
        pl.when(pl.col("has_alight")).then(factor).otherwise(0.0).alias("f_service"),
        pl.when(pl.col("has_alight")).then(zone_factor).otherwise(0.0).alias("f_zone"))


def run_ends(first: np.ndarray, rows: int) -> np.ndarray:
    """The last row of each run of consecutive rows, given where each run starts (`first`,
    sorted) among `rows` rows: none when there is no run (a day without stages)."""
    return np.append(first[1:], rows)[: first.size] - 1


def build_trips(stages: pl.DataFrame, network: Network, home_radius_m: float) -> pl.DataFrame:
    """One row per trip with its first/last stage, times, places, purpose and expansion.

    Stages come sorted by card and time, so a trip is a run of rows starting where
    `stage_in_trip` is 1: its first and last stage are gathered by position."""
    s = stages.select("card", "trip", "t", "t_alight", "has_alight", "end_reason",
                      "board_period_id", "board_period", pl.col("x_board").alias("ox"),
                      pl.col("y_board").alias("oy"), pl.col("x_alight").alias("dx"),
                      pl.col("y_alight").alias("dy"))
    first = np.flatnonzero(stages["stage_in_trip"].to_numpy() == 1)
    last = run_ends(first, s.height)
    card = s["card"].to_numpy()
    card_first = np.flatnonzero(np.concatenate(([True], card[1:] != card[:-1])))
    home = card_first[np.searchsorted(card_first, first, side="right") - 1]
    no_alight = (~s["has_alight"]).cast(pl.Int64).to_numpy()
    head = s[first].select("card", "trip", pl.col("t").alias("t_start"), "ox", "oy",
                           pl.col("board_period_id").alias("period_id"),
                           pl.col("board_period").alias("period"))
    tail = s[last].select(pl.col("has_alight").alias("last_has_alight"),
                          pl.col("t_alight").alias("t_end"), "dx", "dy", "end_reason")
    trips = pl.concat([head, tail, s[home].select(pl.col("ox").alias("hx"),
                                                  pl.col("oy").alias("hy"))], how="horizontal")
    same_card_next = np.append(card[first[1:]] == card[first[:-1]], False) if first.size \
        else np.zeros(0, dtype=bool)
    trips = trips.with_columns(
        pl.Series("n_stages", (last - first + 1).astype(np.uint32)),
        pl.Series("n_no_alight", np.add.reduceat(no_alight, first).astype(np.uint32)
                  if first.size else np.zeros(0, np.uint32)),
        pl.when(pl.Series(same_card_next)).then(pl.col("t_start").shift(-1)).alias(
            "next_start"))
    at_home = ((pl.col("dx") - pl.col("hx")) ** 2 + (pl.col("dy") - pl.col("hy")) ** 2).sqrt()
    stay = pl.col("next_start") - pl.col("t_end")
    purpose = (pl.when(~pl.col("last_has_alight")).then(pl.lit("SINBAJADA"))
               .when(at_home <= home_radius_m).then(pl.lit("HOGAR"))
               .when(stay >= 5 * 3600).then(pl.lit("TRABAJO"))
               .otherwise(pl.lit("OTROS")))
    trips = trips.with_columns(purpose.alias("purpose"))
    factor = pl.len().over("period_id") / pl.col("last_has_alight").sum().over("period_id")
    return trips.with_columns(
        pl.when(pl.col("last_has_alight")).then(factor).otherwise(0.0).alias(
            "factor_expansion")).drop("hx", "hy", "next_start").select(
        "card", "trip", "n_stages", "n_no_alight", "last_has_alight", "t_start", "t_end", "ox",
        "oy", "dx", "dy", "end_reason", "period_id", "period", "purpose", "factor_expansion")
