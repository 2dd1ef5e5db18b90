"""The original's ten batch indicators, each twice: fixed, and as published.

`fixed` returns the flagged processes (`Hits`) under the corrected definition; `published`
returns the original's one result row, defect for defect (contracting-sources §2). The app
README lists every defect and its fix, indicator by indicator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
from ibis import _

from ..tables import (
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
from .common import (
    PLACEHOLDERS,
    Inputs,
    asc_first,
    awarded,
    by_doc_or_name,
    doc,
    name,
    number,
    published_first,
    published_processes,
)

OTROS = "otros indicadores"
INCUMPLIMIENTO = "indicadores incumplimiento"
INHABILIDAD = "indicadores por inhabilidad"


@dataclass(frozen=True)
class Hits:
    """What a fixed indicator flagged: one row per process (`id_proceso`, `doc_proveedor`,
    `monto`), and how its irregularities are counted: "providers" (distinct provider
    documents), "processes", or a one-row table with column `n`."""

    processes: ir.Table
    irregularidades: str | ir.Table = "providers"


@dataclass(frozen=True)
class Indicator:
    """One of the original's ten: its names, the sources each definition reads, both
    definitions."""

    code: str
    group: str
    name: str
    sources: tuple[str, ...]
    fixed: Callable[[Inputs], Hits]
    published: Callable[[Inputs], ir.Table]
    fixed_sources: tuple[str, ...] = ()

    def needs(self, as_published: bool) -> tuple[str, ...]:
        """The raw tables the chosen definition reads."""
        return self.sources if as_published or not self.fixed_sources else self.fixed_sources


def _hits(flagged: ir.Table, irregularidades: str | ir.Table = "providers") -> Hits:
    rows = flagged.select("id_proceso", "doc_proveedor", monto=_.monto_precio_base).distinct()
    return Hits(rows, irregularidades)


def _row(irregularidades: ir.Value, contratos: ir.Value, monto: ir.Value,
         totales: ir.Value) -> dict[str, ir.Value]:
    return {"cantidad_irregularidades": irregularidades,
            "cantidad_contratos_irregularidades": contratos,
            "monto_total_irregularidades": monto, "cantidad_contratos_totales": totales}


def _one_row(measures: ir.Table, totales: ir.Table) -> ir.Table:
    """The measures of a global aggregate next to the row count of another relation."""
    return measures.cross_join(totales)


def _raw_count(inputs: Inputs) -> ir.Table:
    return inputs[PROCESOS].aggregate(cantidad_contratos_totales=_.count())


def _not_placeholder(column: ir.StringValue) -> ir.BooleanValue:
    """The original's ``NOT x IN (...)``: null (so the row is dropped) when x is null."""
    return ~column.isin(PLACEHOLDERS)


# -- 1. abuso de la contratación ---------------------------------------------------------
def abuso_fixed(inputs: Inputs) -> Hits:
    pd = awarded(inputs).filter(_.doc_entidad.notnull() & _.fecha_publicacion.notnull())
    pd = pd.mutate(anio=_.fecha_publicacion.year())
    keys = ["doc_entidad", "doc_proveedor", "anio"]
    groups = pd.aggregate(by=keys, n=_.count()).filter(_.n >= 3)
    flagged = pd.join(groups, keys).select(pd.columns)
    return _hits(flagged, groups.aggregate(n=_.count()))


def abuso_published(inputs: Inputs) -> ir.Table:
    p = published_processes(inputs, "id_proceso")
    p = p.filter(_not_placeholder(p.id_nit_proveedor))
    groups = p.aggregate(by=["id_nit_entidad", "id_nit_proveedor",
                             p.fecha_publicacion.year().name("anio")],
                         n=_.count(), monto=_.monto_precio_base.sum())
    irregular = groups.filter(_.n >= 3)
    measures = irregular.aggregate(cantidad_irregularidades=_.count(),
                                   cantidad_contratos_irregularidades=_.n.sum(),
                                   monto_total_irregularidades=_.monto.sum())
    return _one_row(measures, groups.aggregate(cantidad_contratos_totales=_.count()))


