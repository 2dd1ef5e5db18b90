"""The network of a day, read from the unpacked PO through the parameter file's paths/columns.

Required: the stop sequences (ConsolidadoParadas), the service dictionary and the TS periods.
Optional, with a logged fallback: route shapes (a polyline through the stops), metro stations,
lines and transfers (no metro), fleet (capacity `-`), zones (`-`), comunas, calendar (weekday).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from ..errors import InputFileError
from ..formats.delimited import decimal, is_number_text, read_positional
from ..formats.inputs import plate_key, read_service_detail
from ..geo import to_utm
from ..metro import MetroTiming, travel_times
from ..params import ParFile
from ..po import csv_bytes
from ..spatial import nearest, search_in_order

log = logging.getLogger(__name__)


@dataclass
class Network:
    route_stops: pl.DataFrame   # route_idx, seq, stop, user_stop, name, comuna, x, y, dist, zone
    routes: pl.DataFrame        # route_idx, route, user, direction, operator, length, n
    shapes: pl.DataFrame        # route_idx, x, y, dist
    stations: pl.DataFrame      # station_idx, trx_name, standard, unique, line, x, y, comuna, zone
    metro_times: np.ndarray     # seconds between stations (station_idx x station_idx)
    metro_lines: pl.DataFrame   # line, order, standard, station_idx
    zonas_pagas: pl.DataFrame   # validator_key, validator, stop, services (route_idx list)
    fleet: pl.DataFrame         # plate_key, capacity
    periods: pl.DataFrame       # id, day_type, name, start_s, end_s
    day_type: str
    zones: pl.DataFrame         # zone, x, y


def _file(root: Path, path: str) -> Path:
    return root / path


def _read(root: Path, par: ParFile, file_field: str, fields: dict[str, int | None], probe: str,
          *, required: bool) -> pl.DataFrame | None:
    path = _file(root, par.path(file_field))
    if not path.is_file():
        if required:
            raise InputFileError(f"PO file missing: {par.path(file_field)}",
                                 hint="the po.zip must contain it (see the app README)")
        log.warning("PO file missing, going on without it: %s", par.path(file_field))
        return None
    frame = read_positional(csv_bytes(path), fields, name=path.name, probe=probe,
                            is_value=is_number_text)
    if frame.is_empty():
        if required:
            raise InputFileError(f"{par.path(file_field)}: has no data row",
                                 hint="the po.zip must contain it filled in (see the app README)")
        # as a missing one: a header alone must not change the day's numbers without a word
        log.warning("PO file without a data row, going on without it: %s",
                    par.path(file_field))
        return None
    return frame


def _first_of_each(frame: pl.DataFrame, keys: list[str], what: str) -> pl.DataFrame:
    """`frame` with the first row of each `keys` value only, saying how many rows were left
    out: a row listed twice in a PO file would count a bus, a stop, a validation or a load
    twice."""
    kept = frame.unique(keys, keep="first", maintain_order=True)
    if kept.height < frame.height:
        log.warning("%s: %d left out (the first one is used)", what, frame.height - kept.height)
    return kept


def load_network(root: Path, par: ParFile, day: date, timing: MetroTiming) -> Network:
    """Read every PO file the engine uses; `root` is the folder the par's paths start from."""
    stops = _read(root, par, "stops_file", {
        "service": par.column("stops_service"), "direction": par.column("stops_direction"),
        "variant": par.column("stops_variant"), "stop": par.column("stops_code"),
        "user_stop": par.column("stops_user_code"), "comuna": par.column("stops_comuna"),
        "x": par.column("stops_x"), "y": par.column("stops_y"), "name": par.column("stops_name"),
        "seq": par.column("stops_sequence")}, "x", required=True)
    services = _read(root, par, "services_file", {
        "code": par.column("services_code"), "route_name": par.column("services_route"),
        "type": par.column("services_type"), "base": par.column("services_base")}, "code",
        required=True)
    assert stops is not None and services is not None
    # the sequence key is on a two-number line: user code column, then direction column
    seq_cols = par.values["services_sequence_code"]
    assert isinstance(seq_cols, tuple)
    keys = _read(root, par, "services_file", {"user": seq_cols[0],
                                              "direction": seq_cols[-1]}, "user",
                 required=True)
    assert keys is not None
    services = pl.concat([services, keys], how="horizontal").with_columns(
        pl.col("direction").str.slice(0, 1).str.to_uppercase())
    stops = stops.with_columns(
        decimal("x"), decimal("y"),
        pl.col("seq").cast(pl.Int32, strict=False),
        (pl.col("service") + pl.col("variant").fill_null("")).alias("user"),
        pl.col("direction").str.slice(0, 1).str.to_uppercase()
        .replace({"I": "I", "R": "R"}).alias("direction"))
    services = services.with_row_index("route_idx").with_columns(pl.col("route_idx").cast(
        pl.Int32)).rename({"code": "route"})
    route_stops = _first_of_each(stops.join(
        services.select("route_idx", "user", "direction"), on=["user", "direction"],
        maintain_order="left").drop_nulls(["x", "y", "seq"]), ["route_idx", "seq"],
        f"{par.path('stops_file')}: stop sequence rows repeating a service's position").sort(
        "route_idx", "seq", maintain_order=True)
    if route_stops.is_empty():
        raise InputFileError(f"{par.path('stops_file')}: no stop sequence matches the service "
                             f"dictionary", hint="check the service and direction columns")
    services = services.filter(pl.col("route_idx").is_in(route_stops["route_idx"].implode()))
    shapes = _shapes(root, par, services, route_stops)
    route_stops = _distance_along(route_stops, shapes)
    routes = services.join(route_stops.group_by("route_idx").agg(
        pl.len().alias("n")), on="route_idx").join(
        shapes.group_by("route_idx").agg(pl.col("dist").max().alias("length")), on="route_idx"
    ).sort("route_idx")
    stations, metro_lines, metro_times = _metro(root, par, timing)
    zones = _zones(root, par)
    route_stops = route_stops.with_columns(_zone_of(route_stops, zones))
    stations = stations.with_columns(_zone_of(stations, zones))
    zp = read_service_detail(_file(root, par.path("service_detail_file")), par)
    if zp.is_empty():
        log.warning("zona-paga service detail without a data row (%s): every zona-paga "
                    "validation is an unusable row", par.path("service_detail_file"))
    zp = zp.explode("service_list").join(
        services.select("route_idx", pl.col("route").alias("service_list")), on="service_list"
    ).group_by("validator_key", "validator", "stop").agg(
        pl.col("route_idx").unique().sort()).sort("validator_key", "stop")
    fleet = _read(root, par, "fleet_file", {"plate": par.column("fleet_plate"),
                                            "capacity": par.column("fleet_capacity")},
                  "capacity", required=False)
    fleet = (_first_of_each(fleet.select(plate_key("plate").alias("plate_key"),
                                         pl.col("capacity").cast(pl.Int32, strict=False)),
                            ["plate_key"], f"{par.path('fleet_file')}: plates listed again")
             if fleet is not None else pl.DataFrame(schema={"plate_key": pl.String,
                                                            "capacity": pl.Int32}))
    periods = _read(root, par, "periods_file", {
        "id": par.column("periods_id"), "day_type": par.column("periods_day_type"),
        "name": par.column("periods_name"), "start": par.column("periods_start"),
        "end": par.column("periods_end")}, "id", required=True)
    assert periods is not None
    periods = _readable_periods(periods, par.path("periods_file"))
    return Network(route_stops, routes, shapes, stations, metro_times, metro_lines, zp, fleet,
                   periods,
                   _day_type(root, par, day), zones)


