"""A reference raw zone for the stream to hit: the registries with some of the producer's pool
values in them (so each indicator fires on a share of the records, as the original's pools were
picked from real registries) and ``background`` random rows per registry, drawn with NumPy.

For the demo and the benchmark; real runs read the partitions the weekly ETL commits.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cauce import Bucket

from .. import rawzone
from ..etl import EtlOutput
from ..tables import (
    CANCELADOS,
    COLUMNS,
    FISCALES,
    MULTAS,
    OBRAS,
    PEP,
    PROCESOS,
    PUESTOS,
    RUES,
)
from . import records as rec

PROVEEDORES = rec.PROVEEDORES[0]
# which pool values each registry holds (one each: every indicator fires on part of the stream)
PLANTED: dict[str, dict[str, list[str]]] = {
    PEP: {"id_nit_pep": [PROVEEDORES[0]]},
    PUESTOS: {"id_nit_identificacion": [PROVEEDORES[1]]},
    CANCELADOS: {"id_nit_rep_legal": [PROVEEDORES[2]]},
    RUES: {
        "id_nit_empresa": [PROVEEDORES[3]],
        "id_empresa": ["1"],
        "tipo_estado_matricula": ["CANCELADA"],
    },
    MULTAS: {"nombre_contratista_sancionado": [rec.NOMBRES[1]]},
    OBRAS: {"nombre_rol_1": [rec.NOMBRES[10]]},
    FISCALES: {"nombre_responsable_fiscal": [rec.RESPONSABLES[0]]},
}


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return rng.integers(10 ** (width - 1), 10**width, n).astype(str).astype(object)


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.char.add("EMPRESA ", rng.integers(0, 10**9, n).astype(str)).astype(object)


def tables(background: int, seed: int = 0) -> dict[str, pa.Table]:
    """The eight registries the stream reads, as raw-zone tables."""
    rng = np.random.default_rng(seed)
    n = background
    columns: dict[str, dict[str, np.ndarray]] = {
        PEP: {"id_nit_pep": _digits(rng, n, 10)},
        PUESTOS: {"id_nit_identificacion": _digits(rng, n, 10)},
        CANCELADOS: {"id_nit_rep_legal": _digits(rng, n, 9)},
        RUES: {
            "id_nit_empresa": _digits(rng, n, 9),
            "id_empresa": _digits(rng, n, 10),
            "tipo_estado_matricula": np.where(rng.random(n) < 0.3, "CANCELADA", "ACTIVA").astype(
                object
            ),
        },
        MULTAS: {"nombre_contratista_sancionado": _names(rng, n)},
        OBRAS: {"nombre_rol_1": _names(rng, n)},
        FISCALES: {"nombre_responsable_fiscal": _names(rng, n)},
    }
    out = {}
    for table, cols in columns.items():
        planted = PLANTED[table]
        full = {
            c: np.concatenate([np.asarray(planted[c], dtype=object), v]) for c, v in cols.items()
        }
        out[table] = _typed(table, full)
    # processes: 10 per background row, some of the pool's pairs twice (abuse with 1 contract)
    m = 10 * n
    entities = np.concatenate(
        [np.asarray(rec.ENTIDADES[0][:2], dtype=object).repeat(2), _digits(rng, m, 9)]
    )
    providers = np.concatenate(
        [np.asarray(PROVEEDORES[4:6], dtype=object).repeat(2), _digits(rng, m, 10)]
    )
    ids = np.char.add("CO1.REQ.", np.arange(entities.size).astype(str)).astype(object)
    out[PROCESOS] = _typed(
        PROCESOS, {"id_proceso": ids, "id_nit_entidad": entities, "id_nit_proveedor": providers}
    )
    return out


def _typed(table: str, cols: dict[str, np.ndarray]) -> pa.Table:
    schema = pa.schema(COLUMNS[table])
    n = len(next(iter(cols.values())))
    return pa.table(
        {
            f.name: pa.array(cols[f.name], f.type) if f.name in cols else pa.nulls(n, f.type)
            for f in schema
        }
    )


def publish(raw: Bucket, quarantine: Bucket, day: date, background: int, seed: int = 0) -> int:
    """Commit the registries as partition ``day`` of each raw table; returns the rows."""
    run = f"sample-{uuid.uuid4().hex[:8]}"
    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        for table, data in tables(background, seed).items():
            path = Path(tmp) / f"{table}.parquet"
            pq.write_table(data, path)
            output = EtlOutput(
                table, data.num_rows, "utf-8", parts=[(f"part-{run}-0.parquet", path)]
            )
            rawzone.publish(raw, quarantine, table, day, run, output)
            rows += data.num_rows
    return rows
