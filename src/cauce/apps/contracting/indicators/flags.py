"""Red flags the original lacks (red-flags.md §5), each on the deduplicated awarded processes.

A flag is risk, not proof: each returns the processes it fires on; `scores` weighs them. The
thresholds are constants here, written in the app README with their sources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
from ibis import _

from ..tables import CONTRATOS, OFERTAS, PROCESOS, RUES
from .common import Inputs, awarded, doc, name, number

COMPETITIVE = "LICITACION|SELECCION ABREVIADA|CONCURSO DE MERITOS|MINIMA CUANTIA|SUBASTA"
NON_COMPETITIVE = "CONTRATACION DIRECTA|REGIMEN ESPECIAL"
SPLITTABLE = "CONTRATACION DIRECTA|MINIMA CUANTIA"
# minimum days from publication to the offer deadline, by modality (others: 1)
MIN_DAYS = (("LICITACION", 10), ("SELECCION ABREVIADA", 5), ("CONCURSO DE MERITOS", 5))
# Colombia's monthly legal minimum wage (SMMLV) by year, COP; later years use the last one
SMMLV = {2015: 644_350, 2016: 689_455, 2017: 737_717, 2018: 781_242, 2019: 828_116,
         2020: 877_803, 2021: 908_526, 2022: 1_000_000, 2023: 1_160_000, 2024: 1_300_000,
         2025: 1_423_500}
SPLIT_SMMLV = 280          # the menor-cuantía scale used by the F05 splitting flag
SPLIT_DAYS = 90
NEW_SUPPLIER_DAYS = 90
LARGE_SMMLV = 100
SHARE_MIN_PROCESSES = 5


@dataclass(frozen=True)
class Flag:
    """A red flag: its code, Spanish name, weight in the score and the tables it reads."""

    code: str
    name: str
    weight: int
    sources: tuple[str, ...]
    fires: Callable[[Inputs], ir.Table]


def base(inputs: Inputs) -> ir.Table:
    """Awarded processes with their normalised modality and the amount at stake."""
    return inputs.shared("base", lambda: awarded(inputs).mutate(
        modalidad=name(_.tipo_contratacion).fill_null(""),
        monto=ibis.coalesce(_.monto_total_adjudicado, _.monto_precio_base),
    ))


def smmlv(year: ir.IntegerValue) -> ir.IntegerValue:
    latest = SMMLV[max(SMMLV)]
    cases = [(year == y, v) for y, v in SMMLV.items() if y != max(SMMLV)]
    return ibis.cases(*cases, else_=latest)


def _ids(table: ir.Table) -> ir.Table:
    return table.select("id_proceso").distinct()


def single_bidder(inputs: Inputs) -> ir.Table:
    p = base(inputs).filter(_.modalidad.re_search(COMPETITIVE))
    bidders = inputs[OFERTAS].mutate(k=doc(_.id_nit_proveedor)).aggregate(
        by="id_proceso_compra", bidders=_.k.nunique())
    joined = p.left_join(bidders, p.id_portafolio == bidders.id_proceso_compra)
    count = ibis.coalesce(joined.bidders, number(joined.cantidad_prov_unicos, "int64"))
    return _ids(joined.filter(count == 1))


def short_period(inputs: Inputs) -> ir.Table:
    p = base(inputs).filter(_.modalidad.re_search(COMPETITIVE) & _.fecha_publicacion.notnull())
    minimum = ibis.cases(*((p.modalidad.contains(m), days) for m, days in MIN_DAYS), else_=1)
    days = p.fecha_recep_resp.delta(p.fecha_publicacion, unit="day")
    return _ids(p.filter(p.fecha_recep_resp.isnull() | (days < minimum)))


def non_competitive(inputs: Inputs) -> ir.Table:
    return _ids(base(inputs).filter(_.modalidad.re_search(NON_COMPETITIVE)))


def buyer_non_open_share(inputs: Inputs) -> ir.Table:
    p = base(inputs).filter(_.doc_entidad.notnull()).mutate(
        cerrado=_.modalidad.re_search(NON_COMPETITIVE))
    buyers = p.aggregate(by="doc_entidad", n=_.count(), total=_.monto.sum(),
                         closed=_.monto.sum(where=_.cerrado))
    heavy = buyers.filter((_.n >= SHARE_MIN_PROCESSES) & (_.closed * 5 > _.total * 4))
    return _ids(p.filter(p.cerrado).semi_join(heavy, "doc_entidad"))


def price_at_estimate(inputs: Inputs) -> ir.Table:
    p = base(inputs).filter(_.modalidad.re_search(COMPETITIVE) & (_.monto_precio_base > 0)
                            & _.monto_total_adjudicado.notnull())
    gap = (p.monto_total_adjudicado - p.monto_precio_base).abs()
    return _ids(p.filter(gap * 1000 <= p.monto_precio_base * 5))


def price_above_estimate(inputs: Inputs) -> ir.Table:
    return _ids(base(inputs).filter((_.monto_precio_base > 0)
                                    & (_.monto_total_adjudicado > _.monto_precio_base)))


def splitting(inputs: Inputs) -> ir.Table:
    p = base(inputs).filter(_.modalidad.re_search(SPLITTABLE) & _.doc_entidad.notnull()
                            & _.fecha_publicacion.notnull() & _.monto.notnull())
    p = p.mutate(segmento=_.id_codigo_categoria.strip().re_replace(r"^V1\.", "").substr(0, 2),
                 tope=smmlv(_.fecha_publicacion.year()) * SPLIT_SMMLV)
    p = p.filter(_.segmento.notnull() & (_.monto < _.tope))
    keys = ["doc_entidad", "doc_proveedor", "segmento"]
    a = p.select(*keys, ancla=_.id_proceso, desde=_.fecha_publicacion, tope=_.tope)
    m = p.select(*keys, id_proceso=_.id_proceso, dia=_.fecha_publicacion, monto=_.monto)
    pairs = a.join(m, [*(a[k] == m[k] for k in keys), m.dia >= a.desde,
                       m.dia <= a.desde + ibis.interval(days=SPLIT_DAYS - 1)])
    windows = pairs.aggregate(by=["ancla", "tope"], n=_.count(), suma=_.monto.sum()).filter(
        (_.n >= 3) & (_.suma >= _.tope))
    return _ids(pairs.semi_join(windows, "ancla"))


def supplier_share(inputs: Inputs) -> ir.Table:
    p = base(inputs).filter(_.doc_entidad.notnull() & _.fecha_ref.notnull()).mutate(
        anio=_.fecha_ref.year())
    buyers = p.aggregate(by=["doc_entidad", "anio"], n=_.count(), total=_.monto.sum())
    buyers = buyers.filter(_.n >= SHARE_MIN_PROCESSES)
    suppliers = p.aggregate(by=["doc_entidad", "anio", "doc_proveedor"], own=_.monto.sum())
    dominant = suppliers.join(buyers, ["doc_entidad", "anio"]).filter(_.own * 2 > _.total)
    return _ids(p.semi_join(dominant, ["doc_entidad", "anio", "doc_proveedor"]))


def new_supplier(inputs: Inputs) -> ir.Table:
    p = base(inputs).filter(_.fecha_ref.notnull() & _.monto.notnull())
    p = p.filter(_.monto >= smmlv(_.fecha_ref.year()) * LARGE_SMMLV)
    r = inputs[RUES].filter(_.fecha_matricula.notnull())
    registered = r.select(k=doc(_.id_nit_empresa), desde=_.fecha_matricula).union(
        r.select(k=doc(_.id_empresa), desde=_.fecha_matricula)).filter(_.k.notnull())
    joined = p.join(registered, [p.doc_proveedor == registered.k,
                                 registered.desde <= p.fecha_ref,
                                 registered.desde > p.fecha_ref
                                 - ibis.interval(days=NEW_SUPPLIER_DAYS)])
    return _ids(joined)


def identical_bids(inputs: Inputs) -> ir.Table:
    o = inputs[OFERTAS].filter(_.monto_oferta > 0).mutate(k=doc(_.id_nit_proveedor))
    ties = o.aggregate(by=["id_proceso_compra", "monto_oferta"], bidders=_.k.nunique()).filter(
        _.bidders >= 2).select("id_proceso_compra").distinct()
    p = base(inputs)
    return _ids(p.semi_join(ties, p.id_portafolio == ties.id_proceso_compra))


def long_extension(inputs: Inputs) -> ir.Table:
    """Days added (`Dias Adicionados`) against the contract's term, from SECOP II Contratos,
    which lists every contract (the cancelled ones too) with both."""
    k = inputs[CONTRATOS].mutate(
        dias=number(_.numero_adicion_dias, "int64"),
        plazo=_.fecha_fin_contrato.delta(_.fecha_inicio_contrato, unit="day"))
    stretched = k.filter((_.plazo > 0) & (_.dias * 2 >= _.plazo)).select(
        "id_proceso_compra").distinct()
    p = base(inputs)
    return _ids(p.semi_join(stretched, p.id_portafolio == stretched.id_proceso_compra))


def year_end(inputs: Inputs) -> ir.Table:
    return _ids(base(inputs).filter((_.fecha_ref.month() == 12) & (_.fecha_ref.day() >= 15)))


def round_value(inputs: Inputs) -> ir.Table:
    return _ids(base(inputs).filter((_.monto >= 1_000_000_000) & (_.monto % 100_000_000 == 0)))


P = (PROCESOS,)
FLAGS: tuple[Flag, ...] = (
    Flag("RF01", "único oferente en proceso competitivo", 15, (PROCESOS, OFERTAS), single_bidder),
    Flag("RF02", "plazo de ofertas corto o ausente", 8, P, short_period),
    Flag("RF03", "modalidad no competitiva", 4, P, non_competitive),
    Flag("RF04", "entidad con alta cuota no competitiva", 8, P, buyer_non_open_share),
    Flag("RF05", "valor adjudicado igual al estimado", 6, P, price_at_estimate),
    Flag("RF06", "valor adjudicado sobre el estimado", 8, P, price_above_estimate),
    Flag("RF07", "posible fraccionamiento", 12, P, splitting),
    Flag("RF08", "proveedor dominante de la entidad", 8, P, supplier_share),
    Flag("RF09", "proveedor recién matriculado con adjudicación grande", 15, (PROCESOS, RUES),
         new_supplier),
    Flag("RF10", "ofertas con valores idénticos", 10, (PROCESOS, OFERTAS), identical_bids),
    Flag("RF11", "prórroga de al menos la mitad del plazo", 12, (PROCESOS, CONTRATOS),
         long_extension),
    Flag("RF12", "adjudicación de fin de año", 4, P, year_end),
    Flag("RF13", "valor redondo", 2, P, round_value),
)