# -- 2. ofertas Costosas -----------------------------------------------------------------
def _offers(inputs: Inputs) -> ir.Table:
    o = inputs[OFERTAS]
    return o.select(id_proceso_compra=o.id_proceso_compra, id_oferta=o.id_oferta,
                    monto_oferta=o.monto_oferta, fecha_registro_oferta=o.fecha_registro_oferta,
                    oferta_nombre=o.nombre_proveedor, oferta_nit=o.id_nit_proveedor)


def ofertas_fixed(inputs: Inputs) -> Hits:
    pd = awarded(inputs).filter(_.monto_total_adjudicado > 0)
    offers = _offers(inputs).filter(_.monto_oferta > 0)
    joined = pd.join(offers, pd.id_portafolio == offers.id_proceso_compra)
    joined = joined.mutate(cheapest=_.monto_oferta.min().over(group_by="id_proceso"))
    same_doc = doc(_.oferta_nit) == _.doc_proveedor
    same_name = name(_.oferta_nombre) == _.name_proveedor
    winner = ibis.ifelse(doc(_.oferta_nit).notnull() & _.doc_proveedor.notnull(),
                         same_doc, same_name.fill_null(False))
    cheapest = joined.filter(_.monto_oferta == _.cheapest)
    per_process = cheapest.aggregate(
        by=["id_proceso", "doc_proveedor", "monto_total_adjudicado", "cheapest"],
        winner_cheapest=winner.any())
    flagged = per_process.filter(~_.winner_cheapest & (_.cheapest < _.monto_total_adjudicado))
    rows = flagged.select("id_proceso", "doc_proveedor",
                          monto=(_.monto_total_adjudicado - _.cheapest))
    return Hits(rows, "processes")


def ofertas_published(inputs: Inputs) -> ir.Table:
    p = published_processes(inputs, "id_proceso")
    offers = _offers(inputs)
    joined = p.join(offers, p.id_portafolio == offers.id_proceso_compra)
    ranked = joined.mutate(rk=ibis.row_number().over(
        group_by="id_proceso_compra",
        order_by=[asc_first("monto_oferta"), asc_first("fecha_registro_oferta"),
                  asc_first("id_proceso"), asc_first("id_oferta")]))
    diff = ibis.greatest(ranked.monto_total_adjudicado - ranked.monto_oferta, 0)
    same = ((ranked.nombre_proveedor == ranked.oferta_nombre).fill_null(False)
            | (ranked.id_nit_proveedor == ranked.oferta_nit).fill_null(False))
    flagged = ranked.filter((ranked.rk == 0) & (diff > 0) & ~same).mutate(one=1)
    measures = flagged.aggregate(  # the original sums a literal 1: null when nothing matched
        cantidad_irregularidades=_.one.sum(),
        cantidad_contratos_irregularidades=_.one.sum(),
        monto_total_irregularidades=_.monto_precio_base.sum())
    return _one_row(measures, joined.aggregate(cantidad_contratos_totales=_.count()))


# -- 3. contratos con proveedores inactivos ---------------------------------------------
def inactivos_fixed(inputs: Inputs) -> Hits:
    pd = awarded(inputs).filter(_.fecha_ref.notnull())
    r = inputs[RUES].filter((_.tipo_estado_matricula.strip().upper() == "CANCELADA")
                            & _.fecha_cancelacion.notnull())
    keys = r.select(k=doc(_.id_nit_empresa), fecha_cancelacion=_.fecha_cancelacion).union(
        r.select(k=doc(_.id_empresa), fecha_cancelacion=_.fecha_cancelacion)).filter(
        _.k.notnull())
    joined = pd.join(keys, (pd.doc_proveedor == keys.k)
                     & (keys.fecha_cancelacion < pd.fecha_ref))
    return _hits(joined.select(pd.columns))


