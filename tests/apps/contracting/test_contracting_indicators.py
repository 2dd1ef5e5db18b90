"""The ten indicators, fixed and as published, on hand-made raw tables: planted positives,
near misses and deduplication traps, each with values worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contracting_fixtures import (
    CUT,
    QUANTITIES,
    d,
    inputs_of,
    measures,
    money,
    names_world,
    nit_world,
    proc,
    quantity_world,
    run_one,
    ts,
)

from cauce import CauceError
from cauce.apps.contracting.engine import Engine, check_master, connect
from cauce.apps.contracting.indicators.compute import compute_indicators
from cauce.apps.contracting.tables import (
    CANCELADOS,
    CONTRATOS,
    EJECUCION,
    FISCALES,
    MULTAS,
    OBRAS,
    OFERTAS,
    PEP,
    PROCESOS,
    PUESTOS,
    RUES,
)


@pytest.fixture
def duck() -> Iterator[Engine]:
    engine = connect("duckdb")
    yield engine
    engine.close()


def both(duck: Engine, tmp_path, code: str, tables) -> tuple[tuple, tuple]:
    fixed = measures(run_one(duck, tmp_path / "f", code, tables, as_published=False))
    published = measures(run_one(duck, tmp_path / "p", code, tables, as_published=True))
    return fixed, published


def test_abuso_counts_groups_of_three_per_year_and_dedups_on_the_latest_row(duck, tmp_path):
    x = [proc(id_nit_proveedor="111", fecha_publicacion=d("2022-03-01")) for _ in range(3)]
    # a phase duplicate of the first process, published later with another base price
    dup = proc(id_proceso=x[0]["id_proceso"], id_portafolio=x[0]["id_portafolio"],
               id_nit_proveedor="111", fecha_publicacion=d("2022-03-01"),
               fecha_actualizacion=d("2023-03-01"), monto_precio_base=150)
    y = [proc(id_nit_proveedor="222", fecha_publicacion=d(day))
         for day in ("2022-05-01", "2022-06-01", "2023-01-05")]  # near miss: 2 + 1 per year
    unawarded = proc(id_nit_proveedor="No Adjudicado")
    fixed, published = both(duck, tmp_path, "I01", {PROCESOS: [*x, dup, *y, unawarded]})
    assert fixed == (1, 3, money(350), 7)          # the latest row of the duplicate: 150
    assert published == (1, 3, money(300), 3)      # keeps the 100 row; totales = groups


def test_ofertas_costosas(duck, tmp_path):
    a = proc(id_nit_proveedor="111", monto_total_adjudicado=1000, monto_precio_base=1200)
    b = proc(id_nit_proveedor="333", monto_total_adjudicado=500)
    c = proc(id_nit_proveedor="444", monto_total_adjudicado=700)
    e = proc(id_nit_proveedor="555", monto_total_adjudicado=900, monto_precio_base=1000)

    def offer(p, nit, value, day="2023-01-20"):
        return {"id_proceso_compra": p["id_portafolio"], "id_oferta": f"O-{p['id_proceso']}-{nit}",
                "monto_oferta": None if value is None else money(value),
                "fecha_registro_oferta": d(day), "id_nit_proveedor": nit,
                "nombre_proveedor": f"OFERENTE {nit}"}

    offers = [offer(a, "111", 1000), offer(a, "222", 800),        # a cheaper loser: flagged
              offer(b, "333", 500), offer(b, "666", 600),         # the winner was cheapest
              offer(c, "777", None), offer(c, "888", 650),        # a null bid hides c
              offer(e, "555", 850, "2023-01-21"), offer(e, "999", 850, "2023-01-20")]  # a tie
    fixed, published = both(duck, tmp_path, "I02", {PROCESOS: [a, b, c, e], OFERTAS: offers})
    assert fixed == (2, 2, money(250), 4)          # a (1000-800) and c (700-650)
    assert published == (2, 2, money(2200), 8)     # a and e, at base price; totales = joined rows


def test_inactivos_checks_the_cancellation_date_and_counts_contracts(duck, tmp_path):
    rues = [
        {"id_nit_empresa": "111", "id_empresa": "111", "tipo_estado_matricula": "CANCELADA",
         "fecha_cancelacion": d("2022-06-01")},
        {"id_nit_empresa": None, "id_empresa": "222", "tipo_estado_matricula": "CANCELADA",
         "fecha_cancelacion": d("2023-03-01")},
        {"id_nit_empresa": "333", "id_empresa": "333", "tipo_estado_matricula": "ACTIVA"},
        {"id_nit_empresa": "444", "id_empresa": "444", "tipo_estado_matricula": "cancelada",
         "fecha_cancelacion": d("2020-01-01")},
    ]
    a = proc(id_nit_proveedor="111", monto_precio_base=100, fecha_adjudicacion=d("2023-01-01"))
    b = proc(id_nit_proveedor="111", monto_precio_base=200, fecha_adjudicacion=d("2023-02-01"))
    c = proc(id_nit_proveedor="222", monto_precio_base=300, fecha_adjudicacion=d("2023-02-01"))
    dd = proc(id_nit_proveedor="333", monto_precio_base=400)
    e = proc(id_nit_proveedor="444", monto_precio_base=500, fecha_adjudicacion=d("2023-01-01"))
    fixed, published = both(duck, tmp_path, "I03", {PROCESOS: [a, b, c, dd, e], RUES: rues})
    assert fixed == (2, 3, money(800), 5)          # a, b, e; c was awarded before
    assert published == (2, 2, money(400), 5)      # one row per provider: a and c


def test_pep_needs_the_contract_inside_the_tenure_plus_two_years(duck, tmp_path):
    pep = [
        {"id_nit_pep": "111", "fecha_vinculacion": ts("2020-01-01"),
         "fecha_desvinculacion": ts("2021-06-30")},
        {"id_nit_pep": "222", "fecha_vinculacion": ts("2022-01-01")},
        {"id_nit_pep": "222", "fecha_vinculacion": ts("2019-01-01"),
         "fecha_desvinculacion": ts("2020-01-01")},
        {"id_nit_pep": "333", "fecha_vinculacion": ts("2024-01-01")},
    ]
    a = proc(id_nit_proveedor="111", monto_precio_base=100, fecha_adjudicacion=d("2023-01-01"))
    b = proc(id_nit_proveedor="111", monto_precio_base=200, fecha_adjudicacion=d("2023-08-01"))
    c = proc(id_nit_proveedor="222", monto_precio_base=300, fecha_adjudicacion=d("2023-02-01"))
    dd = proc(id_nit_proveedor="333", monto_precio_base=400)
    e = proc(id_nit_proveedor="444", monto_precio_base=500)
    fixed, published = both(duck, tmp_path, "I04", {PROCESOS: [a, b, c, dd, e], PEP: pep})
    assert fixed == (2, 2, money(400), 5)
    assert published == (5, 5, money(1300), 5)     # c counted once per PEP row


def test_puestos_sensibles_dedups_processes_and_people(duck, tmp_path):
    puestos = [{"id_nit_identificacion": "111", "fecha_vinculacion": ts("2021-01-01")},
               {"id_nit_identificacion": "111", "fecha_vinculacion": ts("2021-05-01")},
               {"id_nit_identificacion": "222", "fecha_vinculacion": ts("2024-01-01")}]
    a = proc(id_nit_proveedor="111", monto_precio_base=100, fecha_adjudicacion=d("2023-01-01"))
    a_old = dict(a, fecha_actualizacion=d("2022-12-01"), monto_precio_base=money(90))
    b = proc(id_nit_proveedor="222", monto_precio_base=300, fecha_adjudicacion=d("2023-01-01"))
    fixed, published = both(duck, tmp_path, "I05", {PROCESOS: [a, a_old, b], PUESTOS: puestos})
    assert fixed == (1, 1, money(100), 2)
    assert published == (5, 5, money(680), 3)      # 2×100 + 2×90 + 300


def test_cancelados_keys_on_the_provider_not_the_legal_representative(duck, tmp_path):
    a = proc(id_nit_proveedor="111", monto_precio_base=100, fecha_adjudicacion=d("2023-01-01"))
    b = proc(id_nit_proveedor="222", monto_precio_base=200, fecha_adjudicacion=d("2023-01-01"))
    c = proc(id_nit_proveedor="999", monto_precio_base=300)
    own = proc(id_nit_proveedor="444", monto_precio_base=400)
    e = proc(id_nit_proveedor="333", monto_precio_base=500)
    cancelled = [
        {"id_nit_rep_legal": "999", "id_proveedor": "111", "id_proceso_compra": "CO1.BDOS.X",
         "fecha_modificacion": ts("2022-05-01 10:00:00")},
        {"id_nit_rep_legal": "555", "id_proveedor": "222", "id_proceso_compra": "CO1.BDOS.Y",
         "fecha_modificacion": ts("2023-06-01 10:00:00")},
        {"id_nit_rep_legal": "333", "id_proveedor": "444",
         "id_proceso_compra": own["id_portafolio"], "fecha_firma": d("2022-01-01")},
        {"id_nit_rep_legal": "No Definido", "id_proveedor": None},
    ]
    fixed, published = both(duck, tmp_path, "I06",
                             {PROCESOS: [a, b, c, own, e], CANCELADOS: cancelled})
    assert fixed == (1, 1, money(100), 5)
    assert published == (2, 2, money(800), 5)      # c and e through the representative's id


def test_entregas_compares_numbers_and_links_contracts_through_the_contracts_table(duck,
                                                                                 tmp_path):
    a = proc(id_proceso="CO1.REQ.55556666", id_portafolio="CO1.BDOS.1",
             id_nit_proveedor="111", monto_precio_base=100)
    b = proc(id_proceso="CO1.REQ.11112222", id_nit_proveedor="222", monto_precio_base=300)
    c = proc(id_proceso="CO1.REQ.33334444", id_nit_proveedor="333", monto_precio_base=300)
    due, later = ts("2023-01-01 00:00:00"), ts("2023-12-01 00:00:00")
    lines = [
        {"id_contrato": "CO1.PCCNTR.11112222", "cant_recibir": "10", "cant_recibida": "9",
         "fecha_entrega_esperada": due},                  # short as numbers, not as text
        {"id_contrato": "CO1.PCCNTR.11112222", "cant_recibir": "100", "cant_recibida": "50",
         "fecha_entrega_esperada": due},                  # short as numbers, not as text
        {"id_contrato": "CO1.PCCNTR.11112222", "cant_recibir": "9", "cant_recibida": "10",
         "fecha_entrega_esperada": due},                  # short as text only
        {"id_contrato": "CO1.PCCNTR.33334444", "cant_recibir": "5", "cant_recibida": "0",
         "fecha_entrega_esperada": later},                # not due yet at the cut
        {"id_contrato": "CO1.PCCNTR.11112222", "cant_recibir": "No Definido",
         "cant_recibida": "1", "fecha_entrega_esperada": due},
    ]
    contracts = [{"id_contrato": "CO1.PCCNTR.11112222", "id_proceso_compra": "CO1.BDOS.1"}]
    fixed, published = both(duck, tmp_path, "I07", {PROCESOS: [a, b, c], EJECUCION: lines,
                                                     CONTRATOS: contracts})
    assert fixed == (2, 1, money(100), 3)          # two short lines of a's contract
    assert published == (2, 2, money(300), 3)     # sum of DISTINCT amounts: 300 once


def test_no_matches_give_zeros_where_the_original_had_null_sums(duck, tmp_path):
    inputs = inputs_of(duck, tmp_path, {EJECUCION: [], CONTRATOS: []})
    [fixed] = compute_indicators(duck, inputs, as_published=False, fecha_ejecucion=CUT,
                                 only={"I07"})
    assert measures(fixed) == (0, 0, money(0), 0) and not fixed.nulls
    [published] = compute_indicators(duck, inputs, as_published=True, fecha_ejecucion=CUT,
                                     only={"I07"})
    assert measures(published) == (0, 0, money(0), 0)
    assert published.nulls == ["cantidad_irregularidades", "monto_total_irregularidades"]


def test_entregas_fixed_needs_the_contracts_table_and_the_original_does_not(duck, tmp_path):
    inputs = inputs_of(duck, tmp_path, {EJECUCION: []})
    [fixed] = compute_indicators(duck, inputs, as_published=False, fecha_ejecucion=CUT,
                                 only={"I07"})
    assert fixed.status == "skipped" and CONTRATOS in fixed.reason
    [published] = compute_indicators(duck, inputs, as_published=True, fecha_ejecucion=CUT,
                                     only={"I07"})
    assert published.ok


def test_multa_matches_supplier_codes_before_the_award(duck, tmp_path):
    fines = [
        {"id_contratista": "7001", "nombre_contratista_sancionado": "ACME SAS",
         "fecha_registro_sanacion": ts("2022-01-01 00:00:00")},
        {"id_contratista": None, "nombre_contratista_sancionado": "NO DEFINIDO",
         "fecha_registro_sanacion": ts("2022-01-01 00:00:00")},
        {"id_contratista": "7002", "nombre_contratista_sancionado": "BETA LTDA",
         "fecha_registro_sanacion": ts("2023-06-01 00:00:00")},
    ]
    a = proc(id_proveedor_secop="7001", nombre_proveedor="ACME S.A.S", monto_precio_base=100)
    b = proc(id_proveedor_secop="7002", nombre_proveedor="BETA LTDA", monto_precio_base=200)
    c = proc(id_proveedor_secop=None, nombre_proveedor="NO DEFINIDO",
             id_nit_proveedor="No Definido", monto_precio_base=300)
    fixed, published = both(duck, tmp_path, "I08", {PROCESOS: [a, b, c], MULTAS: fines})
    assert fixed == (1, 1, money(100), 3)
    assert published == (2, 2, money(500), 3)


def test_obras_counts_contractors_only_and_normalises_names(duck, tmp_path):
    works = [
        {"nombre_rol": "CONTRATISTA", "id_rol": "111", "nombre_rol_1": "Constructora Uno"},
        {"nombre_rol": "INTERVENTOR", "id_rol": "222", "nombre_rol_1": "INTERVENTORA DOS"},
        {"nombre_rol": "CONTRATISTA", "id_rol": None, "nombre_rol_1": "TRES SAS"},
    ]
    a = proc(id_nit_proveedor="111", nombre_proveedor="CONSTRUCTORA UNO", monto_precio_base=100)
    b = proc(id_nit_proveedor="222", nombre_proveedor="INTERVENTORA DOS", monto_precio_base=200)
    c = proc(id_nit_proveedor="333", nombre_proveedor="TRES  SAS", monto_precio_base=300)
    c_named = dict(c, nombre_proveedor="TRES SAS", id_proceso="CO1.REQ.obra-c2",
                   id_portafolio="CO1.BDOS.obra-c2", id_nit_proveedor="334")
    fixed, published = both(duck, tmp_path, "I09", {PROCESOS: [a, b, c, c_named], OBRAS: works})
    assert fixed == (3, 3, money(700), 4)          # a by document, c and c_named by name
    assert published == (2, 2, money(500), 4)      # b (an interventor) and c_named


def test_responsabilidad_fiscal_filters_tr_not_r_and_dedups(duck, tmp_path):
    bulletin = [
        {"nombre_responsable_fiscal": "PEREZ JUAN ", "id_responsable_fiscal": "CC 111",
         "tipo_respons_responsable_fiscal": "S"},
        {"nombre_responsable_fiscal": "GOMEZ ANA", "id_responsable_fiscal": "CC 222",
         "tipo_respons_responsable_fiscal": "I", "cant_registros_responsable_fiscal": 2},
        {"nombre_responsable_fiscal": "LOPEZ LUIS", "id_responsable_fiscal": None,
         "tipo_respons_responsable_fiscal": "I"},
    ]
    a = proc(id_nit_proveedor="111", nombre_proveedor="PEREZ JUAN", monto_precio_base=100)
    b = proc(id_nit_proveedor="222", nombre_proveedor="GOMEZ ANA", monto_precio_base=200)
    c = proc(id_nit_proveedor="333", nombre_proveedor="LOPEZ LUIS", monto_precio_base=300)
    c_old = dict(c, fecha_actualizacion=d("2022-12-01"))
    fixed, published = both(duck, tmp_path, "I10", {PROCESOS: [a, b, c, c_old],
                                                    FISCALES: bulletin})
    assert fixed == (3, 3, money(600), 3)
    assert published == (1, 1, money(600), 4)     # c's two phase rows add its amount twice


def test_the_original_s_arbitrary_row_does_not_depend_on_the_export_s_order(duck, tmp_path):
    """--as-published keeps the first row by a fixed order so its numbers repeat; phase rows
    equal on that order but published in another year were kept as the export listed them."""
    rows = []
    for k in range(3):
        a = proc(n=f"y{k}", id_nit_proveedor="111", fecha_publicacion=d("2022-03-01"))
        b = dict(a, fecha_publicacion=d("2021-03-01"))
        rows += [b, a] if k == 1 else [a, b]
    published = measures(run_one(duck, tmp_path, "I01", {PROCESOS: rows}, as_published=True))
    assert published == (1, 3, money(300), 1)


def test_quantities_are_numbers_only_when_written_with_ascii_digits(duck, tmp_path):
    """DuckDB's cast read `1_000` as a thousand (Spark's reads it as no number, and reads `５`
    and `١٢` as numbers): the engines disagreed on I07. Only a sign, ASCII digits, a point and
    an exponent make a number now, on both."""
    outcome = run_one(duck, tmp_path, "I07", quantity_world(), as_published=False)
    assert outcome.hits is not None
    read = sorted(QUANTITIES[int(p[-2:])] for p in outcome.hits["id_proceso"].to_pylist())
    assert read == sorted(["1e3", "+5", "5.", ".5", " 7\t"])


def test_names_written_with_other_spaces_or_letters_that_upper_case_to_two_match(duck,
                                                                                 tmp_path):
    """DuckDB kept a vertical tab (Spark's `\\s` takes it for a space) and upper-cased `ß` to
    `ẞ` and `ﬁ` to itself (Spark: `SS`, `FI`): the same names matched on Spark only."""
    fixed = measures(run_one(duck, tmp_path, "I09", names_world(), as_published=False))
    assert fixed == (3, 3, money(300), 3)


def test_first_per_keeps_one_row_per_key_and_one_for_the_null_key(duck):
    import ibis
    import pyarrow as pa
    from ibis import _

    from cauce.apps.contracting.indicators.common import first_per

    table = ibis.memtable(pa.table({"k": ["a", "a", "b", None, None], "v": [2, 1, 5, 4, 3]}))
    kept = duck.arrow(first_per(table, "k", [ibis.asc(_.v)])).sort_by("v").to_pylist()
    assert kept == [{"k": "a", "v": 1}, {"k": None, "v": 3}, {"k": "b", "v": 5}]


@pytest.mark.parametrize("master", ["foo", "local[0]", "spark:/host", "local[2] "])
def test_a_master_that_is_no_spark_url_is_refused_before_spark_starts(master):
    """Spark said so only once its JVM had started, with a hint about Java."""
    with pytest.raises(CauceError, match="is not a Spark master URL"):
        connect("spark", spark_master=master)


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "local[4,2]",
                                    "spark://host:7077", "k8s://https://h:443", "yarn"])
def test_spark_master_urls_pass_the_check(master):
    check_master(master)


def test_a_nit_written_with_dots_and_its_check_digit_matches_the_bare_nit(duck, tmp_path):
    """`900.123.456-7` became 9001234567 and missed the registries' 900123456 (RUES keeps the
    check digit apart): the digit after the hyphen is dropped. Ten digits with no hyphen may be
    a cédula and are kept whole."""
    fixed = measures(run_one(duck, tmp_path, "I04", nit_world(), as_published=False))
    assert fixed == (2, 2, money(300), 3)
