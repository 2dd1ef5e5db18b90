"""The overview: apps, processes alive, failures of the last day, backlogs, next schedules."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..home import DAY

if TYPE_CHECKING:
    from ..server import UI


def routes(ui: UI) -> list[Route]:
    home = ui.home

    def overview(request: Request) -> Response:
        since = time.time() - DAY
        counts = home.counts_since(since)
        apps: list[dict[str, Any]] = []
        backlog = []
        for name in home.app_names:
            declared = home.app(name)
            by_status = {status: n for (app, status), n in counts.items() if app == name}
            apps.append({"name": name, "description": declared.description,
                         "timezone": declared.timezone, "jobs": len(declared.jobs),
                         "handlers": len(declared.handlers),
                         "resources": len(declared.resources), "counts": by_status})
            backlog += [(name, q) for q in home.queues(name, buckets=0)
                        if q.visible or q.later or q.dlq]
        schedules = [s for s in home.schedules() if s["spec"] or s["paused"]]
        context = {"title": "Overview", "section": "overview", "apps_info": apps,
                   "workers": home.workers(), "failures": home.failures_since(since),
                   "backlog": backlog, "schedules": schedules, "now": time.time(),
                   "tasks": ui.executor.recent()[:10]}
        if request.headers.get("hx-request"):
            return ui.pages.render(request, "overview_body.html", **context)
        return ui.pages.render(request, "overview.html", **context)

    return [Route("/", overview)]
