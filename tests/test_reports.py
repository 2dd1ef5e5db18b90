"""Static HTML reports with SVG bar charts: a folder that opens from disk."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import cauce.reports
from cauce import CauceError
from cauce.reports import Section, bar_chart_svg, table_html, write_report

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> dict[str, float]:
    """Bar widths by their tooltip label."""
    root = ET.fromstring(svg)
    return {rect.find(f"{SVG}title").text.split(":")[0]: float(rect.get("width"))
            for rect in root.iter(f"{SVG}rect")}


def test_a_bar_chart_is_a_valid_svg_with_one_bar_per_label() -> None:
    svg = bar_chart_svg("Rows per file", ["a.csv", "b.csv", "c.csv"], [10, 5, 0])
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "Rows per file"
    widths = bars(svg)
    assert widths["b.csv"] == pytest.approx(widths["a.csv"] / 2)
    assert widths["c.csv"] == 0


def test_text_is_escaped() -> None:
    svg = bar_chart_svg("Income <=50K & >50K", ["<=50K", ">50K"], [3, 1])
    ET.fromstring(svg)
    assert "&lt;=50K" in svg and "&amp;" in svg


def test_values_are_formatted() -> None:
    svg = bar_chart_svg("Share", ["a"], [0.256], value_format="{:.1%}")
    assert ">25.6%<" in svg


@pytest.mark.parametrize("odd", [math.nan, math.inf, -math.inf])
def test_values_that_are_not_numbers_draw_no_bar(odd: float) -> None:
    svg = bar_chart_svg("Odd", ["odd", "fine"], [odd, 4])
    widths = bars(svg)
    assert widths["odd"] == 0
    assert widths["fine"] > 0


def test_negative_values_draw_no_bar_but_show_their_value() -> None:
    svg = bar_chart_svg("Change", ["down", "up"], [-5, 10])
    assert bars(svg)["down"] == 0
    assert ">-5<" in svg


def test_labels_and_values_must_match() -> None:
    with pytest.raises(CauceError, match="2 labels but 1 values"):
        bar_chart_svg("x", ["a", "b"], [1])


def test_an_empty_chart_is_still_valid() -> None:
    ET.fromstring(bar_chart_svg("Nothing yet", [], []))


def test_tables_right_align_numbers_and_escape_text() -> None:
    html = table_html([{"name": "<b>", "rows": 1234, "share": 0.5, "ok": True, "none": None}])
    assert "<th>name</th><th>rows</th>" in html
    assert ("<td>&lt;b&gt;</td><td class=n>1,234</td><td class=n>0.50</td><td>True</td><td></td>"
            in html)
    assert table_html([]) == "<p class=meta>(no rows)</p>"


def test_write_report_writes_the_page_and_one_svg_per_chart(tmp_path: Path) -> None:
    chart = bar_chart_svg("Rows", ["a"], [1])
    index = write_report(tmp_path / "report", "Census load", [
        Section("Rows", html="<p>Loaded.</p>", charts={"rows": chart}),
        Section("Files", table=[{"file": "a.csv", "rows": 1}]),
    ], subtitle="2024-01-01")
    assert index == tmp_path / "report" / "index.html"
    assert sorted(p.name for p in index.parent.iterdir()) == ["index.html", "rows.svg"]
    page = index.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert '<img src="rows.svg" alt="Rows">' in page
    assert "<p>Loaded.</p>" in page and "<td>a.csv</td>" in page and "2024-01-01" in page
    assert (index.parent / "rows.svg").read_text(encoding="utf-8") == chart


@pytest.mark.parametrize("name", ["../escape", "sub/chart", ".hidden"])
def test_chart_names_are_plain_file_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(CauceError, match="must be a plain file name"):
        write_report(tmp_path, "x", [Section("s", charts={name: "<svg/>"})])


def test_the_public_names_are_exactly_those_listed() -> None:
    defined = {name for name, value in vars(cauce.reports).items()
               if not name.startswith("_")
               and getattr(value, "__module__", None) == "cauce.reports"}
    assert sorted(cauce.reports.__all__) == cauce.reports.__all__ == sorted(defined)
    for name in cauce.reports.__all__:
        assert getattr(cauce.reports, name).__doc__, f"cauce.reports.{name} has no docstring"
