"""Planted irregularities: small sets of rows whose effect on each indicator is known exactly.

Each case adds processes (with their own entities, suppliers and amounts, so cases never touch
each other or the background) and the registry rows that should, or should almost, make them
irregular, and states what it adds to the indicator under the fixed definitions and under the
original's (as published). Most cases are traps on which the two differ: duplicate rows, a NIT
written with dots, a name in other case or spacing, a date after the contract, a state spelled
``Cancelada``, quantities compared as text, a sum of distinct amounts. Near misses add nothing
to either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

INDICATORS = (
    "abuso de la contratación",
    "ofertas Costosas",
    "contratos con proveedores inactivos",
    "contratos con proveedores PEP",
    "contratos con proveedores con puestos sensibles",
    "contratistas con contratos cancelados",
    "contratos con incumplimiento de entregas",
    "inhabilitados por multa",
    "inhabilitados por obras inconclusas",
    "inhabilitados por responsabilidad fiscal",
)
FIXED, PUBLISHED = "fixed", "as_published"
FINES = "t_seii_multasysanci_secopiimulsa"


@dataclass
class Planted:
    """The planted rows per export (header → value) and what each indicator gains from them."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # indicator → definition → [irregularidades, contratos, monto]
    tally: dict[str, dict[str, list[int]]] = field(
        default_factory=lambda: {i: {FIXED: [0, 0, 0], PUBLISHED: [0, 0, 0]} for i in INDICATORS}
    )
    positives: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    near_misses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # red flag → [processes, amount]
    flags: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    flag_positives: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    flag_near_misses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    # indicator → (due date, process id, amount) of each short delivery line: a fixed hit only
    # once the cut date reaches its due date (the exports are the same for every cut date)
    due: dict[str, list[tuple[date, str, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _next_process: int = 9_000_000
    _next_entity: int = 900_100_000

    def add(
        self, indicator: str, fixed: tuple[int, int, int], published: tuple[int, int, int]
    ) -> None:
        for definition, delta in ((FIXED, fixed), (PUBLISHED, published)):
            totals = self.tally[indicator][definition]
            for k in range(3):
                totals[k] += delta[k]

    def fixed_on(self, day: date) -> tuple[dict[str, list[int]], dict[str, list[str]],
                                          dict[str, list[str]]]:
        """The fixed tallies, positives and near misses at cut date ``day``: each short
        delivery line due by then is one irregularity of its process, counted once."""
        tally = {name: list(by[FIXED]) for name, by in self.tally.items()}
        positives = {name: list(ids) for name, ids in self.positives.items()}
        near = {name: list(ids) for name, ids in self.near_misses.items()}
        for name, lines in self.due.items():
            hits = [(ident, amount) for when, ident, amount in lines if when <= day]
            processes = dict(hits)
            tally[name][0] += len(hits)
            tally[name][1] += len(processes)
            tally[name][2] += sum(processes.values())
            positives.setdefault(name, []).extend(processes)
            near.setdefault(name, []).extend(i for _, i, _ in lines if i not in processes)
        return tally, positives, near

    def flag(self, code: str, amount: int) -> None:
        """One more process a red flag fires on, weighing ``amount``."""
        self.flags[code][0] += 1
        self.flags[code][1] += amount

    def new_entity(self) -> str:
        """A buying entity's NIT no other case uses."""
        self._next_entity += 1
        return str(self._next_entity)

    def process(
        self,
        supplier_nit: str,
        supplier_name: str,
        *,
        base: int,
        published: date = date(2022, 5, 2),
        entity_nit: str | None = None,
        code: str = "No Definido",
        number: int | None = None,
        copies: int = 1,
        published_text: str | None = None,
        awarded: int | None = None,
        fields: dict[str, str | None] | None = None,
    ) -> tuple[str, str]:
        """A process awarded to a supplier (``copies`` rows of it); returns (id, portfolio).

        By default it raises no red flag: a public tender (competitive), answers received 30
        days after publication, three bidders, the award at 95 % of the base price, its own
        entity. ``fields`` replaces export columns (header → text, None for empty)."""
        if number is None:
            number = self._next_process
            self._next_process += 1
        if entity_nit is None:
            entity_nit = self.new_entity()
        ident, portfolio = f"CO1.REQ.{number}", f"CO1.BDOS.{number}"
        awarded_on = published + timedelta(days=10)
        adjudicated = base * 95 // 100 if awarded is None else awarded
        row = {
            "Entidad": f"ALCALDÍA DE PRUEBA {entity_nit[-4:]}",
            "Nit Entidad": entity_nit,
            "ID del Proceso": ident,
            "ID del Portafolio": portfolio,
            "Referencia del Proceso": f"REF-{number}",
            "Nombre del Procedimiento": f"Proceso {number}",
            "Fecha de Publicacion del Proceso": published_text or published.strftime("%m/%d/%Y"),
            "Fecha de Ultima Publicación": awarded_on.strftime("%m/%d/%Y"),
            "Fecha Adjudicacion": awarded_on.strftime("%m/%d/%Y"),
            "Precio Base": str(base),
            "Valor Total Adjudicacion": str(adjudicated),
            "Adjudicado": "Si",
            "Modalidad de Contratacion": "Licitación pública",
            "Fecha de Recepcion de Respuestas": (published + timedelta(days=30)).strftime(
                "%m/%d/%Y"
            ),
            "Proveedores Unicos con Respuestas": "3",
            "Nombre del Proveedor Adjudicado": supplier_name,
            "NIT del Proveedor Adjudicado": supplier_nit,
            "CodigoProveedor": code,
            "Estado Resumen": "Adjudicado",
            "_year": None
            if published_text and published_text.startswith("13/")
            else published.year,
            "_base": base,
            "_adjudicated": adjudicated,
            "_awarded": True,
            "_updated": (awarded_on - date(1970, 1, 1)).days,
            "_current": True,
        }
        row.update(fields or {})
        for copy in range(copies):
            duplicate = dict(row)
            if copy:  # an older phase of the same process
                older = awarded_on - timedelta(days=copy)
                duplicate.update(
                    {
                        "Fase": "Borrador",
                        "Fecha de Ultima Publicación": older.strftime("%m/%d/%Y"),
                        "_updated": (older - date(1970, 1, 1)).days,
                        "_current": False,
                    }
                )
            self.rows["t_seii_procecotrata_compraadjudi"].append(duplicate)
        return ident, portfolio

    def row(self, table: str, **values: Any) -> None:
        self.rows[table].append(values)


def plant() -> Planted:
    """Every planted case."""
    p = Planted()
    _abuso(p)
    _ofertas(p)
    _inactivos(p)
    _pep(p)
    _puestos(p)
    _cancelados(p)
    _entregas(p)
    _multas(p)
    _obras(p)
    _responsables(p)
    return p


M = 1_000_000


def _abuso(p: Planted) -> None:
    name = INDICATORS[0]
    entity = "899100001"
    ids = [
        p.process("900200001", "SERVICIOS ABUSIVOS S.A.S.", base=10 * M, entity_nit=entity)
        for _ in range(3)
    ]
    p.add(name, fixed=(1, 3, 30 * M), published=(1, 3, 30 * M))
    p.positives[name] += [i for i, _ in ids]
    # two processes in one year, one of them twice: only a count without deduplication sees 3
    p.process("900200002", "DOBLES FILAS LTDA", base=10 * M, entity_nit="899100002", copies=2)
    p.process("900200002", "DOBLES FILAS LTDA", base=10 * M, entity_nit="899100002")
    # three processes over two years
    p.process(
        "900200003",
        "TRES AÑOS S.A.S.",
        base=10 * M,
        entity_nit="899100003",
        published=date(2021, 3, 1),
    )
    for _ in range(2):
        ident, _ = p.process("900200003", "TRES AÑOS S.A.S.", base=10 * M, entity_nit="899100003")
        p.near_misses[name].append(ident)
    # the same NIT written two ways: the original sees 2 + 1, the fixed definition 3
    for nit in ("900200004", "900200004", "900.200.004"):
        p.process(nit, "PUNTOS Y CIFRAS S.A.S.", base=20 * M, entity_nit="899100004")
    p.add(name, fixed=(1, 3, 60 * M), published=(0, 0, 0))
    # four processes without a valid publication date: the original groups their null year
    for _ in range(4):
        p.process(
            "900200006",
            "FECHAS IMPOSIBLES LTDA",
            base=5 * M,
            entity_nit="899100006",
            published_text="13/25/2022",
        )
    p.add(name, fixed=(0, 0, 0), published=(1, 4, 20 * M))


def _offer(p: Planted, portfolio: str, nit: str, bidder: str, value: str, registered: str) -> None:
    p.row(
        "t_seii_ofertaproces_procesocompr",
        **{
            "ID del Proceso de Compra": portfolio,
            "NIT del Proveedor": nit,
            "Nombre Proveedor": bidder,
            "Valor de la Oferta": value,
            "Fecha de Registro": registered,
            "Modalidad": "Licitación pública",
            "Identificador de la Oferta": f"CO1.BID.P{portfolio[-7:]}{nit[-3:]}",
        },
    )


def _ofertas(p: Planted) -> None:
    name = INDICATORS[1]
    base, award = 110 * M, 100 * M
    winner, winner_name = "900300001", "PRECIOS ALTOS S.A.S."
    # the cheapest bid is another's: both definitions flag it; fixed amount is the difference
    ident, folio = p.process(winner, winner_name, base=base, awarded=award)
    _offer(p, folio, "900300011", "OFERTA BARATA LTDA", str(80 * M), "01/05/2022")
    _offer(p, folio, winner, winner_name, str(award), "02/05/2022")
    p.add(name, fixed=(1, 1, 20 * M), published=(1, 1, base))
    p.positives[name].append(ident)
    # the winner's own bid is the cheapest
    ident, folio = p.process("900300002", "GANADOR JUSTO S.A.S.", base=base, awarded=award)
    _offer(p, folio, "900300002", "GANADOR JUSTO S.A.S.", str(award), "01/05/2022")
    _offer(p, folio, "900300012", "OTRO POSTOR LTDA", str(105 * M), "01/05/2022")
    p.near_misses[name].append(ident)
    # an unreadable bid ranks first in the original and hides the process
    ident, folio = p.process("900300003", "ESCONDIDO S.A.S.", base=base, awarded=award)
    _offer(p, folio, "900300013", "VALOR ILEGIBLE LTDA", "1.234.567", "01/05/2022")
    _offer(p, folio, "900300023", "POSTOR MEDIO S.A.S.", str(90 * M), "01/05/2022")
    _offer(p, folio, "900300003", "ESCONDIDO S.A.S.", str(award), "02/05/2022")
    p.add(name, fixed=(1, 1, 10 * M), published=(0, 0, 0))
    # the winner's cheapest bid, without NIT and its name spaced differently
    ident, folio = p.process("900300004", "MISMO GANADOR S.A.S.", base=base, awarded=award)
    _offer(p, folio, "", "MISMO  GANADOR S.A.S.", str(85 * M), "01/05/2022")
    _offer(p, folio, "900300014", "POSTOR CARO LTDA", str(95 * M), "01/05/2022")
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))
    # a tie at the cheapest value: the other bidder registered first
    ident, folio = p.process("900300005", "EMPATE S.A.S.", base=base, awarded=award)
    _offer(p, folio, "900300015", "EMPATADO LTDA", str(80 * M), "01/02/2022")
    _offer(p, folio, "900300005", "EMPATE S.A.S.", str(80 * M), "05/02/2022")
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))


