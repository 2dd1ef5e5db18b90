"""Readers and writers of the day inputs: GPS, transactions, the 1.96 report, zona-paga detail.

Column positions come from the parameter file (its "ADATRAP" or "Online" layout). Readers return
typed frames plus a count of unusable rows per reason; the rows themselves are dropped, never the
file. Times become seconds since midnight of the processing day (local time, as in the files).
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from ..geo import LAT_RANGE, LON_RANGE, to_utm
from ..params import ParFile
from .delimited import (
    decimal,
    is_datetime_text,
    is_number_text,
    positional_frame,
    read_positional,
)

Rejects = dict[str, int]

GPS_HEADERS = {"plate": "patente", "time": "tiempo", "lat": "latitud", "lon": "longitud"}
TRX_HEADERS = {"card": "id", "time": "tiempo", "site": "sitio", "operator": "operador",
               "type": "tipo", "service": "servicio", "direction": "sentido",
               "contract": "contrato"}
RUNS_HEADERS = {"operator": "unidad_negocio", "plate": "patente", "service": "servicio",
                "start": "fecha_hora_inicio", "end": "fecha_hora_fin", "speed": "velocidad_media",
                "fulfillment": "cumplimiento"}
SERVICE_DETAIL_HEADER = ("Código ZP;Patente;Código Parada TS_1;Código Parada TS_2;X;Y;Comuna;"
                         "Nombre Parada;Mixta;Unidades;Servicios")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def gps_positions(par: ParFile) -> dict[str, int | None]:
    return {"plate": par.column("gps_plate"), "time": par.column("gps_time"),
            "lat": par.column("gps_lat"), "lon": par.column("gps_lon")}


def trx_positions(par: ParFile) -> dict[str, int | None]:
    names = ("card", "site", "time", "operator", "type", "service", "direction", "contract")
    return {n: par.column(f"trx_{n}") for n in names}


def runs_positions(par: ParFile) -> dict[str, int | None]:
    names = ("operator", "plate", "service", "start", "end", "speed", "fulfillment")
    return {n: par.column(f"runs_{n}") for n in names}


def plate_key(column: str) -> pl.Expr:
    """Plates are compared without dashes or spaces: `ZN-6220` and `ZN6220` are one bus."""
    return (pl.col(column).str.replace_all("-", "", literal=True)
            .str.replace_all(" ", "", literal=True).str.to_uppercase())


def seconds_of_day(column: str, day: date) -> pl.Expr:
    """Seconds since the day's midnight, null when unparseable (negative/over a day = other day)."""
    return _seconds_since(pl.col(column), day)


def _seconds_since(text: pl.Expr, day: date) -> pl.Expr:
    parsed = text.str.to_datetime(TIME_FORMAT, strict=False)
    midnight = pl.lit(day).cast(pl.Datetime("us"))
    return (parsed - midnight).dt.total_seconds()


def _iso_seconds_of_day(column: str, day: date) -> pl.Expr:
    """`seconds_of_day` of times as other tools write them: `T` between date and time, a
    fraction of a second (dropped), spaces around. A zone offset or `Z` stays unreadable:
    the inputs are local times, and a guess would move every row by hours."""
    text = (pl.col(column).str.strip_chars()
            .str.replace(r"^(\d{4}-\d{2}-\d{2})T", "${1} ")
            .str.replace(r"(:\d{2})\.\d+$", "${1}"))
    return _seconds_since(text, day)


def _with_seconds_of_day(frame: pl.DataFrame, column: str, day: date, alias: str
                        ) -> pl.DataFrame:
    """`frame` with `alias` = `seconds_of_day(column)`; the rows it cannot read are read
    again as ISO times (a second pass only when some row needs it)."""
    frame = frame.with_columns(seconds_of_day(column, day).alias(alias))
    if not frame[alias].null_count():
        return frame
    return frame.with_columns(pl.col(alias).fill_null(_iso_seconds_of_day(column, day)))


def _count(rejects: Rejects, reason: str, mask: pl.Series) -> None:
    n = int(mask.sum())
    if n:
        rejects[reason] = rejects.get(reason, 0) + n