def inactivos_published(inputs: Inputs) -> ir.Table:
    p = inputs[PROCESOS]
    r = inputs[RUES].filter(_.tipo_estado_matricula == "CANCELADA")
    by_nit = p.join(r, p.id_nit_proveedor == r.id_nit_empresa).select(p.columns)
    by_id = p.join(r, p.id_nit_proveedor == r.id_empresa).select(p.columns)
    one = published_first(by_nit.union(by_id), "id_nit_proveedor")
    measures = one.aggregate(cantidad_irregularidades=_.count(),
                             cantidad_contratos_irregularidades=_.id_proceso.count(),
                             monto_total_irregularidades=_.monto_precio_base.sum())
    return _one_row(measures, _raw_count(inputs))


# -- 4 and 5. PEP and puestos sensibles --------------------------------------------------
def _years_later(day: ir.DateValue, years: int) -> ir.DateValue:
    return day + ibis.interval(years=years)


def pep_fixed(inputs: Inputs) -> Hits:
    pd = awarded(inputs).filter(_.fecha_ref.notnull())
    pep = inputs[PEP].mutate(k=doc(_.id_nit_pep), desde=_.fecha_vinculacion.date(),
                             hasta=_.fecha_desvinculacion.date()).filter(_.k.notnull())
    during = ((pep.desde.isnull() | (pep.desde <= pd.fecha_ref))
              & (pep.hasta.isnull() | (pd.fecha_ref <= _years_later(pep.hasta, 2))))
    joined = pd.join(pep, (pd.doc_proveedor == pep.k) & during)
    return _hits(joined.select(pd.columns))


def _matched_published(p: ir.Table, ref: ir.Table, left: str, right: str) -> ir.Table:
    joined = p.join(ref, p[left] == ref[right])
    return joined.aggregate(cantidad_irregularidades=_.count(),
                            cantidad_contratos_irregularidades=_.count(),
                            monto_total_irregularidades=_.monto_precio_base.sum())


def pep_published(inputs: Inputs) -> ir.Table:
    p = published_processes(inputs, "id_proceso")
    pep = inputs[PEP].select("id_nit_pep")
    return _one_row(_matched_published(p, pep, "id_nit_proveedor", "id_nit_pep"),
                    _raw_count(inputs))


def puestos_fixed(inputs: Inputs) -> Hits:
    pd = awarded(inputs).filter(_.fecha_ref.notnull())
    ps = inputs[PUESTOS].mutate(k=doc(_.id_nit_identificacion),
                                desde=_.fecha_vinculacion.date()).filter(_.k.notnull())
    joined = pd.join(ps, (pd.doc_proveedor == ps.k)
                     & (ps.desde.isnull() | (ps.desde <= pd.fecha_ref)))
    return _hits(joined.select(pd.columns))


def puestos_published(inputs: Inputs) -> ir.Table:
    ps = inputs[PUESTOS].select("id_nit_identificacion")
    return _one_row(_matched_published(inputs[PROCESOS], ps, "id_nit_proveedor",
                                       "id_nit_identificacion"), _raw_count(inputs))


# -- 6. contratistas con contratos cancelados --------------------------------------------
def cancelados_fixed(inputs: Inputs) -> Hits:
    pd = awarded(inputs).filter(_.fecha_ref.notnull())
    c = inputs[CANCELADOS].mutate(
        k=doc(_.id_proveedor),
        cancelado=ibis.coalesce(_.fecha_modificacion.date(), _.fecha_firma),
        portafolio=_.id_proceso_compra).filter(_.k.notnull() & _.cancelado.notnull())
    joined = pd.join(c, (pd.doc_proveedor == c.k) & (c.cancelado < pd.fecha_ref)
                     & (c.portafolio.isnull() | (c.portafolio != pd.id_portafolio)))
    return _hits(joined.select(pd.columns))


