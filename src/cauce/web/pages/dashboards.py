"""Dashboards: each app's own dashboard (``@app.dashboard``), built live from its current data
and drawn with cauce.charts, the same way its reports are."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import charts
from ...reports import Section, table_html

if TYPE_CHECKING:
    from ..server import UI


def render_sections(sections: list[Section]) -> list[dict[str, Any]]:
    """Sections as the template shows them: the app's own HTML and tables (escaped by
    cauce.reports), and each chart as a live Vega fragment."""
    shown = []
    for section in sections:
        drawn = [charts.html(chart, scripts=None, csp=True) if not isinstance(chart, str) else chart
                 for chart in section.charts.values()]
        shown.append({"title": section.title, "html": Markup(section.html),
                      "charts": [Markup(c) for c in drawn],
                      "table": Markup(table_html(section.table))
                      if section.table is not None else None})
    return shown


def routes(ui: UI) -> list[Route]:
    home = ui.home

    def with_dashboard() -> list[str]:
        return [name for name in home.app_names if home.app(name).dashboard_hook is not None]

    def index(request: Request) -> Response:
        return ui.pages.render(request, "dashboards.html", title="Dashboards",
                               section="dashboards", names=with_dashboard(),
                               others=[n for n in home.app_names if n not in with_dashboard()])

    async def one(request: Request) -> Response:
        app = request.path_params["app"]
        declared = home.app(app)
        sections: list[dict[str, Any]] = []
        problem = None
        if declared.dashboard_hook is None:
            problem = f"app {app} declares no dashboard (@app.dashboard)"
        else:
            built = await run_in_threadpool(declared.dashboard_hook, home.runtime(app))
            sections = render_sections(list(built or []))
        return ui.pages.render(request, "dashboard.html", title=f"{app} dashboard",
                               section="dashboard", app_name=app, sections=sections,
                               problem=problem, scripts=sorted(charts.script_files()))

    return [Route("/dashboards", index), Route("/apps/{app}/dashboard", one)]
