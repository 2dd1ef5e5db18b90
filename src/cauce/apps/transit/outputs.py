"""ADATRAP output files: exact headers, a writer, a reader, and the flat zip of a day.

All outputs are `|`-separated text with a header line, `-` for a value that is missing or that
the engine cannot compute. The same reader opens our files and the real samples (it drops the
empty name a trailing `|` leaves and tolerates CRLF line ends).
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

_K = ("1era", "2da", "3era", "4ta")

ETAPAS = [
    "operador", "id_etapa", "correlativo_viajes", "correlativo_etapas", "tipo_dia",
    "tipo_transporte", "fExpansionServicioPeriodoTS", "tiene_bajada", "tiempo2", "tiempo_subida",
    "tiempo_bajada", "tiempo_etapa", "media_hora_subida", "media_hora_bajada", "x_subida",
    "y_subida", "x_bajada", "y_bajada", "dist_ruta_paraderos", "dist_eucl_paraderos",
    "servicio_subida", "servicio_bajada", "parada_subida", "parada_bajada", "comuna_subida",
    "comuna_bajada", "zona_subida", "zona_bajada", "sitio_subida", "fExpansionZonaPeriodoTS",
    "tEsperaMediaIntervalo", "periodoSubida", "periodoBajada", "tiempoIniExpedicion"]

_VIAJES_HEAD = [
    "id_viaje", "correlativo_viajes", "correlativo_etapas", "cantidad_etapas", "netapas_sin_bajada",
    "ultima_etapa_con_bajada", "tiempo_viaje_seg", "tiempo_viaje_min", "dist_viaje_euclidiana_mts",
    "dist_viaje_en_ruta_mts", "parada_subida", "parada_bajada", "comuna_subida", "comuna_bajada",
    "zona_subida", "zona_bajada", "tiempo_subida", "tiempo_bajada", "periodo_subida",
    "periodo_bajada", "tipo_dia", "media_hora", "contrato", "factor_expansion",
    "tiempo_medio_viaje", "periodo_medio_viaje", "media_hora_medio_viaje", "tipo_dia_medio_viaje"]
_VIAJES_STAGE = [
    name for k in _K for name in (
        f"tiempo_{k}_etapa", "ddist_2da_etapa" if k == "2da" else f"dist_{k}_etapa",
        f"tespera_{k}_etapa", f"ttrasbordo_{k}_etapa", f"tcaminata_{k}_etapa",
        f"dtransbordo_{k}_etapa")]
_VIAJES_TAIL = (
    [f"op_{k}_etapa" for k in _K] + [f"tipo_op_{k}_etapa" for k in _K]
    + [f"serv_{k}_etapa" for k in _K] + [f"linea_metro_subida_{i}" for i in range(1, 5)]
    + [f"linea_metro_bajada_{i}" for i in range(1, 5)] + [f"parada_subida_{k}" for k in _K]
    + [f"tiempo_subida_{k}" for k in _K] + [f"zona_subida_{k}" for k in _K]
    + [f"parada_bajada_{k}" for k in _K] + [f"tiempo_bajada_{k}" for k in _K]
    + [f"zona_bajada_{k}" for k in _K] + [f"tipo_transporte_{k}" for k in _K]
    + [f"tespera_est_{k}" for k in _K]
    + ["escolar", "tviaje_en_vehiculo_min", "tipo_corte_etapa_viaje", "proposito",
       "dviaje_buses"])
VIAJES = _VIAJES_HEAD + _VIAJES_STAGE + _VIAJES_TAIL

PROFILE = [
    "Operador", "ServicioSentido", "ServicioUsuario", "Patente", "Paradero", "NombreParada", "Hini",
    "Hfin", "Cumplimiento", "Correlativo", "idExpedicion", "DistEnRuta", "#Subidas",
    "#SubidasLejanas", "Subidastotal", "SubidasExpandidas", "#Bajadas", "#BajadasLejanas",
    "Bajadastotal", "BajadasExpandidas", "Carga", "Capacidad", "TiempoGPSInterpolado",
    "TiempoPrimeraTrx", "TiempoGPSMasCercano", "Tiempo", "nSubidasTmp", "ParaderoUsuario",
    "PeriodoTSExpedicion", "PeriodoTSParada", "TipoDia", "ZP", "DeltaTrxs", "MHSalida", "MHPasada",
    "ExpedicionConProblema", "subidas_evadidas", "bajadas_evadidas", "subidas_corregidas",
    "bajadas_corregidas", "carga_corregida", "subidas_conbajada", "%evasion", "tipo_evasion",
    "uniforme", "pax-km_tramo", "pax-km_corregido_tramo", "plazas-km_tramo"]

ODBYROUTE = [
    "Dia", "TipoDia", "Servicio", "Operador", "ServicioUsuario", "PeriodoTS", "inicio", "fin",
    "CodigoParInicio", "CodigoParFin", "UsuarioParInicio", "UsuarioParFin", "NombreParInicio",
    "NombreParFin", "zonaS", "zonaB", "ConBajada", "SinBajada", "Expandida"]

EXPEDICIONES = [
    "route", "licensePlate", "a", "b", "expeditionStartTime", "expeditionEndTime", "fulfillment",
    "c", "d", "e", "f", "g", "h", "periodId"]

SPEED = [
    "Route", "IdSection", "Date", "Period", "DayType", "TotalDistance", "TotalTime", "Speed",
    "Observations", "InvalidObservations", "Operator", "RouteUser", "IsEndSection"]

BIP = ["id", "tiempo", "sitio", "op", "servicio_sonda", "servicio_usuario", "periodo", "tipo_dia"]

GENERAL = [
    "Fecha", "TipoDia", "version", "nExpediciones", "minTiempoExpediciones",
    "maxTiempoExpediciones", "mediaTiempoExpediciones", "nPatentes", "nGPS", "mediaTiempoEntreGPS",
    "nGPSConServicio", "nGPSSinServicio", "nTrxTotales", "nTrxTotalesBus(%)", "nTrxTotalesMetro(%)",
    "nTrxTotalesMetroTren(%)", "nTrxTotalesZonasPagas(%)", "nTarjetas", "nTrxsConServicio",
    "nTrxsSinServicio", "nEtapasConBajadaBus(%)", "nEtapasConBajadaMetro(%)",
    "nEtapasConBajadaMetroTren(%)", "nEtapasConBajadaZonasPagas(%)", "nViajes", "nViajes1E(%)",
    "nViajes2E(%)", "nViajes3E(%)", "nViajes4E(%)", "nViajes5E(%)", "nViajesSoloMetro(%)",
    "nViajesConAlgunaEtapaEnMetro(%)", "nViajesSinBajadaFinal(%)", "tViajeTotal", "dViajeTotal",
    "vViajeTotal", "nViajeMediaPM", "tViajeMediaPM", "dViajeMediaPM", "vViajeMediaPM",
    "nViajeMediaPT", "tViajeMediaPT", "dViajeMediaPT", "vViajeMediaPT", "nTrxPM(%)", "nTrxPT(%)",
    "nBajadas", "nBajadasPM", "nBajadasPT", "nParadasE", "nParadasT", "nParadasL", "nParadasI",
    "nTrxE(%)", "nTrxT(%)", "nTrxL(%)", "nTrxI(%)"] + (
    [f"par{i}" for i in range(1, 11)] + [f"trx{i}" for i in range(1, 11)]
    + [f"parBus{i}" for i in range(1, 11)] + [f"trx{i}_" for i in range(1, 11)])

#: output kind -> (header, trailing `|` on every data line, as `.general` has)
LAYOUTS: dict[str, tuple[list[str], bool]] = {
    "etapas": (ETAPAS, False), "viajes": (VIAJES, False), "profile": (PROFILE, False),
    "odbyroute": (ODBYROUTE, False), "expediciones": (EXPEDICIONES, False),
    "speed": (SPEED, False), "bip": (BIP, False), "general": (GENERAL, True),
}

#: folders the original leaves out of the day's zip
SKIPPED_FOLDERS = ("kmls", "reportes", "debug")


def write_output(frame: pl.DataFrame | pl.LazyFrame | Iterable[pl.DataFrame | pl.LazyFrame],
                 kind: str, path: Path, extra: Sequence[str] = ()) -> int:
    """Write `frame` under the exact header of `kind`; absent columns and nulls become `-`.

    `extra` names columns written after the reference's own (which keep their positions).
    `frame` may be an iterable of parts (e.g. one per group of cards): each is collected,
    written and dropped in turn, so a whole day's text never sits in memory at once."""
    header, trailing = LAYOUTS[kind]
    header = [*header, *extra]
    parts = [frame] if isinstance(frame, pl.DataFrame | pl.LazyFrame) else frame
    rows = 0
    with path.open("wb") as out:
        out.write(("|".join(header) + "\n").encode("utf-8"))
        for part in parts:
            lazy = part.lazy()
            names = lazy.collect_schema().names()
            columns = [(pl.col(name).cast(pl.String).fill_null("-") if name in names
                        else pl.lit("-")).alias(f"c{i}") for i, name in enumerate(header)]
            if trailing:
                columns.append(pl.lit("").alias("trail"))
            laid = lazy.select(columns).collect()
            laid.write_csv(out, separator="|", include_header=False, quote_style="never")
            rows += laid.height
    return rows