def _readable_periods(periods: pl.DataFrame, path: str) -> pl.DataFrame:
    """The periods typed; a row whose id or times are not readable is left out, with a
    warning, and a file without one readable row is an error."""
    typed = periods.with_columns(
        pl.col("id").cast(pl.Int32, strict=False), _clock("start").alias("start_s"),
        _clock("end").alias("end_s"))
    readable = typed.drop_nulls(["id", "start_s", "end_s"])
    if readable.is_empty():
        raise InputFileError(f"{path}: no row has a readable ID, HORAINI and HORAFIN",
                             hint="the ID is an integer, the times HH:MM:SS")
    if readable.height < typed.height:
        log.warning("%s: %d rows without a readable ID, HORAINI or HORAFIN left out", path,
                    typed.height - readable.height)
    return readable


def _clock(column: str) -> pl.Expr:
    """`HH:MM:SS` as seconds; null when it is not that."""
    parts = pl.col(column).str.split(":")
    return sum(parts.list.get(i, null_on_oob=True).cast(pl.Int32, strict=False) * unit
               for i, unit in enumerate((3600, 60, 1)))


def _shapes(root: Path, par: ParFile, services: pl.DataFrame,
            route_stops: pl.DataFrame) -> pl.DataFrame:
    raw = _read(root, par, "shapes_file", {
        "route_name": par.column("shapes_route"), "x": par.column("shapes_x"),
        "y": par.column("shapes_y"), "point": par.column("shapes_sequence")}, "x", required=False)
    if raw is not None:
        shapes = raw.with_columns(decimal("x"),
                                  decimal("y"),
                                  pl.col("point").cast(pl.Int64, strict=False)).join(
            services.select("route_idx", "route_name"), on="route_name").drop_nulls()
    else:
        shapes = pl.DataFrame(schema={"route_idx": pl.Int32, "point": pl.Int64,
                                      "x": pl.Float64, "y": pl.Float64})
    have = shapes["route_idx"].unique()
    missing = route_stops.filter(~pl.col("route_idx").is_in(have.implode()))
    if missing.height:
        log.warning("%d routes have no shape; using the polyline through their stops",
                    missing["route_idx"].n_unique())
        shapes = pl.concat([shapes.select("route_idx", "point", "x", "y"), missing.select(
            "route_idx", pl.col("seq").cast(pl.Int64).alias("point"), "x", "y")])
    shapes = shapes.sort("route_idx", "point").select("route_idx", "x", "y")
    step = ((pl.col("x").diff() ** 2 + pl.col("y").diff() ** 2).sqrt()).over("route_idx")
    return shapes.with_columns(step.fill_null(0.0).cum_sum().over("route_idx").alias("dist"))


