"""The panel the original had in QuickSight, read from the warehouse: as report sections the
web UI shows live (`cauce ui`), and as a static folder (`cauce.reports`): ``index.html`` with
every chart drawn by the Vega scripts cauce ships (so it works offline), each chart also as
``<name>.svg`` and ``<name>.png``, and the figures in tables formatted for Colombia.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import altair as alt

from cauce import CauceError, Warehouse
from cauce import charts as render
from cauce.reports import Section, output_folder, write_report

from ..formats import cop, miles
from ..results import (
    BUYER_SCORES,
    FLAGS_TABLE,
    INDICATORS_TABLE,
    PUBLISHED_TABLE,
    STATUS_TABLE,
    SUPPLIER_SCORES,
)
from . import charts

if TYPE_CHECKING:
    from cauce.warehouse import Transaction

TOP = 15
TITLE = "Indicadores de riesgo en la contratación pública"
# numbers right-aligned and never broken after "$", in the static page and in the web UI alike:
# by the class (td.n in both stylesheets), not a style attribute, which the UI's policy refuses
NUMBER = ' class=n'
CHARTS = (
    "contratos_por_indicador",
    "monto_por_indicador",
    "tendencia",
    "entidades_riesgo",
    "proveedores_riesgo",
    "departamentos",
    "banderas",
)


@dataclass
class Panel:
    """The figures of one execution, as plain rows."""

    fecha: date
    indicators: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    buyers: list[dict[str, Any]] = field(default_factory=list)
    suppliers: list[dict[str, Any]] = field(default_factory=list)
    departments: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    as_published: bool = False
    #: whether the warehouse has scores / flags for the execution's kind, so that none of them
    #: this week reads as none found, not as none computed
    scored: bool = False
    flagged: bool = False


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-ready rows: decimals as floats, dates as ISO text."""

    def one(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, date):
            return v.isoformat()
        return v

    return [{k: one(v) for k, v in r.items()} for r in rows]


