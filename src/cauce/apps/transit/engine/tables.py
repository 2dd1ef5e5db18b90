"""Shape the engine's frames into the ADATRAP output tables (columns named as the headers).

Values stay typed (integers, floats, date-times, text): their text form is the layout's
(layouts.py), applied by the writer. Rows come in a fixed order (by card, trip and stage; by
expedition and stop), so the same input always gives the same files."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date

import numpy as np
import polars as pl

from .network import Network
from .runs import Fleet

DAY_TYPE_CODE = {"LABORAL": 0, "SABADO": 1, "DOMINGO": 2}
_K = ("1era", "2da", "3era", "4ta")
RS_NAMES = ("seq", "stop", "user_stop", "name", "zone")


def clock(seconds: pl.Expr, day: date) -> pl.Expr:
    """The date-time of seconds since the day's midnight (null stays null)."""
    base = pl.lit(day).cast(pl.Datetime("ms"))
    return base + pl.duration(milliseconds=(seconds * 1000).round(0).cast(pl.Int64))


#: `HH:MM:SS` reaches this far: past midnight the hours go on (`24:05:00`), as on the day's
#: last trips; other values (an extrapolated time before midnight) are missing
HMS_SECONDS = 2 * 86400


@functools.cache
def _hms_table() -> pl.Series:
    s = pl.int_range(0, HMS_SECONDS, eager=True)
    return pl.select(pl.format("{}:{}:{}", (s // 3600).cast(pl.String).str.zfill(2),
                               (s % 3600 // 60).cast(pl.String).str.zfill(2),
                               (s % 60).cast(pl.String).str.zfill(2))).to_series()


def hms_text(seconds: pl.Expr) -> pl.Expr:
    """`HH:MM:SS` of seconds since midnight (rounded), looked up in a table of all of them."""
    s = seconds.round(0).cast(pl.Int64)
    inside = (s >= 0) & (s < HMS_SECONDS)
    return pl.when(inside).then(pl.lit(_hms_table()).gather(s.clip(0, HMS_SECONDS - 1)))


def half_hour_text(seconds: pl.Expr) -> pl.Expr:
    return hms_text((seconds // 1800) * 1800)


def period_of(network: Network, seconds: pl.Expr, what: str) -> pl.Expr:
    """TS period id (`what="id"`) or name of the day type for a time in seconds."""
    periods = network.periods.filter(pl.col("day_type") == network.day_type).sort("start_s")
    expr: pl.Expr = pl.lit(None, pl.Int32 if what == "id" else pl.String)
    t = seconds % 86400
    for start, value in reversed(list(zip(periods["start_s"], periods[what], strict=True))):
        expr = pl.when(t >= start).then(pl.lit(value)).otherwise(expr)
    return pl.when(seconds.is_null()).then(None).otherwise(expr)


def _categorical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.String).cast(pl.Categorical))


#: row numbers and looked-up parts that only go into the enriched columns: dropped, since the
#: enriched stages are held while every output is written (0.5 GB on a santiago day)
LOOK_UP_ONLY = ("board_rs", "alight_rs", "station_idx", "alight_station", "operator",
                "exp_operator", "board_dist", "alight_dist", "headway_s", "alight_stop",
                "ast_unique", "board_comuna", "alight_comuna", "bst_comuna", "ast_comuna")


def enrich_stages(stages: pl.DataFrame, network: Network, fleet: Fleet) -> pl.DataFrame:
    """Names, operators and waits that several outputs share, gathered once by row numbers.

    Stops, stations, routes and expeditions are looked up by position (`board_rs` is the row of
    the stop in the sorted route-stop table, `station_idx` and `exp` are row numbers too), so
    no hash join runs over the day's stages. Names are categorical (a few thousand distinct
    stops and routes), so the enriched stages stay compact; they become text when written. Only
    the columns the outputs read are kept (`LOOK_UP_ONLY` goes)."""
    rs = _categorical(network.route_stops.sort("route_idx", "seq").select(
        "stop", "comuna", "dist"))
    st = _categorical(network.stations.sort("station_idx").select("unique", "line", "comuna"))
    routes = _categorical(network.routes.sort("route_idx").select("route", "user", "direction"))
    route_ids = network.routes.sort("route_idx")["route_idx"].to_numpy()
    route_row = np.full(int(route_ids.max(initial=-1)) + 1, -1, dtype=np.int64)
    route_row[route_ids] = np.arange(route_ids.size)
    route_idx = stages["route_idx"].fill_null(-1).to_numpy().astype(np.int64)
    exps = fleet.expeditions.sort("exp").select(pl.col("operator").alias("exp_operator"),
                                                pl.col("start").alias("exp_start"))

    def rows(column: str) -> np.ndarray:
        return stages[column].fill_null(-1).to_numpy().astype(np.int64)

    looked_up = pl.concat([
        _gather(rs, rows("board_rs")).rename({c: f"board_{c}" for c in rs.columns}),
        _gather(rs, rows("alight_rs")).rename({c: f"alight_{c}" for c in rs.columns}),
        _gather(st, rows("station_idx")).rename(
            {"unique": "bst_unique", "line": "bst_line", "comuna": "bst_comuna"}),
        _gather(st, rows("alight_station")).rename(
            {"unique": "ast_unique", "line": "ast_line", "comuna": "ast_comuna"}),
        _gather(routes, np.where((route_idx >= 0) & (route_idx < route_row.size),
                                 route_row[np.clip(route_idx, 0, max(route_row.size - 1, 0))],
                                 -1) if route_row.size else np.full(route_idx.size, -1)),
        _gather(exps, rows("exp")),
        pl.DataFrame({"headway_s": _headways(stages, fleet)}).fill_nan(None),
    ], how="horizontal")
    out = pl.concat([stages, looked_up], how="horizontal")
    return out.with_columns(
        pl.when(pl.col("mode") == "METRO").then(1).otherwise(
            pl.coalesce("exp_operator", "operator")).alias("op"),
        pl.coalesce("route", "bst_line").alias("service_board"),
        pl.coalesce("route", "ast_line").alias("service_alight"),
        pl.coalesce("board_stop", "bst_unique").alias("stop_board"),
        pl.coalesce("alight_stop", "ast_unique").alias("stop_alight"),
        pl.coalesce("board_comuna", "bst_comuna").alias("comuna_board"),
        pl.coalesce("alight_comuna", "ast_comuna").alias("comuna_alight"),
        (pl.col("alight_dist") - pl.col("board_dist")).alias("route_dist"),
        ((pl.col("x_alight") - pl.col("x_board")) ** 2 + (pl.col("y_alight") - pl.col(
            "y_board")) ** 2).sqrt().alias("eucl_dist"),
        (pl.col("headway_s") / 2 / 60).alias("mean_wait_min")).drop(LOOK_UP_ONLY)


def _headways(stages: pl.DataFrame, fleet: Fleet) -> np.ndarray:
    """Seconds between buses at each stage's boarding stop, in its half-hour: 1800 / the
    expeditions passing there then (NaN where none passed), counted in a dense array."""
    passing = fleet.passing.select("route_idx", "seq", (pl.col("t_pass") // 1800).alias("hh")
                                   ).drop_nulls().filter(pl.col("hh").is_not_nan())
    out = np.full(stages.height, np.nan)
    if passing.is_empty():
        return out
    route, seq = passing["route_idx"].to_numpy(), passing["seq"].to_numpy()
    hh = passing["hh"].to_numpy().astype(np.int64)
    lo, n_hh = int(hh.min()), int(hh.max() - hh.min()) + 1
    n_seq = int(seq.max()) + 1
    counts = np.bincount((route.astype(np.int64) * n_seq + seq) * n_hh + hh - lo,
                         minlength=(int(route.max()) + 1) * n_seq * n_hh)
    s_route = stages["route_idx"].to_numpy().astype(np.float64)
    s_seq = stages["board_seq"].to_numpy().astype(np.float64)
    s_hh = np.floor(stages["t_board"].to_numpy().astype(np.float64) / 1800) - lo
    ok = ~(np.isnan(s_route) | np.isnan(s_seq) | np.isnan(s_hh))
    ok &= (s_hh >= 0) & (s_hh < n_hh) & (s_seq < n_seq) & (s_route <= route.max())
    cell = ((s_route[ok].astype(np.int64) * n_seq + s_seq[ok].astype(np.int64)) * n_hh
            + s_hh[ok].astype(np.int64))
    found = counts[cell]
    out[np.flatnonzero(ok)] = np.where(found > 0, 1800 / np.maximum(found, 1), np.nan)
    return out


def etapas(s: pl.DataFrame, network: Network, day: date) -> pl.LazyFrame:
    return s.lazy().select(
        pl.col("op").alias("operador"), pl.col("card").alias("id_etapa"),
        pl.col("trip").alias("correlativo_viajes"),
        pl.col("stage_in_trip").alias("correlativo_etapas"),
        pl.lit(network.day_type).alias("tipo_dia"), pl.col("mode").alias("tipo_transporte"),
        pl.col("f_service").alias("fExpansionServicioPeriodoTS"),
        pl.col("has_alight").cast(pl.Int8).alias("tiene_bajada"),
        clock(pl.col("t"), day).alias("tiempo2"),
        clock(pl.coalesce("t_board", "t"), day).alias("tiempo_subida"),
        clock(pl.col("t_alight"), day).alias("tiempo_bajada"),
        (pl.col("t_alight") - pl.coalesce("t_board", "t")).round(0).cast(pl.Int64).alias(
            "tiempo_etapa"),
        half_hour_text(pl.coalesce("t_board", "t")).alias("media_hora_subida"),
        half_hour_text(pl.col("t_alight")).alias("media_hora_bajada"),
        pl.col("x_board").round(0).cast(pl.Int64).alias("x_subida"),
        pl.col("y_board").round(0).cast(pl.Int64).alias("y_subida"),
        pl.col("x_alight").round(0).cast(pl.Int64).alias("x_bajada"),
        pl.col("y_alight").round(0).cast(pl.Int64).alias("y_bajada"),
        pl.col("route_dist").round(0).cast(pl.Int64).alias("dist_ruta_paraderos"),
        pl.col("eucl_dist").round(0).cast(pl.Int64).alias("dist_eucl_paraderos"),
        pl.col("service_board").alias("servicio_subida"),
        pl.when(pl.col("has_alight")).then(pl.col("service_alight")).alias("servicio_bajada"),
        pl.col("stop_board").alias("parada_subida"), pl.col("stop_alight").alias(
            "parada_bajada"),
        pl.col("comuna_board").alias("comuna_subida"), pl.col("comuna_alight").alias(
            "comuna_bajada"),
        pl.col("zone_board").alias("zona_subida"), pl.col("zone_alight").alias("zona_bajada"),
        pl.col("site").alias("sitio_subida"),
        pl.when(pl.col("has_alight")).then(pl.col("f_zone")).alias(
            "fExpansionZonaPeriodoTS"),
        pl.col("mean_wait_min").alias("tEsperaMediaIntervalo"),
        pl.col("board_period").alias("periodoSubida"),
        pl.col("alight_period").alias("periodoBajada"),
        clock(pl.col("exp_start").cast(pl.Float64), day).alias("tiempoIniExpedicion"))


def viajes(s: pl.DataFrame, trips: pl.DataFrame, network: Network, day: date) -> pl.DataFrame:
    """One row per trip; its stages are gathered by position, not joined.

    `s` holds whole trips sorted by card, time (so a trip's stages are consecutive rows, in
    order) and `trips` the same trips in the same order."""
    walk = 1.3 / 1.2
    first = np.flatnonzero(s["stage_in_trip"].to_numpy() == 1)
    if first.size != trips.height:
        raise ValueError("stages and trips are not aligned")
    n_stages = trips["n_stages"].to_numpy()
    last = first + n_stages - 1
    # per stage: the next boarding of the same trip, ride, transfer and walk
    t_board = s["t_board"].to_numpy().astype(np.float64)
    same_trip = np.zeros(s.height, dtype=bool)
    same_trip[:-1] = s["stage_in_trip"].to_numpy()[1:] > 1
    next_board = np.full(s.height, np.nan)
    next_board[:-1] = np.where(same_trip[:-1], t_board[1:], np.nan)
    stage = s.select(
        "op", "mode", "service_board", "bst_line", "ast_line", "stop_board", "stop_alight",
        "zone_board", "zone_alight", "mean_wait_min", "route_dist", "t_alight",
        clock(pl.coalesce("t_board", "t"), day).alias("board_time"),
        clock(pl.col("t_alight"), day).alias("alight_time"),
        ((pl.col("t_alight") - pl.coalesce("t_board", "t")) / 60).alias("ride_min"),
        pl.Series("next_board", next_board).fill_nan(None),
        (pl.col("walk_m") * walk / 60).alias("walk_min"), pl.col("walk_m").alias("transfer_m"))
    stage = stage.with_columns(
        ((pl.col("next_board") - pl.col("t_alight")) / 60).alias("transfer_min"))
    stage = stage.with_columns(pl.when(pl.col("next_board").is_not_null()).then(
        pl.col("transfer_min") - pl.col("walk_min")).alias("wait_min"),
        pl.when(pl.col("next_board").is_not_null()).then(pl.col("walk_min")).alias("walk_min"),
        pl.when(pl.col("next_board").is_not_null()).then(pl.col("transfer_m")).alias(
            "transfer_m"))
    columns: dict[str, pl.Series] = {}
    for index, k in enumerate(_K, start=1):
        at = np.where(n_stages >= index, first + index - 1, -1)
        picked = _gather(stage, at)
        columns.update({
            f"tiempo_{k}_etapa": picked["ride_min"],
            "ddist_2da_etapa" if k == "2da" else f"dist_{k}_etapa": picked["route_dist"],
            f"tespera_{k}_etapa": picked["wait_min"],
            f"ttrasbordo_{k}_etapa": picked["transfer_min"],
            f"tcaminata_{k}_etapa": picked["walk_min"],
            f"dtransbordo_{k}_etapa": picked["transfer_m"],
            f"op_{k}_etapa": picked["op"],
            f"tipo_op_{k}_etapa": picked.select(pl.when(pl.col("mode") == "METRO").then(2)
                                                .when(pl.col("mode").is_not_null()).then(1)
                                                ).to_series(),
            f"serv_{k}_etapa": picked.select(pl.when(pl.col("mode") != "METRO").then(
                pl.col("service_board"))).to_series(),
            f"linea_metro_subida_{index}": picked["bst_line"],
            f"linea_metro_bajada_{index}": picked["ast_line"],
            f"parada_subida_{k}": picked["stop_board"],
            f"tiempo_subida_{k}": picked["board_time"],
            f"zona_subida_{k}": picked["zone_board"],
            f"parada_bajada_{k}": picked["stop_alight"],
            f"tiempo_bajada_{k}": picked["alight_time"],
            f"zona_bajada_{k}": picked["zone_alight"],
            f"tipo_transporte_{k}": picked["mode"],
            f"tespera_est_{k}": picked["mean_wait_min"]})
    starts, ends = _gather(stage, first), _gather(s.select("alight_period"), last)
    ends = ends.with_columns(_gather(stage, last).select("stop_alight", "zone_alight"))
    # sums over each trip's consecutive stages
    bus_dist = s.select(pl.when(pl.col("mode") != "METRO").then(pl.col("route_dist"))
                        ).to_series()
    route_total = _trip_sums(stage["route_dist"], first)
    bus_total = _trip_sums(bus_dist, first)
    vehicle_min = _trip_sums(stage["ride_min"], first)
    out = trips.select("card", "trip", "n_stages", "n_no_alight", "last_has_alight", "t_start",
                       "t_end", "factor_expansion", "purpose", "end_reason", "period",
                       (pl.col("t_end") - pl.col("t_start")).alias("dur"),
                       ((pl.col("dx") - pl.col("ox")) ** 2 + (pl.col("dy") - pl.col("oy")) ** 2
                        ).sqrt().alias("eucl"))
    out = out.with_columns(
        pl.Series("route_total", route_total), pl.Series("bus_total", bus_total),
        pl.Series("vehicle_min", vehicle_min), starts["stop_board"].alias("o_stop"),
        ends["stop_alight"].alias("d_stop"), starts["zone_board"].alias("o_zone"),
        ends["zone_alight"].alias("d_zone"), ends["alight_period"].alias("d_period"),
        _gather(s.select("comuna_board"), first).to_series().alias("o_comuna"),
        _gather(s.select("comuna_alight"), last).to_series().alias("d_comuna"),
        *(series.alias(name) for name, series in columns.items()))
    mid = (pl.col("t_start") + pl.col("t_end")) / 2
    out = out.with_columns(mid.alias("mid")).with_columns(
        period_of(network, pl.col("mid"), "name").alias("mid_period"))
    return out.with_columns(
        pl.col("card").alias("id_viaje"), pl.col("trip").alias("correlativo_viajes"),
        pl.col("n_stages").alias("correlativo_etapas"), pl.col("n_stages").alias(
            "cantidad_etapas"),
        pl.col("n_no_alight").alias("netapas_sin_bajada"),
        pl.col("last_has_alight").cast(pl.Int8).alias("ultima_etapa_con_bajada"),
        pl.col("dur").alias("tiempo_viaje_seg"), (pl.col("dur") / 60).alias("tiempo_viaje_min"),
        pl.col("eucl").alias("dist_viaje_euclidiana_mts"),
        pl.when(pl.col("last_has_alight")).then(pl.col("route_total")).alias(
            "dist_viaje_en_ruta_mts"),
        pl.col("o_stop").alias("parada_subida"), pl.col("d_stop").alias("parada_bajada"),
        pl.col("o_comuna").alias("comuna_subida"), pl.col("d_comuna").alias("comuna_bajada"),
        pl.col("o_zone").alias("zona_subida"), pl.col("d_zone").alias("zona_bajada"),
        clock(pl.col("t_start"), day).alias("tiempo_subida"),
        clock(pl.col("t_end"), day).alias("tiempo_bajada"),
        pl.col("period").alias("periodo_subida"), pl.col("d_period").alias("periodo_bajada"),
        pl.lit(network.day_type).alias("tipo_dia"),
        half_hour_text(pl.col("t_start")).alias("media_hora"),
        pl.col("factor_expansion"),
        clock(pl.col("mid"), day).alias("tiempo_medio_viaje"),
        pl.col("mid_period").alias("periodo_medio_viaje"),
        half_hour_text(pl.col("mid")).alias("media_hora_medio_viaje"),
        pl.lit(network.day_type).alias("tipo_dia_medio_viaje"),
        pl.col("vehicle_min").alias("tviaje_en_vehiculo_min"),
        pl.col("end_reason").alias("tipo_corte_etapa_viaje"),
        pl.col("purpose").alias("proposito"),
        pl.when(pl.col("bus_total") > 0).then(pl.col("bus_total")).alias("dviaje_buses"))


def _gather(frame: pl.DataFrame, rows: np.ndarray) -> pl.DataFrame:
    """Rows of `frame` at `rows`; -1 gives a row of nulls."""
    index = pl.select(pl.when(pl.lit(pl.Series(rows, dtype=pl.Int64)) >= 0).then(
        pl.lit(pl.Series(rows, dtype=pl.Int64)))).to_series()
    return frame.select(pl.all().gather(index))


def _trip_sums(values: pl.Series, first: np.ndarray) -> np.ndarray:
    """Sum of `values` (nulls as 0) over each run of rows starting at `first`."""
    array = values.cast(pl.Float64).fill_null(0.0).to_numpy()
    if not first.size:
        return np.zeros(0)
    return np.add.reduceat(array, first)


def profile(s: pl.DataFrame | pl.LazyFrame, fleet: Fleet, network: Network, day: date
            ) -> pl.LazyFrame:
    """One row per expedition and stop with boardings, alightings and the load."""
    # only the columns used are read; eager group-bys add floats in row order, so the sums do
    # not change with the thread count
    located = s.lazy().select("exp", "board_seq", "alight_seq", "f_service", "has_alight",
                              "t").filter(pl.col("exp").is_not_null()
                                          & pl.col("board_seq").is_not_null()).collect()
    ons = located.group_by("exp", pl.col("board_seq").alias("seq")).agg(
        pl.len().alias("n_on"), pl.col("f_service").sum().alias("on_exp"),
        pl.col("has_alight").sum().alias("on_with_alight"), pl.col("t").min().alias("first_trx")
    ).lazy()
    offs = located.filter(pl.col("has_alight")).group_by(
        "exp", pl.col("alight_seq").alias("seq")).agg(
        pl.len().alias("n_off"), pl.col("f_service").sum().alias("off_exp")).lazy()
    zp_stops = network.zonas_pagas.select("stop").unique().with_columns(pl.lit(1).alias("zp"))
    exps = fleet.expeditions.select("exp", "plate", "plate_key", "operator", "start", "end",
                                    "fulfillment").lazy()
    p = fleet.passing.lazy().join(exps, on="exp").join(ons, on=["exp", "seq"], how="left").join(
        offs, on=["exp", "seq"], how="left").join(
        network.route_stops.select("route_idx", "seq", "stop", "user_stop", "name").lazy(),
        on=["route_idx", "seq"]).join(network.routes.select(
            "route_idx", "route", "user", "direction").lazy(), on="route_idx").join(
        network.fleet.lazy(), on="plate_key", how="left").join(zp_stops.lazy(), on="stop",
                                                              how="left")
    p = p.sort("exp", "seq").with_columns(
        pl.col("n_on", "n_off", "on_with_alight").fill_null(0),
        pl.col("on_exp", "off_exp").fill_null(0.0))
    p = p.with_columns((pl.col("on_exp") - pl.col("off_exp")).cum_sum().over("exp").alias(
        "load_after"))
    p = p.with_columns(pl.col("load_after").shift(1).over("exp").fill_null(0.0).alias("load"),
                       ((pl.col("dist").shift(-1).over("exp") - pl.col("dist")) / 1000)
                       .fill_null(0.0).alias("km"))
    problem = ((pl.col("load") < -1) | (pl.col("load") > pl.col("capacity"))).mean().over(
        "exp") > 0.01
    p = p.with_columns(problem.fill_null(False).cast(pl.Int8).alias("problem"))
    p = p.with_columns(
        period_of(network, pl.col("start"), "id").alias("exp_start_s_period_id"),
        period_of(network, pl.col("t_pass"), "id").alias("t_pass_period_id"))
    return p.select(
        pl.col("operator").alias("Operador"), pl.col("route").alias("ServicioSentido"),
        pl.col("user").alias("ServicioUsuario"), pl.col("plate").alias("Patente"),
        pl.col("stop").alias("Paradero"),
        pl.col("name").alias("NombreParada"),
        clock(pl.col("start").cast(pl.Float64), day).alias("Hini"),
        clock(pl.col("end").cast(pl.Float64), day).alias("Hfin"),
        pl.col("fulfillment").alias("Cumplimiento"), pl.col("seq").alias("Correlativo"),
        pl.col("exp").alias("idExpedicion"), pl.col("dist").round(0).cast(pl.Int64).alias(
            "DistEnRuta"),
        pl.col("n_on").alias("#Subidas"), pl.col("n_on").alias("Subidastotal"),
        pl.col("on_exp").alias("SubidasExpandidas"),
        pl.col("n_off").alias("#Bajadas"), pl.col("n_off").alias("Bajadastotal"),
        pl.col("off_exp").alias("BajadasExpandidas"),
        pl.col("load").alias("Carga"), pl.col("capacity").alias("Capacidad"),
        pl.when(pl.col("gps")).then(hms_text(pl.col("t_pass"))).alias("TiempoGPSInterpolado"),
        hms_text(pl.col("first_trx").cast(pl.Float64)).alias("TiempoPrimeraTrx"),
        clock(pl.col("t_pass"), day).alias("Tiempo"),
        pl.col("user_stop").alias("ParaderoUsuario"),
        pl.col("exp_start_s_period_id").alias("PeriodoTSExpedicion"),
        pl.col("t_pass_period_id").alias("PeriodoTSParada"),
        pl.lit(DAY_TYPE_CODE.get(network.day_type, 0)).alias("TipoDia"),
        pl.col("zp").fill_null(0).alias("ZP"),
        (pl.col("start") // 1800).alias("MHSalida"),
        (pl.col("t_pass") // 1800).cast(pl.Int64).alias("MHPasada"),
        pl.col("problem").alias("ExpedicionConProblema"),
        pl.col("on_exp").alias("subidas_corregidas"),
        pl.col("off_exp").alias("bajadas_corregidas"),
        pl.col("load").alias("carga_corregida"),
        pl.col("on_with_alight").alias("subidas_conbajada"),
        pl.lit(2).alias("tipo_evasion"), pl.lit(0).alias("uniforme"),
        (pl.col("load_after") * pl.col("km")).alias("pax-km_tramo"),
        (pl.col("capacity") * pl.col("km")).alias("plazas-km_tramo"),
        # kept for the warehouse table
        pl.col("route_idx"), pl.col("load_after"), pl.col("t_pass"))


def _route_operators(fleet: Fleet) -> pl.DataFrame:
    """Each route's operator: the one most of its expeditions in the 1.96 report have."""
    return fleet.expeditions.group_by("route_idx", "operator").len().sort(
        ["route_idx", "len", "operator"], descending=[False, True, False]).unique(
        "route_idx", keep="first").select("route_idx", pl.col("operator").alias("op"))


def odbyroute(s: pl.DataFrame, network: Network, fleet: Fleet, day: date,
              rows: int = 300_000) -> Iterator[pl.LazyFrame]:
    """The OD pairs by route and period, counted once and named in sorted parts of `rows`
    pairs as they are written: the names and codes of a whole day's pairs at once took
    0.8 GB."""
    # only the columns used are read; eager group-bys add floats in row order, so the sums do
    # not change with the thread count
    bus = s.lazy().select("route_idx", "board_period_id", "board_seq", "alight_seq",
                          "has_alight", "f_service").filter(
        pl.col("route_idx").is_not_null() & pl.col("board_seq").is_not_null()).collect()
    keys = ["route_idx", "board_period_id", "board_seq", "alight_seq"]
    without = bus.filter(~pl.col("has_alight")).group_by(keys[:3]).agg(
        pl.len().alias("SinBajada"))
    od = bus.filter(pl.col("has_alight")).group_by(keys).agg(
        pl.len().alias("ConBajada"), pl.col("f_service").sum().alias("exp")).join(
        without, on=keys[:3], how="left").sort(keys)
    del bus
    rs = network.route_stops.select("route_idx", "seq", "stop", "user_stop", "name", "zone").lazy()
    boarding = rs.rename({c: f"b_{c}" for c in RS_NAMES}).rename({"b_seq": "board_seq"})
    alighting = rs.rename({c: f"a_{c}" for c in RS_NAMES}).rename({"a_seq": "alight_seq"})
    routes = network.routes.select("route_idx", "route", "user", "direction").lazy()
    operators = _route_operators(fleet).lazy()
    for start in range(0, max(od.height, 1), rows):
        # joins keeping the left order keep the parts sorted
        part = od.slice(start, rows).lazy().join(
            boarding, on=["route_idx", "board_seq"], maintain_order="left").join(
            alighting, on=["route_idx", "alight_seq"], maintain_order="left").join(
            routes, on="route_idx", maintain_order="left").join(
            operators, on="route_idx", how="left", maintain_order="left")
        yield part.select(
            pl.lit(day.isoformat()).alias("Dia"),
            pl.lit(DAY_TYPE_CODE.get(network.day_type, 0)).alias("TipoDia"),
            pl.col("route").alias("Servicio"), pl.col("op").alias("Operador"),
            pl.col("user").alias("ServicioUsuario"),
            pl.col("board_period_id").alias("PeriodoTS"),
            # stop positions count from 0 here (as in the reference's `.stop` and `.odbyroute`)
            (pl.col("board_seq") - 1).alias("inicio"), (pl.col("alight_seq") - 1).alias("fin"),
            pl.col("b_stop").alias("CodigoParInicio"), pl.col("a_stop").alias("CodigoParFin"),
            pl.col("b_user_stop").alias("UsuarioParInicio"),
            pl.col("a_user_stop").alias("UsuarioParFin"),
            pl.col("b_name").alias("NombreParInicio"), pl.col("a_name").alias("NombreParFin"),
            pl.col("b_zone").alias("zonaS"), pl.col("a_zone").alias("zonaB"), "ConBajada",
            pl.col("SinBajada").fill_null(0), pl.col("exp").alias("Expandida"))


def expediciones(fleet: Fleet, network: Network, day: date) -> pl.DataFrame:
    ends = fleet.passing.group_by("exp").agg(pl.col("t_pass").first().alias("a"),
                                             pl.col("t_pass").last().alias("b"))
    e = fleet.expeditions.join(ends, on="exp", how="left").join(
        network.routes.select("route_idx", "route"), on="route_idx", maintain_order="left")
    return e.sort("exp").select(
        pl.col("route"), pl.col("plate").alias("licensePlate"),
        clock(pl.col("a"), day).alias("a"), clock(pl.col("b"), day).alias("b"),
        clock(pl.col("start").cast(pl.Float64), day).alias("expeditionStartTime"),
        clock(pl.col("end").cast(pl.Float64), day).alias("expeditionEndTime"),
        pl.col("fulfillment"), ((pl.col("b") - pl.col("a")) / 60).alias("f"),
        ((pl.col("end") - pl.col("start")) / 60).alias("g"),
        (pl.col("start") // 1800).alias("periodId"))


def speed(speeds: pl.DataFrame, network: Network, day: date) -> pl.DataFrame:
    routes = network.routes.select("route_idx", "route", "user")
    return speeds.join(routes, on="route_idx", maintain_order="left").select(
        pl.col("route").alias("Route"), pl.col("k").alias("IdSection"),
        pl.lit(day.isoformat()).alias("Date"), pl.col("period").alias("Period"),
        pl.lit(DAY_TYPE_CODE.get(network.day_type, 0)).alias("DayType"),
        pl.col("total_distance").alias("TotalDistance"),
        pl.col("total_time").alias("TotalTime"),
        pl.when(pl.col("total_time") > 0).then(
            pl.col("total_distance") / pl.col("total_time") * 3.6).alias("Speed"),
        pl.col("observations").alias("Observations"),
        pl.col("invalid_observations").alias("InvalidObservations"),
        pl.col("operator").alias("Operator"), pl.col("user").alias("RouteUser"),
        pl.col("is_end").cast(pl.Int8).alias("IsEndSection"))


def bip(s: pl.DataFrame, network: Network, day: date) -> pl.LazyFrame:
    return s.lazy().select(
        pl.col("card").alias("id"), clock(pl.col("t").cast(pl.Float64), day).alias(
            "tiempo"), pl.col("site").alias("sitio"), pl.col("op").alias("op"),
        pl.when(pl.col("mode") != "METRO").then(pl.col("route")).alias("servicio_sonda"),
        pl.when(pl.col("mode") != "METRO").then(
            pl.col("user").cast(pl.String) + pl.col("direction").cast(pl.String)).alias(
            "servicio_usuario"),
        pl.col("board_period_id").alias("periodo"), pl.lit(network.day_type).alias("tipo_dia"))


def general(day: date, network: Network, fleet: Fleet, s: pl.DataFrame, trips: pl.DataFrame,
            gps_rows: int, gaps: pl.Series, version: str) -> pl.DataFrame:
    """The day's one-row statistics (the reference's 97 columns, nothing more); `gaps` are
    `mean_ping_gaps` of the fleet's pings."""
    e = fleet.expeditions
    minutes = (e["end"] - e["start"]) / 60
    n = s.height

    def share(mask: pl.Series) -> float | None:
        return 100 * float(mask.sum()) / n if n else None

    mode = s["mode"]
    located = s["board_seq"].is_not_null() | (mode == "METRO")
    alight_share = {}
    for label, code in (("Bus", "BUS"), ("Metro", "METRO"), ("ZonasPagas", "ZP")):
        # one column filtered, not the stages: `general` runs beside other outputs
        has_alight = s["has_alight"].filter(mode == code)
        alight_share[label] = 100 * float(has_alight.mean()) if has_alight.len() else None
    t = trips
    nt = t.height

    def tshare(mask: pl.Series) -> float | None:
        return 100 * float(mask.sum()) / nt if nt else None

    modes = _metro_in_trips(s)
    complete = t.select("t_start", "t_end", "ox", "oy", "dx", "dy").filter(t["last_has_alight"])
    dur = (complete["t_end"] - complete["t_start"]) / 60
    dist = ((complete["dx"] - complete["ox"]) ** 2 + (complete["dy"] - complete["oy"]) ** 2
            ).sqrt()
    pm = complete.filter((pl.col("t_start") >= 6.5 * 3600) & (pl.col("t_start") < 8.5 * 3600))
    pt = complete.filter((pl.col("t_start") >= 17.5 * 3600) & (pl.col("t_start") < 20 * 3600))

    def trip_means(frame: pl.DataFrame) -> list[object]:
        if not frame.height:
            return [0, None, None, None]
        d = ((frame["dx"] - frame["ox"]) ** 2 + (frame["dy"] - frame["oy"]) ** 2).sqrt()
        m = (frame["t_end"] - frame["t_start"]) / 60
        return [frame.height, float(m.mean()), float(d.mean()),
                float(d.mean()) / 1000 / max(float(m.mean()) / 60, 1e-9)]

    ts = s["t"]
    in_pm = (ts >= 6.5 * 3600) & (ts < 8.5 * 3600)
    in_pt = (ts >= 17.5 * 3600) & (ts < 20 * 3600)
    ta = s["t_alight"]
    stops = network.route_stops["stop"].unique()
    classes = stops.str.slice(0, 1)
    board_class = s["board_stop"].cast(pl.String).str.slice(0, 1)
    top_metro = s.select("bst_unique").filter(mode == "METRO").group_by("bst_unique").len(
    ).sort(["len", "bst_unique"], descending=[True, False]).head(10)
    top_bus = s.select("board_stop").drop_nulls().group_by("board_stop").len().sort(
        ["len", "board_stop"], descending=[True, False]).head(10)
    row: dict[str, object] = {
        "Fecha": day.isoformat(), "TipoDia": network.day_type, "version": version,
        "nExpediciones": e.height,
        "minTiempoExpediciones": float(minutes.min()) if e.height else None,
        "maxTiempoExpediciones": float(minutes.max()) if e.height else None,
        "mediaTiempoExpediciones": float(minutes.mean()) if e.height else None,
        "nPatentes": e["plate_key"].n_unique(), "nGPS": gps_rows,
        "mediaTiempoEntreGPS": float(gaps.mean()) if gaps.len() else None,
        "nGPSConServicio": fleet.counts.get("gps_with_service"),
        "nGPSSinServicio": fleet.counts.get("gps_without_service"),
        "nTrxTotales": n, "nTrxTotalesBus(%)": share(mode == "BUS"),
        "nTrxTotalesMetro(%)": share(mode == "METRO"), "nTrxTotalesMetroTren(%)": 0.0,
        "nTrxTotalesZonasPagas(%)": share(mode == "ZP"), "nTarjetas": s["card"].n_unique(),
        "nTrxsConServicio": int(located.sum()), "nTrxsSinServicio": int((~located).sum()),
        "nEtapasConBajadaBus(%)": alight_share["Bus"],
        "nEtapasConBajadaMetro(%)": alight_share["Metro"],
        "nEtapasConBajadaZonasPagas(%)": alight_share["ZonasPagas"],
        "nViajes": nt,
        **{f"nViajes{k}E(%)": tshare(t["n_stages"] == k) for k in range(1, 5)},
        "nViajes5E(%)": tshare(t["n_stages"] >= 5),
        "nViajesSoloMetro(%)": tshare(modes["only"]),
        "nViajesConAlgunaEtapaEnMetro(%)": tshare(modes["some"]),
        "nViajesSinBajadaFinal(%)": tshare(~t["last_has_alight"]),
        "tViajeTotal": float(dur.mean()) if complete.height else None,
        "dViajeTotal": float(dist.mean()) if complete.height else None,
        "vViajeTotal": (float(dist.mean()) / 1000 / max(float(dur.mean()) / 60, 1e-9)
                        if complete.height else None),
        "nTrxPM(%)": share(in_pm), "nTrxPT(%)": share(in_pt),
        "nBajadas": int(ta.is_not_null().sum()),
        "nBajadasPM": int((ta.is_not_null() & in_pm).sum()),
        "nBajadasPT": int((ta.is_not_null() & in_pt).sum()),
        **{f"nParadas{c}": int((classes == c).sum()) for c in "ETLI"},
        **{f"nTrx{c}(%)": share(board_class == c) for c in "ETLI"},
    }
    for name, values in zip(("nViajeMediaPM", "tViajeMediaPM", "dViajeMediaPM", "vViajeMediaPM"),
                            trip_means(pm), strict=True):
        row[name] = values
    for name, values in zip(("nViajeMediaPT", "tViajeMediaPT", "dViajeMediaPT", "vViajeMediaPT"),
                            trip_means(pt), strict=True):
        row[name] = values
    for i, (name, count) in enumerate(top_metro.rows(), start=1):
        row[f"par{i}"], row[f"trx{i}"] = name, count
    for i, (name, count) in enumerate(top_bus.rows(), start=1):
        row[f"parBus{i}"], row[f"trx{i}_"] = name, count
    # one typed column per value (text, integer or float); a missing value is a null
    return pl.DataFrame({k: pl.Series(k, [v], dtype=_dtype(v)) for k, v in row.items()})


def mean_ping_gaps(pings: pl.DataFrame) -> pl.Series:
    """Each expedition's mean time between pings (its pings are sorted by time): the gaps add
    up to last minus first."""
    exp, t = pings["exp"].to_numpy(), pings["t"].to_numpy().astype(np.float64)
    if not exp.size:
        return pl.Series("g", [], dtype=pl.Float64)
    first = np.flatnonzero(np.concatenate(([True], exp[1:] != exp[:-1])))
    last = np.append(first[1:], exp.size) - 1
    several = last > first
    return pl.Series("g", (t[last] - t[first])[several] / (last - first)[several])


def _metro_in_trips(s: pl.DataFrame) -> dict[str, pl.Series]:
    """Per trip (its stages are consecutive rows, the first with stage_in_trip 1): whether
    every stage is by metro, and whether any is."""
    metro = (s["mode"] == "METRO").cast(pl.Int64).to_numpy()
    first = np.flatnonzero(s["stage_in_trip"].to_numpy() == 1)
    if not first.size:
        return {"only": pl.Series([], dtype=pl.Boolean), "some": pl.Series([], dtype=pl.Boolean)}
    count = np.add.reduceat(metro, first)
    size = np.diff(np.append(first, metro.size))
    return {"only": pl.Series(count == size), "some": pl.Series(count > 0)}


def _dtype(value: object) -> pl.DataType:
    if isinstance(value, bool | int):
        return pl.Int64()
    if isinstance(value, float):
        return pl.Float64()
    return pl.String()
