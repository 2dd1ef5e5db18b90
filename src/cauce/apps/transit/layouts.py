"""The ADATRAP output layouts: every file's columns, in order, with the text form of each.

The forms are read off the reference files (`shared/data/transit/adatrap-outputs`): `.etapas`
and `.viajes` print measures with exactly 4 decimals (`1.0000`, `1020.0000`), `.speed` with 2
(`9.90`), `.profile`, `.expediciones` and `.general` with up to 10 significant digits and no
trailing zeros (`0.4166666667`, `34.5`, `0`), `.odbyroute`'s `Expandida` with up to 6
(`4.41196`). A missing value is `-` in every column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: text forms of a column (see FORMS)
INT, TEXT, F2, F4, G6, G10, DATETIME, DATE, HMS = (
    "int", "text", "f2", "f4", "g6", "g10", "datetime", "date", "hms")

#: form -> the pattern every value of that form matches (besides `-`)
FORMS: dict[str, re.Pattern[str]] = {
    INT: re.compile(r"-?\d+"),
    TEXT: re.compile(r"[^|\r\n]*"),
    F2: re.compile(r"-?\d+\.\d{2}"),
    F4: re.compile(r"-?\d+\.\d{4}"),
    G6: re.compile(r"-?(\d+(\.\d*[1-9])?|\d(\.\d*[1-9])?e[+-]\d{2,3})"),
    G10: re.compile(r"-?(\d+(\.\d*[1-9])?|\d(\.\d*[1-9])?e[+-]\d{2,3})"),
    DATETIME: re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"),
    DATE: re.compile(r"\d{4}-\d\d-\d\d"),
    HMS: re.compile(r"\d\d:\d\d:\d\d"),
}
#: significant digits of the `g` forms (C's `%.6g` and `%.10g`)
SIGNIFICANT = {G6: 6, G10: 10}
#: decimals of the fixed forms
DECIMALS = {F2: 2, F4: 4}

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
NULL = "-"


@dataclass(frozen=True)
class Layout:
    """One output file: (column, form) in order; `trailing`: data lines end with `|`."""

    columns: tuple[tuple[str, str], ...]
    trailing: bool = False

    @property
    def header(self) -> list[str]:
        return [name for name, _ in self.columns]

    def form(self, column: str) -> str:
        return dict(self.columns)[column]


def matches(form: str, value: str) -> bool:
    """Whether `value` is written in `form` (`-` always is)."""
    if value == NULL:
        return True
    if not FORMS[form].fullmatch(value):
        return False
    if form in SIGNIFICANT:
        digits = value.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
        return len(digits) <= SIGNIFICANT[form]
    return True


_K = ("1era", "2da", "3era", "4ta")


def _each(forms: str, *names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, forms) for name in names)


ETAPAS = Layout(
    _each(INT, "operador", "id_etapa", "correlativo_viajes", "correlativo_etapas")
    + _each(TEXT, "tipo_dia", "tipo_transporte") + _each(F4, "fExpansionServicioPeriodoTS")
    + _each(INT, "tiene_bajada") + _each(DATETIME, "tiempo2", "tiempo_subida", "tiempo_bajada")
    + _each(INT, "tiempo_etapa") + _each(HMS, "media_hora_subida", "media_hora_bajada")
    + _each(INT, "x_subida", "y_subida", "x_bajada", "y_bajada", "dist_ruta_paraderos",
            "dist_eucl_paraderos")
    + _each(TEXT, "servicio_subida", "servicio_bajada", "parada_subida", "parada_bajada",
            "comuna_subida", "comuna_bajada")
    + _each(INT, "zona_subida", "zona_bajada") + _each(TEXT, "sitio_subida")
    + _each(F4, "fExpansionZonaPeriodoTS", "tEsperaMediaIntervalo")
    + _each(TEXT, "periodoSubida", "periodoBajada") + _each(DATETIME, "tiempoIniExpedicion"))

VIAJES = Layout(
    _each(INT, "id_viaje", "correlativo_viajes", "correlativo_etapas", "cantidad_etapas",
          "netapas_sin_bajada", "ultima_etapa_con_bajada")
    + _each(F4, "tiempo_viaje_seg", "tiempo_viaje_min", "dist_viaje_euclidiana_mts",
            "dist_viaje_en_ruta_mts")
    + _each(TEXT, "parada_subida", "parada_bajada", "comuna_subida", "comuna_bajada")
    + _each(INT, "zona_subida", "zona_bajada") + _each(DATETIME, "tiempo_subida", "tiempo_bajada")
    + _each(TEXT, "periodo_subida", "periodo_bajada", "tipo_dia") + _each(HMS, "media_hora")
    + _each(TEXT, "contrato") + _each(F4, "factor_expansion")
    + _each(DATETIME, "tiempo_medio_viaje") + _each(TEXT, "periodo_medio_viaje")
    + _each(HMS, "media_hora_medio_viaje") + _each(TEXT, "tipo_dia_medio_viaje")
    + tuple((name, F4) for k in _K for name in (
        f"tiempo_{k}_etapa", "ddist_2da_etapa" if k == "2da" else f"dist_{k}_etapa",
        f"tespera_{k}_etapa", f"ttrasbordo_{k}_etapa", f"tcaminata_{k}_etapa",
        f"dtransbordo_{k}_etapa"))
    + _each(INT, *(f"op_{k}_etapa" for k in _K), *(f"tipo_op_{k}_etapa" for k in _K))
    + _each(TEXT, *(f"serv_{k}_etapa" for k in _K),
            *(f"linea_metro_subida_{i}" for i in range(1, 5)),
            *(f"linea_metro_bajada_{i}" for i in range(1, 5)),
            *(f"parada_subida_{k}" for k in _K))
    + _each(DATETIME, *(f"tiempo_subida_{k}" for k in _K))
    + _each(INT, *(f"zona_subida_{k}" for k in _K))
    + _each(TEXT, *(f"parada_bajada_{k}" for k in _K))
    + _each(DATETIME, *(f"tiempo_bajada_{k}" for k in _K))
    + _each(INT, *(f"zona_bajada_{k}" for k in _K))
    + _each(TEXT, *(f"tipo_transporte_{k}" for k in _K))
    + _each(F4, *(f"tespera_est_{k}" for k in _K)) + _each(TEXT, "escolar")
    + _each(F4, "tviaje_en_vehiculo_min") + _each(TEXT, "tipo_corte_etapa_viaje", "proposito")
    + _each(F4, "dviaje_buses"))

PROFILE = Layout(
    _each(INT, "Operador") + _each(TEXT, "ServicioSentido", "ServicioUsuario", "Patente",
                                   "Paradero", "NombreParada")
    + _each(DATETIME, "Hini", "Hfin") + _each(TEXT, "Cumplimiento")
    + _each(INT, "Correlativo", "idExpedicion", "DistEnRuta", "#Subidas", "#SubidasLejanas",
            "Subidastotal") + _each(G10, "SubidasExpandidas")
    + _each(INT, "#Bajadas", "#BajadasLejanas", "Bajadastotal")
    + _each(G10, "BajadasExpandidas", "Carga") + _each(INT, "Capacidad")
    + _each(HMS, "TiempoGPSInterpolado", "TiempoPrimeraTrx", "TiempoGPSMasCercano")
    + _each(DATETIME, "Tiempo") + _each(INT, "nSubidasTmp") + _each(TEXT, "ParaderoUsuario")
    + _each(INT, "PeriodoTSExpedicion", "PeriodoTSParada", "TipoDia", "ZP", "DeltaTrxs",
            "MHSalida", "MHPasada", "ExpedicionConProblema")
    + _each(G10, "subidas_evadidas", "bajadas_evadidas", "subidas_corregidas",
            "bajadas_corregidas", "carga_corregida")
    + _each(INT, "subidas_conbajada") + _each(G10, "%evasion")
    + _each(INT, "tipo_evasion", "uniforme")
    + _each(G10, "pax-km_tramo", "pax-km_corregido_tramo", "plazas-km_tramo"))

ODBYROUTE = Layout(
    _each(DATE, "Dia") + _each(INT, "TipoDia") + _each(TEXT, "Servicio") + _each(INT, "Operador")
    + _each(TEXT, "ServicioUsuario") + _each(INT, "PeriodoTS", "inicio", "fin")
    + _each(TEXT, "CodigoParInicio", "CodigoParFin", "UsuarioParInicio", "UsuarioParFin",
            "NombreParInicio", "NombreParFin")
    + _each(INT, "zonaS", "zonaB", "ConBajada", "SinBajada") + _each(G6, "Expandida"))

EXPEDICIONES = Layout(
    _each(TEXT, "route", "licensePlate")
    + _each(DATETIME, "a", "b", "expeditionStartTime", "expeditionEndTime")
    + _each(TEXT, "fulfillment") + _each(INT, "c", "d", "e") + _each(G10, "f", "g", "h")
    + _each(INT, "periodId"))

SPEED = Layout(
    _each(TEXT, "Route") + _each(INT, "IdSection") + _each(DATE, "Date")
    + _each(INT, "Period", "DayType") + _each(F2, "TotalDistance", "TotalTime", "Speed")
    + _each(INT, "Observations", "InvalidObservations", "Operator") + _each(TEXT, "RouteUser")
    + _each(INT, "IsEndSection"))

BIP = Layout(
    _each(INT, "id") + _each(DATETIME, "tiempo") + _each(TEXT, "sitio") + _each(INT, "op")
    + _each(TEXT, "servicio_sonda", "servicio_usuario") + _each(INT, "periodo")
    + _each(TEXT, "tipo_dia"))

_PERCENT = ("Bus", "Metro", "MetroTren", "ZonasPagas")
GENERAL = Layout(
    _each(DATE, "Fecha") + _each(TEXT, "TipoDia", "version") + _each(INT, "nExpediciones")
    + _each(G10, "minTiempoExpediciones", "maxTiempoExpediciones", "mediaTiempoExpediciones")
    + _each(INT, "nPatentes", "nGPS") + _each(G10, "mediaTiempoEntreGPS")
    + _each(INT, "nGPSConServicio", "nGPSSinServicio", "nTrxTotales")
    + _each(G10, *(f"nTrxTotales{m}(%)" for m in _PERCENT))
    + _each(INT, "nTarjetas", "nTrxsConServicio", "nTrxsSinServicio")
    + _each(G10, *(f"nEtapasConBajada{m}(%)" for m in _PERCENT)) + _each(INT, "nViajes")
    + _each(G10, *(f"nViajes{k}E(%)" for k in range(1, 6)), "nViajesSoloMetro(%)",
            "nViajesConAlgunaEtapaEnMetro(%)", "nViajesSinBajadaFinal(%)", "tViajeTotal",
            "dViajeTotal", "vViajeTotal")
    + _each(INT, "nViajeMediaPM") + _each(G10, "tViajeMediaPM", "dViajeMediaPM", "vViajeMediaPM")
    + _each(INT, "nViajeMediaPT") + _each(G10, "tViajeMediaPT", "dViajeMediaPT", "vViajeMediaPT")
    + _each(G10, "nTrxPM(%)", "nTrxPT(%)") + _each(INT, "nBajadas")
    + _each(G10, "nBajadasPM", "nBajadasPT")
    + _each(INT, *(f"nParadas{c}" for c in "ETLI")) + _each(G10, *(f"nTrx{c}(%)" for c in "ETLI"))
    + _each(TEXT, *(f"par{i}" for i in range(1, 11)))
    + _each(INT, *(f"trx{i}" for i in range(1, 11)))
    + _each(TEXT, *(f"parBus{i}" for i in range(1, 11)))
    + _each(INT, *(f"trx{i}_" for i in range(1, 11))),
    trailing=True)

#: output kind (file extension) -> layout
LAYOUTS: dict[str, Layout] = {
    "etapas": ETAPAS, "viajes": VIAJES, "profile": PROFILE, "odbyroute": ODBYROUTE,
    "expediciones": EXPEDICIONES, "speed": SPEED, "bip": BIP, "general": GENERAL}
