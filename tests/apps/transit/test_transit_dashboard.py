"""The transit dashboard on a warehouse with little or odd data: notes, not broken charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cauce import charts
from cauce.apps.transit import app
from cauce.apps.transit.app import warehouse
from cauce.apps.transit.dashboard import dashboard
from cauce.testing import TestRuntime

TABLES = (
    "CREATE TABLE trips (day DATE, period VARCHAR, factor_expansion DOUBLE)",
    "CREATE TABLE profiles (day DATE, t_pass DOUBLE, load DOUBLE)",
    "CREATE TABLE od_comuna (day DATE, comuna_origin VARCHAR, comuna_destination VARCHAR, "
    "expanded_trips DOUBLE)",
)


def _texts(chart) -> list[str]:
    return [el.text or "" for el in ET.fromstring(charts.svg(chart)).iter()
            if el.tag.endswith("text")]


def test_no_trips_at_all_is_a_note_not_a_day_named_none():
    with TestRuntime(app) as rt:
        for statement in TABLES:
            warehouse.execute(statement)
        (section,) = dashboard(rt)
    assert section.title == "No trips yet" and not section.charts
    assert "None" not in section.html


def test_a_day_with_trips_only_notes_the_missing_tables_and_shows_gaps_as_such():
    with TestRuntime(app) as rt:
        for statement in TABLES:
            warehouse.execute(statement)
        warehouse.execute("INSERT INTO trips VALUES ('2021-04-22', NULL, 2), "
                          "('2021-04-22', 'morning', NULL), ('2021-04-22', 'evening', 3)")
        periods, od, profile = dashboard(rt)
    assert {"(no period)", "morning", "evening", "n/a", "2", "3"} <= set(
        _texts(periods.charts["periods"]))
    for section, table in ((od, "od_comuna"), (profile, "profiles")):
        assert not section.charts
        assert f"No rows in the table <code>{table}</code> for day 2021-04-22" in section.html
