"""Card holders of a synthetic day: activity chains, their trips, and the transactions they make.

Each card follows a day plan (commute home-work-home, errands, lunch trips, one-way days, days
where the rider comes back from somewhere else). A trip is built forward from its origin as up to
three stages (bus, metro, bus-metro, metro-bus, bus-bus, bus-metro-bus); the way back reverses the
stages on the mirror stops across the street. Then every card's day is simulated in time against
the real bus runs: a rider boards the first bus of the chosen route that reaches the stop.

Noise that real data has and that the estimates must live with: riders who walk to an adjacent
stop for the way back, riders whose next boarding is upstream or far away (they moved by other
means), one-way and single-transaction days, short activities that look like transfers, validations
a little after the bus left the stop, zona-paga validators that hide the bus boarded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..metro import MetroTiming, travel_times
from ..spatial import near_pairs
from .city import City
from .operations import Operations

TRANSFER_RADIUS_M = 350.0
WALK_SPEED = 1.2           # m/s, with a 1.3 detour factor on straight-line distances
MAX_TRIPS = 4
PATTERNS = ("B", "M", "BB", "BM", "MB", "BMB")
PATTERN_P = (0.34, 0.26, 0.14, 0.13, 0.09, 0.04)
ZP_BOARDING_WEIGHT = 8.0  # zonas pagas stand at the busiest stops
DAY_TYPES = ("commute", "commute_evening", "commute_lunch", "errand", "one_way",
             "one_way_after", "elsewhere_return")
DAY_TYPE_P = (0.56, 0.07, 0.05, 0.13, 0.11, 0.04, 0.04)


@dataclass
class Demand:
    transactions: pl.DataFrame  # card, t, site, operator
    truth: pl.DataFrame         # one row per transaction: the true stage and trip


def _route_stop_table(city: City) -> pl.DataFrame:
    rs = city.route_stops.sort("route_idx", "seq").join(
        city.routes.select("route_idx", "route", "base", "n", "mirror", "operator"),
        on="route_idx", maintain_order="left")
    return rs.with_row_index("rs").with_columns(pl.col("rs").cast(pl.Int64))


def build_demand(city: City, ops: Operations, rng: np.random.Generator) -> Demand:
    rs = _route_stop_table(city)
    stations = city.stations.sort("station_idx")
    metro_times = travel_times(stations, city.metro_lines, city.transfers, MetroTiming())
    n_cards = city.scale.cards
    day_type = rng.choice(len(DAY_TYPES), size=n_cards, p=DAY_TYPE_P)
    plans = _plan_trips(city, rs, stations, day_type, rng)
    return _simulate(city, ops, rs, stations, metro_times, plans, rng)


# ---------------------------------------------------------------------------------------------
# planning: where each stage boards and alights


def _ride_length(rng: np.random.Generator, size: int, mean: float = 9.0) -> np.ndarray:
    return rng.geometric(1.0 / mean, size=size)


def _bus_stage(rs: pl.DataFrame, board_rs: np.ndarray, rng: np.random.Generator,
               mean: float = 9.0) -> np.ndarray:
    """Alighting route-stop ids for boardings at `board_rs`, riding a random number of stops."""
    seq = rs["seq"].to_numpy()[board_rs]
    n = rs["n"].to_numpy()[board_rs]
    ride = np.minimum(_ride_length(rng, board_rs.size, mean), n - seq)
    return board_rs + np.maximum(ride, 1)


def _pick(pairs: pl.DataFrame, key: str, value: str, rng: np.random.Generator) -> pl.DataFrame:
    """One random `value` per `key` among candidate pairs (in a deterministic order)."""
    return (pairs.with_columns(pl.Series("_r", rng.random(pairs.height)))
            .sort("_r", maintain_order=True).unique(key, keep="first", maintain_order=True)
            .select(key, value))


def _plan_trips(city: City, rs: pl.DataFrame, stations: pl.DataFrame, day_type: np.ndarray,
                rng: np.random.Generator) -> pl.DataFrame:
    """One row per planned stage: card, trip, stage, mode, board/alight (rs id or station)."""
    n_cards = day_type.size
    boardable_rs = rs.filter(pl.col("seq") < pl.col("n"))
    boardable = boardable_rs["rs"].to_numpy()
    weight = np.where(boardable_rs["stop"].is_in(city.zonas_pagas["stop"].implode()).to_numpy(),
                      ZP_BOARDING_WEIGHT, 1.0)
    board_p = weight / weight.sum()
    rs_stop_xy = rs.select("rs", "x", "y", "base", "seq", "n", "stop")
    # transfers: bus stops near a stop, and bus stops near a station
    stop_pts = city.stops.select("stop", "x", "y")
    near_stop = near_pairs(stop_pts, rs_stop_xy.rename({"stop": "stop_b"}), TRANSFER_RADIUS_M)
    near_stop = near_stop.filter(pl.col("seq") < pl.col("n")).select(
        "stop", pl.col("rs").alias("to_rs"), pl.col("base").alias("to_base"))
    st_pts = stations.select("station_idx", "x", "y")
    near_station = near_pairs(st_pts, rs_stop_xy, TRANSFER_RADIUS_M)
    station_to_rs = near_station.filter(pl.col("seq") < pl.col("n")).select(
        "station_idx", pl.col("rs").alias("to_rs"))
    rs_to_station = (near_station.sort("d", "station_idx").unique("rs", keep="first")
                     .select("rs", "station_idx"))
    rs_near = rs.join(rs_to_station, on="rs", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("station_idx").is_not_null()).then(pl.col("rs")).otherwise(None)
        .backward_fill().over("route_idx").alias("next_station_rs"))
    next_station_rs = rs_near["next_station_rs"].fill_null(-1).to_numpy()
    station_of_rs = rs_near["station_idx"].fill_null(-1).to_numpy()
    base = rs["base"].to_numpy()
    stop_of = rs["stop"].to_numpy()
    n_st = stations.height

    # outbound trip of every card
    pattern = rng.choice(len(PATTERNS), size=n_cards, p=PATTERN_P)
    if n_st < 2:
        pattern = np.where(np.isin(pattern, [1, 3, 4, 5]), 0, pattern)
    names = np.array(PATTERNS)[pattern]
    stages: list[dict[str, np.ndarray]] = []
    card = np.arange(n_cards)

    def add(idx: np.ndarray, stage_no: int, mode: str, board: np.ndarray,
            alight: np.ndarray) -> None:
        stages.append({"card": idx, "trip": np.ones(idx.size, np.int8),
                       "stage": np.full(idx.size, stage_no, np.int8),
                       "mode": np.full(idx.size, mode), "board": board, "alight": alight})

    starts_bus = np.char.startswith(names.astype(str), "B")
    # stage 1 by bus
    b1 = card[starts_bus]
    board1 = rng.choice(boardable, size=b1.size, p=board_p)
    alight1 = _bus_stage(rs, board1, rng)
    wants_metro = np.isin(names[b1], ["BM", "BMB"])
    if wants_metro.any():
        # ride to the first stop after boarding that is near a station
        target = next_station_rs[board1[wants_metro] + 1]
        same_route = (target >= 0) & (np.where(target >= 0, rs["route_idx"].to_numpy()[
            np.maximum(target, 0)], -1) == rs["route_idx"].to_numpy()[board1[wants_metro]])
        fixed = alight1[wants_metro]
        fixed[same_route] = target[same_route]
        alight1[wants_metro] = fixed
        names_b1 = names[b1]
        names_b1[np.flatnonzero(wants_metro)[~same_route]] = "B"
        names[b1] = names_b1
    add(b1, 1, "B", board1, alight1)
    # stage 1 by metro
    m1 = card[~starts_bus]
    if m1.size:
        s_from = rng.integers(0, n_st, m1.size)
        s_to = (s_from + rng.integers(1, n_st, m1.size)) % n_st
        add(m1, 1, "M", s_from, s_to)
    first = pl.concat([pl.DataFrame(s) for s in stages])
    second: list[dict[str, np.ndarray]] = []
    # B -> B
    bb = first.filter(pl.Series(names[first["card"].to_numpy()] == "BB") & (pl.col("mode") == "B"))
    if bb.height:
        cand = bb.select("card", pl.Series("stop", stop_of[bb["alight"].to_numpy()]),
                         pl.Series("base", base[bb["alight"].to_numpy()])).join(
            near_stop, on="stop", maintain_order="left_right").filter(
            pl.col("to_base") != pl.col("base"))
        chosen = _pick(cand, "card", "to_rs", rng)
        b2 = chosen["to_rs"].to_numpy()
        second.append({"card": chosen["card"].to_numpy(), "stage": 2, "mode": "B", "board": b2,
                       "alight": _bus_stage(rs, b2, rng)})
    # B -> M
    bm = first.filter(pl.Series(np.isin(names[first["card"].to_numpy()], ["BM", "BMB"]))
                      & (pl.col("mode") == "B"))
    if bm.height:
        s_from = station_of_rs[bm["alight"].to_numpy()]
        s_to = (s_from + rng.integers(1, n_st, bm.height)) % n_st
        second.append({"card": bm["card"].to_numpy(), "stage": 2, "mode": "M", "board": s_from,
                       "alight": s_to})
    # M -> B
    mb = first.filter(pl.Series(names[first["card"].to_numpy()] == "MB") & (pl.col("mode") == "M"))
    if mb.height:
        chosen = _pick(mb.select("card", pl.col("alight").alias("station_idx")).join(
            station_to_rs, on="station_idx", maintain_order="left_right"), "card", "to_rs", rng)
        b2 = chosen["to_rs"].to_numpy()
        second.append({"card": chosen["card"].to_numpy(), "stage": 2, "mode": "B", "board": b2,
                       "alight": _bus_stage(rs, b2, rng)})
    second_frame = pl.concat([_stage_frame(s) for s in second]) if second else None
    third_frame = None
    if second_frame is not None:
        bmb = second_frame.filter(
            pl.Series(names[second_frame["card"].to_numpy()] == "BMB") & (pl.col("mode") == "M"))
        if bmb.height:
            chosen = _pick(bmb.select("card", pl.col("alight").alias("station_idx")).join(
                station_to_rs, on="station_idx", maintain_order="left_right"), "card", "to_rs", rng)
            b3 = chosen["to_rs"].to_numpy()
            third_frame = _stage_frame({"card": chosen["card"].to_numpy(), "stage": 3,
                                        "mode": "B", "board": b3,
                                        "alight": _bus_stage(rs, b3, rng)})
    outbound = pl.concat([f for f in (first, second_frame, third_frame) if f is not None],
                         how="vertical_relaxed").with_columns(
        pl.col("trip").cast(pl.Int8), pl.col("stage").cast(pl.Int8)).sort("card", "stage",
                                                                          maintain_order=True)
    return _day_plans(rs, outbound, day_type, rng)


def _stage_frame(stage: dict) -> pl.DataFrame:
    size = len(stage["card"])
    return pl.DataFrame({
        "card": stage["card"], "trip": np.ones(size, np.int8),
        "stage": np.full(size, stage["stage"], np.int8), "mode": np.full(size, stage["mode"]),
        "board": np.asarray(stage["board"], dtype=np.int64),
        "alight": np.asarray(stage["alight"], dtype=np.int64)})


def _reverse(rs: pl.DataFrame, trip: pl.DataFrame, new_trip: int) -> pl.DataFrame:
    """The way back: stages in reverse order, buses on the mirror route across the street."""
    mirror = rs["mirror"].to_numpy()
    n = rs["n"].to_numpy()
    seq = rs["seq"].to_numpy()
    offsets = rs.group_by("route_idx").agg(pl.col("rs").min()).sort("route_idx")["rs"].to_numpy()
    board = trip["board"].to_numpy()
    alight = trip["alight"].to_numpy()
    is_bus = (trip["mode"] == "B").to_numpy()
    rb = np.where(is_bus, offsets[mirror[alight]] + n[alight] - seq[alight], alight)
    ra = np.where(is_bus, offsets[mirror[board]] + n[board] - seq[board], board)
    stages = trip.group_by("card").agg(pl.col("stage").max().alias("_k"))
    out = trip.with_columns(pl.Series("board", rb), pl.Series("alight", ra),
                            pl.lit(new_trip, pl.Int8).alias("trip")).join(
        stages, on="card", maintain_order="left")
    return out.with_columns((pl.col("_k") - pl.col("stage") + 1).cast(pl.Int8).alias("stage")
                            ).drop("_k").sort("card", "stage", maintain_order=True)


def _day_plans(rs: pl.DataFrame, outbound: pl.DataFrame, day_type: np.ndarray,
               rng: np.random.Generator) -> pl.DataFrame:
    """Assemble each card's trips for its day type; returns planned stages with activities."""
    kind = np.array(DAY_TYPES)[day_type]
    card_kind = pl.DataFrame({"card": np.arange(day_type.size), "kind": kind})
    out = outbound.join(card_kind, on="card", maintain_order="left")
    trips = [out.filter(pl.col("kind") != "x")]
    back = _reverse(rs, out.filter(pl.col("kind").is_in(
        ["commute", "commute_evening", "commute_lunch", "errand", "one_way_after"])), 2)
    back = _shift_first_boarding(rs, back, rng)
    trips.append(back)
    # errands from home: same first boarding, a new ride, and the way back
    evening = out.filter(pl.col("kind").is_in(["commute_evening", "one_way_after"])
                         & (pl.col("stage") == 1))
    if evening.height:
        ride = evening.with_columns(pl.lit(3, pl.Int8).alias("trip"))
        ride = ride.with_columns(pl.when(pl.col("mode") == "B").then(
            pl.Series(_bus_stage(rs, np.where(evening["mode"] == "B", evening["board"], 0), rng,
                                 mean=6.0))).otherwise(pl.col("alight")).alias("alight"))
        trips.append(ride)
        back = _reverse(rs, ride.filter(pl.col("kind") == "commute_evening"), 4)
        trips.append(back)
    lunch = back_lunch = None
    lunch_src = trips[1].filter((pl.col("kind") == "commute_lunch") & (pl.col("stage") == 1)
                                & (pl.col("mode") == "B"))
    if lunch_src.height:
        lunch = lunch_src.with_columns(
            pl.Series("alight", _bus_stage(rs, lunch_src["board"].to_numpy(), rng, mean=3.0)),
            pl.lit(2, pl.Int8).alias("trip"))
        back_lunch = _reverse(rs, lunch, 3)
        # the commute home becomes trip 4 for these cards
        trips[1] = trips[1].with_columns(
            pl.when(pl.col("card").is_in(lunch["card"].implode())).then(4)
            .otherwise(pl.col("trip")).cast(pl.Int8).alias("trip"))
        trips.extend([lunch, back_lunch])
    elsewhere = out.filter(pl.col("kind") == "elsewhere_return")
    if elsewhere.height:
        # the rider moved by other means and comes back on another rider's unrelated trip
        owners = elsewhere["card"].unique().sort().to_numpy()
        swap = pl.DataFrame({"card": owners, "new_card": rng.permutation(owners)})
        other = elsewhere.join(swap, on="card", maintain_order="left").drop("card").rename(
            {"new_card": "card"})
        trips.append(other.with_columns(pl.lit(2, pl.Int8).alias("trip")))
    columns = ["card", "trip", "stage", "mode", "board", "alight", "kind"]
    plans = pl.concat([t.select(columns) for t in trips], how="vertical_relaxed").sort(
        "card", "trip", "stage", maintain_order=True)
    return plans.with_columns(pl.col("trip").cast(pl.Int8), pl.col("stage").cast(pl.Int8))


