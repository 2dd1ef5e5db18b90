"""Small static HTML reports with SVG charts, written without a plotting library — a public
part of cauce, as `cauce.testing` is (see docs/reports.md).

A report is a folder: ``index.html`` plus one ``.svg`` file per chart (embedded in the page as
``<img>``), so it opens from disk, needs no network, and each chart can be reused on its own.
Horizontal bar charts cover what pipeline reports need (a share or a count per category);
they are a few dozen lines of SVG, lighter than a plotting stack.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CauceError

__all__ = ["Section", "bar_chart_svg", "table_html", "write_report"]

_PALETTE = ("#2f6f8f", "#d9822b", "#4c956c", "#b5485d", "#7a5195")
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:60rem;color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}td.n{text-align:right}
th{background:#f4f4f4}.meta{color:#666;font-size:.85rem}img{max-width:100%;margin:.5rem 0}
"""


def bar_chart_svg(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    value_format: str = "{:,.0f}",
    width: int = 640,
    color: str = _PALETTE[0],
) -> str:
    """A horizontal bar chart as a standalone SVG document (one bar per label)."""
    if len(labels) != len(values):
        raise CauceError(f"bar chart {title!r}: {len(labels)} labels but {len(values)} values",
                         hint="give one value per label")
    bar, gap, top = 18, 6, 34
    label_width = min(260, 12 + 7 * max((len(str(x)) for x in labels), default=4))
    plot_width = max(80, width - label_width - 90)
    height = top + len(labels) * (bar + gap) + 10
    peak = max((v for v in values if math.isfinite(v)), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="4" y="20" font-size="14" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar + gap)
        # NaN, ±inf: no bar
        length = max(0.0, value) / peak * plot_width if math.isfinite(value) else 0
        shown = "n/a" if value != value else value_format.format(value)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar - 5}" text-anchor="end">'
            f"{html.escape(str(label))}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar}" fill="{color}">'
            f"<title>{html.escape(str(label))}: {html.escape(shown)}</title></rect>"
            f'<text x="{label_width + length + 4:.1f}" y="{y + bar - 5}">'
            f"{html.escape(shown)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass
class Section:
    """A titled part of a report: free HTML, charts (file name → SVG text) and/or a table."""

    title: str
    html: str = ""
    charts: Mapping[str, str] = field(default_factory=dict)
    table: Sequence[Mapping[str, Any]] | None = None


def table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """An HTML table of ``rows`` (dicts sharing keys); numbers are right-aligned."""
    if not rows:
        return "<p class=meta>(no rows)</p>"
    columns = list(rows[0].keys())
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else (
                f"{value:,.2f}" if isinstance(value, float)
                else ("" if value is None else str(value)))
            cells.append(f'<td{" class=n" if numeric else ""}>{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_report(folder: str | Path, title: str, sections: Sequence[Section], *,
                 subtitle: str = "") -> Path:
    """Write ``index.html`` and the charts' ``.svg`` files into ``folder``; returns the page's
    path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    body = [f"<h1>{html.escape(title)}</h1>"]
    if subtitle:
        body.append(f"<p class=meta>{html.escape(subtitle)}</p>")
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.html:
            body.append(section.html)
        for name, svg in section.charts.items():
            file_name = name if name.endswith(".svg") else name + ".svg"
            if "/" in file_name or file_name.startswith("."):
                raise CauceError(f"chart file name {name!r} must be a plain file name",
                                 hint="e.g. 'shares.svg', without folders")
            (out / file_name).write_text(svg, encoding="utf-8")
            body.append(f'<img src="{html.escape(file_name)}" alt="{html.escape(section.title)}">')
        if section.table is not None:
            body.append(table_html(section.table))
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
