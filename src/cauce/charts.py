"""Charts drawn the same way everywhere, with no network: Altair in, HTML, SVG or PNG out.

Build a chart with Altair (or write a Vega-Lite spec as a dict), then::

    from cauce import charts

    charts.html(chart)                   # an HTML fragment: the chart, live, with tooltips
    charts.html([a, b], page=True)       # a whole page that opens from disk, offline
    charts.save(chart, "out/trips.png")  # .png, .svg, .html or .json, by the file's suffix

Pages and fragments run Vega, Vega-Lite and vega-embed from copies shipped inside cauce
(``cauce/vendor``), either inlined (the default: one file that works anywhere) or loaded from a
URL prefix a server provides (the web UI serves them under ``/static/``). PNG and SVG files are
drawn by vl-convert, which bundles the same Vega versions, so an exported file matches the page.
"""

from __future__ import annotations

import hashlib
import html as html_text
import json
import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .errors import CauceError, first_line

__all__ = ["ChartLike", "html", "png", "png_from_svg", "save", "script_files", "spec", "svg"]

VENDOR = Path(__file__).with_name("vendor")
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
VEGA_LITE_VERSION = "6.4"  # the Vega-Lite that Altair 6 writes and vl-convert draws
_STYLE = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;"
    "max-width:64rem;color:#222;padding:0 1rem}.cauce-chart{margin:1rem 0}"
)
# Export as PNG/SVG works offline; the editor and the source views would need the network.
_EMBED_OPTIONS = {"renderer": "svg", "actions": {"export": True, "source": False,
                                                 "compiled": False, "editor": False}}
# Under a Content-Security-Policy without 'unsafe-eval' or inline styles: Vega evaluates its
# expressions with the interpreter vega-embed bundles instead of compiling them with
# Function(), and vega-embed and its tooltip add no <style> element (the page links their
# stylesheet instead; the web UI's is static/charts.css).
_CSP_EMBED_OPTIONS = {**_EMBED_OPTIONS, "ast": True, "defaultStyle": False,
                      "forceActionsMenu": True, "tooltip": {"disableDefaultStyle": True}}


@runtime_checkable
class _AltairChart(Protocol):
    def to_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


ChartLike = _AltairChart | Mapping[str, Any]
"""An Altair chart (any top-level chart: layered, concatenated, faceted) or a Vega-Lite spec."""


def spec(chart: ChartLike) -> dict[str, Any]:
    """The Vega-Lite specification of ``chart`` as plain JSON-ready data. A number that is not
    finite (NaN, ±inf) becomes ``null``, Vega's missing value: JSON has no NaN, so a page's
    ``JSON.parse`` refused the whole chart, and a ``.json`` file was no JSON."""
    if isinstance(chart, Mapping):
        return _finite(dict(chart))
    if isinstance(chart, _AltairChart):
        return _finite(chart.to_dict())
    raise TypeError(f"expected an Altair chart or a Vega-Lite dict, not {type(chart).__name__}")