def _registration(p: Planted, nit: str, name: str, state: str, cancelled: str | None) -> None:
    p.row(
        "t_otro_pernajuesadl_camarcomerci",
        **{
            "razon_social": name,
            "nit": nit,
            "numero_identificacion": nit,
            "estado_matricula": state,
            "fecha_matricula": "20100101",
            "fecha_cancelacion": cancelled,
        },
    )


def _inactivos(p: Planted) -> None:
    name, base = INDICATORS[2], 50 * M
    # cancelled in 2020, three processes in 2022: the original keeps one arbitrary process
    _registration(p, "900400001", "CERRADA HACE TIEMPO S.A.S.", "CANCELADA", "20200101")
    for _ in range(3):
        ident, _ = p.process("900400001", "CERRADA HACE TIEMPO S.A.S.", base=base)
        p.positives[name].append(ident)
    p.add(name, fixed=(1, 3, 3 * base), published=(1, 1, base))
    # cancelled after the process
    _registration(p, "900400002", "CERRADA DESPUES LTDA", "CANCELADA", "20230110")
    p.process("900400002", "CERRADA DESPUES LTDA", base=base)
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))
    # the state spelled in another case
    _registration(p, "900400003", "MAYUSCULAS S.A.S.", "Cancelada", "20200101")
    p.process("900400003", "MAYUSCULAS S.A.S.", base=base)
    p.add(name, fixed=(1, 1, base), published=(0, 0, 0))
    # a cancellation year before 1959: the raw zone nulls it
    _registration(p, "900400005", "FECHA ANTIGUA LTDA", "CANCELADA", "19500101")
    p.process("900400005", "FECHA ANTIGUA LTDA", base=base)
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))
    # active
    _registration(p, "900400004", "ACTIVA Y SANA S.A.S.", "ACTIVA", None)
    ident, _ = p.process("900400004", "ACTIVA Y SANA S.A.S.", base=base)
    p.near_misses[name].append(ident)


