"""The bulk of each synthetic export: realistic rows that raise no indicator, drawn with NumPy.

Every column is generated whole (one draw per column), so a million processes take seconds.
Columns nobody looks at get plausible values of their kind; the columns the indicators read
are drawn so that background rows never match the planted ones nor each other: suppliers win
at most two processes each, registry people have document numbers no supplier has, and each
registry's names come from its own vocabulary. The quirks of the real exports are here too:
duplicate process rows (older phases), ``No Definido``/``No Adjudicado`` for unawarded
processes, dates with a trailing time, a few impossible dates, amounts with thousands
separators, names with double spaces, a description spanning two lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from cauce.apps.contracting.sources import SOURCES, Column, Source

# Java pattern → strftime, for writing dates as each export writes them
STRFTIME = {
    "MM/dd/yyyy": "%m/%d/%Y",
    "dd/MM/yyyy": "%d/%m/%Y",
    "yyyyMMdd": "%Y%m%d",
    "yyyy-MM-dd": "%Y-%m-%d",
    "yyyy/MM/dd HH:mm:ss": "%Y/%m/%d %H:%M:%S",
    "MM/dd/yyyy HH:mm:ss": "%m/%d/%Y %H:%M:%S",
    "dd/MM/yyyy HH:mm:ss": "%d/%m/%Y %H:%M:%S",
    "yyyy-MM-dd HH:mm:ss.SSSSSSS": "%Y-%m-%d %H:%M:%S.0000000",
}
EPOCH = date(1970, 1, 1)
MODALITIES = (
    "Contratación directa",
    "Contratación régimen especial",
    "Mínima cuantía",
    "Selección Abreviada de Menor Cuantía",
    "Selección abreviada subasta inversa",
    "Licitación pública",
    "Concurso de méritos abierto",
)
# roughly SECOP's mix: two thirds of the processes are not competitive
MODALITY_SHARES = (0.45, 0.2, 0.15, 0.07, 0.05, 0.05, 0.03)
NON_COMPETITIVE = (0, 1)  # the indices of direct contracting and the special regime
ENTITY_KINDS = (
    "ALCALDÍA MUNICIPAL DE",
    "GOBERNACIÓN DE",
    "E.S.E. HOSPITAL DE",
    "INSTITUCIÓN EDUCATIVA DE",
    "CONCEJO MUNICIPAL DE",
)
PLACES = (
    "PASTO",
    "MEDELLÍN",
    "BUCARAMANGA",
    "IBAGUÉ",
    "NEIVA",
    "MONTERÍA",
    "TUNJA",
    "POPAYÁN",
    "SANTA MARTA",
    "VILLAVICENCIO",
    "CÚCUTA",
    "SOACHA",
    "QUIBDÓ",
    "RIOHACHA",
    "LETICIA",
)
FIRM_WORDS = (
    "CONSTRUCTORA",
    "INVERSIONES",
    "SUMINISTROS",
    "SERVICIOS",
    "INGENIERÍA",
    "COMERCIALIZADORA",
    "SOLUCIONES",
    "DISTRIBUIDORA",
    "CONSULTORES",
    "TECNOLOGÍA",
    "LOGÍSTICA",
    "OBRAS",
)
FIRM_PLACES = (
    "ANDINA",
    "DEL PACÍFICO",
    "DEL CARIBE",
    "LLANERA",
    "DEL SUR",
    "CAFETERA",
    "DE ORIENTE",
    "DEL NORTE",
    "ANTIOQUEÑA",
    "SANTANDEREANA",
)
FIRM_SUFFIXES = ("S.A.S.", "LTDA", "S.A.", "SAS", "E.U.")
GIVEN = ("ANA", "LUIS", "MARÍA", "JOSÉ", "CARLOS", "LUZ", "JORGE", "DIANA", "ANDRÉS", "PAOLA")
SURNAMES = (
    "RODRÍGUEZ",
    "GÓMEZ",
    "MARTÍNEZ",
    "LÓPEZ",
    "GARCÍA",
    "PÉREZ",
    "SÁNCHEZ",
    "RAMÍREZ",
    "TORRES",
    "DÍAZ",
    "VARGAS",
    "ROJAS",
    "MUÑOZ",
    "CASTAÑO",
    "OSPINA",
)
WORDS = (
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
    "obra",
    "pública",
    "interventoría",
    "adquisición",
    "equipos",
    "vías",
    "terciarias",
    "alimentación",
    "escolar",
    "municipio",
    "salud",
)


@dataclass(frozen=True)
class Sizes:
    """Rows of each export for a number of processes, in the proportions of datos.gov.co."""

    processes: int

    def of(self, key: str) -> int:
        share = {
            "t_seii_procecotrata_compraadjudi": 1.0,
            "t_seii_ofertaproces_procesocompr": 0.5,  # ≈ 4 M offers for ≈ 8.5 M processes
            "t_otro_pernajuesadl_camarcomerci": 1.0,  # ≈ 9.3 M registrations
            "t_otro_persexpupoli_sigepperexpo": 0.01,
            "t_otro_puestsensibl_sigeppsscorr": 0.02,
            "t_seii_contracanela_aislamiencon": 0.01,
            "t_seii_contratelect_cregistrados": 0.65,  # ≈ 5.6 M contracts
            "t_seii_ejecucioncon_avancerevses": 0.5,  # ≈ 4.4 M delivery lines
            "t_seii_multasysanci_secopiimulsa": 0.0001,  # ≈ 540 fines
            "t_paco_registro_obras_inconclusa": 0.001,
            "t_paco_responsabilidad_fiscales": 0.003,
        }[key]
        return max(8, int(self.processes * share))


def choose(values: tuple[str, ...], indices: np.ndarray) -> pl.Series:
    """``values[i]`` for each ``i`` of ``indices``, gathered by Polars (no Python strings)."""
    return pl.Series(values, dtype=pl.String).gather(indices)


def pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> pl.Series:
    return choose(values, rng.integers(0, len(values), n))


def numbered(prefix: str, start: int, n: int, width: int = 0) -> pl.Series:
    numbers = pl.int_range(start, start + n, eager=True).cast(pl.String)
    if width:
        numbers = numbers.str.zfill(width)
    return prefix + numbers


def days(rng: np.random.Generator, first: date, last: date, n: int) -> np.ndarray:
    """Day numbers (since 1970) drawn uniformly in [first, last]."""
    return rng.integers((first - EPOCH).days, (last - EPOCH).days + 1, n)


def render(day_numbers: np.ndarray | pl.Series, pattern: str) -> pl.Series:
    """Dates as an export writes them with ``pattern``."""
    series = pl.Series(day_numbers).cast(pl.Int32).cast(pl.Date)
    if "HH" in pattern:
        series = series.cast(pl.Datetime("ms"))
    return series.dt.strftime(STRFTIME[pattern])


def filler(column: Column, rng: np.random.Generator, n: int) -> pl.Series:
    """Plausible values for a column no indicator reads."""
    if column.kind == "decimal":
        digits = min(8, column.precision - column.scale - 1)
        return pl.Series(rng.integers(0, 10**digits, n)).cast(pl.String)
    if column.kind in ("int", "int text"):
        return pl.Series(rng.integers(1, 99, n)).cast(pl.String)
    if column.kind in ("date", "timestamp"):
        return render(days(rng, date(2018, 1, 1), date(2023, 3, 31), n), column.pattern)
    if column.kind == "upper":
        return person_names(rng, n)
    words = tuple(f"{column.name.split('_')[-1].capitalize()} {k}" for k in range(1, 7))
    return pick(rng, words, n)


def person_names(
    rng: np.random.Generator, n: int, *, surnames: tuple[str, ...] = SURNAMES
) -> pl.Series:
    return pick(rng, GIVEN, n) + " " + pick(rng, surnames, n) + " " + pick(rng, surnames, n)


def firm_names(index: pl.Series) -> pl.Series:
    """A distinct firm name per supplier index (the number keeps each name unique)."""
    k = index.to_numpy()
    return pl.select(
        pl.concat_str(
            choose(FIRM_WORDS, k % len(FIRM_WORDS)),
            choose(FIRM_PLACES, (k // len(FIRM_WORDS)) % len(FIRM_PLACES)),
            index.cast(pl.String),
            choose(FIRM_SUFFIXES, k % len(FIRM_SUFFIXES)),
            separator=" ",
        )
    ).to_series()


def frame(
    src: Source, rng: np.random.Generator, n: int, given: dict[str, pl.Series]
) -> pl.DataFrame:
    """All of ``src``'s export columns for ``n`` rows: ``given`` ones, the others filled."""
    columns = {}
    for header in src.headers:
        column = next(c for c in src.columns if c.header == header)
        series = given[header] if header in given else filler(column, rng, n)
        columns[header] = series.cast(pl.String).alias(header)
    return pl.DataFrame(columns)


