"""The thirteen red flags in the synthetic exports: planted cases, and the background's count.

Flags are read on the awarded processes deduplicated on their id (the fixed definitions' `Pd`);
a flag's truth is the number of processes it fires on and the sum of their amounts
(`monto_total_adjudicado`, else `monto_precio_base`). Each planted case below adds processes
(with entities and suppliers of their own) on which a flag fires, or almost fires, and states
what it adds to every flag, so a case that fires two flags says so. The background fires
RF03, RF04, RF05, RF08, RF12 and RF13 as real exports do (modalities, amounts and dates are
drawn); `background_flags` counts those exactly from the numbers drawn, not from the text. It
never fires the others: three bidders per process at distinct values, answers received at
least 10 days after publication, awards below the base price, at most two processes per
supplier, suppliers registered years before their processes, cancelled contracts of other
processes, contracts extended by less than half their term.

The definitions are the app's (README, "Red flags"); the SMMLV (the monthly minimum wage) is
1,000,000 COP in 2022 and 908,526 in 2021.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from cauce.apps.contracting.synth.background import MODALITIES, NON_COMPETITIVE
from cauce.apps.contracting.synth.planted import Planted, contract

CODES = tuple(f"RF{n:02d}" for n in range(1, 14))
BACKGROUND = ("RF03", "RF04", "RF05", "RF08", "RF12", "RF13")  # may fire on background rows
M = 1_000_000
DIRECT, SPECIAL, MINIMUM = MODALITIES[0], MODALITIES[1], MODALITIES[2]
ABBREVIATED = "Selección Abreviada de Menor Cuantía"
NEITHER = "Solicitud de información a los Proveedores"  # neither competitive nor closed
OFFERS = "t_seii_ofertaproces_procesocompr"
RUES = "t_otro_pernajuesadl_camarcomerci"
CANCELLED = "t_seii_contracanela_aislamiencon"


class FlagCases:
    """Planting helpers over a `Planted`: numbered suppliers, and what each flag gains."""

    def __init__(self, p: Planted) -> None:
        self.p = p
        self._supplier = 910_000_000

    def supplier(self) -> str:
        self._supplier += 1
        return str(self._supplier)

    def process(
        self,
        *,
        base: int,
        awarded: int | None = None,
        supplier: str | None = None,
        entity: str | None = None,
        published: date = date(2022, 5, 2),
        modality: str | None = None,
        fields: dict[str, str | None] | None = None,
    ) -> tuple[str, str, int]:
        """A planted process (export columns in ``fields`` replaced); returns (id, portfolio,
        the amount the flags weigh)."""
        nit = supplier or self.supplier()
        columns: dict[str, str | None] = dict(fields or {})
        if modality is not None:
            columns["Modalidad de Contratacion"] = modality
        ident, portfolio = self.p.process(
            nit,
            f"PROVEEDOR BANDERA {nit[-4:]} S.A.S.",
            base=base,
            awarded=awarded,
            entity_nit=entity,
            published=published,
            fields=columns,
        )
        amount = base * 95 // 100 if awarded is None else awarded
        return ident, portfolio, amount

    def fires(self, code: str, ident: str, amount: int, *, positive: bool = True) -> None:
        self.p.flag(code, amount)
        if positive:
            self.p.flag_positives[code].append(ident)

    def misses(self, code: str, ident: str) -> None:
        self.p.flag_near_misses[code].append(ident)

    def entity(self) -> str:
        return self.p.new_entity()


def plant_flags(p: Planted) -> None:
    """Every planted red-flag case, and the flags the ten indicators' cases fire."""
    cases = FlagCases(p)
    for plant_one in (
        _single_bidder,
        _short_period,
        _non_competitive,
        _buyer_share,
        _price_at_estimate,
        _price_above_estimate,
        _splitting,
        _supplier_share,
        _new_supplier,
        _identical_bids,
        _long_extension,
        _year_end,
        _round_value,
    ):
        plant_one(cases)
    # the ofertas cases of the ten indicators (planted.py): a bidder without NIT leaves one
    # known bidder, and a tie at the cheapest value is two bidders offering the same
    p.flag("RF01", 100 * M)
    p.flag("RF10", 100 * M)