def _pep(p: Planted) -> None:
    name, base, table = INDICATORS[3], 30 * M, "t_otro_persexpupoli_sigepperexpo"
    for post in ("ALCALDE", "CONCEJAL"):  # one person, two posts
        p.row(
            table,
            NUMERO_DOCUMENTO="1010101010",
            NOMBRE_PEP="ANDRÉS PÉREZ RUIZ",
            DENOMINACION_CARGO=post,
            FECHA_VINCULACION="01/02/2020 00:00:00",
            FECHA_DESVINCULACION=None,
        )
    ident, _ = p.process("1010101010", "ANDRÉS PÉREZ RUIZ", base=base)
    p.positives[name].append(ident)
    p.add(name, fixed=(1, 1, base), published=(2, 2, 2 * base))
    # left office in 2015: more than two years before the process
    p.row(
        table,
        NUMERO_DOCUMENTO="1020202020",
        NOMBRE_PEP="LUZ GÓMEZ DÍAZ",
        FECHA_VINCULACION="01/02/2012 00:00:00",
        FECHA_DESVINCULACION="01/01/2015 00:00:00",
    )
    p.process("1020202020", "LUZ GÓMEZ DÍAZ", base=base)
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))
    # the document written with dots
    p.row(
        table,
        NUMERO_DOCUMENTO="1.020.304.050",
        NOMBRE_PEP="JORGE TORRES MUÑOZ",
        FECHA_VINCULACION="03/01/2019 00:00:00",
        FECHA_DESVINCULACION=None,
    )
    p.process("1020304050", "JORGE TORRES MUÑOZ", base=base)
    p.add(name, fixed=(1, 1, base), published=(0, 0, 0))


