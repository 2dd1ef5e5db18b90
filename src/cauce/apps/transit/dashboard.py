"""The transit dashboard in `cauce ui`: the newest day in the analysis warehouse, live —
trips per period, the origin–destination matrix by comuna, and the load profile of the buses."""

from __future__ import annotations

from typing import Any

from cauce import Runtime
from cauce.reports import Section, bar_chart

from .app import app, warehouse

TOP_COMUNAS = 12


@app.dashboard
def dashboard(rt: Runtime) -> list[Section]:
    if not (warehouse.table_exists("trips") and warehouse.table_exists("profiles")):
        return [Section("Nothing processed yet", html="<p>Process a day with <code>cauce run "
                        "transit adatrap --partition DAY</code> (or <code>cauce demo</code>).</p>")]
    day = warehouse.query("SELECT max(day) AS day FROM trips").to_pylist()[0]["day"]
    if day is None:
        return [Section("No trips yet", html="<p>The table <code>trips</code> holds no day: "
                        "the days processed so far found no trips.</p>")]
    return [_periods(day), _od(day), _load_profile(day)]


def _nothing(title: str, day: Any, table: str) -> Section:
    """``title``'s section when the day has no rows for it: a note in place of an empty chart."""
    return Section(title, html=f"<p class=meta>No rows in the table <code>{table}</code> for "
                   f"day {day}.</p>")


def _periods(day: Any) -> Section:
    rows = warehouse.query("SELECT period, sum(factor_expansion) AS trips FROM trips "
                           "WHERE day = ? GROUP BY 1 ORDER BY 1", [day]).to_pylist()
    if not rows:
        return _nothing("Trips by period", day, "trips")
    # a trip with no period, or no expansion factor, is shown as such (not as 0 trips)
    chart = bar_chart(f"Trips by period, {day}",
                      ["(no period)" if r["period"] is None else r["period"] for r in rows],
                      [r["trips"] for r in rows], value_title="expanded trips")
    return Section("Trips by period", charts={"periods": chart},
                   html=f"<p class=meta>From the table <code>trips</code>, day {day}.</p>")


def _od(day: Any) -> Section:
    import altair as alt  # only when the dashboard is drawn: loading the app stays quick

    rows = warehouse.query(
        "WITH top AS (SELECT comuna_origin AS c FROM od_comuna WHERE day = ? GROUP BY 1 "
        f"ORDER BY sum(expanded_trips) DESC LIMIT {TOP_COMUNAS}) "
        "SELECT comuna_origin AS origin, comuna_destination AS destination, "
        "sum(expanded_trips) AS trips FROM od_comuna WHERE day = ? "
        "AND comuna_origin IN (SELECT c FROM top) AND comuna_destination IN (SELECT c FROM top) "
        "GROUP BY 1, 2", [day, day]).to_pylist()
    if not rows:
        return _nothing("Origin–destination", day, "od_comuna")
    chart = alt.Chart(alt.Data(values=rows)).mark_rect().encode(
        x=alt.X("destination:N", title="destination comuna"),
        y=alt.Y("origin:N", title="origin comuna"),
        color=alt.Color("trips:Q", title="expanded trips", scale=alt.Scale(scheme="blues")),
        tooltip=["origin:N", "destination:N", alt.Tooltip("trips:Q", format=",.0f")],
    ).properties(title=f"Origin–destination by comuna, {day} (top {TOP_COMUNAS})")
    return Section("Origin–destination", charts={"od-comuna": chart})


def _load_profile(day: Any) -> Section:
    import altair as alt

    rows = warehouse.query(
        "SELECT floor(t_pass / 1800) / 2 AS hour, avg(load) AS mean_load, "
        "max(load) AS max_load FROM profiles WHERE day = ? AND t_pass IS NOT NULL "
        "GROUP BY 1 ORDER BY 1", [day]).to_pylist()
    if not rows:
        return _nothing("Load profile", day, "profiles")
    long = [{"hour": r["hour"], "measure": measure, "passengers": r[key]}
            for r in rows for measure, key in (("mean load", "mean_load"),
                                               ("highest load", "max_load"))]
    chart = alt.Chart(alt.Data(values=long)).mark_line(point=True).encode(
        x=alt.X("hour:Q", title="hour of the day", scale=alt.Scale(domain=[0, 24])),
        y=alt.Y("passengers:Q", title="passengers on board"),
        color=alt.Color("measure:N", title=None),
        tooltip=["measure:N", alt.Tooltip("hour:Q", format=".1f"),
                 alt.Tooltip("passengers:Q", format=",.1f")],
    ).properties(title=f"Load profile of the buses, {day} (per half hour)", width=560)
    return Section("Load profile", charts={"load-profile": chart},
                   html="<p class=meta>Passengers on board as each bus passes each stop, from "
                   "the table <code>profiles</code>.</p>")
