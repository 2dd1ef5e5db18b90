"""The ADATRAP parameter file (`pvmtsc_vX.par`): render its placeholders and read its values.

The file is positional: one value per line, followed by an optional comment after `*`. A column
line may hold two numbers, the column in the "ADATRAP" layout and in the "Online" layout; the
format flag on line 25 selects which one applies. `-1` means the column is absent.
The layout below is the one of version 0.2, the version the original ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cauce.textfiles import decode

from .errors import ParFileError

PLACEHOLDERS = ("{po_path}", "{service_detail_file}", "{date}", "{po_date}")

OUTPUT_KINDS = (
    "subidas", "servicios", "profile", "perfilesag", "expediciones", "stop", "zonas", "buses",
    "tarjetas", "headways", "etapas", "viajes", "actividades", "indicadores", "general",
    "odbyroute", "stoptime", "bip", "podata",
)


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # text | path | int | float | cols


def _fields(kind: str, *names: str) -> list[_Field]:
    return [_Field(name, kind) for name in names]


SCHEMA_V02: tuple[_Field, ...] = tuple(
    _fields("text", "title", "rule", "blank")
    + _fields("path", *(f"out_{kind}" for kind in OUTPUT_KINDS), "output_folder")
    + _fields("text", "date")
    + _fields("int", "input_format")
    + _fields("path", "gps_file")
    + _fields("cols", "gps_plate", "gps_time", "gps_lat", "gps_lon")
    + _fields("path", "runs_file")
    + _fields("cols", "runs_operator", "runs_plate", "runs_service", "runs_start", "runs_end",
              "runs_speed", "runs_fulfillment")
    + _fields("path", "stops_file")
    + _fields("cols", "stops_service", "stops_direction", "stops_variant", "stops_code",
              "stops_user_code", "stops_comuna", "stops_x", "stops_y", "stops_name")
    + _fields("float", "validation_offroute_m", "next_stop_closeness_m")
    + _fields("cols", "stops_sequence")
    + _fields("path", "infra_file")
    + _fields("cols", "infra_code", "infra_user_code", "infra_status", "infra_name",
              "infra_comuna", "infra_x", "infra_y")
    + _fields("path", "trx_file")
    + _fields("cols", "trx_card", "trx_site", "trx_time", "trx_operator", "trx_type",
              "trx_service", "trx_direction", "trx_contract")
    + _fields("path", "comunas_file")
    + _fields("cols", "comunas_id", "comunas_name")
    + _fields("path", "services_file")
    + _fields("cols", "services_code", "services_sequence_code", "services_route",
              "services_type", "services_base")
    + _fields("path", "shapes_file")
    + _fields("cols", "shapes_route", "shapes_x", "shapes_y", "shapes_sequence")
    + _fields("path", "service_detail_file")
    + _fields("cols", "zp_code", "zp_validator", "zp_stop", "zp_stop2", "zp_x", "zp_y",
              "zp_comuna", "zp_name", "zp_mixed", "zp_operators", "zp_services")
    + _fields("float", "zp_max_wait_min", "route_offroute_m")
    + _fields("path", "metro_file")
    + _fields("cols", "metro_trx_name", "metro_standard", "metro_lat", "metro_lon", "metro_line",
              "metro_code", "metro_type", "metro_comuna", "metro_color", "metro_unique")
    + _fields("path", "grid_distance_file", "metro_lines_file", "metro_hours_file",
              "metro_transfers_file", "metro_trains_file")
    + _fields("cols", "trains_line", "trains_station", "trains_track", "trains_date",
              "trains_departure", "trains_arrival", "trains_train", "trains_operation")
    + _fields("path", "fleet_file")
    + _fields("cols", "fleet_plate", "fleet_capacity", "fleet_type")
    + _fields("path", "evasion_stop_file", "evasion_zone_file", "zones_file")
    + _fields("cols", "zones_id", "zones_x", "zones_y", "zones_name", "zones_zoning")
    + _fields("path", "periods_file")
    + _fields("cols", "periods_id", "periods_day_type", "periods_name", "periods_start",
              "periods_end")
    + _fields("path", "full_sequence_file")
    + _fields("cols", "full_sequence_service", "full_sequence_distance", "full_sequence_in_po",
              "full_sequence_stop")
    + _fields("path", "reference_speeds_file", "metrotren_file", "metrotren_times_file",
              "osm_file")
    + _fields("cols", "osm_id", "osm_lat", "osm_lon", "osm_highway", "osm_name", "osm_oneway")
    + _fields("path", "frequencies_file", "capacities_file", "distances_file", "speeds_file",
              "zp_assignment_file", "kmls_folder", "reports_folder", "debug_folder",
              "indicators_folder", "calendar_file")
    + _fields("int", "use_seed", "seed", "strict_services", "strict_routes", "strict_sequences",
              "estimate_zp_boardings", "debug")
    + _fields("float", "trip_cut_minutes")
    + _fields("int", "draw_mode")
    + _fields("text", "draw_services")
)


def render_par(text: str, *, po_path: str, po_date: str, date: str,
               service_detail_file: str) -> str:
    """Substitute the four placeholders literally, as the original worker does."""
    values = {"{po_path}": po_path, "{service_detail_file}": service_detail_file,
              "{date}": date, "{po_date}": po_date}
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, values[placeholder])
    return text


@dataclass(frozen=True)
class ParFile:
    """The values of a parameter file, by field name (see SCHEMA_V02)."""

    values: dict[str, object]
    lines: dict[str, int]

    @property
    def input_format(self) -> int:
        return int(self.values["input_format"])  # type: ignore[call-overload]

    def path(self, name: str) -> str:
        value = self.values[name]
        assert isinstance(value, str)
        return value

    def number(self, name: str) -> float:
        value = self.values[name]
        assert isinstance(value, int | float)
        return float(value)

    def column(self, name: str) -> int | None:
        """1-based column for the selected input layout, or None when absent (-1)."""
        numbers = self.values[name]
        assert isinstance(numbers, tuple)
        chosen = numbers[self.input_format] if len(numbers) > 1 else numbers[0]
        return None if chosen < 0 else int(chosen)

    def columns(self, *names: str) -> dict[str, int | None]:
        return {name: self.column(name) for name in names}


def parse_par(text: str, source: str = "parameter file") -> ParFile:
    """Read every value of a version 0.2 parameter file; one clear error per bad line."""
    raw_lines = text.splitlines()
    values: dict[str, object] = {}
    lines: dict[str, int] = {}
    for index, field in enumerate(SCHEMA_V02):
        number = index + 1
        if index >= len(raw_lines):
            raise ParFileError(
                f"{source}: ends at line {len(raw_lines)}, but line {number} should hold "
                f"'{field.name}'", hint="compare it with pvmtsc_v0.2.par")
        value_text = raw_lines[index].split("*", 1)[0].strip()
        values[field.name] = _convert(field, value_text, source, number)
        lines[field.name] = number
    if values["input_format"] not in (0, 1):  # it picks one of the two column numbers
        raise ParFileError(
            f"{source}: line {lines['input_format']} ('input_format') should be 0 (the ADATRAP "
            f"layout) or 1 (Online), found {values['input_format']}",
            hint="compare it with pvmtsc_v0.2.par")
    return ParFile(values, lines)


def _convert(field: _Field, text: str, source: str, number: int) -> object:
    if field.kind in ("text", "path"):
        return text
    try:
        if field.kind == "int":
            return int(text.split()[0])
        if field.kind == "float":
            return float(text.split()[0])
        numbers = tuple(int(part) for part in text.split())
    except (ValueError, IndexError):
        raise ParFileError(
            f"{source}: line {number} ('{field.name}') should be a number, found {text!r}",
            hint="a line was added or removed; the file is read by position") from None
    if not 1 <= len(numbers) <= 2:
        raise ParFileError(f"{source}: line {number} ('{field.name}') should hold one or two "
                           f"column numbers, found {text!r}")
    return numbers


def read_par(path: Path) -> ParFile:
    """Parse a parameter file from disk, in the encoding its editor wrote (`decode_par`)."""
    return parse_par(decode_par(path.read_bytes()), source=str(path))


def _po(folder: str, stem: str, ext: str = "csv") -> str:
    return f"{{po_path}}/{folder + '/' if folder else ''}{stem}_PO{{po_date}}.{ext}"


#: the values of the version 0.2 layout, in order (two-number lines: ADATRAP then Online column)
DEFAULT_VALUES: tuple[str, ...] = (
    "Parametros Asignacion Paradero a validacion", "------------------------", "",
    *(f"ADATRAP/{{date}}/{{date}}.{kind}" for kind in OUTPUT_KINDS), "ADATRAP/{date}/",
    "{date}", "1",
    "tmp/{date}.gps", "1 1", "4 3", "2 4", "3 5",
    "tmp/{date}.196", "1", "2", "5", "6", "7", "12", "17",
    _po("Paraderos", "ConsolidadoParadas"), "3", "4", "5", "7", "8", "9", "13", "14", "15",
    "100", "100", "1",
    _po("Paraderos", "BaseInfra"), "1", "2", "4", "15", "9", "13", "14",
    "tmp/{date}.trx", "3 1", "9 3", "2 2", "1 4", "13 -1", "10 -1", "12 -1", "14 -1",
    _po("Diccionario", "Diccionario-Comunas"), "1", "2",
    _po("Diccionario", "Diccionario-Servicios"), "12", "9 8", "2", "14", "13",
    _po("Rutas", "ShapeRutas"), "2", "3", "4", "1",
    "{service_detail_file}", *(str(i) for i in range(1, 12)), "30", "200.0",
    _po("Diccionario", "Diccionario-EstacionesMetro"),
    "1", "6", "3", "4", "5", "9", "7", "2", "10", "8",
    _po("Diccionario", "DistanciaGrilla"), _po("Metro", "Lineas", "txt"),
    _po("Metro", "Horarios"), _po("Metro", "Combinacion"), _po("Metro", "Lion"),
    *(str(i) for i in range(1, 9)),
    _po("Diccionario", "Diccionario-Patentes"), "3", "12", "13",
    _po("Evasion", "EvasionServicioSentidoParadaMH"), _po("Evasion", "Zonas777Fevasion"),
    _po("Diccionario", "Diccionario-Zonificaciones"), "1", "2", "3", "4", "5",
    _po("Diccionario", "Diccionario-PeriodosTS"), "1", "2", "3", "4", "5",
    _po("", "secuencia_paradas_full", "dbg"), "1", "2", "3", "4",
    _po("", "velocidadesAgosto2019"), _po("Diccionario", "Diccionario-EstacionesMetroTren"),
    _po("MetroTren", "tiemposViajeMetroTren", "txt"), _po("", "osm"),
    "1", "3", "2", "7", "8", "9",
    _po("Frecuencias", "Frecuencias"), _po("Frecuencias", "Capacidades"),
    _po("Frecuencias", "Distancias"), _po("Frecuencias", "Velocidades"),
    _po("Diccionario", "Diccionario-AsignacionZP2"),
    "ADATRAP/{date}/kmls/", "ADATRAP/{date}/reportes/", "ADATRAP/{date}/debug/",
    "{po_path}/Indicadores/", _po("Diccionario", "Diccionario_Tipo_dia"),
    "1", "1350406895", "0", "0", "0", "1", "0", "40", "1", "T201 00I",
)


def decode_par(data: bytes) -> str:
    """A parameter file's text in the encoding its editor wrote (the original's are Windows
    Latin-1; a byte-order mark or UTF-16 from another editor is read too). CR CR LF (a CRLF
    file converted to CRLF once more) ends one line, as in Windows' text mode, not two: the
    file is read by position, and an empty line between each would shift every field."""
    text = decode(data).replace("\r\r\n", "\n")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def default_par_text() -> str:
    """A parameter file in the version 0.2 layout with its published values.

    Used when no `.par` is configured; each line names its field after the `*`."""
    lines = []
    for field, value in zip(SCHEMA_V02, DEFAULT_VALUES, strict=True):
        if field.kind == "text" and field.name in ("title", "rule", "blank", "draw_services"):
            lines.append(value)
        else:
            lines.append(f"{value.replace(' ', chr(9))}\t\t* {field.name}"
                         if field.kind == "cols" else f"{value}\t\t* {field.name}")
    return "\n".join(lines) + "\n"
