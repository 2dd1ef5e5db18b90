"""Where results go: the curated zone (Parquet per run date, committed by a `_SUCCESS` object
written last) and the warehouse, replaced per `fecha_ejecucion` in one transaction.

`t_result_indicadores_batch` keeps the original's DDL exactly, so the panels and queries built
on it keep working; the as-published results go to a table with the same DDL and the suffix
`_publicado`, so both can be compared side by side. The other tables are this app's own.
The original deleted the whole table and then COPYed: a failure between the two left it empty.
Here the delete of one date and the load of its rows commit together or not at all.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cauce import Bucket, CauceError, Warehouse

from .indicators.run import Results

if TYPE_CHECKING:
    from cauce.warehouse import Transaction

INDICATORS_TABLE = "t_result_indicadores_batch"
PUBLISHED_TABLE = "t_result_indicadores_batch_publicado"
FLAGS_TABLE = "t_result_banderas_contrato"
CONTRACT_SCORES = "t_result_puntaje_contrato"
BUYER_SCORES = "t_result_puntaje_entidad"
SUPPLIER_SCORES = "t_result_puntaje_proveedor"
STATUS_TABLE = "t_result_estado_indicadores"

ORIGINAL_COLUMNS = """(
    nombre_grupo_indicador varchar(100) not null,
    nombre_indicador varchar(100) not null,
    cantidad_irregularidades integer not null,
    cantidad_contratos_irregularidades integer not null,
    monto_total_irregularidades decimal(30,3),
    cantidad_contratos_totales integer,
    fecha_ejecucion date
)"""
_ROLLUP = """(
    fecha_ejecucion date not null,
    documento varchar not null,
    {names},
    contratos bigint not null,
    contratos_con_banderas bigint not null,
    monto_total decimal(30,3),
    monto_con_banderas decimal(30,3),
    puntaje double precision not null,
    nivel varchar not null
)"""
DDL: dict[str, str] = {
    INDICATORS_TABLE: ORIGINAL_COLUMNS,
    PUBLISHED_TABLE: ORIGINAL_COLUMNS,
    FLAGS_TABLE: """(
    fecha_ejecucion date not null,
    id_proceso varchar not null,
    codigo_bandera varchar not null,
    nombre_bandera varchar not null,
    peso integer not null,
    monto_bandera decimal(30,3),
    id_nit_entidad varchar,
    nombre_entidad varchar,
    nombre_depto_entidad varchar,
    id_nit_proveedor varchar,
    nombre_proveedor varchar,
    desc_url_proceso varchar
)""",
    CONTRACT_SCORES: """(
    fecha_ejecucion date not null,
    id_proceso varchar not null,
    id_nit_entidad varchar,
    nombre_entidad varchar,
    nombre_depto_entidad varchar,
    id_nit_proveedor varchar,
    nombre_proveedor varchar,
    monto decimal(30,3),
    desc_url_proceso varchar,
    banderas varchar not null,
    cantidad_banderas integer not null,
    puntaje double precision not null,
    nivel varchar not null
)""",
    BUYER_SCORES: _ROLLUP.format(names="id_nit_entidad varchar,\n    nombre_entidad varchar,\n"
                                 "    nombre_depto_entidad varchar"),
    SUPPLIER_SCORES: _ROLLUP.format(names="id_nit_proveedor varchar,\n"
                                    "    nombre_proveedor varchar"),
    STATUS_TABLE: """(
    fecha_ejecucion date not null,
    definicion varchar not null,
    codigo varchar not null,
    nombre varchar not null,
    estado varchar not null,
    motivo varchar
)""",
}
SUCCESS = "_SUCCESS"


@dataclass(frozen=True)
class Curated:
    """One committed run of the indicators in the curated zone."""

    fecha_ejecucion: date
    definicion: str
    tables: dict[str, pa.Table]


def definicion(as_published: bool) -> str:
    return "publicada" if as_published else "corregida"


def _prefix(day: date, definition: str) -> str:
    return f"{definition}/fecha_ejecucion={day.isoformat()}/"


def tables_of(results: Results) -> dict[str, pa.Table]:
    """The warehouse tables a run fills, by name."""
    if results.as_published:
        return {PUBLISHED_TABLE: results.indicators, STATUS_TABLE: results.status_table()}
    tables = {INDICATORS_TABLE: results.indicators, STATUS_TABLE: results.status_table()}
    if results.scored is not None:
        tables |= {FLAGS_TABLE: results.scored.flags, CONTRACT_SCORES: results.scored.contracts,
                   BUYER_SCORES: results.scored.buyers, SUPPLIER_SCORES: results.scored.suppliers}
    return tables


def write_curated(curated: Bucket, results: Results) -> dict[str, int]:
    """Each table as Parquet under a name no earlier run used, then `_SUCCESS` listing them
    (the commit, one atomic write), then the earlier runs' files go. A run killed before its
    commit leaves the previous one whole; returns the row counts."""
    prefix = _prefix(results.fecha_ejecucion, results.definicion)
    token = uuid.uuid4().hex[:12]
    files, counts = {}, {}
    for name, table in tables_of(results).items():
        sink = io.BytesIO()
        pq.write_table(table, sink)
        files[name] = f"{prefix}{name}.{token}.parquet"
        curated.put(files[name], sink.getvalue())
        counts[name] = table.num_rows
    curated.put(prefix + SUCCESS, json.dumps({"files": files, "rows": counts}, sort_keys=True))
    for stale in curated.list(prefix):
        if stale.key != prefix + SUCCESS and stale.key not in files.values():
            curated.delete(stale.key)
    return counts


def read_curated(curated: Bucket, day: date, as_published: bool) -> Curated:
    """The committed results of ``day``; a clear error when the indicators did not run."""
    definition = definicion(as_published)
    prefix = _prefix(day, definition)
    if not curated.exists(prefix + SUCCESS):
        flag = " --as-published" if as_published else ""
        raise CauceError(f"no indicators results for {day} ({definition}) in the curated zone",
                         hint=f"run `cauce run contracting indicators --partition {day}{flag}` "
                         "first")
    files = json.loads(curated.get(prefix + SUCCESS))["files"]
    tables = {name: pq.read_table(io.BytesIO(curated.get(key))) for name, key in files.items()}
    return Curated(day, definition, tables)


def create_tables(wh: Warehouse | Transaction, names: list[str] | None = None) -> None:
    """Create the result tables that do not exist yet, with their DDL."""
    for name in names or list(DDL):
        if not wh.table_exists(name):
            wh.execute(f"CREATE TABLE {name} {DDL[name]}")


def load_warehouse(wh: Warehouse, run: Curated) -> dict[str, int]:
    """Replace the run's date in every table it fills, in one transaction (which creates the
    tables first met: on DuckDB one opening of the file rather than one per table)."""
    loaded = {}
    with wh.transaction() as tx:
        create_tables(tx, list(run.tables))
        for name, table in run.tables.items():
            if name == STATUS_TABLE:
                tx.execute(f"DELETE FROM {name} WHERE fecha_ejecucion = ? AND definicion = ?",
                           [run.fecha_ejecucion, run.definicion])
            else:
                tx.execute(f"DELETE FROM {name} WHERE fecha_ejecucion = ?",
                           [run.fecha_ejecucion])
            loaded[name] = tx.load(name, without_nul(table)) if table.num_rows else 0
    return loaded


def without_nul(table: pa.Table) -> pa.Table:
    """``table`` with NUL characters removed from its text: PostgreSQL's text cannot hold them
    (an export's stray NUL byte in a name failed the whole load), and every warehouse gets the
    same rows."""
    for index, column in enumerate(table.schema):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            text = pc.replace_substring(table.column(index), "\x00", "")
            table = table.set_column(index, column, text)
    return table


def table_counts(wh: Warehouse, day: date) -> Mapping[str, int]:
    """Rows per result table for ``day`` (tables not created yet count 0)."""
    counts = {}
    for name in DDL:
        if wh.table_exists(name):
            rows = wh.query(f"SELECT count(*) AS n FROM {name} WHERE fecha_ejecucion = ?", [day])
            counts[name] = rows.column("n")[0].as_py()
        else:
            counts[name] = 0
    return counts