def _offer(p: Planted, portfolio: str, nit: str, value: str) -> None:
    p.row(
        OFFERS,
        **{
            "ID del Proceso de Compra": portfolio,
            "NIT del Proveedor": nit,
            "Nombre Proveedor": f"POSTOR {nit[-4:] or 'SIN NIT'} LTDA",
            "Valor de la Oferta": value,
            "Fecha de Registro": "01/05/2022",
            "Modalidad": "Licitación pública",
            "Identificador de la Oferta": f"CO1.BID.F{portfolio[-7:]}{nit[-4:]}{value[-3:]}",
        },
    )


def _single_bidder(c: FlagCases) -> None:
    base = 100 * M
    nit = c.supplier()
    ident, folio, amount = c.process(base=base, supplier=nit)
    _offer(c.p, folio, nit, str(amount))  # the winner alone
    c.fires("RF01", ident, amount)
    ident, _, amount = c.process(base=base, fields={"Proveedores Unicos con Respuestas": "1"})
    c.fires("RF01", ident, amount)  # no offers published: the process's own count
    # two bidders, though the process says one: the offers win
    nit = c.supplier()
    ident, folio, amount = c.process(
        base=base, supplier=nit, fields={"Proveedores Unicos con Respuestas": "1"}
    )
    _offer(c.p, folio, nit, str(amount))
    _offer(c.p, folio, c.supplier(), "")  # a bid without value still counts its bidder
    c.misses("RF01", ident)
    ident, _, _ = c.process(base=base, fields={"Proveedores Unicos con Respuestas": "2"})
    c.misses("RF01", ident)


def _short_period(c: FlagCases) -> None:
    published = date(2022, 5, 2)

    def received(days: int) -> str:
        return (published + timedelta(days=days)).strftime("%m/%d/%Y")

    ident, _, amount = c.process(
        base=50 * M, fields={"Fecha de Recepcion de Respuestas": received(9)}
    )
    c.fires("RF02", ident, amount)  # a public tender needs 10 days
    ident, _, amount = c.process(
        base=50 * M, modality=ABBREVIATED, fields={"Fecha de Recepcion de Respuestas": None}
    )
    c.fires("RF02", ident, amount)  # no deadline at all
    ident, _, _ = c.process(
        base=50 * M, modality=ABBREVIATED, fields={"Fecha de Recepcion de Respuestas": received(5)}
    )
    c.misses("RF02", ident)  # five days is an abbreviated selection's minimum
    ident, _, amount = c.process(
        base=50 * M, modality=DIRECT, fields={"Fecha de Recepcion de Respuestas": None}
    )
    c.misses("RF02", ident)  # not competitive: no period to keep
    c.fires("RF03", ident, amount, positive=False)


def _non_competitive(c: FlagCases) -> None:
    ident, _, amount = c.process(base=70 * M, modality=SPECIAL)
    c.fires("RF03", ident, amount)
    ident, _, amount = c.process(base=70 * M, modality="CONTRATACIÓN DIRECTA (con ofertas)")
    c.fires("RF03", ident, amount)
    ident, _, _ = c.process(base=70 * M, modality=NEITHER)
    c.misses("RF03", ident)