def _shift_first_boarding(rs: pl.DataFrame, back: pl.DataFrame,
                          rng: np.random.Generator) -> pl.DataFrame:
    """Some riders walk to the next or previous stop for the way back; a few much further back
    (upstream of where they got off), which hides their alighting from any estimate."""
    seq = rs["seq"].to_numpy()
    board = back["board"].to_numpy().copy()
    alight = back["alight"].to_numpy()
    first_bus = ((back["stage"] == 1) & (back["mode"] == "B")).to_numpy()
    draw = rng.random(board.size)
    shift = np.where(draw < 0.10, 1, np.where(draw < 0.20, -1, np.where(draw < 0.24, -3, 0)))
    moved = board - shift  # a lower seq on the way back = further along the way out
    ok = first_bus & (shift != 0) & (seq[np.clip(moved, 0, seq.size - 1)] >= 1) & (
        moved < alight) & (moved >= 0)
    ok &= rs["route_idx"].to_numpy()[np.clip(moved, 0, seq.size - 1)] == rs["route_idx"].to_numpy(
    )[board]
    board[ok] = moved[ok]
    return back.with_columns(pl.Series("board", board))


# ---------------------------------------------------------------------------------------------
# simulation in time


def _simulate(city: City, ops: Operations, rs: pl.DataFrame, stations: pl.DataFrame,
              metro_times: np.ndarray, plans: pl.DataFrame, rng: np.random.Generator) -> Demand:
    n_cards = city.scale.cards
    kind = plans.group_by("card").agg(pl.col("kind").first()).sort("card")
    kinds = np.full(n_cards, "", dtype=object)
    kinds[kind["card"].to_numpy()] = kind["kind"].to_numpy()
    start = np.clip(rng.normal(7.4 * 3600, 0.9 * 3600, n_cards), 5.6 * 3600, 11 * 3600)
    errand_start = rng.uniform(9 * 3600, 18.5 * 3600, n_cards)
    start = np.where(np.isin(kinds, ["errand", "one_way"]), errand_start, start)
    work = np.clip(rng.normal(8.8 * 3600, 3600, n_cards), 3 * 3600, 11 * 3600)
    # errands are often short: those under the trip cut look like a transfer to any estimate
    errand = rng.lognormal(np.log(60 * 60), 0.7, n_cards)
    lunch_at = rng.uniform(35 * 60, 75 * 60, n_cards)
    evening_gap = rng.uniform(30 * 60, 150 * 60, n_cards)
    # a short stop on the way out (a child left at school): two true trips that look like one
    stopover = rng.random(n_cards) < 0.25
    stopover_s = rng.uniform(8 * 60, 35 * 60, n_cards)

    zp = city.zonas_pagas
    zp_of_stop = dict(zip(zp["stop"], zip(zp["validator"], zp["mixed"], zp["operators"],
                                          strict=True), strict=True))
    rs_x, rs_y = rs["x"].to_numpy(), rs["y"].to_numpy()
    st_x, st_y = stations["x"].to_numpy(), stations["y"].to_numpy()
    rs_route = rs["route_idx"].to_numpy()
    rs_seq = rs["seq"].to_numpy()
    stop_of = rs["stop"].to_numpy()
    zp_stop = np.array([s in zp_of_stop for s in stop_of])
    zp_validator = np.array([zp_of_stop.get(s, ("", "", ""))[0] for s in stop_of])
    zp_mixed = np.array([zp_of_stop.get(s, ("", "NO", ""))[1] == "SI" for s in stop_of])
    zp_operator = np.array([int(zp_of_stop.get(s, ("", "", "U0"))[2].split("-")[0][1:])
                            for s in stop_of])

    events = ops.events.select("route_idx", "seq", "arrive", "depart", "run_id").sort(
        "arrive", maintain_order=True)
    run_info = ops.runs.select("run_id", "plate", "operator", "start").sort("run_id")
    plates = run_info["plate"].to_numpy()
    run_operator = run_info["operator"].to_numpy()
    arrive_of = ops.events.sort("run_id", "seq")
    ev_offsets = np.concatenate([np.zeros(1, np.int64), np.cumsum(
        arrive_of.group_by("run_id", maintain_order=True).len()["len"].to_numpy()
    ).astype(np.int64)])
    ev_arrive = arrive_of["arrive"].to_numpy()

    clock = start.copy()
    last_x = np.full(n_cards, np.nan)
    last_y = np.full(n_cards, np.nan)
    alive = np.ones(n_cards, dtype=bool)
    records = []
    trip_stage = plans.select("trip", "stage").unique().sort("trip", "stage").rows()
    for trip_no, stage_no in trip_stage:
        rows = plans.filter((pl.col("trip") == trip_no) & (pl.col("stage") == stage_no))
        cards = rows["card"].to_numpy()
        keep = alive[cards]
        rows, cards = rows.filter(pl.Series(keep)), cards[keep]
        if not rows.height:
            continue
        ready = clock[cards].copy()
        if stage_no == 1 and trip_no > 1:
            k = kinds[cards]
            activity = np.where(np.isin(k, ["errand"]), errand[cards], work[cards])
            lunch_card = k == "commute_lunch"
            activity = np.where(lunch_card & (trip_no == 2), rng.uniform(2.5, 4.5, cards.size)
                                * 3600, activity)
            activity = np.where(lunch_card & (trip_no == 3), lunch_at[cards], activity)
            activity = np.where(lunch_card & (trip_no == 4), work[cards] - 5 * 3600, activity)
            activity = np.where(np.isin(k, ["commute_evening", "one_way_after"]) & (trip_no == 3),
                                evening_gap[cards], activity)
            activity = np.where((k == "commute_evening") & (trip_no == 4), errand[cards], activity)
            activity = np.where(k == "elsewhere_return", work[cards] + rng.uniform(
                0, 2 * 3600, cards.size), activity)
            ready = ready + np.maximum(activity, 8 * 60)
        mode = rows["mode"].to_numpy()
        board = rows["board"].to_numpy()
        alight = rows["alight"].to_numpy()
        bx = np.where(mode == "B", rs_x[np.where(mode == "B", board, 0)],
                      st_x[np.where(mode == "M", board, 0)])
        by = np.where(mode == "B", rs_y[np.where(mode == "B", board, 0)],
                      st_y[np.where(mode == "M", board, 0)])
        if trip_no == 1 and stage_no >= 2:
            ready = ready + np.where(stopover[cards], stopover_s[cards], 0.0)
        walk = np.hypot(bx - last_x[cards], by - last_y[cards]) * 1.3 / WALK_SPEED
        ready = ready + np.where(np.isnan(walk) | (stage_no == 1), 0, walk) + rng.uniform(
            0, 60, cards.size)
        t_trx = np.full(cards.size, np.nan)
        t_alight = np.full(cards.size, np.nan)
        site = np.full(cards.size, "", dtype=object)
        operator = np.zeros(cards.size, dtype=np.int64)
        run = np.full(cards.size, -1, dtype=np.int64)
        is_bus = mode == "B"
        if is_bus.any():
            q = pl.DataFrame({"i": np.flatnonzero(is_bus), "route_idx": rs_route[board[is_bus]],
                              "seq": rs_seq[board[is_bus]], "arrive": ready[is_bus]}).sort(
                "arrive")
            found = q.join_asof(events, on="arrive", by=["route_idx", "seq"], strategy="forward",
                                check_sortedness=False).sort("i")
            ok = found["run_id"].is_not_null().to_numpy()
            idx = found["i"].to_numpy()[ok]
            run_ids = found["run_id"].to_numpy()[ok].astype(np.int64)
            bus_arrive = ev_arrive[ev_offsets[run_ids] + rs_seq[board[idx]] - 1]
            late = rng.random(idx.size) < 0.05
            on_bus = bus_arrive + np.where(late, rng.uniform(15, 45, idx.size),
                                           rng.uniform(2, 20, idx.size))
            at_zp = zp_stop[board[idx]] & ~(zp_mixed[board[idx]] & (rng.random(idx.size) < 0.3))
            t_trx[idx] = np.where(at_zp, ready[idx] + rng.uniform(0, 25, idx.size), on_bus)
            site[idx] = np.where(at_zp, zp_validator[board[idx]], plates[run_ids])
            operator[idx] = np.where(at_zp, zp_operator[board[idx]], run_operator[run_ids])
            t_alight[idx] = ev_arrive[ev_offsets[run_ids] + rs_seq[alight[idx]] - 1]
            run[idx] = run_ids
        is_metro = mode == "M"
        if is_metro.any():
            idx = np.flatnonzero(is_metro)
            t_trx[idx] = ready[idx] + rng.uniform(0, 20, idx.size)
            headway = np.where((t_trx[idx] % 86400 > 6.5 * 3600) & (t_trx[idx] < 9.5 * 3600),
                               150, 300)
            ride = metro_times[board[idx], alight[idx]] * rng.uniform(0.97, 1.06, idx.size)
            t_alight[idx] = t_trx[idx] + rng.uniform(60, 150, idx.size) + rng.uniform(
                0, 1, idx.size) * headway + ride
            site[idx] = stations["trx_name"].to_numpy()[board[idx]]
            operator[idx] = 1
        served = ~np.isnan(t_trx) & (t_trx < 86400 - 60) & ~np.isnan(t_alight)
        alive[cards[~served]] = False
        bus_at, metro_at = np.where(is_bus, alight, 0), np.where(is_metro, alight, 0)
        ax = np.where(is_bus, rs_x[bus_at], st_x[metro_at])
        ay = np.where(is_bus, rs_y[bus_at], st_y[metro_at])
        clock[cards[served]] = t_alight[served] + np.where(is_metro[served], rng.uniform(
            40, 120, int(served.sum())), 0)
        last_x[cards[served]], last_y[cards[served]] = ax[served], ay[served]
        records.append(rows.filter(pl.Series(served)).with_columns(
            pl.Series("t", np.round(t_trx[served]).astype(np.int64)),
            pl.Series("t_alight", np.round(t_alight[served]).astype(np.int64)),
            pl.Series("site", site[served].astype(str)),
            pl.Series("operator", operator[served]), pl.Series("run_id", run[served]),
            pl.Series("split", (trip_no == 1) & (stage_no >= 2) & stopover[cards[served]])))
    truth = pl.concat(records).sort("card", "t", maintain_order=True)
    # a rider cut short by the end of service keeps only what was ridden
    truth = truth.unique(["card", "t"], keep="first", maintain_order=True)
    return _finish(city, rs, stations, truth, rng)