def project(px: np.ndarray, py: np.ndarray, route: np.ndarray, shapes: pl.DataFrame,
            radius: float, chunk: int = 250_000) -> tuple[np.ndarray, np.ndarray]:
    """Distance along `route` and distance off it for points (px, py); NaN beyond `radius`.

    Segments of every route are registered in the grid cells (side = radius) around them, so
    each point is only compared with the few segments of its own route in its cell. The look-up
    is a binary search over sorted (route, cell) keys; points go through in chunks to bound
    memory, two chunks at a time in threads (NumPy releases the GIL in its kernels).
    """
    seg = shapes.with_columns(
        pl.col("x").shift(-1).over("route_idx").alias("x1"),
        pl.col("y").shift(-1).over("route_idx").alias("y1"),
    ).drop_nulls("x1").with_row_index("seg")
    cells = seg.select(
        "seg", "route_idx",
        pl.int_ranges((pl.min_horizontal("x", "x1") / radius).floor().cast(pl.Int64) - 1,
                      (pl.max_horizontal("x", "x1") / radius).floor().cast(pl.Int64) + 2)
        .alias("cx"),
        pl.int_ranges((pl.min_horizontal("y", "y1") / radius).floor().cast(pl.Int64) - 1,
                      (pl.max_horizontal("y", "y1") / radius).floor().cast(pl.Int64) + 2)
        .alias("cy"),
    ).explode("cx").explode("cy").select(
        "seg", (pl.col("route_idx").cast(pl.Int64) * 1_000_000_000 + pl.col("cx") * 100_000
                + pl.col("cy")).alias("key")).sort("key", "seg")
    keys = cells["key"].to_numpy()
    seg_of = cells["seg"].to_numpy().astype(np.int64)
    sx0, sy0 = seg["x"].to_numpy(), seg["y"].to_numpy()
    vx, vy = seg["x1"].to_numpy() - sx0, seg["y1"].to_numpy() - sy0
    length = np.sqrt(vx * vx + vy * vy)
    length2 = np.maximum(length * length, 1e-9)
    dist0 = seg["dist"].to_numpy()
    along = np.full(px.size, np.nan)
    off = np.full(px.size, np.nan)

    def one_chunk(start: int) -> None:
        sl = slice(start, start + chunk)
        x, y = px[sl], py[sl]
        key = (route[sl].astype(np.int64) * 1_000_000_000
               + np.floor(x / radius).astype(np.int64) * 100_000
               + np.floor(y / radius).astype(np.int64))
        lo, hi = search_in_order(keys, key, "left", "right")
        counts = hi - lo
        point = np.repeat(np.arange(key.size), counts)
        within = np.arange(point.size) - np.repeat(np.cumsum(counts) - counts, counts)
        s = seg_of[np.repeat(lo, counts) + within]
        dx, dy = x[point] - sx0[s], y[point] - sy0[s]
        f = np.clip((dx * vx[s] + dy * vy[s]) / length2[s], 0.0, 1.0)
        d = np.hypot(dx - f * vx[s], dy - f * vy[s])
        best = np.full(key.size, np.inf)
        np.minimum.at(best, point, d)
        winner = d == best[point]
        chunk_along = np.full(key.size, np.nan)
        chunk_along[point[winner]] = dist0[s[winner]] + f[winner] * length[s[winner]]
        close = best <= radius
        along[sl] = np.where(close, chunk_along, np.nan)
        off[sl] = np.where(np.isfinite(best), best, np.nan)

    with ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        list(pool.map(one_chunk, range(0, px.size, chunk)))
    return along, off


