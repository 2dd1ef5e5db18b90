"""Tiny hand-written raw-zone tables for the indicator tests: rows given as dicts, every other
column of the indicators' schema null, written as Parquet with the raw zone's types."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cauce.apps.contracting.engine import Engine
from cauce.apps.contracting.indicators.common import Inputs
from cauce.apps.contracting.indicators.compute import Outcome, compute_indicators, load_inputs
from cauce.apps.contracting.tables import (
    COLUMNS,
    CONTRATOS,
    EJECUCION,
    OBRAS,
    PEP,
    PROCESOS,
)

CUT = date(2023, 4, 16)
_ids = itertools.count(1)


def d(text: str) -> date:
    return date.fromisoformat(text)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def money(value: float | int | str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.001"), context=Context(prec=40))


def proc(**values: Any) -> dict[str, Any]:
    """A process row of P with plausible defaults; ``n`` numbers its ids."""
    n = values.pop("n", None) or f"{next(_ids):05d}"
    row = {
        "id_proceso": f"CO1.REQ.{n}", "id_portafolio": f"CO1.BDOS.{n}",
        "id_nit_entidad": "800100200", "nombre_entidad": "ALCALDIA DE PRUEBA",
        "nombre_depto_entidad": "Antioquia", "fecha_publicacion": d("2023-01-10"),
        "fecha_actualizacion": d("2023-01-20"), "fecha_recep_resp": d("2023-01-25"),
        "fecha_adjudicacion": d("2023-02-01"), "monto_precio_base": money(100),
        "monto_total_adjudicado": money(100), "tipo_contratacion": "Licitación pública",
        "cantidad_prov_unicos": "3", "id_codigo_categoria": "V1.72101500",
        "nombre_proveedor": f"PROVEEDOR {n}", "id_nit_proveedor": f"9000{n}",
        "id_proveedor_secop": f"7{n}", "nombre_contrato": f"OBJETO {n}",
        "desc_url_proceso": f"https://community.secop.gov.co/Public/Tendering/{n}",
    }
    row.update(values)
    for key in ("monto_precio_base", "monto_total_adjudicado"):
        if isinstance(row[key], int | float | str):
            row[key] = money(row[key])
    return row


def nit_world() -> dict[str, list[dict[str, Any]]]:
    """NITs written with dots and a check digit after a hyphen, on either side of I04's match,
    and ten digits without a hyphen (a cédula's length), which must not match."""
    pep = [{"id_nit_pep": "900123456", "fecha_vinculacion": ts("2020-01-01")},
           {"id_nit_pep": "800.200.300 - 1", "fecha_vinculacion": ts("2020-01-01")}]
    return {PROCESOS: [proc(id_nit_proveedor="900.123.456-7", monto_precio_base=100),
                       proc(id_nit_proveedor="800200300", monto_precio_base=200),
                       proc(id_nit_proveedor="9001234567", monto_precio_base=400)],
            PEP: pep}


#: quantities as hostile delivery lines write them: the engines' own casts read some differently
QUANTITIES = ("1e3", "+5", "5.", ".5", " 7\t", "1_000", "\uff15", "\u0661\u0662", "0x10",
              "Infinity", "NaN", "10,5", "1e40")


def quantity_world() -> dict[str, list[dict[str, Any]]]:
    """One process per value of `QUANTITIES`, its one delivery line due with 0.1 received of
    that quantity: I07 flags the processes whose quantity is read as a number above 0.1."""
    procs, lines, contracts = [], [], []
    for i, quantity in enumerate(QUANTITIES):
        p = proc(n=f"q{i:02d}")
        procs.append(p)
        contracts.append({"id_contrato": f"CO1.PCCNTR.q{i:02d}",
                          "id_proceso_compra": p["id_portafolio"]})
        lines.append({"id_contrato": f"CO1.PCCNTR.q{i:02d}", "cant_recibir": quantity,
                      "cant_recibida": "0.1", "fecha_entrega_esperada": ts("2023-01-01")})
    return {PROCESOS: procs, EJECUCION: lines, CONTRATOS: contracts}


def names_world() -> dict[str, list[dict[str, Any]]]:
    """Contractors of unfinished works known by name only, each written otherwise by its
    process: a vertical tab for a space, a sharp s or a ligature that upper-cases to two
    letters. I09 matches all three."""
    names = (("CONSTRUCTORA\vUNO SAS", "Constructora Uno SAS"),
             ("Ingeniería Straße", "INGENIERIA STRASSE"), ("ﬁnca raíz ltda", "FINCA RAIZ LTDA"))
    works = [{"nombre_rol": "CONTRATISTA", "id_rol": None, "nombre_rol_1": registered}
             for _, registered in names]
    return {PROCESOS: [proc(nombre_proveedor=written, monto_precio_base=100)
                       for written, _ in names], OBRAS: works}


def write_raw(folder: Path, tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[Path]]:
    """Write each table as one Parquet file with the indicators' schema; returns the paths."""
    paths = {}
    for name, rows in tables.items():
        schema = pa.schema(COLUMNS[name])
        full = [{c: r.get(c) for c in schema.names} for r in rows]
        for r in rows:
            unknown = set(r) - set(schema.names)
            assert not unknown, f"{name} has no column(s) {unknown}"
        path = folder / name / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(full, schema=schema), path)
        paths[name] = [path]
    return paths


def inputs_of(engine: Engine, folder: Path, tables: dict[str, list[dict[str, Any]]],
              cut: date = CUT) -> Inputs:
    tables = {PROCESOS: [], **tables}
    return load_inputs(engine, write_raw(folder, tables), cut)


def run_one(engine: Engine, folder: Path, code: str, tables: dict[str, list[dict[str, Any]]],
            *, as_published: bool) -> Outcome:
    inputs = inputs_of(engine, folder, tables)
    [outcome] = compute_indicators(engine, inputs, as_published=as_published,
                                   fecha_ejecucion=CUT, only={code})
    assert outcome.ok, outcome.reason
    return outcome


def measures(outcome: Outcome) -> tuple[int, int, Decimal, int]:
    row = outcome.row
    assert row is not None
    return (row["cantidad_irregularidades"], row["cantidad_contratos_irregularidades"],
            row["monto_total_irregularidades"], row["cantidad_contratos_totales"])
