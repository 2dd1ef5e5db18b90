"""The red flags on planted positives and near misses, and the scores built from them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contracting_fixtures import CUT, d, inputs_of, money, proc

from cauce.apps.contracting.engine import Engine, connect
from cauce.apps.contracting.indicators.flags import FLAGS
from cauce.apps.contracting.indicators.run import run_all
from cauce.apps.contracting.tables import CONTRATOS, OFERTAS, PROCESOS, RUES

FLAG = {f.code: f for f in FLAGS}


@pytest.fixture
def duck() -> Iterator[Engine]:
    engine = connect("duckdb")
    yield engine
    engine.close()


def fired(engine: Engine, folder, code: str, tables) -> set[str]:
    inputs = inputs_of(engine, folder, tables)
    return set(engine.arrow(FLAG[code].fires(inputs))["id_proceso"].to_pylist())


def offer(p, nit, value):
    return {"id_proceso_compra": p["id_portafolio"], "id_oferta": f"{p['id_proceso']}-{nit}",
            "monto_oferta": money(value), "id_nit_proveedor": nit}


def test_single_bidder_counts_distinct_bidders_or_the_published_count(duck, tmp_path):
    one = proc(n="a1")
    two = proc(n="a2")
    direct = proc(n="a3", tipo_contratacion="Contratación directa")
    by_count = proc(n="a4", cantidad_prov_unicos="1")
    spelt = proc(n="a5", cantidad_prov_unicos=" 1.0 ")   # as a float column exports it
    offers = [offer(one, "1", 10), offer(one, "1-", 11),   # one bidder, two bids
              offer(two, "1", 10), offer(two, "2", 11), offer(direct, "5", 10)]
    assert fired(duck, tmp_path, "RF01", {PROCESOS: [one, two, direct, by_count, spelt],
                                          OFERTAS: offers}) == {
        one["id_proceso"], by_count["id_proceso"], spelt["id_proceso"]}


def test_short_or_missing_submission_period(duck, tmp_path):
    short = proc(n="b1", fecha_publicacion=d("2023-01-01"), fecha_recep_resp=d("2023-01-08"))
    ok = proc(n="b2", fecha_publicacion=d("2023-01-01"), fecha_recep_resp=d("2023-01-11"))
    missing = proc(n="b3", fecha_recep_resp=None)
    minima = proc(n="b4", tipo_contratacion="Mínima cuantía",
                  fecha_publicacion=d("2023-01-01"), fecha_recep_resp=d("2023-01-02"))
    direct = proc(n="b5", tipo_contratacion="Contratación directa", fecha_recep_resp=None)
    assert fired(duck, tmp_path, "RF02", {PROCESOS: [short, ok, missing, minima, direct]}) == {
        short["id_proceso"], missing["id_proceso"]}


def test_non_competitive_and_the_buyers_share(duck, tmp_path):
    closed = [proc(n=f"c{i}", id_nit_entidad="811", tipo_contratacion="Contratación Directa",
                   monto_total_adjudicado=100) for i in range(5)]
    open_ = proc(n="c9", id_nit_entidad="811", monto_total_adjudicado=100)
    few = [proc(n=f"d{i}", id_nit_entidad="822", tipo_contratacion="Régimen Especial")
           for i in range(4)]
    tables = {PROCESOS: [*closed, open_, *few]}
    assert fired(duck, tmp_path / "a", "RF03", tables) == {p["id_proceso"]
                                                            for p in closed + few}
    # 500 of 600 closed is 83% > 80%; the other buyer has only 4 processes
    assert fired(duck, tmp_path / "b", "RF04", tables) == {p["id_proceso"] for p in closed}


def test_award_at_or_above_the_estimate(duck, tmp_path):
    same = proc(n="e1", monto_precio_base=1000, monto_total_adjudicado=996)
    below = proc(n="e2", monto_precio_base=1000, monto_total_adjudicado=994)
    above = proc(n="e3", monto_precio_base=1000, monto_total_adjudicado=1200)
    tables = {PROCESOS: [same, below, above]}
    assert fired(duck, tmp_path / "a", "RF05", tables) == {same["id_proceso"]}
    assert fired(duck, tmp_path / "b", "RF06", tables) == {above["id_proceso"]}


def test_splitting_in_a_ninety_day_window(duck, tmp_path):
    kw = dict(id_nit_entidad="833", id_nit_proveedor="444",
              tipo_contratacion="Contratación directa", id_codigo_categoria="V1.72101500")
    each = 120_000_000  # below 280 SMMLV of 2023 (324.8 M), three of them above
    split = [proc(n=f"f{i}", fecha_publicacion=d(day), monto_total_adjudicado=each, **kw)
             for i, day in enumerate(("2023-01-01", "2023-02-15", "2023-03-31"))]
    late = proc(n="f9", fecha_publicacion=d("2023-04-01"), monto_total_adjudicado=each,
                **{**kw, "id_nit_proveedor": "555"})
    other = [proc(n=f"g{i}", fecha_publicacion=d(day), monto_total_adjudicado=each,
                  **{**kw, "id_nit_proveedor": "555"})
             for i, day in enumerate(("2023-01-01", "2023-02-15"))]  # 3rd is day 90: outside
    assert fired(duck, tmp_path, "RF07", {PROCESOS: [*split, late, *other]}) == {
        p["id_proceso"] for p in split}


def test_dominant_supplier(duck, tmp_path):
    big = [proc(n=f"h{i}", id_nit_entidad="844", id_nit_proveedor="1",
                monto_total_adjudicado=300) for i in range(2)]
    rest = [proc(n=f"i{i}", id_nit_entidad="844", id_nit_proveedor=str(10 + i),
                 monto_total_adjudicado=100) for i in range(3)]
    assert fired(duck, tmp_path, "RF08", {PROCESOS: [*big, *rest]}) == {
        p["id_proceso"] for p in big}


def test_new_supplier_with_a_large_award(duck, tmp_path):
    large = 200_000_000
    new = proc(n="j1", id_nit_proveedor="901", fecha_adjudicacion=d("2023-03-01"),
               monto_total_adjudicado=large)
    old = proc(n="j2", id_nit_proveedor="902", fecha_adjudicacion=d("2023-03-01"),
               monto_total_adjudicado=large)
    small = proc(n="j3", id_nit_proveedor="901", fecha_adjudicacion=d("2023-03-02"),
                 monto_total_adjudicado=1_000_000)
    rues = [{"id_nit_empresa": "901", "id_empresa": "901", "fecha_matricula": d("2023-01-15")},
            {"id_nit_empresa": "902", "id_empresa": "902", "fecha_matricula": d("2022-11-01")}]
    assert fired(duck, tmp_path, "RF09", {PROCESOS: [new, old, small], RUES: rues}) == {
        new["id_proceso"]}


def test_identical_bids_extension_year_end_and_round_values(duck, tmp_path):
    tie = proc(n="k1")
    no_tie = proc(n="k2")
    offers = [offer(tie, "1", 500), offer(tie, "2", 500), offer(no_tie, "1", 500),
              offer(no_tie, "1", 500)]
    assert fired(duck, tmp_path / "a", "RF10", {PROCESOS: [tie, no_tie], OFERTAS: offers}) == {
        tie["id_proceso"]}
    long_ = proc(n="k3")
    short = proc(n="k4")
    contracts = [{"id_proceso_compra": long_["id_portafolio"],
                  "fecha_inicio_contrato": d("2023-01-01"), "fecha_fin_contrato": d("2023-03-02"),
                  "numero_adicion_dias": "30"},
                 {"id_proceso_compra": short["id_portafolio"],
                  "fecha_inicio_contrato": d("2023-01-01"), "fecha_fin_contrato": d("2023-03-02"),
                  "numero_adicion_dias": "29"}]
    assert fired(duck, tmp_path / "b", "RF11", {PROCESOS: [long_, short],
                                                CONTRATOS: contracts}) == {long_["id_proceso"]}
    december = proc(n="k5", fecha_adjudicacion=d("2022-12-15"))
    early = proc(n="k6", fecha_adjudicacion=d("2022-12-14"))
    assert fired(duck, tmp_path / "c", "RF12", {PROCESOS: [december, early]}) == {
        december["id_proceso"]}
    round_ = proc(n="k7", monto_total_adjudicado=2_000_000_000)
    not_round = proc(n="k8", monto_total_adjudicado=2_050_000_000)
    small = proc(n="k9", monto_total_adjudicado=500_000_000)
    assert fired(duck, tmp_path / "d", "RF13", {PROCESOS: [round_, not_round, small]}) == {
        round_["id_proceso"]}


def test_scores_flags_table_and_rollups(duck, tmp_path):
    risky = proc(n="m1", id_nit_entidad="855", id_nit_proveedor="77", monto_precio_base=1000,
                 monto_total_adjudicado=1200, fecha_adjudicacion=d("2022-12-20"))
    clean = proc(n="m2", id_nit_entidad="855", id_nit_proveedor="78", monto_precio_base=150,
                 monto_total_adjudicado=100)
    inputs = inputs_of(duck, tmp_path, {PROCESOS: [risky, clean]})
    results = run_all(duck, inputs, as_published=False, fecha_ejecucion=CUT)
    assert results.scored is not None
    skipped = {s.code for s in results.steps if s.status == "skipped"}
    assert skipped == {"I02", "I03", "I04", "I05", "I06", "I07", "I08", "I09", "I10",
                       "RF01", "RF09", "RF10", "RF11"}
    flags = results.scored.flags.to_pylist()
    assert {(f["id_proceso"], f["codigo_bandera"]) for f in flags} == {
        (risky["id_proceso"], "RF06"), (risky["id_proceso"], "RF12")}
    assert all(f["monto_bandera"] == money(1200) for f in flags)
    evaluated = 8 + sum(f.weight for f in FLAGS if f.code in {
        "RF02", "RF03", "RF04", "RF05", "RF06", "RF07", "RF08", "RF12", "RF13"})
    [contract] = results.scored.contracts.to_pylist()
    assert contract["banderas"] == "RF06,RF12"
    assert contract["puntaje"] == pytest.approx(round(100 * 12 / evaluated, 4))
    [buyer] = results.scored.buyers.to_pylist()
    assert buyer["contratos"] == 2 and buyer["contratos_con_banderas"] == 1
    assert buyer["puntaje"] == pytest.approx(contract["puntaje"] * 1200 / 1300, abs=1e-3)
    # suppliers with no flagged contract score 0 and are left out
    assert [s["documento"] for s in results.scored.suppliers.to_pylist()] == ["77"]


def test_amounts_at_the_top_of_decimal_30_3_are_summed_or_loaded_as_null(duck, tmp_path, caplog):
    """Amounts of 28 to 30 digits (a value decimal(30,3) holds, as hostile exports carry) failed
    every indicator that met one with `InvalidOperation` and the scores with a cast error, so
    nothing was loaded; a total that no decimal(30,3) holds (the tables' type) is now null,
    said in the log, and everything else is computed."""
    top = "999999999999999999999999999.999"
    abuse = [proc(id_nit_entidad="855", id_nit_proveedor="77", monto_precio_base=top,
                  monto_total_adjudicado=top) for _ in range(3)]
    one = proc(id_nit_entidad="856", id_nit_proveedor="78", monto_precio_base=1,
               monto_total_adjudicado="99999999999999999999999999.5")
    inputs = inputs_of(duck, tmp_path, {PROCESOS: [*abuse, one]})
    results = run_all(duck, inputs, as_published=False, fecha_ejecucion=CUT)
    assert {s.code for s in results.steps if s.status == "failed"} == set()
    [i01] = results.indicators.to_pylist()
    assert i01["cantidad_contratos_irregularidades"] == 3
    assert i01["monto_total_irregularidades"] is None
    assert "does not fit decimal(30,3)" in caplog.text
    assert results.scored is not None
    buyers = {b["documento"]: b for b in results.scored.buyers.to_pylist()}
    assert buyers["855"]["monto_total"] is None and buyers["855"]["contratos"] == 3
    assert buyers["856"]["monto_total"] == money("99999999999999999999999999.5")


def test_phase_rows_tied_on_every_ordering_key_give_one_result_whatever_their_order(
        duck, tmp_path):
    """Two rows of a process updated, awarded and priced alike (phase rows updated the same
    day) kept whichever the export listed first: the same data in another order fired other
    flags. The remaining columns now break the tie."""
    rows = []
    for k in range(4):
        a = proc(n=f"t{k}", fecha_recep_resp=d("2023-01-11"))   # 1 day: short
        b = dict(a, fecha_recep_resp=d("2023-02-28"))
        rows += [a, b] if k % 2 else [b, a]
    assert fired(duck, tmp_path, "RF02", {PROCESOS: rows}) == {f"CO1.REQ.t{k}" for k in range(4)}
