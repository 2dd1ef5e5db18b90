"""cauce.charts: Altair charts as offline HTML, SVG and PNG."""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

import altair as alt
import pytest

from cauce import CauceError, charts

HOSTILE = ["</script><script>alert(1)</script>", "O'Brien \"quoted\"", "../../etc/passwd",
           "<!-- comment", "a&b", "line\u2028break"]


def _bar(labels: list[str] | None = None) -> alt.Chart:
    labels = labels or ["north", "south"]
    rows = [{"zone": label, "trips": 10 * (i + 1)} for i, label in enumerate(labels)]
    return (alt.Chart(alt.Data(values=rows)).mark_bar()
            .encode(x=alt.X("trips:Q", title="trips"), y=alt.Y("zone:N", title="zone"),
                    tooltip=["zone:N", "trips:Q"])
            .properties(title="Trips per zone"))


def _specs_in(fragment: str) -> list[dict]:
    found = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', fragment,
                       flags=re.S)
    return [json.loads(text) for text in found]


def test_fragment_holds_the_spec_and_draws_itself():
    fragment = charts.html(_bar(), scripts=None)
    (spec,) = _specs_in(fragment)
    assert spec["mark"] == {"type": "bar"}
    assert spec["encoding"]["tooltip"][0]["field"] == "zone"
    assert "vegaEmbed(" in fragment
    assert "<script src" not in fragment and "vega.min.js" not in fragment


def test_hostile_data_cannot_leave_the_spec():
    fragment = charts.html(_bar(HOSTILE), scripts=None)
    # the only script ends are the ones cauce writes: two per chart
    assert fragment.count("</script>") == 2
    assert "<!--" not in fragment and "alert(1)</" not in fragment
    (spec,) = _specs_in(fragment)
    assert [row["zone"] for row in spec["data"]["values"]] == HOSTILE


def test_a_csp_fragment_runs_no_script_of_its_own():
    """For pages whose Content-Security-Policy refuses inline scripts and eval (the web UI):
    the chart is data only, and its options ask Vega for its expression interpreter."""
    fragment = charts.html(_bar(HOSTILE), scripts=None, csp=True)
    assert fragment.count("<script") == fragment.count('<script type="application/json"') == 1
    assert "vegaEmbed(" not in fragment and "alert(1)</" not in fragment
    found = re.search(r'<script type="application/json" id="[^"]+" data-cauce-chart="([^"]+)">'
                      r"(.*?)</script>", fragment, flags=re.S)
    assert found is not None
    options = json.loads(html.unescape(found.group(1)))
    assert options["ast"] is True and options["defaultStyle"] is False
    assert options["tooltip"] == {"disableDefaultStyle": True}
    assert [row["zone"] for row in json.loads(found.group(2))["data"]["values"]] == HOSTILE
    with pytest.raises(ValueError, match="URL prefix or None"):
        charts.html(_bar(), csp=True)


def test_the_ui_chart_stylesheet_is_the_one_vega_embed_would_inject():
    """static/charts.css holds, unchanged, the styles vega-embed and its tooltip add as <style>
    elements when allowed to: an update of the vendored vega-embed must update it too."""

    bundle = (charts.VENDOR / "vega-embed.min.js").read_text(encoding="utf-8")
    sheet = (charts.VENDOR.parent / "web" / "static" / "charts.css").read_text(encoding="utf-8")
    for start in (".vega-embed {", "#vg-tooltip-element {"):
        at = bundle.index(start)
        end = bundle.index('"', at)
        text = bundle[at:end].encode().decode("unicode_escape")
        assert text.strip() in sheet, start


def test_same_charts_same_bytes():
    assert charts.html([_bar(), _bar(["a"])]) == charts.html([_bar(), _bar(["a"])])
    assert charts.html(_bar()) != charts.html(_bar(["x"]))


def test_inline_page_works_alone():
    page = charts.html([_bar(), _bar(["east"])], page=True, title="Zones <&>")
    assert page.startswith("<!doctype html>")
    assert "<title>Zones &lt;&amp;&gt;</title>" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for name in charts.SCRIPTS:
        assert (charts.VENDOR / name).read_text(encoding="utf-8")[:200] in page
    assert "<script src" not in page
    assert len(_specs_in(page)) == 2


