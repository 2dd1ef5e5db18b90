"""The panel's charts as Altair (Vega-Lite) objects, built by pure functions from plain rows.

Each function takes a list of dicts (JSON types only: numbers, text, ISO dates) and returns a
chart, so the same charts serve the static page, PNG/SVG files and the web UI. Amounts are
Colombian pesos; numbers are shown with Colombia's separators: each chart carries `COLOMBIA`
as its number locale (Vega-Lite's ``config.locale``), so every renderer formats alike.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import altair as alt

Rows = list[dict[str, Any]]

# d3-format locale for Colombia: 1.234.567,89 and "$ 1.234"
COLOMBIA = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["$ ", ""]}
# amounts on axes are shown in the largest of these units that leaves a readable number
UNITS = (
    (1_000_000_000_000, "billones"),
    (1_000_000_000, "miles de millones"),
    (1_000_000, "millones"),
    (1, ""),
)
LEVEL_COLORS = {"Bajo": "#4c9a2a", "Medio": "#e0b400", "Alto": "#e07000", "Crítico": "#c0001a"}
WIDTH = 560


def _count(field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:Q", title=title, format=",d")


def _pesos(field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:Q", title=title, format="$,.0f")


def _text(field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:N", title=title)


def _axis(number_format: str) -> alt.Axis:
    """An axis in ``number_format``; counts get whole ticks only."""
    if number_format == ",d":
        return alt.Axis(format=number_format, tickMinStep=1)
    return alt.Axis(format=number_format)


def _bars(
    rows: Rows,
    *,
    y: str,
    y_title: str,
    x: str,
    x_title: str,
    title: str,
    x_format: str,
    tooltip: list[alt.Tooltip],
    color: Any = None,
) -> alt.Chart:
    encoding: dict[str, Any] = {
        "y": alt.Y(f"{y}:N", title=y_title, sort="-x", axis=alt.Axis(labelLimit=320)),
        "x": alt.X(f"{x}:Q", title=x_title, axis=_axis(x_format)),
        "tooltip": tooltip,
    }
    if color is not None:
        encoding["color"] = color
    return _colombian(
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(**encoding)
        .properties(title=title, width=WIDTH)
    )


def _colombian(chart: alt.Chart) -> alt.Chart:
    """``chart`` with Colombia's number format in its own configuration."""
    return chart.configure(locale={"number": COLOMBIA})


def _scaled(rows: Rows, column: str) -> tuple[Rows, str]:
    """``rows`` with ``<column>_escala`` in the unit (from `UNITS`) the largest value needs,
    and the axis title naming it. A missing amount stays missing (no bar), not 0."""
    top = max((abs(r.get(column) or 0) for r in rows), default=0)
    size, unit = next(((s, u) for s, u in UNITS if top >= 10 * s), UNITS[-1])
    scaled = [{**r, f"{column}_escala": None if r.get(column) is None else r[column] / size}
              for r in rows]
    return scaled, f"monto ({unit} de pesos)" if unit else "monto (pesos)"


def contracts_per_indicator(rows: Rows) -> alt.Chart:
    """Irregular contracts per indicator for one execution (`t_result_indicadores_batch`)."""
    return _bars(
        rows,
        y="nombre_indicador",
        y_title=None,
        x="cantidad_contratos_irregularidades",
        x_title="contratos con irregularidades",
        x_format=",d",
        title="Contratos por indicador",
        tooltip=[
            _text("nombre_indicador", "indicador"),
            _count("cantidad_contratos_irregularidades", "contratos"),
            _count("cantidad_irregularidades", "irregularidades"),
            _pesos("monto_total_irregularidades", "monto (COP)"),
        ],
    )