def _distance_along(route_stops: pl.DataFrame, shapes: pl.DataFrame) -> pl.DataFrame:
    along, _ = project(route_stops["x"].to_numpy(), route_stops["y"].to_numpy(),
                       route_stops["route_idx"].to_numpy(), shapes, 500.0)
    frame = route_stops.with_columns(pl.Series("dist", along))
    # a stop that cannot be placed takes its predecessor's distance; then kept non-decreasing
    return frame.with_columns(pl.col("dist").forward_fill().fill_null(0.0).cum_max()
                              .over("route_idx"))


def _metro(root: Path, par: ParFile, timing: MetroTiming
           ) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    raw = _read(root, par, "metro_file", {
        "trx_name": par.column("metro_trx_name"), "standard": par.column("metro_standard"),
        "lat": par.column("metro_lat"), "lon": par.column("metro_lon"),
        "line": par.column("metro_line"), "comuna": par.column("metro_comuna"),
        "unique": par.column("metro_unique")}, "lat", required=False)
    empty = pl.DataFrame(schema={"station_idx": pl.Int64, "trx_name": pl.String,
                                 "standard": pl.String, "unique": pl.String, "line": pl.String,
                                 "comuna": pl.String, "x": pl.Float64, "y": pl.Float64})
    no_lines = pl.DataFrame(schema={"line": pl.String, "order": pl.Int32, "standard": pl.String,
                                    "station_idx": pl.Int64})
    if raw is None:
        return empty, no_lines, np.zeros((0, 0))
    # only exact repeats: one CODIGOTRX on two lines' rows may be how a real file lists a
    # transfer station, and each line needs its row
    raw = _first_of_each(raw, raw.columns, f"{par.path('metro_file')}: stations listed again")
    raw = raw.with_columns(decimal("lat"),
                           decimal("lon")).drop_nulls(
        ["lat", "lon"]).with_row_index("station_idx").with_columns(
        pl.col("station_idx").cast(pl.Int64), pl.col("unique").str.strip_chars())
    x, y = to_utm(raw["lat"].to_numpy(), raw["lon"].to_numpy())
    stations = raw.with_columns(pl.Series("x", x), pl.Series("y", y)).drop("lat", "lon")
    by_standard = stations.select("standard", "station_idx")
    lines_path = _file(root, par.path("metro_lines_file"))
    transfers_path = _file(root, par.path("metro_transfers_file"))
    if lines_path.is_file():
        lines = read_positional(csv_bytes(lines_path), {"line": 1, "order": 2, "standard": 3},
                                name=lines_path.name, probe="order", is_value=is_number_text)
        if lines.is_empty():
            log.warning("metro line sequences without a data row (%s); no metro travel times",
                        lines_path.name)
        lines = _readable_order(lines, lines_path.name).join(by_standard, on="standard")
    else:
        log.warning("metro line sequences missing (%s); no metro travel times", lines_path.name)
        lines = no_lines
    if transfers_path.is_file():
        pairs = read_positional(csv_bytes(transfers_path), {"a": 1, "b": 2},
                                name=transfers_path.name, probe="a",
                                is_value=lambda v: v not in ("ESTACION_1", "ESTACION1"))
        transfers = pairs.join(by_standard.rename({"standard": "a", "station_idx": "station_a"}),
                               on="a").join(by_standard.rename(
            {"standard": "b", "station_idx": "station_b"}), on="b")
    else:
        transfers = pl.DataFrame(schema={"station_a": pl.Int64, "station_b": pl.Int64})
    return stations, lines, travel_times(stations, lines, transfers, timing)