def _puestos(p: Planted) -> None:
    name, base, table = INDICATORS[4], 40 * M, "t_otro_puestsensibl_sigeppsscorr"
    p.row(
        table,
        IDENTIFICACION_FUNCIONARIO="1030303030",
        NOMBRE_COMPLETO="DIANA CASTAÑO VARGAS",
        FECHA_VINCULACION="06/01/2015 00:00:00",
        TIPO_NOMBRAMIENTO="Provisional",
    )
    ident, _ = p.process("1030303030", "DIANA CASTAÑO VARGAS", base=base, copies=2)
    p.positives[name].append(ident)
    p.add(name, fixed=(1, 1, base), published=(2, 2, 2 * base))
    # appointed after the process
    p.row(
        table,
        IDENTIFICACION_FUNCIONARIO="1040404040",
        NOMBRE_COMPLETO="PAOLA OSPINA ROJAS",
        FECHA_VINCULACION="01/15/2023 00:00:00",
        TIPO_NOMBRAMIENTO="Provisional",
    )
    p.process("1040404040", "PAOLA OSPINA ROJAS", base=base)
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))


def _cancelled(
    p: Planted, supplier: str, representative: str, signed: str, modified: str, number: int
) -> None:
    p.row(
        "t_seii_contracanela_aislamiencon",
        **{
            "Documento Proveedor": supplier,
            "Identificación Representante Legal": representative,
            "Fecha de Firma": signed,
            "FechaModificacion": modified,
            "Proceso de Compra": f"CO1.BDOS.{number}",
            "ID Contrato": f"CO1.PCCNTR.{number}",
            "Estado Contrato": "Cancelado",
        },
    )