def _finite(value: Any) -> Any:
    """``value`` with every float that is not finite, however deep, replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``</script>``, ``<!--`` or ``&``
    can end it early or be read as markup, whatever the chart's data holds."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


@cache
def _vendored(name: str) -> str:
    return (VENDOR / name).read_text(encoding="utf-8")


def _inline_safe(code: str) -> str:
    """Script text that cannot end its ``<script>`` element early: ``</script`` only occurs in
    JavaScript strings and regular expressions, where ``<\\/script`` means the same."""
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def script_files() -> dict[str, Path]:
    """File name → path of the vendored scripts a page needs (for a server to serve them)."""
    return {name: VENDOR / name for name in SCRIPTS}


def _script_tags(scripts: str | None) -> str:
    if scripts is None:
        return ""
    if scripts == "inline":
        return "".join(f"<script>{_inline_safe(_vendored(name))}</script>" for name in SCRIPTS)
    prefix = scripts if scripts.endswith("/") else scripts + "/"
    return "".join(f'<script src="{html_text.escape(prefix + name)}"></script>'
                   for name in SCRIPTS)


def html(
    charts: ChartLike | Sequence[ChartLike],
    *,
    page: bool = False,
    title: str = "",
    scripts: str | None = "inline",
    csp: bool = False,
) -> str:
    """HTML that draws ``charts`` (one or a list) with axes, legends and tooltips.

    ``scripts`` says where the Vega scripts come from: ``"inline"`` (copied into the HTML, so
    the result works alone and offline), a URL prefix such as ``"/static/"`` (``<script
    src=...>`` tags), or ``None`` (the surrounding page has loaded them already). With
    ``page=True`` the result is a whole document titled ``title``; otherwise a fragment to put
    inside a page (it draws itself when inserted, including by htmx). The same charts give the
    same bytes.

    With ``csp=True`` the fragment holds no script that runs: each chart is its element and its
    spec and options as JSON, drawn by a script of the page (the web UI's ``static/charts.js``),
    so the page needs neither 'unsafe-inline' nor 'unsafe-eval' in its Content-Security-Policy
    (``scripts`` must then be a URL prefix or None).
    """
    if csp and scripts == "inline":
        raise ValueError("csp=True draws with the page's own script: give scripts a URL prefix "
                         "or None, not 'inline'")
    items = [charts] if isinstance(charts, Mapping | _AltairChart) else list(charts)
    blocks = []
    for index, chart in enumerate(items):
        data = _script_json(spec(chart))
        chart_id = f"cauce-chart-{hashlib.sha256(data.encode()).hexdigest()[:12]}-{index}"
        # the script draws into the elements just before it, not into an id: the same chart
        # twice in a page (two fragments) has the same id twice, and its second copy stayed
        # empty while the first was drawn twice
        if csp:
            options = _script_json(_CSP_EMBED_OPTIONS)
            blocks.append(f'<div class="cauce-chart" id="{chart_id}"></div>'
                          f'<script type="application/json" id="{chart_id}-spec" '
                          f'data-cauce-chart="{html_text.escape(options)}">{data}</script>')
            continue
        blocks.append(
            f'<div class="cauce-chart" id="{chart_id}"></div>'
            f'<script type="application/json" id="{chart_id}-spec">{data}</script>'
            "<script>(function(s){var j=s.previousElementSibling,d=j.previousElementSibling;"
            f"vegaEmbed(d,JSON.parse(j.textContent),{json.dumps(_EMBED_OPTIONS, sort_keys=True)})"
            ".catch(function(e){d.textContent='chart error: '+e.message;})})"
            "(document.currentScript)</script>"
        )
    body = _script_tags(scripts) + "\n".join(blocks)
    if not page:
        return body
    heading = f"<h1>{html_text.escape(title)}</h1>" if title else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html_text.escape(title or 'chart')}</title><style>{_STYLE}</style></head>"
        f"<body>{heading}{body}</body></html>\n"
    )


def _converter() -> Any:
    import vl_convert

    return vl_convert


# Vega sizes a chart with no data and a legend without a title as 1.8e308 pixels square
_LARGEST_SIDE = 1_000_000


def _refused(drawing: Mapping[str, Any], reason: str, hint: str) -> CauceError:
    title = drawing.get("title")
    named = f" {title!r}" if isinstance(title, str) and title else ""
    return CauceError(f"cannot draw the chart{named}: {reason}", hint=hint)


def _drawn(drawing: dict[str, Any]) -> str:
    """The SVG of the spec ``drawing``; a chart Vega cannot draw (an invalid format, a bad
    expression) is one `CauceError` with Vega's reason, not a page of JavaScript stack."""
    try:
        return _converter().vegalite_to_svg(drawing, vl_version=VEGA_LITE_VERSION)
    except ValueError as err:
        reasons = re.findall(r"Error: ([^\n]+)", str(err)) or [first_line(str(err))]
        raise _refused(drawing, reasons[-1].strip(),
                       "check the chart's formats and expressions") from None


def svg(chart: ChartLike) -> str:
    """``chart`` drawn as an SVG document (text stays text, so it scales and can be searched).
    A size Vega gives beyond a million pixels is refused in one line: it is no drawing."""
    drawing = spec(chart)
    drawn = _drawn(drawing)
    size = re.match(r'<svg[^>]*? width="([^"]+)" height="([^"]+)"', drawn)
    if size and max(float(side) for side in size.groups()) > _LARGEST_SIDE:
        raise _refused(drawing, f"Vega sized it {size[1]} × {size[2]} pixels",
                       "Vega does this to a chart with no data and a legend with no title: "
                       "title the legend, or show a note where there is no data")
    return drawn


def png(chart: ChartLike, *, scale: float = 2.0) -> bytes:
    """``chart`` drawn as PNG bytes; ``scale=2`` gives sharp images on high-density screens.
    Drawn from its SVG (the same bytes), so that a chart `svg` refuses is refused alike: drawn
    directly, Vega failed with no reason."""
    return png_from_svg(svg(chart), scale=scale)


def png_from_svg(drawn: str, *, scale: float = 2.0) -> bytes:
    """The PNG bytes of a chart already drawn by `svg`: the same bytes `png` gives, without
    drawing the chart again (a third of the time; drawing is most of it)."""
    return _converter().svg_to_png(drawn, scale=scale)


def save(chart: ChartLike | Sequence[ChartLike], path: str | Path, *, title: str = "",
         scale: float = 2.0) -> Path:
    """Write ``chart`` to ``path`` in the format its suffix names: ``.png``, ``.svg``,
    ``.html`` (a self-contained page; a list of charts is allowed) or ``.json`` (the Vega-Lite
    spec). Parent folders are created; returns the path."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".png", ".svg", ".html", ".json"):
        raise ValueError(f"cannot save a chart as {target.name!r}: "
                         "use a .png, .svg, .html or .json file name")
    if suffix != ".html" and not isinstance(chart, Mapping | _AltairChart):
        raise ValueError(f"{target.name}: only an .html file holds several charts")
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        target.write_text(html(chart, page=True, title=title), encoding="utf-8")
    elif suffix == ".json":
        target.write_text(json.dumps(spec(chart), indent=2, sort_keys=True) + "\n",  # type: ignore[arg-type]
                          encoding="utf-8")
    elif suffix == ".svg":
        target.write_text(svg(chart), encoding="utf-8")  # type: ignore[arg-type]
    else:
        target.write_bytes(png(chart, scale=scale))  # type: ignore[arg-type]
    return target