def _readable_order(lines: pl.DataFrame, name: str) -> pl.DataFrame:
    """Metro line sequences whose `ORDEN` is a whole number; the others left out, counted."""
    lines = lines.with_columns(pl.col("order").cast(pl.Int32, strict=False))
    unreadable = lines["order"].null_count()
    if unreadable:
        log.warning("%s: %d rows without a readable ORDEN left out", name, unreadable)
    return lines.drop_nulls("order")


def _zones(root: Path, par: ParFile) -> pl.DataFrame:
    raw = _read(root, par, "zones_file", {"zone": par.column("zones_id"),
                                          "x": par.column("zones_x"),
                                          "y": par.column("zones_y")}, "x", required=False)
    if raw is None:
        return pl.DataFrame(schema={"zone": pl.Int32, "x": pl.Float64, "y": pl.Float64})
    return raw.select(pl.col("zone").cast(pl.Int32, strict=False),
                      decimal("x"),
                      decimal("y")).drop_nulls()


def _zone_of(points: pl.DataFrame, zones: pl.DataFrame) -> pl.Series:
    if zones.is_empty() or points.is_empty():
        return pl.Series("zone", [None] * points.height, dtype=pl.Int32)
    index = nearest(points["x"].to_numpy(), points["y"].to_numpy(), zones["x"].to_numpy(),
                    zones["y"].to_numpy())
    return pl.Series("zone", zones["zone"].to_numpy()[index], dtype=pl.Int32)


def _day_type(root: Path, par: ParFile, day: date) -> str:
    path = _file(root, par.path("calendar_file"))
    if path.is_file():
        table = read_positional(csv_bytes(path), {"date": 3, "type": 4}, name=path.name,
                                probe="date", is_value=lambda v: v[:2].isdigit())
        match = table.filter(pl.col("date") == day.isoformat())
        if match.height:
            return str(match["type"][0])
    log.warning("calendar has no row for %s; day type from the weekday", day)
    return "LABORAL" if day.weekday() < 5 else ("SABADO" if day.weekday() == 5 else "DOMINGO")