def amount_per_indicator(rows: Rows) -> alt.Chart:
    """Amount at stake per indicator, in thousands of millions of pesos."""
    scaled, axis = _scaled(rows, "monto_total_irregularidades")
    return _bars(
        scaled,
        y="nombre_indicador",
        y_title=None,
        x="monto_total_irregularidades_escala",
        x_title=axis,
        x_format=",.1~f",
        title="Monto por indicador",
        tooltip=[
            _text("nombre_indicador", "indicador"),
            _pesos("monto_total_irregularidades", "monto (COP)"),
        ],
    )


def trend(rows: Rows) -> alt.Chart:
    """Irregular contracts per indicator over the executions (one row per date × indicator)."""
    return _colombian(
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            # dates as the calendar days they are (UTC): in local time, a page or a file drawn
            # west of UTC, as in Colombia, put each execution on the day before
            x=alt.X("fecha_ejecucion:T", timeUnit="utcyearmonthdate", title="ejecución",
                    axis=alt.Axis(format="%Y-%m-%d")),
            y=alt.Y(
                "cantidad_contratos_irregularidades:Q",
                title="contratos con irregularidades",
                axis=_axis(",d"),
            ),
            color=alt.Color(
                "nombre_indicador:N",
                title="indicador",
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=320),
            ),
            tooltip=[
                alt.Tooltip("fecha_ejecucion:T", timeUnit="utcyearmonthdate", title="ejecución",
                            format="%Y-%m-%d"),
                _text("nombre_indicador", "indicador"),
                _count("cantidad_contratos_irregularidades", "contratos"),
                _pesos("monto_total_irregularidades", "monto (COP)"),
            ],
        )
        .properties(title="Tendencia por ejecución", width=WIDTH)
    )


def top_by_risk(rows: Rows, *, name: str, title: str) -> alt.Chart:
    """Buyers or suppliers with the highest composite score (rows of a `t_result_puntaje_*`)."""
    levels = alt.Scale(domain=list(LEVEL_COLORS), range=list(LEVEL_COLORS.values()))
    # one bar each: two of one name (homonyms, told apart by their document) were stacked into
    # one bar past 100
    names = Counter(r.get(name) for r in rows)
    rows = [{**r, "barra": r.get(name) if names[r.get(name)] == 1
             else f"{r.get(name)} ({r.get('documento')})"} for r in rows]
    return _bars(
        rows,
        y="barra",
        y_title=None,
        x="puntaje",
        x_title="puntaje de riesgo (0–100)",
        x_format=",.1f",
        title=title,
        color=alt.Color("nivel:N", title="nivel", scale=levels),
        tooltip=[
            _text(name, "nombre"),
            _text("documento", "documento"),
            alt.Tooltip("puntaje:Q", title="puntaje", format=",.1f"),
            _count("contratos", "contratos"),
            _count("contratos_con_banderas", "con banderas"),
            _pesos("monto_con_banderas", "monto con banderas (COP)"),
        ],
    )


def departments(rows: Rows) -> alt.Chart:
    """Amount of flagged contracts per department of the buyer."""
    scaled, axis = _scaled(rows, "monto_con_banderas")
    return _bars(
        scaled,
        y="nombre_depto_entidad",
        y_title=None,
        x="monto_con_banderas_escala",
        x_title=axis.replace("monto", "monto con banderas"),
        x_format=",.1~f",
        title="Monto con banderas por departamento",
        tooltip=[
            _text("nombre_depto_entidad", "departamento"),
            _count("contratos_con_banderas", "contratos con banderas"),
            _pesos("monto_con_banderas", "monto (COP)"),
            alt.Tooltip("puntaje:Q", title="puntaje medio", format=",.1f"),
        ],
    )


def contracts_per_flag(rows: Rows) -> alt.Chart:
    """Contracts per red flag (rows: codigo_bandera, nombre_bandera, contratos, monto)."""
    return _bars(
        rows,
        y="etiqueta",
        y_title=None,
        x="contratos",
        x_title="contratos",
        x_format=",d",
        title="Contratos por bandera roja",
        tooltip=[
            _text("etiqueta", "bandera"),
            _count("contratos", "contratos"),
            _pesos("monto", "monto (COP)"),
        ],
    )
