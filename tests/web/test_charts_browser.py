"""A chart page written by cauce.charts draws in a real browser with no network at all."""

from __future__ import annotations

from pathlib import Path

import altair as alt

from cauce import charts


def test_page_draws_offline_with_axes_and_tooltips(browser, tmp_path: Path, shots: Path):
    rows = [{"zone": z, "trips": n} for z, n in (("<north>", 12), ("south", 30))]
    chart = (alt.Chart(alt.Data(values=rows)).mark_bar()
             .encode(x=alt.X("trips:Q", title="trips"), y=alt.Y("zone:N", title="zone"),
                     tooltip=["zone:N", "trips:Q"]).properties(title="Trips per zone"))
    page_file = charts.save([chart, chart.mark_point()], tmp_path / "zones.html", title="Zones")
    context = browser.new_context()
    requested: list[str] = []

    def refuse(route):  # anything but the file itself would need the network
        requested.append(route.request.url)
        route.abort()

    context.route("http*://**", refuse)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(page_file.as_uri())
    page.wait_for_selector(".cauce-chart svg .role-axis-title", timeout=10_000)
    assert page.locator(".cauce-chart svg.marks").count() == 2
    text = page.locator(".cauce-chart").first.inner_text()
    assert "Trips per zone" in text and "<north>" in text
    assert not errors and not requested
    page.screenshot(path=str(shots / "charts.png"), full_page=True)
    context.close()


def test_the_same_chart_twice_in_a_report_draws_twice(browser, tmp_path: Path):
    from cauce.reports import Section, bar_chart, write_report

    chart = bar_chart("Rows", ["a", "b"], [1, 2])
    index = write_report(tmp_path, "Twice", [Section("one", charts={"one": chart}),
                                             Section("two", charts={"two": chart})])
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(index.as_uri())
    page.wait_for_function("document.querySelectorAll('.cauce-chart svg.marks').length >= 2",
                           timeout=10_000)
    drawn = [page.locator(".cauce-chart").nth(i).locator("svg.marks").count() for i in (0, 1)]
    assert drawn == [1, 1] and not errors
    context.close()