def _repeated(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """Rows repeating the `columns` of an earlier row. A pass over their hashes nearly always
    shows there is none, at a third of the cost of the exact pass (1 s for 11 M GPS pings)."""
    key = pl.struct(columns)
    if frame.select(key.hash().n_unique()).item() == frame.height:
        return pl.Series(np.zeros(frame.height, dtype=bool))
    return ~frame.select(key.is_first_distinct()).to_series()


def _split_time(frame: pl.DataFrame, column: str, day: date, rejects: Rejects,
                label: str) -> pl.DataFrame:
    frame = _with_seconds_of_day(frame, column, day, "_t")
    bad_parse = frame["_t"].is_null()
    _count(rejects, f"{label}: unreadable time", bad_parse)
    outside = ~bad_parse & ((frame["_t"] < 0) | (frame["_t"] >= 86400))
    _count(rejects, f"{label}: time outside the day", outside)
    return frame.filter(~bad_parse & ~outside)


def read_gps(path: Path, par: ParFile, day: date) -> tuple[pl.DataFrame, Rejects]:
    """GPS pings -> plate, plate_key, t (s), x, y (UTM 19S)."""
    rejects: Rejects = {}
    raw = read_positional(path, gps_positions(par), name=path.name, probe="time",
                          is_value=is_datetime_text, strip=False, rejects=rejects, label="gps",
                          headers=GPS_HEADERS)
    missing = raw["plate"].is_null() | (raw["plate"] == "")
    _count(rejects, "gps: missing plate", missing)
    frame = _split_time(raw.filter(~missing), "time", day, rejects, "gps")
    frame = frame.with_columns(decimal("lat"),
                               decimal("lon"))
    lat, lon = frame["lat"], frame["lon"]
    impossible = (lat.is_null() | lon.is_null() | (lat < LAT_RANGE[0]) | (lat > LAT_RANGE[1])
                  | (lon < LON_RANGE[0]) | (lon > LON_RANGE[1]))
    _count(rejects, "gps: impossible coordinates", impossible)
    frame = frame.filter(~impossible).with_columns(plate_key("plate").alias("plate_key"))
    # a feed exported or concatenated twice: the day's ping figures would count each twice
    repeated = _repeated(frame, ["plate_key", "_t", "lat", "lon"])
    _count(rejects, "gps: ping listed again (same bus, second and position)", repeated)
    frame = frame.filter(~repeated)
    x, y = to_utm(frame["lat"].to_numpy(), frame["lon"].to_numpy())
    frame = frame.select(
        "plate", "plate_key", pl.col("_t").cast(pl.Int32).alias("t"),
        pl.Series("x", x), pl.Series("y", y))
    return frame, rejects


def read_transactions(path: Path, par: ParFile, day: date) -> tuple[pl.DataFrame, Rejects]:
    """Transactions -> card (Int64), t (s), site, operator."""
    rejects: Rejects = {}
    raw = read_positional(path, trx_positions(par), name=path.name, probe="time",
                          is_value=is_datetime_text, strip=False, rejects=rejects, label="trx",
                          headers=TRX_HEADERS)
    card = raw["card"].cast(pl.Int64, strict=False)
    missing = card.is_null() | raw["site"].is_null() | (raw["site"] == "")
    _count(rejects, "trx: missing card or site", missing)
    frame = _split_time(raw.with_columns(card.alias("card")).filter(~missing), "time", day,
                        rejects, "trx")
    frame = frame.select(
        "card", pl.col("_t").cast(pl.Int32).alias("t"), "site",
        pl.col("operator").cast(pl.Int32, strict=False).alias("operator"))
    frame = frame.sort("card", "t")
    repeated = (frame["card"] == frame["card"].shift(1)) & (frame["t"] == frame["t"].shift(1))
    _count(rejects, "trx: duplicate validation (same card and second)", repeated.fill_null(False))
    frame = frame.filter(~repeated.fill_null(False))
    return frame, rejects


def read_runs(path: Path, par: ParFile, day: date) -> tuple[pl.DataFrame, Rejects]:
    """The 1.96 report -> one row per expedition: operator, plate, service, start, end (s)."""
    rejects: Rejects = {}
    raw = read_positional(path, runs_positions(par), name=path.name, probe="start",
                          is_value=is_datetime_text, rejects=rejects, label="196",
                          headers=RUNS_HEADERS)
    frame = _with_seconds_of_day(_with_seconds_of_day(raw, "start", day, "start_s"), "end", day,
                                "end_s")
    unreadable = (frame["start_s"].is_null() | frame["end_s"].is_null()
                  | frame["plate"].is_null() | frame["service"].is_null())
    _count(rejects, "196: unreadable row", unreadable)
    frame = frame.filter(~unreadable)
    backwards = frame["end_s"] <= frame["start_s"]
    _count(rejects, "196: run ends before it starts", backwards)
    frame = frame.filter(~backwards)
    outside = (frame["end_s"] < 0) | (frame["start_s"] >= 86400)
    _count(rejects, "196: run outside the day", outside)
    frame = frame.filter(~outside).with_columns(plate_key("plate").alias("plate_key"))
    # a report exported or concatenated twice: one expedition would split its passengers
    repeated = ~frame.select(pl.struct("plate_key", "service", "start_s", "end_s")
                             .is_first_distinct()).to_series()
    _count(rejects, "196: run listed again (same bus, service and times)", repeated)
    frame = frame.filter(~repeated).select(
        pl.col("operator").cast(pl.Int32, strict=False), "plate", "plate_key", "service",
        pl.col("start_s").cast(pl.Int32).alias("start"), pl.col("end_s").cast(pl.Int32)
        .alias("end"), decimal("speed"),
        pl.col("fulfillment").fill_null("-"))
    return frame, rejects


def service_detail_positions(par: ParFile) -> dict[str, int | None]:
    names = ("code", "validator", "stop", "stop2", "x", "y", "comuna", "name", "mixed",
             "operators", "services")
    return {n: par.column(f"zp_{n}") for n in names}


def read_service_detail(path: Path, par: ParFile) -> pl.DataFrame:
    """Zona-paga detail (ISO-8859-1 as published; any encoding a spreadsheet saves it in is
    detected): one validator per row with its stop and service list."""
    raw = read_positional(path, service_detail_positions(par), name=path.name, probe="x",
                          is_value=is_number_text)
    return raw.with_columns(
        decimal("x"), decimal("y"),
        plate_key("validator").alias("validator_key"),
        pl.col("services").fill_null("").str.split("-").list.eval(
            pl.element().str.strip_chars()).list.filter(pl.element() != "").alias("service_list"),
    )


def write_gps(frame: pl.DataFrame, par: ParFile, path: Path) -> None:
    """Write pings (plate, time text, lat, lon) gzipped, at the parameter file's positions."""
    _write(frame, gps_positions(par), GPS_HEADERS, path)


def write_transactions(frame: pl.DataFrame, par: ParFile, path: Path) -> None:
    _write(frame, trx_positions(par), TRX_HEADERS, path)


def write_runs(frame: pl.DataFrame, par: ParFile, path: Path) -> None:
    _write(frame, runs_positions(par), RUNS_HEADERS, path)


def write_service_detail(frame: pl.DataFrame, path: Path) -> None:
    """Write the zona-paga detail as the real file: `;`, ISO-8859-1, gzipped (without a time
    in the gzip header, so the same frame gives the same bytes)."""
    body = frame.write_csv(separator=";", include_header=False, quote_style="never")
    text = (SERVICE_DETAIL_HEADER + "\n" + body).encode("latin-1")
    path.write_bytes(gzip.compress(text, compresslevel=6, mtime=0))


def _write(frame: pl.DataFrame, positions: dict[str, int | None], headers: dict[str, str],
           path: Path) -> None:
    present = {f: c for f, c in positions.items() if f in frame.columns}
    laid_out = positional_frame(frame, present, headers=headers)
    laid_out.write_csv(path, separator=";", quote_style="never", compression="gzip",
                       compression_level=1)


def format_times(seconds: np.ndarray, day: date) -> pl.Series:
    """Seconds since the day's midnight -> `YYYY-MM-DD HH:MM:SS` text."""
    base = pl.lit(day).cast(pl.Datetime("us"))
    frame = pl.DataFrame({"s": np.asarray(seconds, dtype=np.int64)})
    return frame.select((base + pl.duration(seconds=pl.col("s"))).dt.strftime(TIME_FORMAT)
                        ).to_series()
