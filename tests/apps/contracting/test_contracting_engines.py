"""One definition, two engines: DuckDB and Spark give identical indicators, flags and scores,
and both equal the synthetic exports' planted truth."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import contracting_fixtures as worlds
import pyarrow as pa
import pytest
from contracting_fixtures import inputs_of, measures, money, proc, run_one, ts
from contracting_spark import spark_engine  # noqa: F401  (the session-wide Spark engine)

from cauce.apps.contracting import app, rawzone
from cauce.apps.contracting.engine import Engine, connect
from cauce.apps.contracting.indicators.compute import load_inputs
from cauce.apps.contracting.indicators.run import run_all
from cauce.apps.contracting.tables import COLUMNS, CONTRATOS, EJECUCION, OFERTAS, PROCESOS
from cauce.testing import TestRuntime

pytestmark = pytest.mark.spark
DAY = date(2023, 4, 16)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[dict[str, list[Path]], dict]:
    """The raw zone of the synthetic tiny exports, copied out of a test home, and the truth."""
    folder = tmp_path_factory.mktemp("raw")
    with TestRuntime(app, settings={"download": False}) as rt:
        rt.run("synth", scale="tiny", date=DAY.isoformat())
        assert rt.run("etl", partition=DAY.isoformat()).succeeded
        truth = json.loads(rt.bucket("staging").get(f"truth/{DAY}.json"))
        files = {}
        for table in COLUMNS:
            copies = []
            for n, path in enumerate(rawzone.local_paths(rt.bucket("raw"), table, DAY)):
                copy = folder / table / f"part-{n}.parquet"
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
                copies.append(copy)
            files[table] = copies
    return files, truth


def flag_totals(flags: pa.Table) -> dict[str, dict]:
    """Processes and amount per red flag, as the synthetic truth states them."""
    totals: dict[str, dict] = {}
    for row in flags.to_pylist():
        if row["codigo_bandera"].startswith("RF"):
            entry = totals.setdefault(row["codigo_bandera"], {"procesos": 0, "monto": 0})
            entry["procesos"] += 1
            entry["monto"] += row["monto_bandera"] or 0
    return {code: {"procesos": t["procesos"], "monto": f"{t['monto']:.3f}"}
            for code, t in totals.items()}


def sorted_table(table: pa.Table, keys: list[str]) -> list[dict]:
    return table.sort_by([(k, "ascending") for k in keys]).to_pylist()


@pytest.mark.parametrize("published", [False, True], ids=["fixed", "as-published"])
def test_both_engines_give_the_same_results_and_the_truth(tiny, spark, published):
    files, truth = tiny
    duck = connect("duckdb")
    try:
        ours = run_all(duck, load_inputs(duck, files, DAY), as_published=published,
                       fecha_ejecucion=DAY)
    finally:
        duck.close()
    theirs = run_all(spark, load_inputs(spark, files, DAY), as_published=published,
                     fecha_ejecucion=DAY)
    assert ours.indicators.equals(theirs.indicators)
    assert [s.status for s in ours.steps] == [s.status for s in theirs.steps]
    assert all(s.status == "ok" for s in ours.steps)
    expected = truth["indicators"]["as_published" if published else "fixed"]
    got = {r["nombre_indicador"]: {**{k: r[k] for k in expected[r["nombre_indicador"]]},
                                   "monto_total_irregularidades":
                                       str(r["monto_total_irregularidades"])}
           for r in ours.indicators.to_pylist()}
    assert got == expected
    if not published:
        assert ours.scored is not None and theirs.scored is not None
        assert flag_totals(ours.scored.flags) == truth["flags"]
        assert flag_totals(theirs.scored.flags) == truth["flags"]
        for name, keys in (("flags", ["id_proceso", "codigo_bandera"]),
                           ("contracts", ["id_proceso"]), ("buyers", ["documento"]),
                           ("suppliers", ["documento"])):
            a, b = getattr(ours.scored, name), getattr(theirs.scored, name)
            assert a.schema.equals(b.schema), name
            assert sorted_table(a, keys) == sorted_table(b, keys), name


def edge_world() -> dict:
    """The cases where Spark's and DuckDB's defaults differ: null ordering (the original's
    cheapest offer can be a null), text comparison of quantities, ties, empty sums."""
    a = proc(n="s1", id_nit_proveedor="444", monto_total_adjudicado=700)
    b = proc(n="s2", id_nit_proveedor="555", monto_total_adjudicado=900,
             monto_precio_base=1000)
    offers = [{"id_proceso_compra": a["id_portafolio"], "id_oferta": "1", "monto_oferta": None,
               "id_nit_proveedor": "777"},
              {"id_proceso_compra": a["id_portafolio"], "id_oferta": "2",
               "monto_oferta": money(650), "id_nit_proveedor": "888"},
              {"id_proceso_compra": b["id_portafolio"], "id_oferta": "3",
               "monto_oferta": money(850), "id_nit_proveedor": "555"},
              {"id_proceso_compra": b["id_portafolio"], "id_oferta": "4",
               "monto_oferta": money(850), "id_nit_proveedor": "999"}]
    lines = [{"id_contrato": "CO1.PCCNTR.00000s1", "cant_recibir": "10", "cant_recibida": "9",
              "fecha_entrega_esperada": ts("2023-01-01 00:00:00")},
             {"id_contrato": "CO1.PCCNTR.00000s1", "cant_recibir": " 9 ", "cant_recibida": "10",
              "fecha_entrega_esperada": ts("2023-01-01 00:00:00")}]
    contracts = [{"id_contrato": "CO1.PCCNTR.00000s1", "id_proceso_compra": a["id_portafolio"]}]
    return {PROCESOS: [a, b], OFERTAS: offers, EJECUCION: lines, CONTRATOS: contracts}


@pytest.mark.parametrize("code", ["I02", "I07"])
@pytest.mark.parametrize("published", [False, True], ids=["fixed", "as-published"])
def test_engine_defaults_do_not_leak_into_the_results(tmp_path, spark, code, published):
    duck: Engine = connect("duckdb")
    try:
        expected = measures(run_one(duck, tmp_path / "d", code, edge_world(),
                                    as_published=published))
    finally:
        duck.close()
    assert measures(run_one(spark, tmp_path / "s", code, edge_world(),
                            as_published=published)) == expected


def test_a_check_digit_after_a_hyphen_is_dropped_on_both_engines(tmp_path, spark):
    assert measures(run_one(spark, tmp_path, "I04", worlds.nit_world(), as_published=False)) == (
        2, 2, money(300), 3)


def test_names_are_normalised_alike_by_both_engines(tmp_path, spark):
    assert measures(run_one(spark, tmp_path, "I09", worlds.names_world(), as_published=False)) == (
        3, 3, money(300), 3)


def test_quantities_are_read_alike_by_both_engines(tmp_path, spark):
    duck: Engine = connect("duckdb")
    try:
        expected = run_one(duck, tmp_path / "d", "I07", worlds.quantity_world(), as_published=False)
    finally:
        duck.close()
    got = run_one(spark, tmp_path / "s", "I07", worlds.quantity_world(), as_published=False)
    assert expected.hits is not None and got.hits is not None
    assert sorted(got.hits["id_proceso"].to_pylist()) == sorted(
        expected.hits["id_proceso"].to_pylist())
    assert measures(got) == measures(expected)


def test_spark_reads_a_source_committed_with_no_rows(tmp_path, spark):
    inputs = inputs_of(spark, tmp_path, {OFERTAS: []})
    assert spark.arrow(inputs[OFERTAS].count().as_table()).column(0)[0].as_py() == 0


def test_partition_folders_are_not_read_as_columns(tmp_path, spark):
    import pyarrow.parquet as pq

    folder = tmp_path / "t" / "fecha_corte_datos=2023-04-16" / "tipo_contratacion=A%2FB"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id_proceso_compra": ["x"], "tipo_contratacion": ["A/B"]}),
                   folder / "part-0.parquet")
    schema = {"id_proceso_compra": pa.string(), "tipo_contratacion": pa.string()}
    duck = connect("duckdb")
    try:
        ours = duck.arrow(duck.read("t", [folder / "part-0.parquet"], schema))
    finally:
        duck.close()
    theirs = spark.arrow(spark.read("t", [folder / "part-0.parquet"], schema))
    assert ours.to_pylist() == theirs.to_pylist() == [{"id_proceso_compra": "x",
                                                       "tipo_contratacion": "A/B"}]