def _by_portfolio_published(inputs: Inputs, matched: Callable[[ir.Table], ir.Table],
                            dedup: bool = True) -> ir.Table:
    """#6, #8–#10: processes (deduplicated on id_portafolio unless ``dedup`` is false)
    joined to a reference; distinct providers and portfolios."""
    p = published_processes(inputs, "id_portafolio") if dedup else inputs[PROCESOS]
    joined = matched(p)
    measures = joined.aggregate(
        cantidad_irregularidades=_.provider_key.nunique(),
        cantidad_contratos_irregularidades=_.id_portafolio.nunique(),
        monto_total_irregularidades=_.monto_precio_base.sum())
    return _one_row(measures, _raw_count(inputs))


def cancelados_published(inputs: Inputs) -> ir.Table:
    reps = inputs[CANCELADOS].aggregate(by="id_nit_rep_legal", n=_.count())

    def matched(p: ir.Table) -> ir.Table:
        joined = p.join(reps, p.id_nit_proveedor == reps.id_nit_rep_legal)
        return joined.filter(~joined.id_nit_rep_legal.isin(["No Definido"])).mutate(
            provider_key=_.id_nit_proveedor)

    return _by_portfolio_published(inputs, matched)


# -- 7. contratos con incumplimiento de entregas ----------------------------------------
def entregas_fixed(inputs: Inputs) -> Hits:
    pd = awarded(inputs)
    e = inputs[EJECUCION].mutate(debe=number(_.cant_recibir, "decimal(30,6)"),
                                 recibio=number(_.cant_recibida, "decimal(30,6)"))
    due = e.fecha_entrega_esperada.date() <= ibis.literal(inputs.fecha_corte)
    lines = e.filter(e.debe.notnull() & e.recibio.notnull() & due & (e.recibio < e.debe))
    per_contract = lines.aggregate(by="id_contrato", n=_.count())
    k = inputs[CONTRATOS].select("id_contrato", "id_proceso_compra").distinct()
    linked = per_contract.join(k, "id_contrato")
    flagged = pd.join(linked, pd.id_portafolio == linked.id_proceso_compra)
    counted = flagged.select("id_contrato", "n").distinct().aggregate(n=_.n.sum())
    return _hits(flagged.select(pd.columns), counted)


def entregas_published(inputs: Inputs) -> ir.Table:
    e = inputs[EJECUCION]
    kept = e.filter(e.cant_recibida.notnull() & (e.cant_recibida != "No Definido")
                    & (e.cant_recibir != "No Definido"))
    flagged = kept.filter(kept.cant_recibida < kept.cant_recibir)
    per_contract = flagged.aggregate(by="id_contrato", n=_.count()).mutate(
        key=_.id_contrato.substr(11, 8))
    p = inputs[PROCESOS]
    side = p.filter(_not_placeholder(p.id_nit_proveedor)).select(
        key2=p.id_proceso.substr(8, 8), id_proceso=p.id_proceso,
        id_nit_proveedor=p.id_nit_proveedor, monto_precio_base=p.monto_precio_base,
        nombre_contrato=p.nombre_contrato).distinct()
    joined = per_contract.join(side, per_contract.key == side.key2)
    amounts = joined.select("monto_precio_base").distinct().aggregate(
        monto_total_irregularidades=_.monto_precio_base.sum())
    measures = joined.aggregate(cantidad_irregularidades=_.n.sum(),
                                cantidad_contratos_irregularidades=_.key2.nunique())
    return measures.cross_join(amounts).cross_join(_raw_count(inputs)).select(
        "cantidad_irregularidades", "cantidad_contratos_irregularidades",
        "monto_total_irregularidades", "cantidad_contratos_totales")


