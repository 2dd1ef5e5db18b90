"""Synthetic Socrata datasets, so the app, its tests and its demo run with no network.

Each dataset *kind* is a table family seen on datos.gov.co, with the real API field names
(`fieldName`), display names and `dataTypeName` from the SODA reference: SECOP II contracts
(jbjy-vk9h), SECOP II processes (p6dx-8zbt), SECOP II fines (it5q-hg94), and the three small
public-health and social tables of ARTI4207's DATASET.csv (COVID-19 cases, PCR tests by
department, Colombia Mayor beneficiaries). Values are drawn with NumPy and assembled with Polars
column by column, so a million rows take seconds. A seed makes every table reproducible.
The datasets are `cauce.connectors.soda.portal.Dataset`s, served by its local portal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from cauce.connectors.soda.portal import (
    ColumnSpec,
    Dataset,
    Generator,
    asset_id,
    csv_bytes,
    email_for,
)

DEPARTMENTS = (
    ("Bogotá D.C.", "Bogotá", "11"),
    ("Antioquia", "Medellín", "05"),
    ("Valle del Cauca", "Cali", "76"),
    ("Cundinamarca", "Soacha", "25"),
    ("Santander", "Bucaramanga", "68"),
    ("Atlántico", "Barranquilla", "08"),
    ("Bolívar", "Cartagena", "13"),
    ("Nariño", "Pasto", "52"),
    ("Boyacá", "Tunja", "15"),
    ("Meta", "Villavicencio", "50"),
    ("Tolima", "Ibagué", "73"),
    ("Córdoba", "Montería", "23"),
    ("Cauca", "Popayán", "19"),
    ("Huila", "Neiva", "41"),
    ("Magdalena", "Santa Marta", "47"),
)
ENTITIES = (
    "ALCALDIA MUNICIPAL DE PASTO",
    "GOBERNACION DE ANTIOQUIA",
    "INSTITUTO NACIONAL DE VIAS (INVIAS)",
    "SERVICIO NACIONAL DE APRENDIZAJE (SENA)",
    "E.S.E. HOSPITAL SAN RAFAEL",
    "ALCALDIA DE BUCARAMANGA",
    "DEPARTAMENTO ADMINISTRATIVO NACIONAL DE ESTADISTICA (DANE)",
    "UNIVERSIDAD NACIONAL DE COLOMBIA",
    "POLICIA NACIONAL",
    "SECRETARIA DE EDUCACION DEL DISTRITO",
    "ALCALDIA MUNICIPAL DE EL CASTILLO",
    "INSTITUTO COLOMBIANO DE BIENESTAR FAMILIAR (ICBF)",
    "EMPRESAS PUBLICAS DE MEDELLIN E.S.P.",
    "AGENCIA NACIONAL DE INFRAESTRUCTURA",
    "FONDO ROTATORIO DEL EJERCITO",
)
GIVEN_NAMES = (
    "ANA",
    "CARLOS",
    "DIANA",
    "JORGE",
    "LUISA",
    "MARIA",
    "PEDRO",
    "SANDRA",
    "JUAN",
    "PAOLA",
)
SURNAMES = (
    "GOMEZ",
    "RODRIGUEZ",
    "MARTINEZ",
    "LOPEZ",
    "GARCIA",
    "PEREZ",
    "SANCHEZ",
    "RAMIREZ",
    "TORRES",
    "DIAZ",
    "VARGAS",
    "ROJAS",
)
FIRM_SUFFIXES = ("S.A.S.", "LTDA", "S.A.", "CONSORCIO", "UNION TEMPORAL", "")
OBJECT_WORDS = (
    "prestación",
    "de",
    "servicios",
    "profesionales",
    "apoyo",
    "a",
    "la",
    "gestión",
    "suministro",
    "mantenimiento",
    "preventivo",
    "correctivo",
    "obra",
    "pública",
    "interventoría",
    "adquisición",
    "equipos",
    "vías",
    "terciarias",
    "programa",
    "alimentación",
    "escolar",
    "PAE",
    "municipio",
    "secretaría",
    "salud",
    "educación",
    "transporte",
    "consultoría",
    "estudios",
    "diseños",
)
CATEGORIES = (
    "Gastos Gubernamentales",
    "Salud y Protección Social",
    "Hacienda y Crédito Público",
    "Educación",
    "Transporte",
    "Estadísticas Nacionales",
    "Inclusión Social y Reconciliación",
    "Ambiente y Desarrollo Sostenible",
    "Función pública",
    "Justicia y Derecho",
)


# -- value generators (vectorised: one NumPy draw per column) ---------------------------------
def choice(
    values: Sequence[str], *, null_share: float = 0.0, weights: Sequence[float] | None = None
) -> Generator:
    pool = pl.Series(list(values), dtype=pl.String)
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)

    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        return _nulls(rng, pool.gather(rng.choice(len(pool), size=n, p=p)), null_share)

    return draw


def sequence(prefix: str, *, start: int = 1, width: int = 0) -> Generator:
    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        numbers = pl.Series(rng.integers(start, start + 50 * max(n, 1), size=n))
        text = numbers.cast(pl.String).str.zfill(width) if width else numbers.cast(pl.String)
        return (prefix + text).alias("")

    return draw


def digits(low: int, high: int, *, null_share: float = 0.0) -> Generator:
    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        return _nulls(rng, pl.Series(rng.integers(low, high, size=n)).cast(pl.String), null_share)

    return draw


def money(median: float, sigma: float = 1.2, *, null_share: float = 0.0) -> Generator:
    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        values = np.round(rng.lognormal(np.log(median), sigma, size=n), -3)
        return _nulls(rng, pl.Series(values), null_share)

    return draw


def integer(low: int, high: int, *, null_share: float = 0.0, zero_share: float = 0.0) -> Generator:
    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        values = rng.integers(low, high, size=n)
        values[rng.random(n) < zero_share] = 0
        return _nulls(rng, pl.Series(values, dtype=pl.Int64), null_share)

    return draw


def date(first: str, last: str, *, null_share: float = 0.0) -> Generator:
    start = np.datetime64(first, "s")
    span = int((np.datetime64(last, "s") - start).astype(np.int64))

    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        days = rng.integers(0, max(span // 86_400, 1), size=n) * 86_400
        return _nulls(
            rng,
            pl.Series((start + days.astype("timedelta64[s]")).astype("datetime64[ms]")),
            null_share,
        )

    return draw


def words(vocabulary: Sequence[str], low: int, high: int, *, null_share: float = 0.0) -> Generator:
    pool = pl.Series(list(vocabulary), dtype=pl.String)

    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        count = rng.integers(low, high + 1, size=n)
        parts = []
        for position in range(high):
            word = pool.gather(rng.integers(0, len(pool), size=n))
            parts.append(pl.when(pl.lit(pl.Series(count > position))).then(pl.lit(word)))
        text = pl.select(pl.concat_str(parts, separator=" ", ignore_nulls=True)).to_series()
        return _nulls(rng, text, null_share)

    return draw


def person_or_firm(*, null_share: float = 0.0) -> Generator:
    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        first = pl.Series(GIVEN_NAMES).gather(rng.integers(0, len(GIVEN_NAMES), size=n))
        last = pl.Series(SURNAMES).gather(rng.integers(0, len(SURNAMES), size=n))
        suffix = pl.Series(FIRM_SUFFIXES).gather(rng.integers(0, len(FIRM_SUFFIXES), size=n))
        text = pl.select(
            pl.concat_str([pl.lit(first), pl.lit(last), pl.lit(suffix)], separator=" ")
        ).to_series()
        return _nulls(rng, text.str.strip_chars(), null_share)

    return draw


def durations() -> Generator:
    def draw(rng: np.random.Generator, n: int) -> pl.Series:
        amount = pl.Series(rng.integers(1, 36, size=n)).cast(pl.String)
        unit = pl.Series(["Mes(es)", "Dia(s)"]).gather((rng.random(n) < 0.2).astype(np.int64))
        return pl.select(pl.concat_str([pl.lit(amount), pl.lit(unit)], separator=" ")).to_series()

    return draw


def _nulls(rng: np.random.Generator, series: pl.Series, share: float) -> pl.Series:
    if share <= 0:
        return series
    mask = pl.Series(rng.random(len(series)) < share)
    return pl.select(pl.when(pl.lit(mask)).then(None).otherwise(pl.lit(series))).to_series()


# -- kinds ----------------------------------------------------------------------------------
def _department_names() -> list[str]:
    return [d[0] for d in DEPARTMENTS]


CONTRACT_STATES = (
    "Activo",
    "Cerrado",
    "Modificado",
    "En ejecución",
    "terminado",
    "Borrador",
    "Cedido",
    "Suspendido",
    "enviado Proveedor",
)
CONTRACT_TYPES = (
    "Prestación de servicios",
    "Compraventa",
    "Suministros",
    "Obra",
    "Consultoría",
    "Interventoría",
    "Arrendamiento de inmuebles",
    "Otro",
    "Decreto 092 de 2017",
    "Comodato",
)
MODALITIES = (
    "Contratación directa",
    "Contratación régimen especial",
    "Mínima cuantía",
    "Selección Abreviada de Menor Cuantía",
    "Selección abreviada subasta inversa",
    "Licitación pública",
    "Concurso de méritos abierto",
    "Contratación Directa (con ofertas)",
    "Licitación pública Obra Publica",
)
MODALITY_WEIGHTS = (351.7, 181.3, 25.4, 9.3, 8.1, 4.2, 2.1, 4.9, 1.3)
# The SECOP II link of a process, in both the contracts and the processes tables.
_URL_PROCESO = ColumnSpec(
    "urlproceso",
    "URLProceso",
    "url",
    sequence(
        "https://community.secop.gov.co/Public/Tendering/OpportunityDetail/Index?noticeUID=CO1.NTC."
    ),
)

KINDS: dict[str, tuple[ColumnSpec, ...]] = {
    "secop-contracts": (
        ColumnSpec("nombre_entidad", "Nombre Entidad", "text", choice(ENTITIES)),
        ColumnSpec("nit_entidad", "Nit Entidad", "text", digits(800_000_000, 900_999_999)),
        ColumnSpec("departamento", "Departamento", "text", choice(_department_names())),
        ColumnSpec("orden", "Orden", "text", choice(("Nacional", "Territorial", "No Definido"))),
        ColumnSpec(
            "sector",
            "Sector",
            "text",
            choice(
                (
                    "Salud y Protección Social",
                    "Educación Nacional",
                    "Transporte",
                    "Servicio Público",
                    "No aplica/No pertenece",
                )
            ),
        ),
        ColumnSpec(
            "proceso_de_compra", "Proceso de Compra", "text", sequence("CO1.BDOS.", start=100_000)
        ),
        ColumnSpec("id_contrato", "ID Contrato", "text", sequence("CO1.PCCNTR.", start=1_000_000)),
        ColumnSpec(
            "referencia_del_contrato", "Referencia del Contrato", "text", sequence("CD-", width=6)
        ),
        ColumnSpec("estado_contrato", "Estado Contrato", "text", choice(CONTRACT_STATES)),
        ColumnSpec(
            "codigo_de_categoria_principal",
            "Codigo de Categoria Principal",
            "text",
            sequence("V1.", start=70_000_000),
        ),
        ColumnSpec(
            "descripcion_del_proceso", "Descripcion del Proceso", "text", words(OBJECT_WORDS, 4, 12)
        ),
        ColumnSpec("tipo_de_contrato", "Tipo de Contrato", "text", choice(CONTRACT_TYPES)),
        ColumnSpec(
            "modalidad_de_contratacion",
            "Modalidad de Contratacion",
            "text",
            choice(MODALITIES, weights=MODALITY_WEIGHTS),
        ),
        ColumnSpec(
            "fecha_de_firma", "Fecha de Firma", "calendar_date", date("2019-01-01", "2025-12-31")
        ),
        ColumnSpec(
            "fecha_de_inicio_del_contrato",
            "Fecha de Inicio del Contrato",
            "calendar_date",
            date("2019-01-01", "2025-12-31"),
        ),
        ColumnSpec(
            "fecha_de_fin_del_contrato",
            "Fecha de Fin del Contrato",
            "calendar_date",
            date("2019-06-01", "2030-12-31"),
        ),
        ColumnSpec("duraci_n_del_contrato", "Duración del contrato", "text", durations()),
        ColumnSpec(
            "dias_adicionados", "Dias adicionados", "number", integer(1, 2_191, zero_share=0.87)
        ),
        ColumnSpec(
            "tipodocproveedor", "TipoDocProveedor", "text", choice(("Cédula de Ciudadanía", "NIT"))
        ),
        ColumnSpec(
            "documento_proveedor", "Documento Proveedor", "text", digits(10_000_000, 1_099_999_999)
        ),
        ColumnSpec("proveedor_adjudicado", "Proveedor Adjudicado", "text", person_or_firm()),
        ColumnSpec("es_pyme", "Es Pyme", "text", choice(("Si", "No"))),
        ColumnSpec("valor_del_contrato", "Valor del Contrato", "number", money(35_000_000)),
        ColumnSpec("valor_pagado", "Valor Pagado", "number", money(12_000_000, null_share=0.05)),
        ColumnSpec("valor_facturado", "Valor Facturado", "number", money(14_000_000)),
        ColumnSpec(
            "objeto_del_contrato", "Objeto del Contrato", "text", words(OBJECT_WORDS, 6, 16)
        ),
        ColumnSpec(
            "nombre_representante_legal", "Nombre Representante Legal", "text", person_or_firm()
        ),
        ColumnSpec(
            "identificaci_n_representante_legal",
            "Identificación Representante Legal",
            "text",
            digits(10_000_000, 1_099_999_999),
        ),
        ColumnSpec(
            "espostconflicto", "EsPostConflicto", "text", choice(("Si", "No"), weights=(1, 9))
        ),
        _URL_PROCESO,
        ColumnSpec(
            "ultima_actualizacion",
            "Ultima Actualizacion",
            "calendar_date",
            date("2023-01-01", "2025-12-31", null_share=0.32),
        ),
    ),
    "secop-processes": (
        ColumnSpec("entidad", "Entidad", "text", choice(ENTITIES)),
        ColumnSpec("nit_entidad", "Nit Entidad", "text", digits(800_000_000, 900_999_999)),
        ColumnSpec(
            "departamento_entidad", "Departamento Entidad", "text", choice(_department_names())
        ),
        ColumnSpec("id_del_proceso", "ID del Proceso", "text", sequence("CO1.REQ.", start=500_000)),
        ColumnSpec(
            "id_del_portafolio", "ID del Portafolio", "text", sequence("CO1.BDOS.", start=100_000)
        ),
        ColumnSpec(
            "nombre_del_procedimiento",
            "Nombre del Procedimiento",
            "text",
            words(OBJECT_WORDS, 3, 9),
        ),
        ColumnSpec(
            "fase",
            "Fase",
            "text",
            choice(("Presentación de oferta", "Evaluación", "Adjudicado", "Borrador", "Selección")),
        ),
        ColumnSpec(
            "fecha_de_publicacion_del",
            "Fecha de Publicacion del Proceso",
            "calendar_date",
            date("2019-01-01", "2025-12-31"),
        ),
        ColumnSpec(
            "fecha_de_recepcion_de",
            "Fecha de Recepcion de Respuestas",
            "calendar_date",
            date("2019-01-01", "2025-12-31", null_share=0.87),
        ),
        ColumnSpec("precio_base", "Precio Base", "number", money(40_000_000)),
        ColumnSpec(
            "modalidad_de_contratacion",
            "Modalidad de Contratacion",
            "text",
            choice(MODALITIES, weights=MODALITY_WEIGHTS),
        ),
        ColumnSpec("duracion", "Duracion", "number", integer(1, 36)),
        ColumnSpec(
            "unidad_de_duracion",
            "Unidad de Duracion",
            "text",
            choice(("Mes(es)", "Dia(s)", "Año(s)")),
        ),
        ColumnSpec(
            "proveedores_unicos_con",
            "Proveedores Unicos con Respuestas",
            "number",
            integer(1, 12, zero_share=0.5),
        ),
        ColumnSpec("adjudicado", "Adjudicado", "text", choice(("Si", "No"))),
        ColumnSpec(
            "valor_total_adjudicacion", "Valor Total Adjudicacion", "number", money(38_000_000)
        ),
        ColumnSpec(
            "nombre_del_proveedor",
            "Nombre del Proveedor Adjudicado",
            "text",
            person_or_firm(null_share=0.4),
        ),
        ColumnSpec(
            "nit_del_proveedor_adjudicado",
            "NIT del Proveedor Adjudicado",
            "text",
            digits(800_000_000, 999_999_999, null_share=0.4),
        ),
        ColumnSpec(
            "estado_del_procedimiento",
            "Estado del Procedimiento",
            "text",
            choice(("Publicado", "Adjudicado", "Cancelado", "Desierto", "Seleccionado")),
        ),
        _URL_PROCESO,
    ),
    "secop-fines": (
        ColumnSpec("nombre_entidad_creadora", "Nombre Entidad Creadora", "text", choice(ENTITIES)),
        ColumnSpec("id_proceso", "ID Proceso", "text", sequence("CO1.BDOS.", start=100_000)),
        ColumnSpec("id_contrato", "ID Contrato", "text", sequence("CO1.PCCNTR.", start=1_000_000)),
        ColumnSpec("numero_de_acto", "Numero de Acto", "text", sequence("RES-", width=5)),
        ColumnSpec(
            "tipo_de_sancion",
            "Tipo de Sancion",
            "text",
            choice(("Multa", "Cláusula penal", "Caducidad", "Incumplimiento")),
        ),
        ColumnSpec("valor", "Valor", "number", money(9_000_000)),
        ColumnSpec(
            "fecha_evento", "Fecha Evento", "calendar_date", date("2018-01-01", "2025-12-31")
        ),
        ColumnSpec(
            "nombre_proveedor_objeto_de",
            "Nombre Proveedor Objeto de la Multa",
            "text",
            person_or_firm(),
        ),
        ColumnSpec(
            "as_codigo_proveedor_objeto",
            " Codigo Proveedor Objeto de la Multa",
            "text",
            digits(1_000_000, 99_999_999),
        ),
        ColumnSpec("numero_de_version", "Numero de Version", "number", integer(1, 4)),
    ),
    "covid-cases": (
        ColumnSpec(
            "fecha_reporte_web",
            "fecha reporte web",
            "calendar_date",
            date("2020-03-06", "2023-12-31"),
        ),
        ColumnSpec("id_de_caso", "ID de caso", "number", integer(1, 6_400_000)),
        ColumnSpec("departamento_nom", "Nombre departamento", "text", choice(_department_names())),
        ColumnSpec(
            "ciudad_municipio_nom", "Nombre municipio", "text", choice([d[1] for d in DEPARTMENTS])
        ),
        ColumnSpec("edad", "Edad", "number", integer(0, 100)),
        ColumnSpec("sexo", "Sexo", "text", choice(("F", "M"))),
        ColumnSpec(
            "fuente_tipo_contagio",
            "Tipo de contagio",
            "text",
            choice(("Comunitaria", "Relacionado", "Importado", "En estudio")),
        ),
        ColumnSpec(
            "estado",
            "Estado",
            "text",
            choice(("Leve", "Moderado", "Grave", "Fallecido"), weights=(85, 8, 2, 5)),
        ),
        ColumnSpec(
            "recuperado",
            "Recuperado",
            "text",
            choice(("Recuperado", "Activo", "Fallecido"), weights=(93, 2, 5)),
        ),
        ColumnSpec(
            "fecha_inicio_sintomas",
            "Fecha de inicio de síntomas",
            "calendar_date",
            date("2020-03-01", "2023-12-31", null_share=0.2),
        ),
        ColumnSpec(
            "fecha_muerte",
            "Fecha de muerte",
            "calendar_date",
            date("2020-03-10", "2023-12-31", null_share=0.97),
        ),
    ),
    "pcr-tests": (
        ColumnSpec("fecha", "Fecha", "calendar_date", date("2020-03-01", "2023-06-30")),
        ColumnSpec("departamento", "Departamento", "text", choice(_department_names())),
        ColumnSpec(
            "codigo_divipola", "Código DIVIPOLA", "text", choice([d[2] for d in DEPARTMENTS])
        ),
        ColumnSpec("pruebas_procesadas", "Pruebas procesadas", "number", integer(0, 40_000)),
        ColumnSpec("pruebas_positivas", "Pruebas positivas", "number", integer(0, 8_000)),
    ),
    "colombia-mayor": (
        ColumnSpec(
            "vereda",
            "Vereda",
            "text",
            choice(
                (
                    "La Cumbre",
                    "Puerto Esperanza",
                    "Miravalle",
                    "Casco urbano",
                    "La Floresta",
                    "Brisas del Güejar",
                )
            ),
        ),
        ColumnSpec("genero", "Género", "text", choice(("Femenino", "Masculino"))),
        ColumnSpec("edad", "Edad", "number", integer(54, 101)),
        ColumnSpec("valor_subsidio", "Valor subsidio", "number", choice(("80000", "130000"))),
        ColumnSpec(
            "fecha_ingreso", "Fecha de ingreso", "calendar_date", date("2012-01-01", "2024-12-31")
        ),
        ColumnSpec(
            "discapacidad", "Discapacidad", "checkbox", choice(("true", "false"), weights=(1, 6))
        ),
    ),
}


def make_frame(kind: str, rows: int, *, seed: int = 0) -> pl.DataFrame:
    """A typed table of ``rows`` rows of the given kind."""
    columns = KINDS[kind]
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        [_typed(spec, _draw(spec, rng, rows)).alias(spec.field) for spec in columns]
    )


def _draw(spec: ColumnSpec, rng: np.random.Generator, rows: int) -> pl.Series:
    if spec.generate is None:
        raise ValueError(f"column {spec.field!r} has no generator")
    return spec.generate(rng, rows)


def _typed(spec: ColumnSpec, series: pl.Series) -> pl.Series:
    if spec.type == "number" and series.dtype == pl.String:
        return series.cast(pl.Float64 if series.str.contains(r"\.").any() else pl.Int64)
    return series


def write_csv(
    path: Path, kind: str, *, target_bytes: int, seed: int = 0, chunk_rows: int = 200_000
) -> int:
    """Write a CSV of at least ``target_bytes`` bytes of ``kind`` rows; returns the row count.

    Chunks are generated and appended one at a time, so memory stays flat for any size.
    """
    rows = 0
    with path.open("wb") as out:
        chunk = 0
        while out.tell() < target_bytes:
            frame = make_frame(kind, chunk_rows, seed=seed * 1_000_003 + chunk)
            out.write(csv_bytes(frame, header=chunk == 0))
            rows += frame.height
            chunk += 1
    return rows


# -- catalogues -----------------------------------------------------------------------------
# The four datasets of ARTI4207's DATASET.csv and the SECOP tables the reference names, with
# their real ids, names and owners; xvdy-vvsk is the SECOP I table that answers 403 since 2026.
KNOWN = (
    (
        "gt2j-8ykr",
        "covid-cases",
        "Casos positivos de COVID-19 en Colombia.",
        "Instituto Nacional de Salud",
        "Salud y Protección Social",
        2_400,
    ),
    (
        "jbjy-vk9h",
        "secop-contracts",
        "SECOP II - Contratos Electrónicos",
        "AGENCIA NACIONAL DE CONTRATACION PUBLICA -COLOMBIA COMPRA EFICIENTE-|08033",
        "Gastos Gubernamentales",
        3_200,
    ),
    (
        "9ssf-i6c5",
        "colombia-mayor",
        "Base de datos beneficiarios Colombia mayor.",
        "ALCALDIA MUNICIPAL DE EL CASTILLO",
        "Inclusión Social y Reconciliación",
        640,
    ),
    (
        "8835-5baf",
        "pcr-tests",
        "Pruebas PCR procesadas de COVID-19 en Colombia (Departamental)",
        "Instituto Nacional de Salud",
        "Salud y Protección Social",
        900,
    ),
    (
        "p6dx-8zbt",
        "secop-processes",
        "SECOP II - Procesos de Contratación",
        "AGENCIA NACIONAL DE CONTRATACION PUBLICA -COLOMBIA COMPRA EFICIENTE-|08033",
        "Gastos Gubernamentales",
        1_800,
    ),
    (
        "it5q-hg94",
        "secop-fines",
        "SECOP II - Multas y Sanciones",
        "AGENCIA NACIONAL DE CONTRATACION PUBLICA -COLOMBIA COMPRA EFICIENTE-|08033",
        "Gastos Gubernamentales",
        540,
    ),
    (
        "xvdy-vvsk",
        "secop-contracts",
        "SECOP I",
        "AGENCIA NACIONAL DE CONTRATACION PUBLICA -COLOMBIA COMPRA EFICIENTE-|08033",
        "Gastos Gubernamentales",
        300,
    ),
)
OWNERS = (
    "Instituto Nacional de Salud",
    "DANE",
    "Ministerio de Educación Nacional",
    "Alcaldía de Bucaramanga",
    "Gobernación de Antioquia",
    "Ministerio de Transporte",
    "Departamento Nacional de Planeación",
    "Superintendencia de Industria y Comercio",
    "Alcaldía de Santiago de Cali",
    "ICBF",
)
def catalogue(
    count: int = 12,
    *,
    seed: int = 0,
    now: datetime | None = None,
    rows: tuple[int, int] = (40, 2_500),
    known: bool = True,
) -> list[Dataset]:
    """``count`` datasets: the known ones first (when ``known``), then random ones.

    Random datasets have ``rows`` rows (a range) and a `rowsUpdatedAt` in the last 90 days; one
    in ten is deliberately stale (two to four years old).
    """
    rng = np.random.default_rng(seed)
    moment = now or datetime.now().astimezone()
    epoch = int(moment.timestamp())
    chosen: list[Dataset] = []
    seen: set[str] = set()
    specs = list(KNOWN if known else ())[:count]
    for index, (ident, kind, name, owner, category, size) in enumerate(specs):
        chosen.append(_dataset(ident, kind, name, owner, category, size, seed + index, epoch, rng))
        seen.add(ident)
    kinds = list(KINDS)
    while len(chosen) < count:
        ident = asset_id(rng)
        if ident in seen:
            continue
        seen.add(ident)
        kind = kinds[int(rng.integers(0, len(kinds)))]
        owner = OWNERS[int(rng.integers(0, len(OWNERS)))]
        category = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
        size = int(rng.integers(rows[0], rows[1] + 1))
        name = f"{kind.replace('-', ' ').capitalize()} {ident.upper()}"
        chosen.append(
            _dataset(ident, kind, name, owner, category, size, seed + len(chosen), epoch, rng)
        )
    return chosen


def _dataset(
    ident: str,
    kind: str,
    name: str,
    owner: str,
    category: str,
    size: int,
    seed: int,
    epoch: int,
    rng: np.random.Generator,
) -> Dataset:
    stale = rng.random() < 0.1
    age = int(rng.integers(730, 1_460) if stale else rng.integers(0, 90)) * 86_400
    updated = epoch - age - int(rng.integers(0, 86_400))
    created = updated - int(rng.integers(30, 2_000)) * 86_400
    return Dataset(
        id=ident,
        name=name,
        owner=owner,
        category=category,
        email=email_for(owner),
        kind=kind,
        columns=list(KINDS[kind]),
        frame=make_frame(kind, size, seed=seed),
        regenerate=partial(make_frame, kind),
        created_at=created,
        rows_updated_at=updated,
        description=f"{name} ({owner}).",
    )
