"""Small static HTML reports whose charts are drawn by cauce.charts, as the web UI draws them — a
public part of cauce, as `cauce.testing` is (see docs/reports.md).

A report is a folder: ``index.html`` with each chart live (Vega, with axes and tooltips, from
the scripts copied next to it, so the folder opens from disk with no network), plus one ``.svg``
file per chart for reuse on its own (and shown when scripts are off). The same sections can be
shown live by the web UI as an app's dashboard (``@app.dashboard``).
"""

from __future__ import annotations

import html
import json
import math
import numbers
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import charts
from .errors import CauceError

__all__ = ["Section", "bar_chart", "output_folder", "table_html", "write_report", "writing_into"]

COLOR = "#2f6f8f"
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:60rem;color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}
td.n{text-align:right;white-space:nowrap}
th{background:#f4f4f4}.meta{color:#666;font-size:.85rem}img{max-width:100%;margin:.5rem 0}
.cauce-chart{display:block;margin:.5rem 0}
"""


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    value_title: str = "",
    number_format: str = ",.0f",
    suffix: str = "",
    color: str = COLOR,
) -> Any:
    """A horizontal bar chart (Altair), one bar per label in the order given, each bar labelled
    with its value (``number_format`` is a d3 format, e.g. ``".1f"``; ``suffix`` e.g. ``" %"``).
    A missing value (``None``, NaN, ±inf) draws no bar and reads "n/a"; a label given again
    gets its own bar, named "label (2)"; with no labels at all the chart says "no data"."""
    import altair as alt

    if len(labels) != len(values):
        raise CauceError(f"bar chart {title!r}: {len(labels)} labels but {len(values)} values",
                         hint="give one value per label")
    value_title = _one_line(value_title)
    rows = [{"label": label, "value": _number(title, label, value), "order": index}
            for index, (label, value) in enumerate(zip(_distinct(labels), values, strict=True))]
    if not rows:
        return alt.Chart(alt.Data(values=[{}])).mark_text(color="#666").encode(
            text=alt.value("no data")).properties(title=title, width=460, height=40)
    base = alt.Chart(alt.Data(values=rows)).encode(
        # in the order given, by index: labels listed in the spec went into an expression,
        # where a U+2028 in one ended its string
        y=alt.Y("label:N", sort=alt.EncodingSortField(field="order", op="min"), title=None,
                axis=alt.Axis(labelLimit=260)),
        tooltip=[alt.Tooltip("label:N", title="category"),
                 # a tooltip title's backslash is read as an escape in the expression it lands in
                 alt.Tooltip("value:Q", title=value_title.replace("\\", "\\\\") or "value",
                             format=number_format)],
    )
    x = alt.X("value:Q", title=value_title or None, axis=alt.Axis(format=number_format))
    bars = base.mark_bar(color=color).encode(x=x)
    # the value next to each bar; a missing value reads "n/a" at zero. The format and suffix
    # are written as JSON string literals, which Vega's expressions read alike, whatever they hold
    text = base.transform_calculate(
        shown=f"datum.value == null ? 'n/a' : format(datum.value, {json.dumps(number_format)})"
        f" + {json.dumps(suffix)}",
        at="datum.value == null ? 0 : datum.value",
    ).mark_text(align="left", dx=3, color="#333").encode(x=alt.X("at:Q"), text="shown:N")
    return (bars + text).properties(title=title, width=460, height=alt.Step(20))


def _one_line(text: str) -> str:
    """``text`` with its line breaks as spaces: Vega-Lite 6.4 writes an axis and a tooltip title
    into Vega expressions without escaping a line break, and the chart failed to draw."""
    return re.sub(r"\r\n|[\n\r\u2028\u2029]", " ", text)


def _distinct(labels: Sequence[Any]) -> list[str]:
    """``labels`` as text, a label met again numbered ("north (2)"): bars of the same label
    would be drawn over one another, the smaller hidden under the larger."""
    seen: set[str] = set()
    distinct = []
    for label in map(str, labels):
        name, count = label, 1
        while name in seen:
            count += 1
            name = f"{label} ({count})"
        seen.add(name)
        distinct.append(name)
    return distinct


def _number(title: str, label: str, value: Any) -> float | None:
    """``value`` (a number, Decimal included, as warehouses return sums) as a float, or ``None``
    when it is missing or not finite; a value of another kind (text, a date) is one line
    naming the bar rather than a TypeError."""
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, numbers.Real | Decimal):
        raise CauceError(f"bar chart {title!r}: the value of {label!r} is "
                         f"{type(value).__name__} {value!r}, not a number",
                         hint="give numbers (None for a missing value)")
    try:
        number = float(value)
    except OverflowError:  # an int beyond a float's range
        return None
    return number if math.isfinite(number) else None


@dataclass
class Section:
    """A titled part of a report: free HTML, charts (file name → Altair chart or Vega-Lite
    spec) and/or a table."""

    title: str
    html: str = ""
    charts: Mapping[str, Any] = field(default_factory=dict)
    table: Sequence[Mapping[str, Any]] | None = None


def table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """An HTML table of ``rows`` (dicts; a column for every key any row has, empty where a row
    lacks it); numbers are right-aligned, and a float
    that is not finite reads "n/a", as in `bar_chart`."""
    if not rows:
        return "<p class=meta>(no rows)</p>"
    # every row's keys, in the order first met: a key only later rows have was left out
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else (
                (f"{value:,.2f}" if math.isfinite(value) else "n/a") if isinstance(value, float)
                else ("" if value is None else str(value)))
            cells.append(f'<td{" class=n" if numeric else ""}>{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _svg_name(name: str) -> str:
    file_name = name if name.endswith(".svg") else name + ".svg"
    if "/" in file_name or "\\" in file_name or file_name.startswith("."):
        raise CauceError(f"chart file name {name!r} must be a plain file name",
                         hint="e.g. 'shares.svg', without folders")
    return file_name


def output_folder(folder: str | Path) -> Path:
    """``folder``, created if missing; one line naming it when it cannot be (a file is there,
    no permission, a read-only file system). An empty name is refused: it would quietly mean
    the current folder (``.`` says so on purpose)."""
    if isinstance(folder, str) and not folder.strip():
        raise CauceError("the output folder is empty: the files would land in the current folder",
                         hint="name a folder (`.` writes into the current one on purpose)")
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CauceError(f"cannot write into folder {str(out)!r}: {err.strerror or err}",
                         hint="choose a folder you can write to") from None
    return out


@contextmanager
def writing_into(folder: str | Path) -> Iterator[Path]:
    """``folder`` made ready (see `output_folder`) for a block that writes files into it; an
    OSError while it writes them (no permission, a full disk) is one line naming the file."""
    out = output_folder(folder)
    try:
        yield out
    except OSError as err:
        raise CauceError(f"cannot write {err.filename or str(out)!r}: {err.strerror or err}",
                         hint="choose a folder you can write to") from err


def write_report(folder: str | Path, title: str, sections: Sequence[Section], *,
                 subtitle: str = "") -> Path:
    """Write ``index.html``, the charts' ``.svg`` files and the Vega scripts into ``folder``;
    returns the page's path."""
    names = [_svg_name(name) for section in sections for name in section.charts]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise CauceError(f"chart file name {twice[0]!r} is given to more than one chart",
                         hint="name each chart of the report differently")
    out = output_folder(folder)
    for name, path in charts.script_files().items():
        shutil.copyfile(path, out / name)
    body = [f"<h1>{html.escape(title)}</h1>"]
    if subtitle:
        body.append(f"<p class=meta>{html.escape(subtitle)}</p>")
    drawn = iter(names)
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.html:
            body.append(section.html)
        for chart in section.charts.values():
            file_name = next(drawn)
            (out / file_name).write_text(charts.svg(chart), encoding="utf-8")
            body.append(charts.html(chart, scripts=None) + f'<noscript><img src="'
                        f'{html.escape(quote(file_name))}" alt="{html.escape(section.title)}">'
                        "</noscript>")
        if section.table is not None:
            body.append(table_html(section.table))
    scripts = "".join(f'<script src="{name}"></script>' for name in charts.script_files())
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>{scripts}</head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
