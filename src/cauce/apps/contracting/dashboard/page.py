"""The panel the original had in QuickSight, as one static page read from the warehouse.

`index.html` embeds every chart with vega-embed from `vendor/` (the JavaScript ships inside
the package, so the page works offline), writes each chart also as PNG and SVG in `charts/`,
and repeats the figures in HTML tables, formatted for Colombia.
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import altair as alt

from cauce import CauceError, Warehouse

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

ASSETS = Path(__file__).with_name("assets")
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
TOP = 15


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


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-ready rows: decimals as floats, dates as ISO text."""
    def one(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, date):
            return v.isoformat()
        return v
    return [{k: one(v) for k, v in r.items()} for r in rows]


def _rows(wh: Warehouse, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return _plain(wh.query(sql, params).to_pylist())


def read_panel(wh: Warehouse, fecha: date | None = None, *,
               as_published: bool = False) -> Panel:
    """The panel of ``fecha`` (default: the latest execution in the warehouse); with
    ``as_published``, of the original's definitions (which have no flags or scores)."""
    main = PUBLISHED_TABLE if as_published else INDICATORS_TABLE
    if not wh.table_exists(main):
        raise CauceError("the warehouse has no indicator results yet",
                         hint="run `cauce run contracting weekly --partition DATE` "
                         "(or indicators, then load) first")
    if fecha is None:
        latest = wh.query(f"SELECT max(fecha_ejecucion) AS f FROM {main}")
        fecha = latest.column("f")[0].as_py()
        if fecha is None:
            raise CauceError(f"{main} is empty",
                             hint="run `cauce run contracting load --partition DATE` first")
    day = [fecha]
    panel = Panel(
        fecha,
        _rows(wh, f"SELECT * FROM {main} WHERE fecha_ejecucion = ? "
              "ORDER BY nombre_grupo_indicador, nombre_indicador", day),
        _rows(wh, f"SELECT fecha_ejecucion, nombre_indicador, "
              f"cantidad_contratos_irregularidades, monto_total_irregularidades "
              f"FROM {main} ORDER BY fecha_ejecucion, nombre_indicador"),
        as_published=as_published,
    )
    if not panel.indicators:
        raise CauceError(f"no indicator results for {fecha} in the warehouse",
                         hint=f"run `cauce run contracting load --partition {fecha}` first")
    if as_published:
        return panel
    if wh.table_exists(BUYER_SCORES):
        order = f"ORDER BY puntaje DESC, monto_con_banderas DESC, documento LIMIT {TOP}"
        panel.buyers = _rows(wh, f"SELECT * FROM {BUYER_SCORES} WHERE fecha_ejecucion = ? "
                             f"AND contratos_con_banderas > 0 {order}", day)
        panel.suppliers = _rows(wh, f"SELECT * FROM {SUPPLIER_SCORES} WHERE fecha_ejecucion = ?"
                                f" AND contratos_con_banderas > 0 {order}", day)
        panel.departments = _rows(
            wh, f"SELECT coalesce(nombre_depto_entidad, 'sin departamento') "
            f"AS nombre_depto_entidad, sum(contratos_con_banderas) AS contratos_con_banderas, "
            f"sum(monto_con_banderas) AS monto_con_banderas, avg(puntaje) AS puntaje "
            f"FROM {BUYER_SCORES} WHERE fecha_ejecucion = ? GROUP BY 1 "
            f"ORDER BY monto_con_banderas DESC, 1", day)
    if wh.table_exists(FLAGS_TABLE):
        panel.flags = _rows(
            wh, f"SELECT codigo_bandera, nombre_bandera, count(DISTINCT id_proceso) AS contratos,"
            f" sum(monto_bandera) AS monto FROM {FLAGS_TABLE} WHERE fecha_ejecucion = ? "
            f"GROUP BY codigo_bandera, nombre_bandera ORDER BY codigo_bandera", day)
        for row in panel.flags:
            row["etiqueta"] = f"{row['codigo_bandera']} {row['nombre_bandera']}"
    if wh.table_exists(STATUS_TABLE):
        panel.status = _rows(wh, f"SELECT codigo, nombre, estado, motivo FROM {STATUS_TABLE} "
                             "WHERE fecha_ejecucion = ? AND definicion = 'corregida' "
                             "AND estado <> 'ok' ORDER BY codigo", day)
    if wh.table_exists(PUBLISHED_TABLE):
        panel.published = _rows(wh, f"SELECT * FROM {PUBLISHED_TABLE} WHERE fecha_ejecucion = ?"
                                " ORDER BY nombre_grupo_indicador, nombre_indicador", day)
    return panel


def panel_charts(panel: Panel) -> dict[str, alt.Chart]:
    """Every chart of the panel, by file name."""
    found = {
        "contratos_por_indicador": charts.contracts_per_indicator(panel.indicators),
        "monto_por_indicador": charts.amount_per_indicator(panel.indicators),
        "tendencia": charts.trend(panel.trend),
    }
    if panel.buyers:
        found["entidades_riesgo"] = charts.top_by_risk(
            panel.buyers, name="nombre_entidad", title="Entidades con mayor riesgo")
    if panel.suppliers:
        found["proveedores_riesgo"] = charts.top_by_risk(
            panel.suppliers, name="nombre_proveedor", title="Proveedores con mayor riesgo")
    if panel.departments:
        found["departamentos"] = charts.departments(panel.departments)
    if panel.flags:
        found["banderas"] = charts.contracts_per_flag(panel.flags)
    return found


def write_dashboard(folder: Path, panel: Panel, *, images: bool = True) -> dict[str, Any]:
    """Write index.html, vendor/*.js and charts/*.png|svg into ``folder``."""
    import vl_convert as vlc

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vendor").mkdir(exist_ok=True)
    for name in SCRIPTS:
        shutil.copyfile(ASSETS / name, folder / "vendor" / name)
    specs = {name: chart.to_dict() for name, chart in panel_charts(panel).items()}
    files = []
    if images:
        (folder / "charts").mkdir(exist_ok=True)
        for stale in (folder / "charts").glob("*.*[gv]"):  # charts of an earlier panel
            stale.unlink()
        for name, spec in specs.items():
            svg = vlc.vegalite_to_svg(spec, format_locale=charts.COLOMBIA)
            (folder / "charts" / f"{name}.svg").write_text(svg, encoding="utf-8")
            png = vlc.vegalite_to_png(spec, format_locale=charts.COLOMBIA)
            (folder / "charts" / f"{name}.png").write_bytes(png)
            files += [f"charts/{name}.svg", f"charts/{name}.png"]
    (folder / "index.html").write_text(_html(panel, specs, images), encoding="utf-8")
    return {"page": str(folder / "index.html"), "charts": list(specs), "files": files}


def _table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"n" if i in numeric else ""}">{html.escape(c)}</td>'
                         for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _indicator_table(rows: list[dict[str, Any]]) -> str:
    total_contracts = sum(r["cantidad_contratos_irregularidades"] or 0 for r in rows)
    total_amount = sum(Decimal(str(r["monto_total_irregularidades"] or 0)) for r in rows)
    body = [[r["nombre_grupo_indicador"], r["nombre_indicador"],
             miles(r["cantidad_irregularidades"]), miles(r["cantidad_contratos_irregularidades"]),
             cop(r["monto_total_irregularidades"]), miles(r["cantidad_contratos_totales"])]
            for r in rows]
    body.append(["", "total", "", miles(total_contracts), cop(total_amount), ""])
    return _table(["grupo", "indicador", "irregularidades", "contratos", "monto (COP)",
                   "contratos totales"], body, {2, 3, 4, 5})


