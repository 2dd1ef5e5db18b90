"""Write a synthetic day in the real file names and layouts, plus its ground truth.

Files: `YYYY-MM-DD.po.zip`, `Diccionario-DetalleServicioZP_YYYYMMDD_YYYYMMDD.csv.gz`,
`YYYY-MM-DD.gps.gz`, `YYYY-MM-DD.196.gz`, `YYYY-MM-DD.trx.gz` and `YYYY-MM-DD.truth.parquet`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from ..formats.inputs import (
    format_times,
    write_gps,
    write_runs,
    write_service_detail,
    write_transactions,
)
from ..geo import to_latlon
from ..params import ParFile
from ..po import po_member, write_po_zip
from ..resolve import daily_key, po_key, service_detail_key
from .city import City
from .demand import Demand
from .operations import Operations

CONSOLIDADO_HEADER = (
    "OrdenCirc;Código TS;Código Usuario;Sentido Servicio;Varian-te;UN;Código paradero TS;"
    "Código  paradero Usuario;Comuna;Eje;Desde ( Cruce 1);Hacia ( Cruce 2);x;y;Nombre Paradero;"
    "Operación con Zona Paga;Paradas con Excepciones")
BASEINFRA_HEADER = (
    "Código paradero TS;Código paradero Usuario;Clase;Estado;Sentido;Tipo;Refugio;Zona Paga;"
    "Comuna;Eje;Desde;Hacia;x;y;Nombre Paradero")
SERVICES_HEADER = (
    "ROUTE_ID;ROUTE_NAME;SERVICE_NA;UN;OP_NOC;DIST;PO_MOD;SENTIDO;COD_USUARI;COD_TS;COD_SINSER;"
    "COD_SINRUT;COD_USUSEN;TIPO_SERV;FREC_PM;FREC_PT;PLAZAS_PM;PLAZAS_PT;SEL_PM;SEL_PT;SEN1;VALIDA")
FLEET_HEADER = (
    "FOLIO;UN;PLACA;PRIMERA;INGRESA;TIPO_FLOTA;MARCA;MODELO;MARCA_C;MODELO_C;AÑO;PLAZAS;TIPO_VEH;"
    "NORMA;Filtro_FAB_INC;Fecha_Instalación_Filtro_INC;Marca_Filtro_INC")
METRO_HEADER = ("CODIGOTRX;COMUNA;LATITUD;LONGITUD;LINEA;ESTANDAR;TIPO;ESTANDAR_ESTACION_UNICA;"
                "CODIGO;COLOR")

#: Diccionario-PeriodosTS as published (29 periods, IDs 30-58)
PERIODS = (
    (30, "LABORAL", "01 - PRE NOCTURNO", "0:00:00", "0:59:59", "1"),
    (31, "LABORAL", "02 - NOCTURNO", "1:00:00", "5:29:59", "4.5"),
    (32, "LABORAL", "03 - TRANSICION NOCTURNO", "5:30:00", "6:29:59", "1"),
    (33, "LABORAL", "04 - PUNTA MANANA", "6:30:00", "7:59:59", "1.5"),
    (34, "LABORAL", "05 - TRANSICION PUNTA MANANA", "8:00:00", "9:29:59", "1.5"),
    (35, "LABORAL", "06 - FUERA DE PUNTA MANANA", "9:30:00", "12:29:59", "3"),
    (36, "LABORAL", "07 - PUNTA MEDIODIA", "12:30:00", "13:59:59", "1.5"),
    (37, "LABORAL", "08 - FUERA DE PUNTA TARDE", "14:00:00", "16:29:59", "2.5"),
    (38, "LABORAL", "09 - PUNTA TARDE1", "16:30:00", "18:29:59", "2"),
    (39, "LABORAL", "10 - PUNTA TARDE2", "18:30:00", "20:29:59", "2"),
    (40, "LABORAL", "11 - FUERA DE PUNTA NOCTURNO", "20:30:00", "22:59:59", "2.5"),
    (41, "LABORAL", "12 - PRE NOCTURNO", "23:00:00", "23:59:59", "1"),
    (42, "SABADO", "01 - PRE NOCTURNO SABADO", "0:00:00", "0:59:59", "1"),
    (43, "SABADO", "02 - NOCTURNO SABADO", "1:00:00", "5:29:59", "4.5"),
    (44, "SABADO", "03 - TRANSICION SABADO MANANA", "5:30:00", "6:29:59", "1"),
    (45, "SABADO", "04 - PUNTA MANANA SABADO", "6:30:00", "10:59:59", "4.5"),
    (46, "SABADO", "05 - MANANA SABADO", "11:00:00", "13:29:59", "2.5"),
    (47, "SABADO", "06 - PUNTA MEDIODIA SABADO", "13:30:00", "17:29:59", "4"),
    (48, "SABADO", "07 - TARDE SABADO", "17:30:00", "20:29:59", "3"),
    (49, "SABADO", "08 - TRANSICION SABADO NOCTURNO", "20:30:00", "22:59:59", "2.5"),
    (50, "SABADO", "09 - PRE NOCTURNO SABADO", "23:00:00", "23:59:59", "1"),
    (51, "DOMINGO", "01 - PRE NOCTURNO DOMINGO", "0:00:00", "0:59:59", "1"),
    (52, "DOMINGO", "02 - NOCTURNO DOMINGO", "1:00:00", "5:29:59", "4.5"),
    (53, "DOMINGO", "03 - TRANSICION DOMINGO MANANA", "5:30:00", "9:29:59", "4"),
    (54, "DOMINGO", "04 - MANANA DOMINGO", "9:30:00", "13:29:59", "4"),
    (55, "DOMINGO", "05 - MEDIODIA DOMINGO", "13:30:00", "17:29:59", "4"),
    (56, "DOMINGO", "06 - TARDE DOMINGO", "17:30:00", "20:59:59", "3.5"),
    (57, "DOMINGO", "07 - TRANSICION DOMINGO NOCTURNO", "21:00:00", "22:59:59", "2"),
    (58, "DOMINGO", "08 - PRE NOCTURNO DOMINGO", "23:00:00", "23:59:59", "1"),
)
WEEKDAYS = ("LUNES", "MARTES", "MIERCOLES", "JUEVES", "VIERNES", "SABADO", "DOMINGO")


@dataclass(frozen=True)
class DayFiles:
    """The object names written for one synthetic day."""

    po: str
    service_detail: str
    gps: str
    runs: str
    transactions: str
    truth: str


def _laid_out(frame: pl.DataFrame, *items: str | pl.Expr) -> pl.DataFrame:
    """Select output columns in order; names are positional, so duplicates are allowed."""
    return frame.select([(pl.col(item) if isinstance(item, str) else item).alias(f"c{i}")
                         for i, item in enumerate(items)])


def _csv(frame: pl.DataFrame, header: str) -> str:
    return header + "\n" + frame.write_csv(separator=";", include_header=False,
                                           quote_style="never")


def po_files(city: City, day: date) -> dict[str, str]:
    """Every PO file the engine reads, with the real headers, keyed by archive path."""
    routes = city.routes
    rs = city.route_stops.join(routes.select("route_idx", "user", "direction", "operator"),
                               on="route_idx").join(
        city.stops.select("stop", "user_code", "name", "comuna"), on="stop")
    zp_stops = city.zonas_pagas["stop"].implode()
    consolidado = _laid_out(rs.sort("route_idx", "seq"),
        "seq", pl.col("user").alias("ts"), "user",
        pl.col("direction").replace_strict({"I": "Ida", "R": "Ret"}), pl.lit("").alias("var"),
        "operator", "stop", "user_code", "comuna",
        pl.col("name").str.split(" / esq. ").list.first().alias("eje"),
        pl.col("name").str.split(" / esq. ").list.last().alias("desde"),
        pl.lit("").alias("hacia"), pl.col("x").round(2), pl.col("y").round(2), "name",
        pl.when(pl.col("stop").is_in(zp_stops)).then(pl.lit("Zona Paga")).otherwise(pl.lit(""))
        .alias("zp"), pl.lit("").alias("exc"))
    infra = _laid_out(city.stops.sort("stop"),
        "stop", "user_code", "cls", pl.lit("Activo").alias("estado"), pl.lit("").alias("s"),
        pl.lit("Paradero").alias("tipo"), pl.lit("").alias("r"),
        pl.when(pl.col("stop").is_in(zp_stops)).then(pl.lit("SI")).otherwise(pl.lit("NO")),
        "comuna", pl.col("name").str.split(" / esq. ").list.first().alias("eje"),
        pl.col("name").str.split(" / esq. ").list.last().alias("desde"), pl.lit("").alias("h"),
        pl.col("x").round(2), pl.col("y").round(2), "name")
    freq = city.fleet.group_by("service").len()
    services = _laid_out(routes.join(freq, left_on="base", right_on="service", how="left").sort(
        "route_idx"),
        (pl.col("route_idx") + 1).alias("id"), "route", (pl.col("user") + " " + pl.col(
            "direction")).alias("name"), "operator", pl.concat_str(pl.lit("U"), "operator"),
        (pl.col("length") / 1000).round(2), pl.lit("PO").alias("mod"), "direction", "user",
        pl.col("user").alias("ts"), "base", "route", (pl.col("user") + pl.col("direction")),
        pl.lit("NORMAL"), pl.col("len").fill_null(0), pl.col("len").fill_null(0),
        (pl.col("len").fill_null(0) * 100), (pl.col("len").fill_null(0) * 100), pl.lit(0),
        pl.lit(0), pl.col("direction").replace_strict({"I": "IDA", "R": "REGRESO"}), pl.lit(1))
    shapes = city.shapes.join(routes.select("route_idx", "route"), on="route_idx").sort(
        "route_idx", "point").select("point", "route", pl.col("x").round(2), pl.col("y").round(2))
    fleet = _laid_out(city.fleet.with_row_index("folio", offset=1),
        "folio", "operator", pl.col("plate").str.replace("-", ""), pl.lit(day.year - 3),
        pl.lit(day.year - 3), pl.lit("BASE"), pl.lit("MARCA"), pl.lit("MODELO"),
        pl.lit("CARROCERIA"), pl.lit("MODELO C"), pl.lit(day.year - 3), "capacity",
        "vehicle_type", pl.lit("EURO VI"), pl.lit("NO"), pl.lit(""), pl.lit(""))
    lat, lon = to_latlon(city.stations["x"].to_numpy(), city.stations["y"].to_numpy())
    metro = _laid_out(city.stations.sort("station_idx"),
        "trx_name", "comuna", pl.Series(np.round(lat, 6)), pl.Series(np.round(lon, 6)), "line",
        "standard", "type", "unique", "code", "color")
    lines = city.metro_lines.join(city.stations.select("station_idx", "standard"),
                                  on="station_idx").sort("line", "order").select(
        "line", "order", "standard")
    transfers = city.transfers.join(
        city.stations.select(pl.col("station_idx").alias("station_a"),
                             pl.col("standard").alias("a")), on="station_a",
        maintain_order="left").join(
        city.stations.select(pl.col("station_idx").alias("station_b"),
                             pl.col("standard").alias("b")), on="station_b",
        maintain_order="left").select("a", "b")
    zones = _laid_out(city.zones, "zone", pl.col("x").round(1), pl.col("y").round(1),
                              pl.concat_str(pl.lit("ZONA "), "zone"), pl.lit(777))
    files = {
        ("Paraderos", "ConsolidadoParadas"): _csv(consolidado, CONSOLIDADO_HEADER),
        ("Paraderos", "BaseInfra"): _csv(infra, BASEINFRA_HEADER),
        ("Rutas", "ShapeRutas"): _csv(shapes, "ID;ROUTE_NAME;X-Coordinate;Y-Coordinate"),
        ("Diccionario", "Diccionario-Servicios"): _csv(services, SERVICES_HEADER),
        ("Diccionario", "Diccionario-Comunas"): _csv(city.comunas, "ID;NOMBRE"),
        ("Diccionario", "Diccionario-PeriodosTS"): _csv(
            pl.DataFrame(list(PERIODS), orient="row"), "ID;TIPODIA;PERIODO;HORAINI;HORAFIN;HORAS"),
        ("Diccionario", "Diccionario-Patentes"): _csv(fleet, FLEET_HEADER),
        ("Diccionario", "Diccionario-EstacionesMetro"): _csv(metro, METRO_HEADER),
        ("Diccionario", "Diccionario-Zonificaciones"): _csv(
            zones, "ID_POLIGONO;X;Y;NOMBRE_ZONA;ID_ZONIFICACION"),
        ("Diccionario", "Diccionario_Tipo_dia"): _calendar(day.year),
        ("Metro", "Combinacion"): _csv(transfers, "ESTACION_1;ESTACION_2"),
    }
    out = {po_member(day, folder, stem): text for (folder, stem), text in files.items()}
    out[po_member(day, "Metro", "Lineas", "txt")] = _csv(lines, "LINEA;ORDEN;ESTACION")
    return out


def _calendar(year: int) -> str:
    """Day type per date: weekdays LABORAL, Saturdays SABADO, Sundays DOMINGO (no holidays)."""
    rows = []
    # by ordinal, so that the last day of year 9999 does not step past date.max
    for ordinal in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1):
        day = date.fromordinal(ordinal)
        weekday = day.weekday()
        kind = "LABORAL" if weekday < 5 else ("SABADO" if weekday == 5 else "DOMINGO")
        rows.append(f"{year};{day.month};{day.isoformat()};{kind};{WEEKDAYS[weekday]};")
    return "Ano;Mes;Fecha;Tipo_Dia;dia;Observacion\n" + "\n".join(rows) + "\n"


def write_day(city: City, ops: Operations, demand: Demand, day: date, par: ParFile,
              folder: Path) -> DayFiles:
    """Write every input of `day` into `folder` under its real object name."""
    folder.mkdir(parents=True, exist_ok=True)
    names = DayFiles(
        po=po_key(day),
        service_detail=service_detail_key(day - timedelta(days=day.day - 1),
                                          day + timedelta(days=min(27, (date.max - day).days))),
        gps=daily_key(day, "gps"), runs=daily_key(day, "196"),
        transactions=daily_key(day, "trx"), truth=f"{day.isoformat()}.truth.parquet")
    write_po_zip(po_files(city, day), folder / names.po)
    zp = _laid_out(
        city.zonas_pagas, "zp", "validator", "stop", pl.lit(""), pl.col("x").round(2),
        pl.col("y").round(2),
        "comuna", "name", "mixed", "operators", "services")
    write_service_detail(zp, folder / names.service_detail)
    pings = ops.pings
    gps = pings.select("plate", pl.Series("time", format_times(pings["t"].to_numpy(), day)),
                       "lat", "lon")
    write_gps(gps, par, folder / names.gps)
    runs = ops.runs.join(city.routes.select("route_idx", "route", "length"),
                         on="route_idx").sort("start", "run_id")
    runs = runs.select(
        "operator", "plate", pl.col("route").alias("service"),
        pl.Series("start", format_times(np.round(runs["start"].to_numpy()), day)),
        pl.Series("end", format_times(np.round(runs["end"].to_numpy()), day)),
        (pl.col("length") / (pl.col("end") - pl.col("start")) * 3.6).round(2).alias("speed"),
        pl.lit("C").alias("fulfillment"))
    write_runs(runs, par, folder / names.runs)
    trx = demand.transactions.sort("t", "card")
    trx = trx.select("card", pl.Series("time", format_times(trx["t"].to_numpy(), day)), "site",
                     "operator")
    write_transactions(trx, par, folder / names.transactions)
    demand.truth.write_parquet(folder / names.truth)
    return names