# -- 8, 9, 10. inhabilitados por multa, obras inconclusas, responsabilidad fiscal -------
def multa_fixed(inputs: Inputs) -> Hits:
    pd = awarded(inputs).filter(_.fecha_ref.notnull()).mutate(code=doc(_.id_proveedor_secop))
    f = inputs[MULTAS].mutate(k=doc(_.id_contratista), n=name(_.nombre_contratista_sancionado),
                              dia=_.fecha_registro_sanacion.date()).filter(_.dia.notnull())
    # two equi-joins rather than one join on (code OR name), which no engine can hash
    by_code = pd.join(f.filter(f.k.notnull()), (pd.code == f.k) & (f.dia < pd.fecha_ref))
    named = f.filter(f.n.notnull() & (f.n != "NO DEFINIDO"))
    by_name = pd.join(named, (pd.name_proveedor == named.n) & (named.dia < pd.fecha_ref)
                      & (pd.code.isnull() | named.k.isnull()))
    return _hits(by_code.select(pd.columns).union(by_name.select(pd.columns)))


def _names_published(inputs: Inputs, table: str, column: str, dedup: bool = True,
                     keep: Callable[[ir.Table], ir.Table] = lambda t: t) -> ir.Table:
    names = keep(inputs[table]).filter(_[column].notnull()).select(column).distinct()

    def matched(p: ir.Table) -> ir.Table:
        return p.join(names, p.nombre_proveedor == names[column]).mutate(
            provider_key=_.nombre_proveedor)

    return _by_portfolio_published(inputs, matched, dedup)


def multa_published(inputs: Inputs) -> ir.Table:
    return _names_published(inputs, MULTAS, "nombre_contratista_sancionado")


def obras_fixed(inputs: Inputs) -> Hits:
    ref = inputs[OBRAS].filter(_.nombre_rol.strip().upper() == "CONTRATISTA")
    return _hits(by_doc_or_name(awarded(inputs), ref, "id_rol", "nombre_rol_1"))


def obras_published(inputs: Inputs) -> ir.Table:
    return _names_published(inputs, OBRAS, "nombre_rol_1")


def fiscal_fixed(inputs: Inputs) -> Hits:
    ref = inputs[FISCALES].filter(
        _.tipo_respons_responsable_fiscal.strip().upper().isin(["S", "I"]))
    return _hits(by_doc_or_name(awarded(inputs), ref, "id_responsable_fiscal",
                                "nombre_responsable_fiscal"))


def fiscal_published(inputs: Inputs) -> ir.Table:
    return _names_published(
        inputs, FISCALES, "nombre_responsable_fiscal", dedup=False,
        keep=lambda t: t.filter(t.cant_registros_responsable_fiscal.isnull()))


INDICATORS: tuple[Indicator, ...] = (
    Indicator("I01", OTROS, "abuso de la contratación", (PROCESOS,),
              abuso_fixed, abuso_published),
    Indicator("I02", OTROS, "ofertas Costosas", (PROCESOS, OFERTAS),
              ofertas_fixed, ofertas_published),
    Indicator("I03", OTROS, "contratos con proveedores inactivos", (PROCESOS, RUES),
              inactivos_fixed, inactivos_published),
    Indicator("I04", OTROS, "contratos con proveedores PEP", (PROCESOS, PEP),
              pep_fixed, pep_published),
    Indicator("I05", OTROS, "contratos con proveedores con puestos sensibles",
              (PROCESOS, PUESTOS), puestos_fixed, puestos_published),
    Indicator("I06", INCUMPLIMIENTO, "contratistas con contratos cancelados",
              (PROCESOS, CANCELADOS), cancelados_fixed, cancelados_published),
    Indicator("I07", INCUMPLIMIENTO, "contratos con incumplimiento de entregas",
              (PROCESOS, EJECUCION), entregas_fixed, entregas_published,
              fixed_sources=(PROCESOS, EJECUCION, CONTRATOS)),
    Indicator("I08", INHABILIDAD, "inhabilitados por multa", (PROCESOS, MULTAS),
              multa_fixed, multa_published),
    Indicator("I09", INHABILIDAD, "inhabilitados por obras inconclusas", (PROCESOS, OBRAS),
              obras_fixed, obras_published),
    Indicator("I10", INHABILIDAD, "inhabilitados por responsabilidad fiscal",
              (PROCESOS, FISCALES), fiscal_fixed, fiscal_published),
)
