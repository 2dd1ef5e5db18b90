"""A synthetic city on a street grid in UTM 19S: stops, services, metro, zonas pagas, fleet.

Arterial streets run every `arterial_m` metres both ways. Bus stops stand every half block on both
sides of an arterial (one side per direction). A bus service follows an arterial, possibly
turning once (an L); its return direction runs the same streets backwards on the other side, so
each stop has a mirror across the street. Metro lines follow arterials underground with stations
at intersections; crossing lines share a transfer station.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl

from .names import COMUNAS, STREETS

ORIGIN_X = 328000.0  # south-west corner, UTM 19S (Santiago spans about 328-364 km E)
ORIGIN_Y = 6283000.0
SIDE_OFFSET_M = 12.0
METRO_LINES = ("L1", "L2", "L3", "L4", "L4A", "L5", "L6")
METRO_COLORS = ("R", "A", "C", "Z", "C", "V", "M")


@dataclass(frozen=True)
class Scale:
    """How big a synthetic city and day are."""

    width_m: float
    height_m: float
    arterial_m: float
    services: int
    metro_lines: int
    zonas_pagas: int
    buses: int
    cards: int
    zone_m: float


SCALES = {
    "tiny": Scale(6300, 5400, 900, 8, 1, 3, 60, 2500, 900),
    "small": Scale(12600, 10800, 900, 36, 2, 14, 420, 24000, 1200),
    "santiago": Scale(36000, 30600, 820, 380, 7, 250, 6500, 2110000, 1200),
}


@dataclass
class City:
    """Every network table the generator writes into the PO and uses to simulate a day."""

    scale: Scale
    stops: pl.DataFrame        # stop, user_code, name, comuna, x, y, cls
    routes: pl.DataFrame       # route_idx, route, base, user, direction, operator, length, n,
    #                            mirror (the other direction's route_idx)
    route_stops: pl.DataFrame  # route_idx, seq, stop, dist, x, y
    shapes: pl.DataFrame       # route_idx, point, x, y, dist
    stations: pl.DataFrame     # station_idx, trx_name, standard, unique, line, x, y, comuna, ...
    metro_lines: pl.DataFrame  # line, order, station_idx
    transfers: pl.DataFrame    # station_a, station_b (station_idx of a shared intersection)
    zonas_pagas: pl.DataFrame  # zp, validator, stop, x, y, comuna, name, mixed, operators, services
    fleet: pl.DataFrame        # plate, operator, capacity, vehicle_type, service (base code)
    zones: pl.DataFrame        # zone, x, y
    comunas: pl.DataFrame      # id, name


def _comuna_of(x: np.ndarray, y: np.ndarray, scale: Scale) -> np.ndarray:
    col = np.clip(((x - ORIGIN_X) / scale.width_m * 7).astype(int), 0, 6)
    row = np.clip(((y - ORIGIN_Y) / scale.height_m * 6).astype(int), 0, 5)
    return np.minimum(row * 7 + col, len(COMUNAS) - 1)


def build_city(scale: Scale, rng: np.random.Generator) -> City:
    """Lay out the network of a city of `scale`."""
    rows = int(scale.height_m // scale.arterial_m)
    cols = int(scale.width_m // scale.arterial_m)
    street_names = list(STREETS)
    rng.shuffle(street_names)
    row_names = [street_names[i % len(street_names)] for i in range(rows)]
    col_names = [street_names[(rows + j) % len(street_names)] for j in range(cols)]

    services = _service_paths(scale, rows, cols, rng)
    stop_table, route_stops, routes, shapes = _stops_and_routes(
        services, scale, rows, cols, row_names, col_names, rng)
    stations, lines, transfers = _metro(scale, rows, cols, row_names, col_names, rng)
    zonas = _zonas_pagas(scale, stop_table, route_stops, routes, stations, rng)
    stop_table = stop_table.with_columns(
        pl.when(pl.col("stop").is_in(zonas["stop"].implode()))
        .then(pl.concat_str(pl.lit("E"), pl.col("stop").str.slice(1)))
        .otherwise(pl.col("stop")).alias("stop_new"))
    rename = dict(zip(stop_table["stop"], stop_table["stop_new"], strict=True))
    stop_table = stop_table.drop("stop").rename({"stop_new": "stop"})
    route_stops = route_stops.with_columns(pl.col("stop").replace(rename))
    zonas = zonas.with_columns(pl.col("stop").replace(rename))
    fleet = _fleet(scale, routes, rng)
    zx = np.arange(ORIGIN_X + scale.zone_m / 2, ORIGIN_X + scale.width_m, scale.zone_m)
    zy = np.arange(ORIGIN_Y + scale.zone_m / 2, ORIGIN_Y + scale.height_m, scale.zone_m)
    gx, gy = np.meshgrid(zx, zy)
    zones = pl.DataFrame({"zone": np.arange(1, gx.size + 1), "x": gx.ravel(), "y": gy.ravel()})
    comunas = pl.DataFrame({"id": np.arange(len(COMUNAS)), "name": list(COMUNAS)})
    return City(scale, stop_table, routes, route_stops, shapes, stations, lines, transfers,
                zonas, fleet, zones, comunas)


def _service_paths(scale: Scale, rows: int, cols: int, rng: np.random.Generator) -> list[dict]:
    """Each service: start intersection, first leg along a row or a column, optional turn."""
    paths = []
    longest = min(36, int(0.8 * (rows + cols)))
    for index in range(scale.services):
        total = int(rng.uniform(0.4, 1.0) * longest)
        horizontal_first = bool(rng.random() < 0.5)
        straight = bool(rng.random() < 0.3)
        first = total if straight else max(2, int(total * rng.uniform(0.35, 0.7)))
        second = 0 if straight else max(2, total - first)
        i0, j0 = int(rng.integers(0, rows)), int(rng.integers(0, cols))
        if horizontal_first:
            step1 = 1 if cols - 1 - j0 >= j0 else -1
            j1 = int(np.clip(j0 + step1 * first, 0, cols - 1))
            step2 = 1 if rows - 1 - i0 >= i0 else -1
            i1 = int(np.clip(i0 + step2 * second, 0, rows - 1))
            corners = [(i0, j0), (i0, j1), (i1, j1)]
        else:
            step1 = 1 if rows - 1 - i0 >= i0 else -1
            i1 = int(np.clip(i0 + step1 * first, 0, rows - 1))
            step2 = 1 if cols - 1 - j0 >= j0 else -1
            j1 = int(np.clip(j0 + step2 * second, 0, cols - 1))
            corners = [(i0, j0), (i1, j0), (i1, j1)]
        corners = [c for k, c in enumerate(corners) if k == 0 or c != corners[k - 1]]
        if len(corners) < 2:
            corners = [(i0, j0), (i0, (j0 + 3) % cols if cols > 3 else j0 + 1)]
        paths.append({"index": index, "corners": corners})
    return paths


def _leg_stops(a_corner: tuple[int, int], b_corner: tuple[int, int],
               a: float) -> list[tuple[str, int, int, int]]:
    """Stops met going from one intersection to the next: (axis, line, k, sign)."""
    (i0, j0), (i1, j1) = a_corner, b_corner
    if i0 == i1:  # along row i0: stop k sits at x = a/4 + k a/2
        sign = 1 if j1 > j0 else -1
        ks = range(2 * j0 + 1, 2 * j1 + 1) if sign > 0 else range(2 * j0, 2 * j1, -1)
        return [("h", i0, k, sign) for k in ks]
    sign = 1 if i1 > i0 else -1
    ks = range(2 * i0 + 1, 2 * i1 + 1) if sign > 0 else range(2 * i0, 2 * i1, -1)
    return [("v", j0, k, sign) for k in ks]


def _stops_and_routes(services: list[dict], scale: Scale, rows: int, cols: int,
                      row_names: list[str], col_names: list[str], rng: np.random.Generator):
    a = scale.arterial_m
    stop_rows: dict[tuple, dict] = {}
    route_rows = []
    rs_rows: dict[str, list] = {"route_idx": [], "seq": [], "stop": []}
    shape_rows: dict[str, list] = {"route_idx": [], "point": [], "x": [], "y": []}
    operators = rng.integers(2, 9, size=len(services))
    numbers = rng.choice(np.arange(101, 101 + max(899, 2 * len(services))), size=len(services),
                         replace=False)
    cls_draw = rng.random(size=100000)

    def stop_key(axis: str, line: int, k: int, sign: int) -> tuple:
        key = (axis, line, k, sign)
        if key not in stop_rows:
            if axis == "h":
                x = ORIGIN_X + a / 4 + k * a / 2
                y = ORIGIN_Y + (line + 0.5) * a - sign * SIDE_OFFSET_M
                direction = "PO" if sign > 0 else "OP"
                street, street_no = row_names[line], 100 + line
                cross = col_names[min(int(k // 2), cols - 1)]
            else:
                x = ORIGIN_X + (line + 0.5) * a + sign * SIDE_OFFSET_M
                y = ORIGIN_Y + a / 4 + k * a / 2
                direction = "SN" if sign > 0 else "NS"
                street, street_no = col_names[line], 300 + line
                cross = row_names[min(int(k // 2), rows - 1)]
            comuna = int(_comuna_of(np.array([x]), np.array([y]), scale)[0])
            cls = "T" if cls_draw[len(stop_rows) % cls_draw.size] < 0.33 else "L"
            stop_rows[key] = {
                "stop": f"{cls}-{comuna}-{street_no}-{direction}-{5 * (k + 1)}",
                "name": f"{street} / esq. {cross}", "comuna": COMUNAS[comuna],
                "x": round(x, 2), "y": round(y, 2), "cls": cls,
            }
        return key

    route_idx = 0
    for service, operator, number in zip(services, operators, numbers, strict=True):
        corners = service["corners"]
        legs: list[tuple[str, int, int, int]] = []
        for c0, c1 in itertools.pairwise(corners):
            legs.extend(_leg_stops(c0, c1, a))
        for direction in ("I", "R"):
            sequence = legs if direction == "I" else [
                (axis, line, k, -sign) for axis, line, k, sign in reversed(legs)]
            path = corners if direction == "I" else list(reversed(corners))
            keys = [stop_key(*stop) for stop in sequence]
            for seq, key in enumerate(keys, start=1):
                rs_rows["route_idx"].append(route_idx)
                rs_rows["seq"].append(seq)
                rs_rows["stop"].append(stop_rows[key]["stop"])
            points = _shape_points(path, a)
            for p, (x, y) in enumerate(points, start=1):
                shape_rows["route_idx"].append(route_idx)
                shape_rows["point"].append(p)
                shape_rows["x"].append(round(x, 2))
                shape_rows["y"].append(round(y, 2))
            route_rows.append({
                "route_idx": route_idx, "route": f"T{number} 00{direction}",
                "base": f"T{number} 00", "user": str(number), "direction": direction,
                "operator": int(operator), "n": len(keys),
                "mirror": route_idx + 1 if direction == "I" else route_idx - 1,
            })
            route_idx += 1

    stops = pl.DataFrame(list(stop_rows.values()))
    stops = stops.with_row_index("n_").with_columns(
        (pl.lit("P") + pl.col("stop").str.slice(2, 1).replace_strict(
            {str(d): chr(65 + d) for d in range(10)}, default="K")
         + (pl.col("n_") + 1).cast(pl.String)).alias("user_code")).drop("n_")
    shapes = pl.DataFrame(shape_rows)
    shapes = shapes.with_columns(
        (pl.col("x").diff().pow(2) + pl.col("y").diff().pow(2)).sqrt().fill_null(0)
        .over("route_idx").alias("step"))
    shapes = shapes.with_columns(
        pl.when(pl.col("point") == 1).then(0.0).otherwise(pl.col("step")).cum_sum()
        .over("route_idx").alias("dist")).drop("step")
    routes = pl.DataFrame(route_rows).join(
        shapes.group_by("route_idx").agg(pl.col("dist").max().alias("length")), on="route_idx")
    route_stops = pl.DataFrame(rs_rows).join(stops.select("stop", "x", "y"), on="stop")
    route_stops = route_stops.sort("route_idx", "seq")
    route_stops = _distance_along(route_stops, shapes)
    return stops, route_stops, routes.sort("route_idx"), shapes


def _shape_points(path: list[tuple[int, int]], a: float) -> list[tuple[float, float]]:
    """Polyline through the path's intersections, a point every 100 m, on the travel side."""
    points: list[tuple[float, float]] = []
    for (i0, j0), (i1, j1) in itertools.pairwise(path):
        x0, y0 = ORIGIN_X + (j0 + 0.5) * a, ORIGIN_Y + (i0 + 0.5) * a
        x1, y1 = ORIGIN_X + (j1 + 0.5) * a, ORIGIN_Y + (i1 + 0.5) * a
        length = max(abs(x1 - x0), abs(y1 - y0))
        steps = max(1, int(length // 100))
        dx, dy = (x1 - x0) / length, (y1 - y0) / length
        # buses run on the right: the offset (dy, -dx) flips by itself on the way back
        ox, oy = dy * SIDE_OFFSET_M, -dx * SIDE_OFFSET_M
        for s in range(steps + 1):
            if points and s == 0:
                continue
            f = s / steps
            points.append((x0 + f * (x1 - x0) + ox, y0 + f * (y1 - y0) + oy))
    return points


def _distance_along(route_stops: pl.DataFrame, shapes: pl.DataFrame) -> pl.DataFrame:
    """Distance of each stop along its route: projection onto the nearest shape segment."""
    out = []
    for (route_idx,), stops in route_stops.group_by(["route_idx"], maintain_order=True):
        shape = shapes.filter(pl.col("route_idx") == route_idx)
        sx, sy, sd = (shape[c].to_numpy() for c in ("x", "y", "dist"))
        px, py = stops["x"].to_numpy()[:, None], stops["y"].to_numpy()[:, None]
        ax, ay, bx, by = sx[:-1], sy[:-1], sx[1:], sy[1:]
        vx, vy = bx - ax, by - ay
        seg_len2 = np.maximum(vx * vx + vy * vy, 1e-9)
        f = np.clip(((px - ax) * vx + (py - ay) * vy) / seg_len2, 0, 1)
        d2 = (ax + f * vx - px) ** 2 + (ay + f * vy - py) ** 2
        best = d2.argmin(axis=1)
        rows = np.arange(len(best))
        dist = sd[:-1][best] + f[rows, best] * np.sqrt(seg_len2[best])
        out.append(stops.with_columns(pl.Series("dist", np.maximum.accumulate(dist))))
    return pl.concat(out)


def _metro(scale: Scale, rows: int, cols: int, row_names: list[str], col_names: list[str],
           rng: np.random.Generator):
    a = scale.arterial_m
    line_stations: list[list[tuple[int, int]]] = []
    center_i, center_j = rows // 2, cols // 2
    for index in range(scale.metro_lines):
        horizontal = index % 2 == 0
        # lines pass near the centre and span most of the city, so they cross each other
        spread = max(1, min(rows, cols) // 6)
        offset = int(rng.integers(-spread, spread + 1))
        shift = int(rng.integers(-spread, spread + 1))
        if horizontal:
            i = int(np.clip(center_i + offset, 0, rows - 1))
            span = int(cols * rng.uniform(0.6, 0.9))
            j0 = int(np.clip(center_j - span // 2 + shift, 0, cols - span))
            cells = [(i, j) for j in range(j0, j0 + span)]
        else:
            j = int(np.clip(center_j + offset, 0, cols - 1))
            span = int(rows * rng.uniform(0.6, 0.9))
            i0 = int(np.clip(center_i - span // 2 + shift, 0, rows - span))
            cells = [(i, j) for i in range(i0, i0 + span)]
        line_stations.append(cells)
    # a station every one or two intersections, and always where lines cross
    counts: dict[tuple[int, int], int] = {}
    for cells in line_stations:
        for cell in cells:
            counts[cell] = counts.get(cell, 0) + 1
    station_rows = []
    line_rows = []
    by_cell: dict[tuple[int, int], list[int]] = {}
    for line_index, cells in enumerate(line_stations):
        line = METRO_LINES[line_index]
        keep = [c for k, c in enumerate(cells)
                if counts[c] > 1 or k in (0, len(cells) - 1) or rng.random() < 0.62]
        for order, (i, j) in enumerate(keep, start=1):
            horizontal = line_index % 2 == 0
            name = (col_names[j] if horizontal else row_names[i]).upper()
            x, y = ORIGIN_X + (j + 0.5) * a, ORIGIN_Y + (i + 0.5) * a
            transfer = counts[(i, j)] > 1
            station_idx = len(station_rows)
            station_rows.append({
                "station_idx": station_idx, "line": line, "cell": f"{i}-{j}",
                "standard": f"{name} {line}" if transfer else name, "unique": name,
                "trx_name": (f"{name.title()} {line}" if transfer else name.title()),
                "x": x, "y": y, "type": "TRASBORDO" if transfer else "NORMAL",
                "color": METRO_COLORS[line_index],
                "comuna": COMUNAS[int(_comuna_of(np.array([x]), np.array([y]), scale)[0])],
            })
            line_rows.append({"line": line, "order": order, "station_idx": station_idx})
            by_cell.setdefault((i, j), []).append(station_idx)
    stations = pl.DataFrame(station_rows)
    # names must be unique per cell: two intersections with the same street name get a suffix
    stations = stations.with_columns(
        pl.col("cell").rank("dense").over("unique").alias("_n"))
    stations = stations.with_columns(
        pl.when(pl.col("_n") > 1).then(pl.col("unique") + " " + pl.col("_n").cast(pl.String))
        .otherwise(pl.col("unique")).alias("unique_new"))
    stations = stations.with_columns(
        pl.when(pl.col("type") == "TRASBORDO")
        .then(pl.col("unique_new") + " " + pl.col("line"))
        .otherwise(pl.col("unique_new")).alias("standard"),
        pl.col("unique_new").alias("unique")).drop("_n", "unique_new")
    stations = stations.with_columns(
        pl.when(pl.col("type") == "TRASBORDO")
        .then(pl.col("unique").str.to_titlecase() + " " + pl.col("line"))
        .otherwise(pl.col("unique").str.to_titlecase()).alias("trx_name"),
        (pl.col("line") + "-" + pl.col("station_idx").cast(pl.String)).alias("code"))
    transfers = pl.DataFrame(
        [{"station_a": s, "station_b": t} for ids in by_cell.values() for s in ids for t in ids
         if s != t], schema={"station_a": pl.Int64, "station_b": pl.Int64})
    return stations, pl.DataFrame(line_rows), transfers


def _zonas_pagas(scale: Scale, stops: pl.DataFrame, route_stops: pl.DataFrame,
                 routes: pl.DataFrame, stations: pl.DataFrame,
                 rng: np.random.Generator) -> pl.DataFrame:
    """Zonas pagas at busy stops, preferring stops next to metro stations."""
    served = route_stops.group_by("stop").agg(pl.col("route_idx").alias("routes"),
                                              pl.len().alias("n_routes"))
    candidates = stops.join(served, on="stop", maintain_order="left").filter(
        pl.col("n_routes") >= 2)
    sx, sy = stations["x"].to_numpy(), stations["y"].to_numpy()
    cx, cy = candidates["x"].to_numpy(), candidates["y"].to_numpy()
    near = np.zeros(len(candidates), dtype=bool)
    for x, y in zip(sx, sy, strict=True):
        near |= np.hypot(cx - x, cy - y) < 400
    weight = np.where(near, 6.0, 1.0) * candidates["n_routes"].to_numpy()
    count = min(scale.zonas_pagas, len(candidates))
    chosen = rng.choice(len(candidates), size=count, replace=False, p=weight / weight.sum())
    picked = candidates[np.sort(chosen)]
    route_names = routes.select("route_idx", "route", "operator")
    rows = []
    for number, row in enumerate(picked.iter_rows(named=True), start=1):
        info = route_names.filter(pl.col("route_idx").is_in(row["routes"]))
        rows.append({
            "zp": number, "validator": f"RM-{number:04d}", "stop": row["stop"],
            "x": row["x"], "y": row["y"], "comuna": row["comuna"], "name": row["name"],
            "mixed": "SI" if rng.random() < 0.4 else "NO",
            "operators": "-".join(f"U{o}" for o in sorted(set(info["operator"]))),
            "services": "-".join(info["route"]),
        })
    return pl.DataFrame(rows)


def _fleet(scale: Scale, routes: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Buses per service in proportion to route length; plates of both real shapes."""
    services = routes.filter(pl.col("direction") == "I").select("base", "operator", "length")
    weights = services["length"].to_numpy()
    per_service = np.maximum(2, np.round(weights / weights.sum() * scale.buses)).astype(int)
    total = int(per_service.sum())
    letters = np.array(list("BCDFGHJKLPRSTVWXYZ"))
    old = rng.random(total) < 0.4
    plates = []
    seen: set[str] = set()
    while len(plates) < total:
        k = len(plates)
        if old[k]:
            plate = f"{''.join(rng.choice(letters, 2))}-{rng.integers(1000, 10000)}"
        else:
            plate = f"{''.join(rng.choice(letters, 4))}-{rng.integers(10, 100)}"
        if plate not in seen:
            seen.add(plate)
            plates.append(plate)
    capacity = rng.choice([90, 100, 110, 160], size=total, p=[0.3, 0.35, 0.2, 0.15])
    return pl.DataFrame({
        "plate": plates,
        "operator": np.repeat(services["operator"].to_numpy(), per_service),
        "capacity": capacity,
        "vehicle_type": np.where(capacity >= 160, "ARTICULADO", "RIGIDO"),
        "service": np.repeat(services["base"].to_numpy(), per_service),
    })