def _cancelados(p: Planted) -> None:
    name, base = INDICATORS[5], 60 * M
    # a person who contracts in their own name: supplier and legal representative alike
    _cancelled(p, "1050505050", "1050505050", "01/01/2021", "01/03/2021 10:00:00", 91_000_001)
    for _ in range(2):
        ident, _ = p.process("1050505050", "CARLOS MARTÍNEZ OSPINA", base=base)
        p.positives[name].append(ident)
    p.add(name, fixed=(1, 2, 2 * base), published=(1, 2, 2 * base))
    # a firm and its legal representative both win: the original matches the representative
    _cancelled(p, "900600002", "1060606060", "01/01/2021", "01/03/2021 10:00:00", 91_000_002)
    p.process("900600002", "FIRMA CANCELADA S.A.S.", base=base)
    p.process("1060606060", "LUIS RAMÍREZ SÁNCHEZ", base=base)
    p.add(name, fixed=(1, 1, base), published=(1, 1, base))
    # cancelled after the process
    _cancelled(p, "1070707070", "1070707070", "01/02/2023", "01/02/2023 10:00:00", 91_000_003)
    p.process("1070707070", "JOSÉ DÍAZ TORRES", base=base)
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))


CONTRACTS = "t_seii_contratelect_cregistrados"


def _line(
    p: Planted, contract: str, due: str, got: str, expected: date = date(2022, 8, 1)
) -> None:
    p.row(
        "t_seii_ejecucioncon_avancerevses",
        IdentificadorContrato=contract,
        CantidadPorRecibir=due,
        CantidadRecibida=got,
        TipoEjecucion="Entregables",
        FechaDeEntregaEsperada=f"{expected.isoformat()} 00:00:00.0000000",
    )


def contract(p: Planted, number: str, portfolio: str, supplier: str, **values: str) -> None:
    """A contract of the process whose portfolio is ``portfolio`` (SECOP II Contratos)."""
    p.row(
        CONTRACTS,
        **{
            "ID Contrato": number,
            "Proceso de Compra": portfolio,
            "Documento Proveedor": supplier,
            "Fecha de Firma": "05/20/2022",
            "Fecha de Inicio del Contrato": "06/01/2022",
            "Fecha de Fin del Contrato": "12/31/2022",
            "Dias Adicionados": "0",
            "Estado Contrato": "En ejecución",
            **values,
        },
    )


def _entregas(p: Planted) -> None:
    name, base = INDICATORS[6], 70 * M
    # contracts and processes whose numbers happen to share their last 8 digits (the original
    # joins on them); the contracts source links them as well
    for number, due, got, copies in (
        (10_000_001, "9", "10", 1),  # '10' < '9' as text; 10 ≥ 9 as numbers
        (10_000_002, "100", "50", 1),  # '50' > '100' as text; 50 < 100 as numbers
        (10_000_003, "8", "7", 2),  # short either way; the same amount as the first
    ):
        nit = f"9007{number % 100_000:05d}"
        _, folio = p.process(
            nit, f"ENTREGAS {number} S.A.S.", base=base, number=number, copies=copies
        )
        contract(p, f"CO1.PCCNTR.{number}", folio, nit)
        _line(p, f"CO1.PCCNTR.{number}", due, got)
        if int(got) < int(due):
            p.due[name].append((date(2022, 8, 1), f"CO1.REQ.{number}", base))
    # a contract numbered apart from its process: only the contracts source links them
    ident, folio = p.process("900700005", "ENTREGAS CINCO S.A.S.", base=72 * M, number=10_000_005)
    contract(p, "CO1.PCCNTR.30000005", folio, "900700005")
    _line(p, "CO1.PCCNTR.30000005", "10", "4")
    p.due[name].append((date(2022, 8, 1), ident, 72 * M))
    # fixed (on 2023-04-16): 3 short lines of 3 processes (70 + 70 + 72 M); as published: 2
    # flagged lines, 2 keys, the sum of DISTINCT amounts (70 M once)
    p.add(name, fixed=(0, 0, 0), published=(2, 2, base))
    # due after 2023-04-16: a near miss on that cut date, a positive from 2023-05-01 on
    ident, folio = p.process("900700004", "ENTREGAS CUATRO S.A.S.", base=base, number=10_000_004)
    contract(p, "CO1.PCCNTR.30000004", folio, "900700004")
    _line(p, "CO1.PCCNTR.30000004", "5", "1", expected=date(2023, 5, 1))
    p.due[name].append((date(2023, 5, 1), ident, base))
    # a short line of a contract no process is known for
    _line(p, "CO1.PCCNTR.30000009", "5", "1")


def _fine(p: Planted, code: str, supplier: str, day: str) -> None:
    p.row(
        "t_seii_multasysanci_secopiimulsa",
        **{
            " Codigo Proveedor Objeto de la Multa": code,
            "Nombre Proveedor Objeto de la Multa": supplier,
            "Fecha Evento": day,
            "ID Proceso": f"CO1.BDOS.{96_000_000 + len(p.rows[FINES])}",
        },
    )


