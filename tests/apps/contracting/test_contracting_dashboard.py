"""The demo and its dashboard: the weekly DAG on tiny synthetic exports, the page written from
the warehouse with cauce's charts, every chart also as PNG and SVG, numbers in Colombian
format, the page rendering offline in headless Chromium, and the same panel live in `cauce ui`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from cauce import charts as render
from cauce.apps.contracting import app
from cauce.apps.contracting.dashboard import charts
from cauce.apps.contracting.formats import cop, miles

DAY = "2023-04-16"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def test_colombian_number_format():
    assert cop(1234567.891) == "$ 1.234.568"
    assert cop(None) == "–"
    assert miles(9706) == "9.706"
    assert charts.COLOMBIA["decimal"] == "," and charts.COLOMBIA["thousands"] == "."


def test_every_chart_carries_colombias_number_format_into_its_svg():
    rows = [
        {
            "nombre_indicador": "a",
            "cantidad_contratos_irregularidades": 12_345,
            "cantidad_irregularidades": 1,
            "monto_total_irregularidades": 1.0,
        }
    ]
    chart = charts.contracts_per_indicator(rows)
    assert chart.to_dict()["config"]["locale"]["number"] == charts.COLOMBIA
    ticks = re.findall(r">(\d[\d.,]*)<", render.svg(chart))
    assert "12.000" in ticks and not any("," in t for t in ticks), ticks


def test_chart_builders_are_pure_and_scale_amounts():
    rows = [
        {
            "nombre_indicador": "a",
            "monto_total_irregularidades": 2.5e13,
            "cantidad_contratos_irregularidades": 3,
            "cantidad_irregularidades": 1,
        }
    ]
    spec = charts.amount_per_indicator(rows).to_dict()
    assert spec["encoding"]["x"]["title"] == "monto (billones de pesos)"
    assert spec["data"]["values"][0]["monto_total_irregularidades_escala"] == 25
    assert rows[0].keys() == {
        "nombre_indicador",
        "monto_total_irregularidades",
        "cantidad_contratos_irregularidades",
        "cantidad_irregularidades",
    }


@pytest.fixture(scope="module")
def panel(demo_home) -> Path:
    """The dashboard folder after `cauce demo` (the contracting hook runs from inside the home,
    so the folder lands there); the demo home is shared by the session, see tests/conftest.py."""
    home = demo_home.home
    assert re.search(rf"^  weekly {DAY}: (\d+) of \1 steps ok", demo_home.out, re.M), demo_home.out
    assert f"  dashboard: {home / 'contracting-dashboard' / 'index.html'}\n" in demo_home.out
    return home / "contracting-dashboard"


def test_every_chart_is_written_as_png_and_svg(panel):
    names = {
        "contratos_por_indicador",
        "monto_por_indicador",
        "tendencia",
        "entidades_riesgo",
        "proveedores_riesgo",
        "departamentos",
        "banderas",
    }
    for name in names:
        assert (panel / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (panel / f"{name}.svg").read_text(encoding="utf-8")
    page = (panel / "index.html").read_text(encoding="utf-8")
    assert "https://" not in page.split("<body>")[0]  # no CDN: the scripts are local
    for script, vendored in render.script_files().items():  # cauce's own copies
        assert (panel / script).read_bytes() == vendored.read_bytes()
    assert re.search(r"\$ \d{1,3}(\.\d{3})+", page)  # pesos with dots between thousands


def _browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    executable = next((shutil.which(c) for c in CHROMIUM if shutil.which(c)), None)
    if executable is None:
        pytest.skip("no Chromium found (Debian: apt-get install -y chromium)")
    return sync_playwright, executable


@pytest.mark.browser
def test_the_page_renders_every_chart_offline_in_chromium(panel):
    sync_playwright, executable = _browser_or_skip()
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        except Exception as error:  # a browser that cannot start here
            pytest.skip(f"Chromium at {executable} did not start: {str(error).splitlines()[0]}")
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.route("http*://**", lambda route: route.abort())  # offline: no network
            page.goto((panel / "index.html").as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.cauce-chart svg .mark-rect, "
                ".cauce-chart svg .mark-line').length >= 7",
                timeout=30_000,
            )
            charts_drawn = page.eval_on_selector_all(
                "div.cauce-chart",
                "els => els.map(e => [e.id, e.querySelectorAll('svg path, svg rect').length])",
            )
            text = page.inner_text("body")
            page.screenshot(path=str(panel / "screenshot.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert len(charts_drawn) == 7 and all(n > 0 for _, n in charts_drawn), charts_drawn
    assert "abuso de la contratación" in text and "inhabilitados por multa" in text
    assert re.search(r"\$ \d{1,3}(\.\d{3})+", text)


@pytest.mark.browser
def test_cauce_ui_shows_the_panel_live_from_the_warehouse(panel):
    """`cauce ui` over the demo's home: the dashboard page draws the seven charts from the
    warehouse, with the figures of the indicators table in Colombian format."""
    from cauce.web import open_ui

    sync_playwright, executable = _browser_or_skip()
    server = open_ui(panel.parent, ["contracting"], port=0).start()
    try:
        with sync_playwright() as p:
            try:
                browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            except Exception as error:
                pytest.skip(f"Chromium at {executable} did not start: {str(error).splitlines()[0]}")
            try:
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(f"http://127.0.0.1:{server.port}/apps/contracting/dashboard")
                page.wait_for_function(
                    "document.querySelectorAll('.cauce-chart svg.marks').length >= 7",
                    timeout=30_000,
                )
                text = page.inner_text("main")
                axis = page.inner_text(".cauce-chart")
            finally:
                browser.close()
    finally:
        server.stop()
        server.home.close()
    assert not errors, errors
    static = (panel / "index.html").read_text(encoding="utf-8")
    totals = re.search(
        r"<td>total</td><td[^>]*></td><td[^>]*>([\d.]+)</td><td[^>]*>(\$ [\d.]+)</td>",
        static,
    )
    assert totals, "the static page has the totals row"
    assert totals.group(1) in text and totals.group(2) in text  # the same figures, live
    assert "abuso de la contratación" in text and "inhabilitados por multa" in text
    assert "," not in re.sub(r"[^\d,.]", " ", axis).replace(", ", " ")  # dots, not commas


def test_the_live_dashboard_says_how_to_fill_an_empty_warehouse():
    from cauce.apps.contracting.dashboard.live import dashboard
    from cauce.testing import TestRuntime

    with TestRuntime(app) as rt:
        [section] = dashboard(rt.runtime)
    assert section.title == "Sin resultados todavía"
    assert "cauce run contracting weekly --partition DATE" in section.html
    assert not section.charts


def test_a_dashboard_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    from datetime import date

    from cauce import CauceError
    from cauce.apps.contracting.dashboard.page import Panel, write_dashboard

    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    with pytest.raises(CauceError, match=r"cannot write into folder .*a-file") as refused:
        write_dashboard(taken, Panel(date(2023, 4, 16), [], []), images=False)
    assert refused.value.hint and taken.read_text() == "not a folder"


def test_an_empty_dashboard_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    from cauce import CauceError
    from cauce.apps.contracting.dashboard.page import Panel, write_dashboard

    monkeypatch.chdir(tmp_path)
    with pytest.raises(CauceError, match="output folder is empty"):
        write_dashboard("", Panel(date(2023, 4, 16), [], []), images=False)
    assert not list(tmp_path.iterdir())


def test_a_missing_amount_draws_no_bar_rather_than_zero():
    rows = [{"nombre_indicador": "a", "monto_total_irregularidades": None},
            {"nombre_indicador": "b", "monto_total_irregularidades": 2.5e13}]
    spec = charts.amount_per_indicator(rows).to_dict()
    assert [r["monto_total_irregularidades_escala"] for r in spec["data"]["values"]] == [None, 25]


@pytest.mark.parametrize("computed", [True, False])
def test_a_week_with_no_flags_says_so(computed: bool) -> None:
    from datetime import date

    from cauce.apps.contracting.dashboard.page import Panel, panel_sections

    indicator = {"nombre_grupo_indicador": "g", "nombre_indicador": "a",
                 "cantidad_irregularidades": 1, "cantidad_contratos_irregularidades": 1,
                 "monto_total_irregularidades": 1.0, "cantidad_contratos_totales": 3}
    panel = Panel(date(2023, 4, 16), [indicator], [], scored=computed, flagged=computed)
    notes = {s.title: s.html for s in panel_sections(panel) if not s.charts}
    if computed:  # scored and flagged, none found: said, not left out
        assert "Ningún contrato con banderas rojas" in notes["Banderas rojas"]
        assert "Ninguna entidad ni proveedor" in notes["Entidades y proveedores con mayor riesgo"]
    else:  # not computed (the published definitions have none): no section
        assert "Banderas rojas" not in notes


def test_the_trend_shows_each_execution_on_its_day_west_of_utc():
    """Drawn in Bogotá's time zone (a separate process: the drawing reads TZ when it starts),
    an execution of 2023-04-16 is shown on that day, not on the 15th."""
    import os
    import subprocess
    import sys

    draw = (
        "from cauce import charts as render\n"
        "from cauce.apps.contracting.dashboard import charts\n"
        "rows = [{'fecha_ejecucion': d, 'nombre_indicador': 'a',"
        " 'cantidad_contratos_irregularidades': n, 'monto_total_irregularidades': 1.0}"
        " for d, n in (('2023-04-16', 1), ('2023-04-23', 2))]\n"
        "print(render.svg(charts.trend(rows)))\n"
    )
    drawn = subprocess.run(
        [sys.executable, "-c", draw], capture_output=True, text=True, check=True,
        env={**os.environ, "TZ": "America/Bogota"},
    ).stdout
    points = set(re.findall(r'aria-label="ejecución: ([\d-]+); [^"]*; contratos: (\d);', drawn))
    assert points == {("2023-04-16", "1"), ("2023-04-23", "2")}, points


def test_two_suppliers_of_one_name_get_a_bar_each():
    rows = [{"nombre_proveedor": "JUAN PEREZ", "documento": doc, "puntaje": score, "nivel": "Alto",
             "contratos": 1, "contratos_con_banderas": 1, "monto_con_banderas": 1.0}
            for doc, score in (("11", 80.0), ("22", 40.0))]
    rows.append({**rows[0], "nombre_proveedor": "ANA", "documento": "33"})
    drawn = render.svg(charts.top_by_risk(rows, name="nombre_proveedor", title="T"))
    widths = [float(w) for w in re.findall(r'aria-roledescription="bar" d="M0,[\d.]+h([\d.]+)',
                                           drawn)]
    assert len(widths) == 3  # each from 0: none stacked on another
    assert max(widths) == pytest.approx(2 * min(widths))
    assert {"JUAN PEREZ (11)", "JUAN PEREZ (22)", "ANA"} <= set(re.findall(r">([^<>]+)</text>",
                                                                            drawn))


def test_a_total_with_an_amount_too_large_to_load_is_unknown_not_a_partial_sum() -> None:
    """An indicator whose total passed decimal(30,3) is loaded as null: the table's total
    counted it as 0, a smaller figure than the truth with nothing to say so."""
    from datetime import date

    from cauce.apps.contracting.dashboard.page import Panel, panel_sections

    def row(name: str, amount: object) -> dict[str, object]:
        return {"nombre_grupo_indicador": "g", "nombre_indicador": name,
                "cantidad_irregularidades": 1, "cantidad_contratos_irregularidades": 1,
                "monto_total_irregularidades": amount, "cantidad_contratos_totales": 3}

    panel = Panel(date(2023, 4, 16), [row("a", None), row("b", 5)], [], scored=False,
                  flagged=False)
    [table] = [s.html for s in panel_sections(panel) if "<table>" in s.html][:1]
    total = table[table.index(">total<"):]
    assert "$ 5<" not in total and "–" in total
    assert cop("999999999999999999999999999.999") == "$ 1" + ".000" * 9