def _buyer_share(c: FlagCases) -> None:
    """Entities whose awarded amount is mostly not competitive: 4 direct awards of 100 M and
    one tender; more than 80 % of at least five processes flags the four."""

    def buyer(tender: int | None, *, fires: bool) -> str:
        entity = c.entity()
        for _ in range(4):
            ident, _, amount = c.process(
                base=100 * M, awarded=100 * M, entity=entity, modality=DIRECT
            )
            c.fires("RF03", ident, amount, positive=False)
            if fires:
                c.fires("RF04", ident, amount)
        if tender is not None:
            c.process(base=tender * 11 // 10, awarded=tender, entity=entity)
        return ident

    buyer(20 * M, fires=True)  # 400 of 420
    c.misses("RF04", buyer(100 * M, fires=False))  # 400 of 500: 80 % is not more than 80 %
    c.misses("RF04", buyer(None, fires=False))  # only four awarded processes, all closed


def _price_at_estimate(c: FlagCases) -> None:
    base = 200 * M
    ident, _, amount = c.process(base=base, awarded=199_200_000)
    c.fires("RF05", ident, amount)
    ident, _, amount = c.process(base=base, awarded=199_000_000)  # exactly 0.5 % below
    c.fires("RF05", ident, amount)
    ident, _, _ = c.process(base=base, awarded=198_900_000)
    c.misses("RF05", ident)
    ident, _, amount = c.process(base=base, awarded=base, modality=DIRECT)
    c.misses("RF05", ident)  # not competitive
    c.fires("RF03", ident, amount, positive=False)


def _price_above_estimate(c: FlagCases) -> None:
    ident, _, amount = c.process(base=100 * M, awarded=120 * M)
    c.fires("RF06", ident, amount)
    ident, _, _ = c.process(
        base=100 * M, awarded=120 * M, fields={"Precio Base": "100,000,000", "_base": None}
    )
    c.misses("RF06", ident)  # the base price does not read as a number
    ident, _, _ = c.process(base=100 * M, awarded=100 * M, modality=NEITHER)
    c.misses("RF06", ident)  # equal is not above (and not a competitive award at estimate)


def _splitting(c: FlagCases) -> None:
    """Three small direct awards to one supplier in one UNSPSC segment within 90 days, adding
    up to 280 SMMLV; the window spans a new year, so the abuse indicator (three in one year)
    stays quiet."""
    first = date(2021, 12, 1)

    def triple(
        amounts: tuple[int, int, int],
        offsets: tuple[int, int, int] = (0, 45, 88),
        categories: tuple[str, str, str] = ("V1.72101500", "V1.72141100", "72102900"),
        modalities: tuple[str, str, str] = (DIRECT, DIRECT, MINIMUM),
    ) -> list[tuple[str, int, str]]:
        entity, supplier = c.entity(), c.supplier()
        made = []
        for amount, offset, category, modality in zip(
            amounts, offsets, categories, modalities, strict=True
        ):
            ident, _, weight = c.process(
                base=amount * 11 // 10,  # not at the estimate (mínima cuantía is competitive)
                awarded=amount,
                entity=entity,
                supplier=supplier,
                published=first + timedelta(days=offset),
                modality=modality,
                fields={"Codigo Principal de Categoria": category},
            )
            made.append((ident, weight, modality))
        for ident, weight, modality in made:
            if modality == DIRECT:
                c.fires("RF03", ident, weight, positive=False)
        return made

    for ident, amount, _ in triple((100 * M, 100 * M, 100 * M)):
        c.fires("RF07", ident, amount)
    c.misses("RF07", triple((100 * M,) * 3, offsets=(0, 45, 90))[-1][0])  # 91 days
    c.misses("RF07", triple((80 * M,) * 3)[-1][0])  # 240 M < 280 SMMLV of 2021 (254.4 M)
    c.misses("RF07", triple((100 * M, 100 * M, 290 * M))[-1][0])  # one is not small
    segments = ("V1.72101500", "V1.43211500", "V1.72141100")
    c.misses("RF07", triple((100 * M,) * 3, categories=segments)[-1][0])
    tenders = (DIRECT, "Licitación pública", DIRECT)
    c.misses("RF07", triple((100 * M,) * 3, modalities=tenders)[-1][0])


def _supplier_share(c: FlagCases) -> None:
    """Five processes of one entity in a year; one supplier with more than half the amount."""

    def entity_year(own: tuple[int, ...], others: tuple[int, ...]) -> list[tuple[str, int]]:
        entity, supplier = c.entity(), c.supplier()
        mine = [c.process(base=a, entity=entity, supplier=supplier)[::2] for a in own]
        for amount in others:
            c.process(base=amount, entity=entity)
        return mine

    for ident, amount in entity_year((200 * M, 200 * M), (50 * M, 50 * M, 50 * M)):
        c.fires("RF08", ident, amount)
    c.misses("RF08", entity_year((150 * M, 150 * M), (100 * M, 100 * M, 100 * M))[0][0])
    c.misses("RF08", entity_year((200 * M, 200 * M), (50 * M, 50 * M))[0][0])  # four in all


def _new_supplier(c: FlagCases) -> None:
    """A supplier registered less than 90 days before its award of at least 100 SMMLV."""

    def registered(on: str, base: int) -> tuple[str, int]:
        nit = c.supplier()
        c.p.row(
            RUES,
            **{
                "razon_social": f"PROVEEDOR BANDERA {nit[-4:]} S.A.S.",
                "nit": nit,
                "numero_identificacion": nit,
                "estado_matricula": "ACTIVA",
                "fecha_matricula": on,
            },
        )
        ident, _, amount = c.process(base=base, supplier=nit)  # awarded on 2022-05-12
        return ident, amount

    c.fires("RF09", *registered("20220401", 160 * M))  # 41 days, 152 SMMLV
    c.fires("RF09", *registered("20220512", 110 * M))  # the same day, 104.5 SMMLV
    c.misses("RF09", registered("20220211", 160 * M)[0])  # 90 days
    c.misses("RF09", registered("20220401", 100 * M)[0])  # 95 SMMLV
    c.misses("RF09", registered("20220513", 160 * M)[0])  # the day after


def _identical_bids(c: FlagCases) -> None:
    """Two bidders at one value, dearer than the winner's (so no costly-offer indicator)."""
    nit = c.supplier()
    ident, folio, amount = c.process(base=100 * M, supplier=nit)
    _offer(c.p, folio, nit, str(amount))
    _offer(c.p, folio, c.supplier(), str(99 * M))
    _offer(c.p, folio, c.supplier(), str(99 * M))
    c.fires("RF10", ident, amount)
    # one bidder twice at one value, its NIT written two ways
    nit = c.supplier()
    ident, folio, amount = c.process(base=100 * M, supplier=nit)
    _offer(c.p, folio, nit, str(amount))
    other = c.supplier()
    _offer(c.p, folio, other, str(99 * M))
    _offer(c.p, folio, f"{other[:3]}.{other[3:6]}.{other[6:]}", str(99 * M))
    c.misses("RF10", ident)


def _long_extension(c: FlagCases) -> None:
    """A contract of the process extended by at least half its term (100 days)."""

    def extended(days: str) -> tuple[str, int]:
        nit = c.supplier()
        ident, folio, amount = c.process(base=80 * M, supplier=nit)
        number = folio.rsplit(".", 1)[1]
        c.p.row(
            CANCELLED,
            **{
                "Proceso de Compra": folio,
                "ID Contrato": f"CO1.PCCNTR.{number}",
                "Documento Proveedor": nit,
                "Identificación Representante Legal": f"77{number}",
                "Fecha de Firma": "20/05/2022",
                "Fecha de Inicio del Contrato": "01/06/2022",
                "Fecha de Fin del Contrato": "09/09/2022",  # 100 days later
                "Días Adicionados": days,
                "FechaModificacion": "01/10/2022 10:00:00",
                "Estado Contrato": "Cancelado",
            },
        )
        # the same contract in SECOP II Contratos (month first there), so the flag reads
        # alike from either source
        contract(
            c.p,
            f"CO1.PCCNTR.{number}",
            folio,
            nit,
            **{
                "Fecha de Inicio del Contrato": "06/01/2022",
                "Fecha de Fin del Contrato": "09/09/2022",
                "Dias Adicionados": days,
                "Estado Contrato": "Cancelado",
            },
        )
        return ident, amount

    c.fires("RF11", *extended("50"))
    c.fires("RF11", *extended("120"))
    c.misses("RF11", extended("49")[0])
    c.misses("RF11", extended("No Definido")[0])


def _year_end(c: FlagCases) -> None:
    """Awarded between 15 and 31 December (the award date, else the publication date)."""
    ident, _, amount = c.process(base=60 * M, published=date(2022, 12, 5))  # awarded the 15th
    c.fires("RF12", ident, amount)
    ident, _, amount = c.process(base=60 * M, published=date(2022, 12, 21))  # the 31st
    c.fires("RF12", ident, amount)
    ident, _, amount = c.process(
        base=60 * M, published=date(2022, 12, 20), fields={"Fecha Adjudicacion": None}
    )
    c.fires("RF12", ident, amount)  # no award date: the publication's
    ident, _, _ = c.process(base=60 * M, published=date(2022, 12, 4))  # the 14th
    c.misses("RF12", ident)
    ident, _, _ = c.process(base=60 * M, published=date(2022, 12, 22))  # 1 January
    c.misses("RF12", ident)


def _round_value(c: FlagCases) -> None:
    """At least 1,000 million and a multiple of 100 million."""
    ident, _, amount = c.process(base=1_600 * M, awarded=1_500 * M)
    c.fires("RF13", ident, amount)
    ident, _, _ = c.process(
        base=2_000 * M,
        awarded=2_000 * M,
        fields={"Valor Total Adjudicacion": None},
        modality=NEITHER,
    )
    c.fires("RF13", ident, 2_000 * M)  # no award value: the base price
    ident, _, _ = c.process(base=1_600 * M, awarded=1_500 * M + 1)
    c.misses("RF13", ident)
    ident, _, _ = c.process(base=1_000 * M, awarded=900 * M)
    c.misses("RF13", ident)


# -- the background ------------------------------------------------------------------------------


def background_flags(procesos: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """(processes, amount) of each flag the background fires, from the hidden columns of its
    current rows (one per process; planted rows have no ``_entity``): awarded, modality, base
    (null when its text does not read), award, entity, supplier and the award date."""
    background = pl.col("_entity").is_not_null() & pl.col("_current") & pl.col("_awarded")
    rows = procesos.filter(background).select(
        "_entity", "_supplier", "_modality", "_base", "_adjudicated", "_ref"
    )
    day = pl.col("_ref").cast(pl.Date)
    amount = pl.col("_adjudicated")
    closed = pl.col("_modality").is_in(list(NON_COMPETITIVE))
    competitive = ~closed
    base = pl.col("_base")
    rows = rows.with_columns(
        closed.alias("closed"), day.dt.year().alias("year"), amount.alias("amount")
    )
    buyers = rows.group_by("_entity").agg(
        pl.len().alias("n"),
        pl.col("amount").sum().alias("total"),
        pl.col("amount").filter(pl.col("closed")).sum().alias("shut"),
    )
    heavy = buyers.filter((pl.col("n") >= 5) & (pl.col("shut") * 5 > pl.col("total") * 4))
    years = rows.group_by("_entity", "year").agg(
        pl.len().alias("n"), pl.col("amount").sum().alias("total")
    )
    owners = rows.group_by("_entity", "year", "_supplier").agg(pl.col("amount").sum().alias("own"))
    dominant = owners.join(years.filter(pl.col("n") >= 5), on=["_entity", "year"]).filter(
        pl.col("own") * 2 > pl.col("total")
    )
    fired = {
        "RF03": rows.filter(pl.col("closed")),
        "RF04": rows.filter(pl.col("closed")).join(heavy, on="_entity", how="semi"),
        "RF05": rows.filter(competitive & (base > 0) & ((amount - base).abs() * 1000 <= base * 5)),
        "RF08": rows.join(dominant, on=["_entity", "year", "_supplier"], how="semi"),
        "RF12": rows.filter((day.dt.month() == 12) & (day.dt.day() >= 15)),
        "RF13": rows.filter((amount >= 1_000 * M) & (amount % (100 * M) == 0)),
    }
    return {code: (table.height, int(table["amount"].sum() or 0)) for code, table in fired.items()}