def _rows(wh: Transaction, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return _plain(wh.query(sql, params).to_pylist())


def read_panel(wh: Warehouse, fecha: date | None = None, *, as_published: bool = False) -> Panel:
    """The panel of ``fecha`` (default: the latest execution in the warehouse); with
    ``as_published``, of the original's definitions (which have no flags or scores).

    Read in one transaction: every part of the panel from the same state of the warehouse,
    and on DuckDB one opening of the file rather than one per query."""
    with wh.transaction() as tx:
        return _read_panel(tx, fecha, as_published)


def _read_panel(wh: Transaction, fecha: date | None, as_published: bool) -> Panel:
    main = PUBLISHED_TABLE if as_published else INDICATORS_TABLE
    if not wh.table_exists(main):
        raise CauceError(
            "the warehouse has no indicator results yet",
            hint="run `cauce run contracting weekly --partition DATE` "
            "(or indicators, then load) first",
        )
    if fecha is None:
        latest = wh.query(f"SELECT max(fecha_ejecucion) AS f FROM {main}")
        fecha = latest.column("f")[0].as_py()
        if fecha is None:
            raise CauceError(
                f"{main} is empty", hint="run `cauce run contracting load --partition DATE` first"
            )
    day = [fecha]
    panel = Panel(
        fecha,
        _rows(
            wh,
            f"SELECT * FROM {main} WHERE fecha_ejecucion = ? "
            "ORDER BY nombre_grupo_indicador, nombre_indicador",
            day,
        ),
        _rows(
            wh,
            f"SELECT fecha_ejecucion, nombre_indicador, "
            f"cantidad_contratos_irregularidades, monto_total_irregularidades "
            f"FROM {main} ORDER BY fecha_ejecucion, nombre_indicador",
        ),
        as_published=as_published,
    )
    if not panel.indicators:
        raise CauceError(
            f"no indicator results for {fecha} in the warehouse",
            hint=f"run `cauce run contracting load --partition {fecha}` first",
        )
    if as_published:
        return panel
    panel.scored = wh.table_exists(BUYER_SCORES)
    if panel.scored:
        order = f"ORDER BY puntaje DESC, monto_con_banderas DESC, documento LIMIT {TOP}"
        panel.buyers = _rows(
            wh,
            f"SELECT * FROM {BUYER_SCORES} WHERE fecha_ejecucion = ? "
            f"AND contratos_con_banderas > 0 {order}",
            day,
        )
        panel.suppliers = _rows(
            wh,
            f"SELECT * FROM {SUPPLIER_SCORES} WHERE fecha_ejecucion = ?"
            f" AND contratos_con_banderas > 0 {order}",
            day,
        )
        panel.departments = _rows(
            wh,
            f"SELECT coalesce(nombre_depto_entidad, 'sin departamento') "
            f"AS nombre_depto_entidad, sum(contratos_con_banderas) AS contratos_con_banderas, "
            f"sum(monto_con_banderas) AS monto_con_banderas, avg(puntaje) AS puntaje "
            f"FROM {BUYER_SCORES} WHERE fecha_ejecucion = ? GROUP BY 1 "
            f"ORDER BY monto_con_banderas DESC, 1",
            day,
        )
    panel.flagged = wh.table_exists(FLAGS_TABLE)
    if panel.flagged:
        panel.flags = _rows(
            wh,
            f"SELECT codigo_bandera, nombre_bandera, count(DISTINCT id_proceso) AS contratos,"
            f" sum(monto_bandera) AS monto FROM {FLAGS_TABLE} WHERE fecha_ejecucion = ? "
            f"GROUP BY codigo_bandera, nombre_bandera ORDER BY codigo_bandera",
            day,
        )
        for row in panel.flags:
            row["etiqueta"] = f"{row['codigo_bandera']} {row['nombre_bandera']}"
    if wh.table_exists(STATUS_TABLE):
        panel.status = _rows(
            wh,
            f"SELECT codigo, nombre, estado, motivo FROM {STATUS_TABLE} "
            "WHERE fecha_ejecucion = ? AND definicion = 'corregida' "
            "AND estado <> 'ok' ORDER BY codigo",
            day,
        )
    if wh.table_exists(PUBLISHED_TABLE):
        panel.published = _rows(
            wh,
            f"SELECT * FROM {PUBLISHED_TABLE} WHERE fecha_ejecucion = ?"
            " ORDER BY nombre_grupo_indicador, nombre_indicador",
            day,
        )
    return panel


def panel_charts(panel: Panel) -> dict[str, alt.Chart]:
    """Every chart of the panel, by file name (one of `CHARTS`)."""
    found = {
        "contratos_por_indicador": charts.contracts_per_indicator(panel.indicators),
        "monto_por_indicador": charts.amount_per_indicator(panel.indicators),
        "tendencia": charts.trend(panel.trend),
    }
    if panel.buyers:
        found["entidades_riesgo"] = charts.top_by_risk(
            panel.buyers, name="nombre_entidad", title="Entidades con mayor riesgo"
        )
    if panel.suppliers:
        found["proveedores_riesgo"] = charts.top_by_risk(
            panel.suppliers, name="nombre_proveedor", title="Proveedores con mayor riesgo"
        )
    if panel.departments:
        found["departamentos"] = charts.departments(panel.departments)
    if panel.flags:
        found["banderas"] = charts.contracts_per_flag(panel.flags)
    return found


def subtitle(panel: Panel) -> str:
    definitions = (
        "definiciones originales, con sus defectos"
        if panel.as_published
        else "definiciones corregidas"
    )
    return f"Ejecución del {panel.fecha} (fecha de corte de los datos), {definitions}."


def panel_sections(panel: Panel, *, files: bool = False) -> list[Section]:
    """The panel as report sections; with ``files``, each chart links to its PNG and SVG."""
    found = panel_charts(panel)

    def part(title: str, names: tuple[str, ...], text: str = "", *,
             none: str = "") -> Section | None:
        drawn = {name: found[name] for name in names if name in found}
        if not drawn:
            return Section(title, html=f"<p>{html.escape(none)}</p>") if none else None
        links = (
            "".join(
                f'<p class=meta>{html.escape(name)}: <a href="{name}.png">PNG</a> · '
                f'<a href="{name}.svg">SVG</a></p>'
                for name in drawn
            )
            if files
            else ""
        )
        return Section(title, html=text + links, charts=drawn)

    note = (
        "<p class=meta>Un indicador o bandera señala un riesgo, no una prueba: cada caso "
        "tiene explicaciones posibles y debe revisarse en el registro público del "
        "proceso.</p>"
    )
    sections = [
        part(
            "Resultados por indicador",
            ("contratos_por_indicador", "monto_por_indicador"),
            f"<p>{html.escape(subtitle(panel))}</p>{note}{_indicator_table(panel.indicators)}",
        ),
        part("Tendencia por ejecución", ("tendencia",)),
        part(
            "Entidades y proveedores con mayor riesgo",
            ("entidades_riesgo", "proveedores_riesgo"),
            none="Ninguna entidad ni proveedor con contratos con banderas rojas en esta ejecución."
            if panel.scored else "",
        ),
        part(
            "Por departamento",
            ("departamentos",),
            "<p class=meta>Barras: no hay geometría de departamentos sin conexión.</p>",
        ),
        part(
            "Banderas rojas",
            ("banderas",),
            none="Ningún contrato con banderas rojas en esta ejecución." if panel.flagged else "",
        ),
    ]
    if panel.status:
        sections.append(
            Section(
                "No calculados en esta ejecución",
                html=_table(
                    ["código", "nombre", "estado", "motivo"],
                    [
                        [s["codigo"], s["nombre"], s["estado"], s["motivo"] or ""]
                        for s in panel.status
                    ],
                    set(),
                ),
            )
        )
    if panel.published:
        sections.append(
            Section(
                "Definiciones originales (publicadas), para comparar",
                html=_indicator_table(panel.published),
            )
        )
    return [s for s in sections if s is not None]


def write_dashboard(folder: str | Path, panel: Panel, *, images: bool = True) -> dict[str, Any]:
    """Write the panel into ``folder``: index.html, the Vega scripts, each chart as .svg and,
    with ``images``, as .png; files of charts this panel no longer has are removed."""
    found = panel_charts(panel)
    folder = output_folder(folder)
    for name in CHARTS:
        for suffix in (".svg", ".png"):
            if name not in found or (suffix == ".png" and not images):
                (folder / f"{name}{suffix}").unlink(missing_ok=True)
    page = write_report(folder, TITLE, panel_sections(panel, files=images))
    files = [f"{name}.svg" for name in found]
    if images:
        for name in found:  # from the SVG just written: the chart is not drawn twice
            drawn = (folder / f"{name}.svg").read_text(encoding="utf-8")
            (folder / f"{name}.png").write_bytes(render.png_from_svg(drawn))
        files += [f"{name}.png" for name in found]
    return {"page": str(page), "charts": list(found), "files": files}


def _table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{NUMBER if i in numeric else ''}>{html.escape(c)}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _indicator_table(rows: list[dict[str, Any]]) -> str:
    total_contracts = sum(r["cantidad_contratos_irregularidades"] or 0 for r in rows)
    amounts = [r["monto_total_irregularidades"] for r in rows]
    # a total too large for the table is null: the sum is then unknown, not a smaller figure
    with localcontext(prec=80):  # exact: ten totals of up to 30 digits
        total_amount = (
            None if None in amounts else sum((Decimal(str(a)) for a in amounts), Decimal(0))
        )
    body = [
        [
            r["nombre_grupo_indicador"],
            r["nombre_indicador"],
            miles(r["cantidad_irregularidades"]),
            miles(r["cantidad_contratos_irregularidades"]),
            cop(r["monto_total_irregularidades"]),
            miles(r["cantidad_contratos_totales"]),
        ]
        for r in rows
    ]
    body.append(["", "total", "", miles(total_contracts), cop(total_amount), ""])
    return _table(
        ["grupo", "indicador", "irregularidades", "contratos", "monto (COP)", "contratos totales"],
        body,
        {2, 3, 4, 5},
    )