# -- processes ------------------------------------------------------------------------------------
def processes(
    rng: np.random.Generator, n: int, first_id: int, duplicates: float = 0.03
) -> pl.DataFrame:
    """``n`` processes, ``duplicates`` of them twice (an earlier phase: an older update date,
    everything an indicator reads unchanged), rows in random order, and hidden columns with
    what the raw zone will read: ``_year`` of publication and ``_base`` (null when the text
    does not parse), ``_adjudicated``, ``_awarded``, ``_updated``, ``_current`` (False on the
    earlier phase), ``_entity``, ``_supplier``, ``_modality`` (index in MODALITIES) and
    ``_ref`` (the adjudication date, a day number), ``_number`` (of its ids).

    Everything is drawn per process and spread to its rows by index, so no text is copied."""
    src = SOURCES["t_seii_procecotrata_compraadjudi"]
    # per process
    entities = max(20, n // 200)
    entity = rng.integers(0, entities, n)
    awarded = rng.random(n) < 0.7
    supplier = (first_id + np.arange(n)) // 2  # a supplier wins at most two processes
    published = days(rng, date(2019, 1, 1), date(2023, 4, 10), n)
    updated = published + rng.integers(0, 60, n)
    received = published + rng.integers(10, 41, n)  # never shorter than a modality's minimum
    base = (np.exp(rng.normal(17.0, 1.3, n))).astype(np.int64) + 1_000_000
    adjudicated = np.where(awarded, (base * rng.uniform(0.85, 1.0, n)).astype(np.int64), 0)
    modality = rng.choice(len(MODALITIES), n, p=MODALITY_SHARES)
    trailing = rng.random(n) < 0.01  # "06/30/2022 12:00:00 AM": read by its prefix
    impossible = rng.random(n) < 0.001  # "13/25/2022": null
    commas = rng.random(n) < 0.001  # "1,234,567": null
    # rows: each process once, the duplicated ones again as their earlier phase, shuffled
    twice = np.flatnonzero(rng.random(n) < duplicates)
    order = rng.permutation(n + twice.size)
    row = np.concatenate([np.arange(n), twice])[order]
    current = order < n
    older = updated[row] - np.where(current, 0, 1 + rng.integers(1, 30, row.size))
    m = row.size
    ids = pl.Series(first_id + row).cast(pl.String)
    is_awarded = pl.Series(awarded[row])
    published_text = render(published[row], "MM/dd/yyyy")
    published_text = pl.select(
        pl.when(pl.lit(pl.Series(impossible[row])))
        .then(pl.lit("13/25/") + published_text.str.slice(6, 4))
        .when(pl.lit(pl.Series(trailing[row])))
        .then(published_text + " 12:00:00 AM")
        .otherwise(published_text)
    ).to_series()
    base_text = pl.Series(base[row]).cast(pl.String)
    base_text = pl.select(
        pl.when(pl.lit(pl.Series(commas[row])))
        .then(base_text.str.replace(r"(\d)(\d{3})$", "$1,$2"))
        .otherwise(base_text)
    ).to_series()
    the_supplier = pl.Series(supplier[row])
    placeholder = pick(rng, ("No Adjudicado", "No Definido"), m)

    def if_awarded(value: pl.Series | pl.Expr, otherwise: pl.Series | pl.Expr) -> pl.Series:
        return pl.select(pl.when(is_awarded).then(value).otherwise(otherwise)).to_series()

    entity_name = entity_names(entity[row])
    double = pl.Series(rng.random(m) < 0.01)  # two spaces inside one name in a hundred
    entity_name = pl.select(
        pl.when(double).then(entity_name.str.replace(" ", "  ")).otherwise(entity_name)
    ).to_series()
    description = words(rng, m, 6, 14)
    two_lines = pl.Series(rng.random(m) < 0.0005)
    description = pl.select(
        pl.when(two_lines).then(description + "\nObjeto: " + description).otherwise(description)
    ).to_series()
    phase = pick(rng, ("Presentación de oferta", "Evaluación", "Selección"), m)
    given = {
        "Entidad": entity_name,
        "Nit Entidad": pl.Series(890_000_000 + entity[row]).cast(pl.String),
        "Codigo Entidad": pl.Series(700_000 + entity[row]).cast(pl.String),
        "ID del Proceso": "CO1.REQ." + ids,
        "Referencia del Proceso": "REF-" + ids,
        "ID del Portafolio": "CO1.BDOS." + ids,
        "Nombre del Procedimiento": words(rng, m, 3, 7),
        "Descripción del Procedimiento": description,
        "Fase": pl.select(
            pl.when(pl.Series(current)).then(phase).otherwise(pl.lit("Borrador"))
        ).to_series(),
        "Fecha de Publicacion del Proceso": published_text,
        "Fecha de Ultima Publicación": render(older, "MM/dd/yyyy"),
        "Fecha de Recepcion de Respuestas": render(received[row], "MM/dd/yyyy"),
        "Precio Base": base_text,
        "Modalidad de Contratacion": choose(MODALITIES, modality[row]),
        "Proveedores Unicos con Respuestas": pl.Series(rng.integers(2, 10, m)).cast(pl.String),
        "Adjudicado": if_awarded(pl.lit("Si"), pl.lit("No")),
        "CodigoProveedor": if_awarded(
            (1_000_000 + the_supplier).cast(pl.String), pl.lit("No Definido")
        ),
        "Fecha Adjudicacion": if_awarded(
            render(updated[row], "MM/dd/yyyy"), pl.lit(None, pl.String)
        ),
        "Valor Total Adjudicacion": pl.Series(adjudicated[row]).cast(pl.String),
        "Nombre del Proveedor Adjudicado": if_awarded(
            firm_names(the_supplier), pl.lit("No Definido")
        ),
        "NIT del Proveedor Adjudicado": if_awarded(
            (800_000_000 + the_supplier).cast(pl.String), placeholder
        ),
        "Estado Resumen": pl.select(
            pl.when(pl.Series(~current))
            .then(pl.lit("En evaluación"))
            .when(is_awarded)
            .then(pl.lit("Adjudicado"))
            .otherwise(pl.lit("Presentación de oferta"))
        ).to_series(),
        "URLProceso": "https://community.secop.gov.co/Public/Tendering/OpportunityDetail/Index?"
        "noticeUID=CO1.NTC." + ids,
    }
    out = frame(src, rng, m, given)
    years = pl.Series(published).cast(pl.Int32).cast(pl.Date).dt.year().to_numpy()
    return out.with_columns(
        _masked(years[row], impossible[row]).alias("_year").cast(pl.Int32),
        _masked(base[row], commas[row]).alias("_base"),
        pl.Series("_adjudicated", adjudicated[row], dtype=pl.Int64),
        pl.Series("_awarded", awarded[row]),
        pl.Series("_updated", older, dtype=pl.Int32),
        pl.Series("_current", current),
        pl.Series("_entity", entity[row], dtype=pl.Int64),
        pl.Series("_supplier", supplier[row], dtype=pl.Int64),
        pl.Series("_modality", modality[row], dtype=pl.Int8),
        pl.Series("_ref", updated[row], dtype=pl.Int32),
        pl.Series("_number", first_id + row, dtype=pl.Int64),
    )


def words(rng: np.random.Generator, n: int, low: int, high: int) -> pl.Series:
    """``n`` texts of ``low`` to ``high`` words, title-cased: one column of words per position,
    nulled beyond each text's count and concatenated, so no row is built in Python."""
    count = rng.integers(low, high + 1, n)
    picked = rng.integers(0, len(WORDS), (n, high))
    vocabulary = pl.Series(WORDS, dtype=pl.String)
    positions = [
        pl.when(pl.lit(pl.Series(count > i))).then(vocabulary.gather(picked[:, i]))
        for i in range(high)
    ]
    text = pl.select(pl.concat_str(positions, separator=" ", ignore_nulls=True)).to_series()
    return text.str.to_titlecase().str.slice(0, 200)


# -- the other sources -----------------------------------------------------------------------------
def offers(rng: np.random.Generator, procesos: pl.DataFrame, n: int, first_id: int) -> pl.DataFrame:
    """Three offers per awarded process (until ``n``), in random order: the winner's, the
    cheapest, and two dearer ones at values no other bidder of the process offers."""
    src = SOURCES["t_seii_ofertaproces_procesocompr"]
    awarded = procesos.filter(
        pl.col("_current") & pl.col("_awarded") & (pl.col("_adjudicated") > 0)
    ).head(n // 3)
    k = awarded.height
    winner = awarded.select(
        pl.col("ID del Portafolio").alias("portfolio"),
        pl.col("NIT del Proveedor Adjudicado").alias("nit"),
        pl.col("Nombre del Proveedor Adjudicado").alias("name"),
        pl.col("CodigoProveedor").alias("code"),
        pl.col("_adjudicated").alias("value"),
        pl.col("Modalidad de Contratacion").alias("modality"),
        pl.col("Entidad").alias("entity"),
        pl.col("Nit Entidad").alias("entity_nit"),
        pl.col("Fecha Adjudicacion").alias("date"),
    )
    rivals = []
    for offset in (1, 2):
        other = pl.Series(rng.integers(0, 2**31 - 1, k)) % 400_000 + 600_000  # not winners
        rivals.append(
            winner.with_columns(
                (500_000_000 + other).cast(pl.String).alias("nit"),
                firm_names(other).alias("name"),
                (3_000_000 + other).cast(pl.String).alias("code"),
                # 5-9 % dearer, then 15-19 %: never two bidders at one value
                (pl.col("value") * (0.95 + 0.1 * offset + pl.Series(rng.random(k)) * 0.04)).cast(
                    pl.Int64
                ),
            )
        )
    table = pl.concat([winner, *rivals]).rechunk()
    table = table[rng.permutation(table.height)]
    m = table.height
    registered = render(days(rng, date(2019, 1, 1), date(2023, 4, 1), m), "dd/MM/yyyy")
    given = {
        "Fecha de Registro": registered,
        "Referencia de la Oferta": numbered("OF-", first_id, m),
        "Identificador de la Oferta": numbered("CO1.BID.", first_id, m),
        "Valor de la Oferta": table["value"].cast(pl.String),
        "Entidad Compradora": table["entity"],
        "NIT Entidad Compradora": table["entity_nit"],
        "Moneda": pl.Series(["COP"] * m),
        "ID del Proceso de Compra": table["portfolio"],
        "Modalidad": table["modality"],
        "Invitacion Directa": pl.Series(["No"] * m),
        "Nombre Proveedor": table["name"],
        "NIT del Proveedor": table["nit"],
        "Codigo Proveedor": table["code"],
    }
    return frame(src, rng, m, given)


def rues(rng: np.random.Generator, procesos: pl.DataFrame, n: int) -> pl.DataFrame:
    """Registrations in random order: the winning suppliers (active, registered before 2018-07,
    long before any of their processes), other firms and people; the cancelled ones have
    numbers no supplier has."""
    src = SOURCES["t_otro_pernajuesadl_camarcomerci"]
    suppliers = (
        procesos.filter(pl.col("_awarded") & pl.col("_current"))["_supplier"]
        .unique(maintain_order=True)
        .head(n // 2)
        .to_numpy()
    )
    order = rng.permutation(n)
    is_supplier = order < suppliers.size
    other = order - suppliers.size
    firm = np.where(
        is_supplier, suppliers[np.minimum(order, suppliers.size - 1)], 2_000_000 + other
    )
    nits = pl.Series(np.where(is_supplier, 800_000_000 + firm, 400_000_000 + other)).cast(pl.String)
    states = pl.select(
        pl.when(pl.Series(is_supplier))
        .then(pl.lit("ACTIVA"))
        .otherwise(pick(rng, ("ACTIVA", "ACTIVA", "CANCELADA", "INACTIVA", "NO ASIGNADO"), n))
    ).to_series()
    registered = np.where(
        is_supplier,
        days(rng, date(1960, 1, 1), date(2018, 6, 30), n),
        days(rng, date(1950, 1, 1), date(2023, 3, 1), n),
    )
    cancelled = registered + rng.integers(30, 3_000, n)
    is_cancelled = states == "CANCELADA"
    nobody = pl.Series([None] * n, dtype=pl.String)
    given = {
        "razon_social": firm_names(pl.Series(firm)),
        "numero_identificacion": nits,
        "nit": nits,
        "digito_verificacion": pl.Series(rng.integers(0, 10, n)).cast(pl.String),
        "fecha_matricula": render(registered, "yyyyMMdd"),
        "fecha_renovacion": render(registered + 365, "yyyyMMdd"),
        "fecha_vigencia": render(registered + 36_500, "yyyyMMdd"),
        "fecha_cancelacion": pl.select(
            pl.when(pl.lit(is_cancelled))
            .then(render(cancelled, "yyyyMMdd"))
            .otherwise(pl.lit(None))
        ).to_series(),
        "estado_matricula": states,
        "primer_apellido": nobody,
        "segundo_apellido": nobody,
        "primer_nombre": nobody,
        "segundo_nombre": nobody,
    }
    return frame(src, rng, n, given)


def registry_people(
    rng: np.random.Generator, n: int, first_document: int
) -> tuple[pl.Series, pl.Series]:
    """Document numbers no supplier has and names from a registry's own surnames."""
    documents = (first_document + pl.int_range(0, n, eager=True)).cast(pl.String)
    surnames = tuple(s + "IN" for s in SURNAMES)  # never a supplier's surname
    return documents, person_names(rng, n, surnames=surnames)


def pep(rng: np.random.Generator, n: int) -> pl.DataFrame:
    documents, names = registry_people(rng, n, 30_000_000)
    start = days(rng, date(2010, 1, 1), date(2022, 12, 31), n)
    return frame(
        SOURCES["t_otro_persexpupoli_sigepperexpo"],
        rng,
        n,
        {
            "NUMERO_DOCUMENTO": documents,
            "NOMBRE_PEP": names,
            "FECHA_VINCULACION": render(start, "MM/dd/yyyy HH:mm:ss") + " AM",
            "FECHA_DESVINCULACION": render(start + 900, "MM/dd/yyyy HH:mm:ss") + " AM",
        },
    )


def puestos(rng: np.random.Generator, n: int) -> pl.DataFrame:
    documents, names = registry_people(rng, n, 40_000_000)
    salary = pl.Series(rng.integers(1_160_000, 15_000_000, n))
    return frame(
        SOURCES["t_otro_puestsensibl_sigeppsscorr"],
        rng,
        n,
        {
            "IDENTIFICACION_FUNCIONARIO": documents,
            "NOMBRE_COMPLETO": names,
            "TIPO_NOMBRAMIENTO": pl.select(
                pl.when(pl.lit(pl.Series(rng.random(n) < 0.1)))
                .then(pl.lit(None, pl.String))
                .otherwise(
                    pick(
                        rng,
                        ("Carrera administrativa", "Libre nombramiento y remoción", "Provisional"),
                        n,
                    )
                )
            ).to_series(),
            # "3,456,789": the original removes the commas
            "ASIG_BASICA": salary.cast(pl.String).str.replace(r"(\d)(\d{3})(\d{3})$", "$1,$2,$3"),
            "FECHA_VINCULACION": render(
                days(rng, date(2005, 1, 1), date(2022, 12, 31), n), "MM/dd/yyyy HH:mm:ss"
            ),
        },
    )


def cancelados(rng: np.random.Generator, n: int) -> pl.DataFrame:
    documents, names = registry_people(rng, n, 50_000_000)
    firms = (450_000_000 + pl.int_range(0, n, eager=True)).cast(pl.String)
    signed = days(rng, date(2018, 1, 1), date(2022, 12, 31), n)
    return frame(
        SOURCES["t_seii_contracanela_aislamiencon"],
        rng,
        n,
        {
            "Proceso de Compra": numbered("CO1.BDOS.", 90_000_000, n),
            "ID Contrato": numbered("CO1.PCCNTR.", 90_000_000, n),
            "Documento Proveedor": firms,
            "Proveedor Adjudicado": firm_names(pl.int_range(0, n, eager=True) + 3_000_000),
            "Identificación Representante Legal": documents,
            "Nombre Representante Legal": names,
            "Fecha de Firma": render(signed, "dd/MM/yyyy"),
            "FechaModificacion": render(signed + 40, "dd/MM/yyyy HH:mm:ss"),
            "Estado Contrato": pl.Series(["Cancelado"] * n),
        },
    )


def ejecucion(rng: np.random.Generator, n: int, contracts: int) -> pl.DataFrame:
    """Delivery lines of the first ``contracts`` background contracts (numbered apart from
    every process: 8 digits against 7), all delivered in full (or with quantities ``No
    Definido``)."""
    due = pl.Series(rng.integers(1, 500, n)).cast(pl.String)
    undefined = pl.Series(rng.random(n) < 0.2)
    due = pl.select(
        pl.when(pl.lit(undefined)).then(pl.lit("No Definido")).otherwise(due)
    ).to_series()
    expected = days(rng, date(2020, 1, 1), date(2023, 3, 1), n)
    return frame(
        SOURCES["t_seii_ejecucioncon_avancerevses"],
        rng,
        n,
        {
            "IdentificadorContrato": "CO1.PCCNTR."
            + pl.Series(CONTRACT_BASE + rng.integers(0, max(contracts, 1), n)).cast(pl.String),
            "TipoEjecucion": pick(rng, ("Entregables", "Porcentaje de avance"), n),
            "PorcentajeDeAvanceEsperado": pl.Series(rng.integers(0, 10_000, n) / 100).cast(
                pl.String
            ),
            "CantidadPorRecibir": due,
            "CantidadRecibida": due,
            "FechaDeEntregaEsperada": render(expected, "yyyy-MM-dd HH:mm:ss.SSSSSSS"),
            "FechaDeEntregaReal": render(expected + 3, "yyyy-MM-dd HH:mm:ss.SSSSSSS"),
            "FechaCreacion": render(expected - 30, "yyyy-MM-dd HH:mm:ss.SSSSSSS"),
        },
    )


CONTRACT_BASE = 20_000_000  # background contract numbers: CO1.PCCNTR.20000000 and up
CONTRACT_STATES = ("En ejecución", "Modificado", "Cerrado", "terminado", "Activo", "Suspendido")


def contratos(rng: np.random.Generator, procesos: pl.DataFrame, n: int) -> pl.DataFrame:
    """One contract for each of the first ``n`` awarded background processes, signed after the
    award, for its value; extensions (``Dias Adicionados``) on one contract in eight, always
    shorter than half the term."""
    src = SOURCES["t_seii_contratelect_cregistrados"]
    won = procesos.filter(
        pl.col("_entity").is_not_null() & pl.col("_current") & pl.col("_awarded")
    ).head(n)
    m = won.height
    supplier, entity = won["_supplier"], won["_entity"].to_numpy()
    signed = won["_ref"].to_numpy() + rng.integers(0, 11, m)
    starts = signed + rng.integers(0, 16, m)
    term = rng.integers(30, 366, m)
    added = np.where(rng.random(m) < 0.125, (term * rng.uniform(0.0, 0.49, m)).astype(int), 0)
    number = pl.Series(CONTRACT_BASE + np.arange(m)).cast(pl.String)
    given = {
        "Nombre Entidad": entity_names(entity),
        "Nit Entidad": pl.Series(890_000_000 + entity).cast(pl.String),
        "Codigo Entidad": pl.Series(700_000 + entity).cast(pl.String),
        "Proceso de Compra": "CO1.BDOS." + won["_number"].cast(pl.String),
        "ID Contrato": "CO1.PCCNTR." + number,
        "Referencia del Contrato": "CTO-" + number,
        "Estado Contrato": pick(rng, CONTRACT_STATES, m),
        "Modalidad de Contratacion": choose(MODALITIES, won["_modality"].to_numpy()),
        "Fecha de Firma": render(signed, "MM/dd/yyyy"),
        "Fecha de Inicio del Contrato": render(starts, "MM/dd/yyyy"),
        "Fecha de Fin del Contrato": render(starts + term, "MM/dd/yyyy"),
        "Fecha de Inicio de Ejecucion": render(starts, "MM/dd/yyyy"),
        "Fecha de Fin de Ejecucion": render(starts + term, "MM/dd/yyyy"),
        "Documento Proveedor": (800_000_000 + supplier).cast(pl.String),
        "Proveedor Adjudicado": firm_names(supplier),
        "Codigo Proveedor": (1_000_000 + supplier).cast(pl.String),
        "Valor del Contrato": won["_adjudicated"].cast(pl.String),
        "Dias Adicionados": pl.Series(added).cast(pl.String),
        "Objeto del Contrato": words(rng, m, 4, 12),
    }
    return frame(src, rng, m, given)


def entity_names(entity: np.ndarray) -> pl.Series:
    """The name of each background entity (a kind of entity and a place)."""
    return (
        choose(ENTITY_KINDS, entity % len(ENTITY_KINDS))
        + " "
        + choose(PLACES, (entity // len(ENTITY_KINDS)) % len(PLACES))
    )


def multas(rng: np.random.Generator, n: int) -> pl.DataFrame:
    _, names = registry_people(rng, n, 60_000_000)
    return frame(
        SOURCES["t_seii_multasysanci_secopiimulsa"],
        rng,
        n,
        {
            "ID Proceso": numbered("CO1.BDOS.", 95_000_000, n),
            " Codigo Proveedor Objeto de la Multa": (
                9_000_000 + pl.int_range(0, n, eager=True)
            ).cast(pl.String),
            "Nombre Proveedor Objeto de la Multa": names,
            "Fecha Evento": render(
                days(rng, date(2018, 1, 1), date(2023, 3, 1), n), "MM/dd/yyyy HH:mm:ss"
            )
            + " PM",
        },
    )


def obras(rng: np.random.Generator, n: int) -> pl.DataFrame:
    documents, names = registry_people(rng, n, 70_000_000)
    lower = pl.Series(rng.random(n) < 0.3)
    return frame(
        SOURCES["t_paco_registro_obras_inconclusa"],
        rng,
        n,
        {
            "": pl.int_range(0, n, eager=True).cast(pl.String),
            "ROL_2006": pick(rng, ("CONTRATISTA", "INTERVENTOR", "SUPERVISOR"), n),
            "IDENTIFICACION_2006": documents,
            "NOMBRE_2006": pl.select(
                pl.when(pl.lit(lower)).then(names.str.to_lowercase()).otherwise(names)
            ).to_series(),
            "ENTIDAD_2010": "NIT. "
            + pl.Series(rng.integers(800_000_000, 899_999_999, n)).cast(pl.String)
            + "-1",
            "COD_DEPARTAMENTO_2004": pick(rng, ("05", "08", "11", "13", "76"), n),
            "FECHA_2011": render(days(rng, date(2011, 1, 1), date(2011, 12, 31), n), "yyyy-MM-dd")
            + " 00:00:00",
        },
    )


def responsables(rng: np.random.Generator, n: int) -> pl.DataFrame:
    documents, names = registry_people(rng, n, 80_000_000)
    return frame(
        SOURCES["t_paco_responsabilidad_fiscales"],
        rng,
        n,
        {
            "Responsable Fiscal": names,
            "Tipo y Num Docuemento": "CC " + documents,
            "TR": pick(rng, ("I", "S"), n),
            "R": pl.Series([None] * n, dtype=pl.String),
        },
    )


def _masked(values: np.ndarray, mask: np.ndarray) -> pl.Series:
    """``values`` with null where ``mask`` is set."""
    return pl.Series(values).scatter(np.flatnonzero(mask), None)
