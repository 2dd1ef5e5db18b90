"""The result tables in the warehouse: the original's DDL exactly (DuckDB and PostgreSQL), and
each date replaced in one transaction, so a failed load leaves the previous rows in place."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from cauce import CauceError, WarehouseError
from cauce.apps.contracting.dashboard.page import read_panel
from cauce.apps.contracting.indicators.compute import RESULT_SCHEMA
from cauce.apps.contracting.results import (
    INDICATORS_TABLE,
    PUBLISHED_TABLE,
    STATUS_TABLE,
    Curated,
    create_tables,
    load_warehouse,
)
from cauce.warehouse import WarehouseBackend, connect
from cauce.warehouse.duckdb import DuckDBBackend

PG = "postgresql://postgres@127.0.0.1:5432/test"
# the original's Redshift DDL: name, type, length/precision, scale, nullable
ORIGINAL = [
    ("nombre_grupo_indicador", "varchar", 100, None, False),
    ("nombre_indicador", "varchar", 100, None, False),
    ("cantidad_irregularidades", "integer", 32, 0, False),
    ("cantidad_contratos_irregularidades", "integer", 32, 0, False),
    ("monto_total_irregularidades", "decimal", 30, 3, True),
    ("cantidad_contratos_totales", "integer", 32, 0, True),
    ("fecha_ejecucion", "date", None, None, True),
]


def _postgres_or_skip() -> str:
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed")
    try:
        psycopg.connect(PG, connect_timeout=2).close()
    except psycopg.Error as error:
        pytest.skip(f"PostgreSQL is not reachable at {PG}: {str(error).strip()}")
    return PG


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def wh(request, tmp_path) -> Iterator[WarehouseBackend]:
    if request.param == "duckdb":
        backend = connect(f"duckdb:///{tmp_path / 'results.duckdb'}")
        yield backend
        backend.close()
        return
    server = _postgres_or_skip()
    schema = f"contracting_{uuid.uuid4().hex[:10]}"
    admin = connect(server)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    backend = connect(f"{server}?options=-csearch_path%3D{schema}")
    try:
        yield backend
    finally:
        backend.close()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def described(wh: WarehouseBackend, table: str) -> list[tuple]:
    rows = wh.query(
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, "
        "numeric_scale, is_nullable FROM information_schema.columns "
        f"WHERE table_name = '{table}' AND table_schema = current_schema() "
        "ORDER BY ordinal_position").to_pylist()
    kinds = {"character varying": "varchar", "varchar": "varchar", "integer": "integer",
             "numeric": "decimal", "date": "date"}
    out = []
    for r in rows:
        kind = kinds.get(r["data_type"].lower(), r["data_type"].lower())
        kind = "decimal" if kind.startswith("decimal") else kind
        length = r["character_maximum_length"] if kind == "varchar" else r["numeric_precision"]
        out.append((r["column_name"], kind, length, r["numeric_scale"],
                    r["is_nullable"] == "YES"))
    return out


def test_the_original_table_keeps_its_ddl(wh):
    create_tables(wh)
    for table in (INDICATORS_TABLE, PUBLISHED_TABLE):
        got = described(wh, table)
        if wh.dialect == "duckdb":  # DuckDB accepts varchar(100) but keeps no length
            assert got == [(n, k, None if k == "varchar" else p, s, null)
                           for n, k, p, s, null in ORIGINAL]
        else:
            assert got == ORIGINAL


def rows(day: date, amount: str, names: list[str]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"nombre_grupo_indicador": "otros indicadores", "nombre_indicador": n,
          "cantidad_irregularidades": 1, "cantidad_contratos_irregularidades": 2,
          "monto_total_irregularidades": Decimal(amount), "cantidad_contratos_totales": 3,
          "fecha_ejecucion": day} for n in names], schema=RESULT_SCHEMA)


def status(day: date) -> pa.Table:
    return pa.Table.from_pylist([{"fecha_ejecucion": day, "definicion": "corregida",
                                  "codigo": "I01", "nombre": "abuso", "estado": "ok",
                                  "motivo": ""}])


def indicator_rows(wh: WarehouseBackend) -> list[tuple]:
    return [(r["fecha_ejecucion"], r["nombre_indicador"], r["monto_total_irregularidades"])
            for r in wh.query(f"SELECT * FROM {INDICATORS_TABLE} "
                              "ORDER BY fecha_ejecucion, nombre_indicador").to_pylist()]


def test_a_date_is_replaced_whole_and_a_failed_load_changes_nothing(wh):
    first, second = date(2023, 4, 9), date(2023, 4, 16)
    for day in (first, second):
        load_warehouse(wh, Curated(day, "corregida", {
            INDICATORS_TABLE: rows(day, "10.5", ["a", "b"]), STATUS_TABLE: status(day)}))
    load_warehouse(wh, Curated(second, "corregida", {
        INDICATORS_TABLE: rows(second, "7.25", ["a"]), STATUS_TABLE: status(second)}))
    expected = [(first, "a", Decimal("10.500")), (first, "b", Decimal("10.500")),
                (second, "a", Decimal("7.250"))]
    assert indicator_rows(wh) == expected
    broken = rows(second, "1", ["c"]).set_column(1, "nombre_indicador", pa.array([None],
                                                                                 pa.string()))
    with pytest.raises(WarehouseError):
        load_warehouse(wh, Curated(second, "corregida", {
            STATUS_TABLE: status(second), INDICATORS_TABLE: broken}))
    assert indicator_rows(wh) == expected   # the delete of that date was rolled back too
    count = wh.query(f"SELECT count(*) AS n FROM {STATUS_TABLE}").column("n")[0].as_py()
    assert count == 2


def test_a_nul_character_in_a_name_is_dropped_and_the_date_loads(wh):
    """An export's stray NUL byte reached the flags' names: PostgreSQL refused the whole load
    (invalid byte sequence 0x00). Every warehouse gets the text without it."""
    day = date(2023, 4, 16)
    load_warehouse(wh, Curated(day, "corregida", {
        INDICATORS_TABLE: rows(day, "1", ["con\x00nul"]), STATUS_TABLE: status(day)}))
    assert indicator_rows(wh) == [(day, "connul", Decimal("1.000"))]


def test_the_curated_zone_commits_a_run_whole(tmp_path):
    from cauce.apps.contracting import app
    from cauce.apps.contracting.indicators.run import Results
    from cauce.apps.contracting.results import read_curated, write_curated
    from cauce.testing import TestRuntime

    day = date(2023, 4, 16)
    with TestRuntime(app) as rt:
        curated = rt.bucket("curated")
        write_curated(curated, Results(day, False, rows(day, "1", ["a"])))
        # a run killed after writing its tables, before its commit
        curated.put(f"corregida/fecha_ejecucion={day}/{INDICATORS_TABLE}.killed.parquet", b"x")
        assert read_curated(curated, day, False).tables[INDICATORS_TABLE].num_rows == 1
        write_curated(curated, Results(day, False, rows(day, "2", ["a", "b"])))
        again = read_curated(curated, day, False)
        assert again.tables[INDICATORS_TABLE].num_rows == 2
        keys = [o.key for o in curated.list(f"corregida/fecha_ejecucion={day}/")]
        assert len(keys) == 3 and not any("killed" in k for k in keys)   # 2 tables + _SUCCESS
        with pytest.raises(CauceError, match="no indicators results"):
            read_curated(curated, day, True)


def test_a_load_and_the_panel_of_its_date_open_the_duckdb_file_once_each(tmp_path, monkeypatch):
    """Opening a DuckDB file costs about 20 ms: a load (creating its tables) and the dashboard's
    reads each go through one opening, not one per table or query."""
    opened = []
    real = DuckDBBackend._open
    monkeypatch.setattr(DuckDBBackend, "_open",
                        lambda self, *args: opened.append(args) or real(self, *args))
    day = date(2023, 4, 16)
    backend = connect(f"duckdb:///{tmp_path / 'results.duckdb'}")
    try:
        load_warehouse(backend, Curated(day, "corregida", {
            INDICATORS_TABLE: rows(day, "10.5", ["a", "b"]), STATUS_TABLE: status(day)}))
        assert len(opened) == 1
        panel = read_panel(backend, day)
        assert len(opened) == 2
    finally:
        backend.close()
    assert [r["nombre_indicador"] for r in panel.indicators] == ["a", "b"]
    assert panel.status == [] and panel.flags == []