def test_scripts_from_a_url_prefix():
    fragment = charts.html(_bar(), scripts="/static")
    for name in charts.SCRIPTS:
        assert f'<script src="/static/{name}"></script>' in fragment


def test_a_vega_lite_dict_is_a_chart_too():
    spec = _bar().to_dict()
    assert _specs_in(charts.html(spec, scripts=None)) == [json.loads(json.dumps(spec))]
    with pytest.raises(TypeError, match="Altair chart or a Vega-Lite dict"):
        charts.spec(42)  # type: ignore[arg-type]


def test_numbers_that_are_not_finite_are_missing_values(tmp_path: Path):
    rows = [{"zone": "a", "trips": float("nan")}, {"zone": "b", "trips": 2},
            {"zone": "c", "trips": float("inf")}]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(x="trips:Q", y="zone:N")
    strict = {"parse_constant": lambda name: pytest.fail(f"{name} is no JSON")}
    (spec,) = [json.loads(text, **strict) for text in re.findall(
        r'<script type="application/json" id="[^"]+">(.*?)</script>', charts.html(chart))]
    assert [row["trips"] for row in spec["data"]["values"]] == [None, 2, None]
    json.loads(charts.save(chart, tmp_path / "c.json").read_text(), **strict)


def test_a_chart_vega_cannot_draw_is_one_line():
    chart = alt.Chart(alt.Data(values=[{"x": 1}])).mark_text().encode(
        text="y:N").transform_calculate(y="datum.x +* 'a'").properties(title="Odd")
    with pytest.raises(CauceError, match=r"^cannot draw the chart 'Odd': [^\n]+$"):
        charts.svg(chart)
    with pytest.raises(CauceError, match="cannot draw the chart 'Odd'"):
        charts.png(chart)


def test_a_chart_vega_sizes_beyond_reason_is_refused():
    # no data and a legend with no title: Vega measures the chart as 1.8e308 pixels square
    chart = alt.Chart(alt.Data(values=[])).mark_bar().encode(
        x="h:Q", y="p:N", color=alt.Color("m:N", title=None)).properties(title="Empty")
    with pytest.raises(CauceError, match=r"'Empty': Vega sized it [\d.e+]+ × [\d.e+]+ pixels"):
        charts.svg(chart)
    with pytest.raises(CauceError, match=r"'Empty': Vega sized it"):
        charts.png(chart)
    assert charts.svg(chart.encode(color=alt.Color("m:N", title="m"))).startswith("<svg")


def test_svg_has_axes_and_title_as_text():
    drawn = charts.svg(_bar(["<north>"]))
    assert drawn.startswith("<svg")
    for text in ("Trips per zone", "trips", "zone", "&lt;north&gt;"):
        assert text in drawn


def test_save_by_suffix(tmp_path: Path):
    chart = _bar()
    png = charts.save(chart, tmp_path / "out" / "zones.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert charts.save(chart, tmp_path / "zones.svg").read_text().startswith("<svg")
    saved = json.loads(charts.save(chart, tmp_path / "zones.json").read_text())
    assert saved["title"] == "Trips per zone"
    page = charts.save([chart, chart], tmp_path / "zones.html", title="Zones").read_text()
    assert "<h1>Zones</h1>" in page and "vegaEmbed(" in page
    with pytest.raises(ValueError, match=r"use a \.png, \.svg, \.html or \.json"):
        charts.save(chart, tmp_path / "zones.pdf")
    with pytest.raises(ValueError, match=r"only an \.html file holds several charts"):
        charts.save([chart, chart], tmp_path / "two.png")


def test_png_is_deterministic():
    assert charts.png(_bar()) == charts.png(_bar())


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_a_png_from_the_svg_is_the_png_of_the_chart(scale):
    assert charts.png_from_svg(charts.svg(_bar()), scale=scale) == charts.png(_bar(), scale=scale)


def test_vendored_files_match_their_manifest():
    manifest = json.loads((charts.VENDOR / "manifest.json").read_text())
    assert set(charts.SCRIPTS) <= set(manifest)
    for name, entry in manifest.items():
        data = (charts.VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert (charts.VENDOR / entry["licence_file"]).is_file()
    assert set(charts.script_files()) == set(charts.SCRIPTS)