def _html(panel: Panel, specs: dict[str, dict[str, Any]], images: bool) -> str:
    blocks = []
    for name in specs:
        links = (f'<p class="files"><a href="charts/{name}.png">PNG</a> · '
                 f'<a href="charts/{name}.svg">SVG</a></p>') if images else ""
        blocks.append(f'<section class="chart"><div id="{name}"></div>{links}</section>')
    status = ""
    if panel.status:
        status = "<h2>No calculados en esta ejecución</h2>" + _table(
            ["código", "nombre", "estado", "motivo"],
            [[s["codigo"], s["nombre"], s["estado"], s["motivo"] or ""] for s in panel.status],
            set())
    published = ""
    if panel.published:
        published = ("<h2>Definiciones originales (publicadas), para comparar</h2>"
                     + _indicator_table(panel.published))
    scripts = "".join(f'<script src="vendor/{s}"></script>' for s in SCRIPTS)
    embed = json.dumps({"specs": specs, "locale": charts.COLOMBIA}, ensure_ascii=False)
    return f"""<!doctype html>
<html lang="es-CO"><head><meta charset="utf-8">
<title>Indicadores de contratación · {panel.fecha}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: left; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
section.chart {{ margin: 1.5rem 0; }} p.files {{ font-size: .85rem; }}
p.note {{ color: #555; max-width: 60rem; }}
</style>{scripts}</head>
<body>
<h1>Indicadores de riesgo en la contratación pública</h1>
<p>Ejecución del <strong>{panel.fecha}</strong> (fecha de corte de los datos),
{"definiciones originales, con sus defectos" if panel.as_published
 else "definiciones corregidas"}.</p>
<p class="note">Un indicador o bandera señala un riesgo, no una prueba: cada caso tiene
explicaciones posibles y debe revisarse en el registro público del proceso.</p>
<h2>Resultados por indicador</h2>
{_indicator_table(panel.indicators)}
{status}
{"".join(blocks)}
{published}
<script>
const panel = {embed};
for (const [name, spec] of Object.entries(panel.specs)) {{
  vegaEmbed("#" + name, spec, {{renderer: "svg", actions: false, formatLocale: panel.locale}})
    .catch(err => {{ document.getElementById(name).textContent = "error: " + err; }});
}}
</script>
</body></html>
"""
