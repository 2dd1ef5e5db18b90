"""Static HTML reports whose charts are drawn by cauce.charts: a folder that opens from disk."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

import cauce.reports
from cauce import CauceError, charts
from cauce.reports import Section, bar_chart, table_html, write_report, writing_into


def rows_of(chart) -> list[dict]:
    spec = charts.spec(chart)
    return spec["data"]["values"] if "data" in spec else spec["layer"][0]["data"]["values"]


def test_a_bar_chart_has_one_bar_per_label_in_order() -> None:
    chart = bar_chart("Rows per file", ["b.csv", "a.csv", "c.csv"], [5, 10, 0])
    assert [(r["label"], r["value"]) for r in rows_of(chart)] == [  # in the order given
        ("b.csv", 5.0), ("a.csv", 10.0), ("c.csv", 0.0)]
    spec = charts.spec(chart)
    assert spec["title"] == "Rows per file"
    assert spec["layer"][0]["mark"]["type"] == "bar"
    assert spec["layer"][0]["encoding"]["y"]["sort"] == {"field": "order", "op": "min"}
    assert [r["order"] for r in rows_of(chart)] == [0, 1, 2]


def test_drawn_bars_and_values(tmp_path: Path) -> None:
    svg = charts.svg(bar_chart("Share", ["low", "high"], [10, 20], number_format=".1f",
                               suffix=" %"))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "10.0 %" in svg and "20.0 %" in svg and "Share" in svg
    bars = dict(re.findall(r'label: (low|high);[^"]*" role="graphics-symbol" '
                           r'aria-roledescription="bar" d="M0,[\d.]+h([\d.]+)', svg))
    assert float(bars["high"]) == pytest.approx(2 * float(bars["low"]), rel=0.02)
    tops = dict(re.findall(r'label: (low|high);[^"]*" role="graphics-symbol" '
                           r'aria-roledescription="bar" d="M0,([\d.]+)', svg))
    assert float(tops["low"]) < float(tops["high"])  # low first, as given


def test_text_is_escaped() -> None:
    svg = charts.svg(bar_chart("Income <=50K & >50K", ["<=50K", ">50K"], [3, 1]))
    ET.fromstring(svg)
    assert "&lt;=50K" in svg and "&amp;" in svg


@pytest.mark.parametrize("odd", [math.nan, math.inf, -math.inf, None,
                                 pytest.param(10**400, id="int-past-float")])
def test_values_that_are_not_numbers_draw_no_bar(odd: float | None) -> None:
    chart = bar_chart("Odd", ["odd", "fine"], [odd, 4])
    assert [r["value"] for r in rows_of(chart)] == [None, 4.0]
    spec_text = json.dumps(charts.spec(chart), allow_nan=False)  # valid JSON for Vega
    assert "NaN" not in spec_text
    assert "n/a" in charts.svg(chart)


def test_labels_and_values_must_match() -> None:
    with pytest.raises(CauceError, match="2 labels but 1 values"):
        bar_chart("x", ["a", "b"], [1])


def test_an_empty_chart_still_draws_and_says_so() -> None:
    drawn = charts.svg(bar_chart("Nothing yet", [], []))
    ET.fromstring(drawn)
    assert "no data" in drawn and "Nothing yet" in drawn


def texts(svg: str) -> list[str]:
    return [el.text or "" for el in ET.fromstring(svg).iter() if el.tag.endswith("text")]


def test_a_label_given_twice_gets_its_own_bar() -> None:
    chart = bar_chart("Trips", ["north", "north", "north (2)", "south"], [5, 10, 1, 2])
    assert [r["label"] for r in rows_of(chart)] == ["north", "north (2)", "north (2) (2)", "south"]
    drawn = charts.svg(chart)
    assert drawn.count('aria-roledescription="bar"') == 4
    assert {"north", "north (2)", "5", "10"} <= set(texts(drawn))


def test_sums_from_a_warehouse_are_numbers_and_text_is_refused() -> None:
    assert [r["value"] for r in rows_of(bar_chart("x", ["a"], [Decimal("1.5")]))] == [1.5]
    with pytest.raises(CauceError, match=r"the value of 'b' is str '3', not a number"):
        bar_chart("x", ["a", "b"], [1, "3"])  # type: ignore[list-item]


@pytest.mark.parametrize("suffix", [" %", "'", "\\", '" + datum.x + "', "\\' + alert(1) + '"])
def test_any_suffix_and_format_read_as_text(suffix: str) -> None:
    drawn = charts.svg(bar_chart("x", ["a"], [0.5], number_format=".1f", suffix=suffix))
    assert "0.5" + suffix in texts(drawn)


def test_tables_right_align_numbers_and_escape_text() -> None:
    html = table_html([{"name": "<b>", "rows": 1234, "share": 0.5, "ok": True, "none": None}])
    assert "<th>name</th><th>rows</th>" in html
    assert ("<td>&lt;b&gt;</td><td class=n>1,234</td><td class=n>0.50</td><td>True</td><td></td>"
            in html)
    assert table_html([]) == "<p class=meta>(no rows)</p>"
    assert "<td class=n>n/a</td>" in table_html([{"share": math.nan}])
    assert table_html([{"a": 1}, {"a": 2, "b": "x"}]).endswith(
        "<th>a</th><th>b</th></tr></thead><tbody><tr><td class=n>1</td><td></td></tr>"
        "<tr><td class=n>2</td><td>x</td></tr></tbody></table>")


@pytest.mark.parametrize("odd", ["line\nbreak", "back\\slash", "cr\rlf", "ls\u2028ps\u2029ps"])
def test_titles_and_labels_with_line_breaks_and_backslashes_draw(odd: str) -> None:
    chart = bar_chart(odd, [odd, "b"], [1, 2], value_title=odd)
    # read as written (an XML parser reads a CR as a line feed)
    drawn = charts.svg(chart)
    shown = re.findall(r"<text[^>]*>([^<]*)</text>", drawn)
    assert odd in shown  # the label, as given
    axis = odd.replace("\r", " ").replace("\n", " ").replace("\u2028", " ").replace("\u2029", " ")
    assert axis in shown  # the value title, on one line
    assert f'; {axis}: 1"' in drawn  # and in the tooltip (the bar's description)
    assert shown.index(odd) < shown.index("b")  # in the order given


def test_write_report_writes_the_page_the_scripts_and_one_svg_per_chart(tmp_path: Path) -> None:
    chart = bar_chart("Rows", ["a"], [1])
    index = write_report(tmp_path / "report", "Census load", [
        Section("Rows", html="<p>Loaded.</p>", charts={"rows": chart}),
        Section("Files", table=[{"file": "a.csv", "rows": 1}]),
    ], subtitle="2024-01-01")
    assert index == tmp_path / "report" / "index.html"
    assert sorted(p.name for p in index.parent.iterdir()) == [
        "index.html", "rows.svg", "vega-embed.min.js", "vega-lite.min.js", "vega.min.js"]
    page = index.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert '<script src="vega.min.js"></script>' in page and "vegaEmbed(" in page
    assert '<noscript><img src="rows.svg" alt="Rows"></noscript>' in page
    assert "<p>Loaded.</p>" in page and "<td>a.csv</td>" in page and "2024-01-01" in page
    assert (index.parent / "rows.svg").read_text(encoding="utf-8") == charts.svg(chart)
    # the same report twice: the same bytes
    again = write_report(tmp_path / "again", "Census load", [
        Section("Rows", html="<p>Loaded.</p>", charts={"rows": chart}),
        Section("Files", table=[{"file": "a.csv", "rows": 1}]),
    ], subtitle="2024-01-01")
    assert again.read_bytes() == page.encode()


@pytest.mark.parametrize("name", ["../escape", "sub/chart", ".hidden", "back\\slash"])
def test_chart_names_are_plain_file_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(CauceError, match="must be a plain file name"):
        write_report(tmp_path, "x", [Section("s", charts={name: bar_chart("x", [], [])})])
    assert not any(tmp_path.iterdir())  # refused before anything is written


def test_a_chart_file_name_given_twice_is_refused(tmp_path: Path) -> None:
    chart = bar_chart("x", ["a"], [1])
    with pytest.raises(CauceError, match=r"'rows\.svg' is given to more than one chart"):
        write_report(tmp_path, "x", [Section("one", charts={"rows": chart}),
                                     Section("two", charts={"rows.svg": chart})])
    assert not any(tmp_path.iterdir())


def test_a_chart_file_name_is_a_link_that_finds_its_file(tmp_path: Path) -> None:
    index = write_report(tmp_path, "x", [Section("s", charts={"share #1 ?": bar_chart(
        "x", ["a"], [1])})])
    assert (tmp_path / "share #1 ?.svg").is_file()
    assert '<img src="share%20%231%20%3F.svg"' in index.read_text(encoding="utf-8")


def test_the_public_names_are_exactly_those_listed() -> None:
    defined = {name for name, value in vars(cauce.reports).items()
               if not name.startswith("_")
               and getattr(value, "__module__", None) == "cauce.reports"}
    assert sorted(cauce.reports.__all__) == cauce.reports.__all__ == sorted(defined)
    for name in cauce.reports.__all__:
        assert getattr(cauce.reports, name).__doc__, f"cauce.reports.{name} has no docstring"


def test_writing_into_a_folder_turns_a_failed_write_into_one_line(tmp_path):
    with (
        pytest.raises(CauceError, match=r"cannot write .*page\.html.*No space") as refused,
        writing_into(str(tmp_path / "out")) as folder,
    ):
        assert folder.is_dir()
        raise OSError(28, "No space left on device", str(folder / "page.html"))
    assert refused.value.hint