def _finish(city: City, rs: pl.DataFrame, stations: pl.DataFrame, truth: pl.DataFrame,
            rng: np.random.Generator) -> Demand:
    n_cards = city.scale.cards
    ids = np.unique(rng.integers(1_000_000, 4_290_000_000, int(n_cards * 1.05) + 10))
    ids = rng.permutation(ids)[:n_cards]
    rs_info = rs.select("rs", "route", "stop", "seq")
    st = stations.select("station_idx", "unique", "line")
    bus = truth.filter(pl.col("mode") == "B").join(
        rs_info.rename({"rs": "board", "route": "route", "stop": "board_stop",
                        "seq": "board_seq"}), on="board").join(
        rs_info.rename({"rs": "alight", "route": "route_a", "stop": "alight_stop",
                        "seq": "alight_seq"}), on="alight").drop("route_a")
    metro = truth.filter(pl.col("mode") == "M").join(
        st.rename({"station_idx": "board", "unique": "board_stop", "line": "route"}),
        on="board").join(st.rename({"station_idx": "alight", "unique": "alight_stop",
                                    "line": "line_a"}), on="alight").drop("line_a").with_columns(
        pl.lit(None, pl.Int64).alias("board_seq"), pl.lit(None, pl.Int64).alias("alight_seq"))
    cols = ["card", "t", "site", "operator", "mode", "route", "run_id", "board_stop",
            "board_seq", "alight_stop", "alight_seq", "t_alight", "trip", "stage", "kind",
            "split"]
    truth = pl.concat([bus.select(cols), metro.select(cols)], how="vertical_relaxed")
    truth = truth.with_columns(
        pl.Series("card_id", ids[truth["card"].to_numpy()]),
        pl.when(pl.col("mode") == "M").then(pl.lit("METRO"))
        .when(pl.col("site").str.starts_with("RM-")).then(pl.lit("ZP"))
        .otherwise(pl.lit("BUS")).alias("mode"))
    truth = truth.drop("card").rename({"card_id": "card"}).sort("card", "t")
    # trips renumbered 1.. in time order per card (plans may skip trips cut by end of service)
    truth = truth.with_columns((pl.col("trip").cast(pl.Int32) * 2 + pl.col("split").cast(
        pl.Int32)).rank("dense").over("card").cast(pl.Int32).alias("trip"))
    truth = truth.drop("split").with_columns(
                               pl.col("stage").rank("ordinal").over(["card", "trip"])
                               .cast(pl.Int32))
    transactions = truth.select("card", "t", "site", "operator")
    return Demand(transactions, truth)