def _multas(p: Planted) -> None:
    name, base = INDICATORS[7], 80 * M
    _fine(p, "9900001", "CONSTRUCCIONES RIVERA S.A.S.", "06/01/2021 09:00:00 AM")
    for _ in range(2):
        ident, _ = p.process("900800001", "CONSTRUCCIONES RIVERA S.A.S.", base=base, code="9900001")
        p.positives[name].append(ident)
    p.add(name, fixed=(1, 2, 2 * base), published=(1, 2, 2 * base))
    # fined after the process
    _fine(p, "9900002", "MULTA POSTERIOR LTDA", "12/01/2022 09:00:00 AM")
    p.process("900800002", "MULTA POSTERIOR LTDA", base=base, code="9900002")
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))
    # the name in lower case, spaced and without accents, no supplier code
    _fine(p, "", "ingenieria  avila s.a.s.", "06/01/2021 09:00:00 AM")
    p.process("900800003", "INGENIERÍA ÁVILA S.A.S.", base=base)
    p.add(name, fixed=(1, 1, base), published=(0, 0, 0))
    # a fine whose supplier is "No Definido": the original matches every unawarded process
    # (its effect on the as-published values is computed from the exports in `truth`)
    _fine(p, "", "No Definido", "06/01/2021 09:00:00 AM")


def _obras(p: Planted) -> None:
    name, base, table = INDICATORS[8], 90 * M, "t_paco_registro_obras_inconclusa"
    p.row(
        table,
        ROL_2006="CONTRATISTA",
        IDENTIFICACION_2006="900900001",
        NOMBRE_2006="OBRAS CIVILES DEL SUR S.A.S.",
    )
    ident, _ = p.process("900900001", "OBRAS CIVILES DEL SUR S.A.S.", base=base)
    p.positives[name].append(ident)
    p.add(name, fixed=(1, 1, base), published=(1, 1, base))
    p.row(
        table,
        ROL_2006="CONTRATISTA",
        IDENTIFICACION_2006="900900002",
        NOMBRE_2006="obras del norte ltda",
    )
    p.process("900900002", "OBRAS DEL NORTE LTDA", base=base)
    p.add(name, fixed=(1, 1, base), published=(0, 0, 0))
    p.row(
        table,
        ROL_2006="INTERVENTOR",
        IDENTIFICACION_2006="900900003",
        NOMBRE_2006="INTERVENTORÍAS ANDINAS LTDA",
    )
    p.process("900900003", "INTERVENTORÍAS ANDINAS LTDA", base=base)
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))


def _responsables(p: Planted) -> None:
    name, base, table = INDICATORS[9], 95 * M, "t_paco_responsabilidad_fiscales"
    p.row(
        table,
        **{
            "Responsable Fiscal": "JUAN PÉREZ GÓMEZ",
            "Tipo y Num Docuemento": "CC 1080808080",
            "TR": "I",
            "R": None,
        },
    )
    ident, _ = p.process("1080808080", "JUAN PÉREZ GÓMEZ", base=base, copies=2)
    p.positives[name].append(ident)
    p.add(name, fixed=(1, 1, base), published=(1, 1, 2 * base))
    p.row(
        table,
        **{
            "Responsable Fiscal": "MARÍA LÓPEZ RUIZ ",
            "Tipo y Num Docuemento": "CC 1090909090",
            "TR": "S",
            "R": None,
        },
    )
    p.process("1090909090", "MARÍA LÓPEZ RUIZ", base=base)
    p.add(name, fixed=(1, 1, base), published=(0, 0, 0))
    p.row(
        table,
        **{
            "Responsable Fiscal": "CARLOS DÍAZ MORA",
            "Tipo y Num Docuemento": "CC 1101010101",
            "TR": "S",
            "R": "2",
        },
    )
    p.process("1101010101", "CARLOS DÍAZ MORA", base=base)
    p.add(name, fixed=(1, 1, base), published=(0, 0, 0))
    p.row(
        table,
        **{
            "Responsable Fiscal": "PAOLA ROJAS VEGA",
            "Tipo y Num Docuemento": "CC 1111111111",
            "TR": "X",
            "R": None,
        },
    )
    p.process("1111111111", "PAOLA ROJAS VEGA", base=base)
    p.add(name, fixed=(0, 0, 0), published=(1, 1, base))