def read_output(source: Path | bytes) -> pl.DataFrame:
    """Any `|`-separated ADATRAP output (ours or a real sample) as strings with its header."""
    data = source.read_bytes() if isinstance(source, Path) else source
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    lines = text.split("\n", 1)
    header = lines[0].split("|")
    if header and header[-1] == "":
        header = header[:-1]
    body = lines[1] if len(lines) > 1 else ""
    if not body.strip():
        return pl.DataFrame({name: pl.Series([], dtype=pl.String) for name in header})
    frame = pl.read_csv(io.BytesIO(body.encode("utf-8")), separator="|", has_header=False,
                        infer_schema=False, quote_char=None, truncate_ragged_lines=True)
    frame = frame.select(frame.columns[: len(header)])
    names = [name if name else f"_{i}" for i, name in enumerate(header[: frame.width])]
    return frame.rename(dict(zip(frame.columns, _dedupe(names), strict=True)))


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        out.append(name if count == 0 else f"{name}_{count}")
        seen[name] = count + 1
    return out


def pack_day(folder: Path, zip_path: Path) -> list[str]:
    """Zip every file under `folder` flat (basename only), skipping kmls/, reportes/, debug/.

    Members are deflated in parallel (one thread per core; zlib releases the GIL) and then laid
    into a standard zip; an archive that would need ZIP64 is written by `zipfile` instead."""
    chosen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part in SKIPPED_FOLDERS for part in relative.parts[:-1]):
            chosen.setdefault(path.name, path)
    workers = max(1, min(len(chosen), os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(dir=zip_path.parent) as scratch, \
            ThreadPoolExecutor(workers) as pool:
        deflated = list(pool.map(lambda item: _deflate(item[1], Path(scratch) / item[0]),
                                 chosen.items()))
        total = sum(d.compressed + 30 + 46 + 2 * len(d.name) for d in deflated)
        if total >= _ZIP32_LIMIT or any(d.size >= _ZIP32_LIMIT for d in deflated):
            _pack_with_zipfile(chosen, zip_path)
        else:
            _write_zip(deflated, zip_path)
    return list(chosen)


_ZIP32_LIMIT = 0xFFFFFFFF


@dataclass(frozen=True)
class _Deflated:
    name: str
    data: Path
    crc: int
    size: int
    compressed: int
    time: int
    date: int


def _deflate(source: Path, target: Path) -> _Deflated:
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    crc = size = compressed = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(16 * 1024 * 1024):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            out = compressor.compress(chunk)
            compressed += len(out)
            writer.write(out)
        out = compressor.flush()
        compressed += len(out)
        writer.write(out)
    stamp = time.localtime(source.stat().st_mtime)
    dos_time = (stamp.tm_hour << 11) | (stamp.tm_min << 5) | (stamp.tm_sec // 2)
    dos_date = ((max(stamp.tm_year, 1980) - 1980) << 9) | (stamp.tm_mon << 5) | stamp.tm_mday
    return _Deflated(source.name, target, crc, size, compressed, dos_time, dos_date)


def _write_zip(members: list[_Deflated], zip_path: Path) -> None:
    central = bytearray()
    with zip_path.open("wb") as out:
        for member in members:
            name = member.name.encode("utf-8")
            offset = out.tell()
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, 8, member.time,
                                  member.date, member.crc, member.compressed, member.size,
                                  len(name), 0) + name)
            with member.data.open("rb") as data:
                shutil.copyfileobj(data, out, 16 * 1024 * 1024)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, 8,
                                   member.time, member.date, member.crc, member.compressed,
                                   member.size, len(name), 0, 0, 0, 0, 0o644 << 16,
                                   offset) + name
        start = out.tell()
        out.write(central)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                              len(central), start, 0))


def _pack_with_zipfile(members: dict[str, Path], zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive:
        for name, path in members.items():
            archive.write(path, name)
