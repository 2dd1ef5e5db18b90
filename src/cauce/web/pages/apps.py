"""An app's page (its graph, jobs, settings) and its log streams (general, workers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...app import Job
from ...logs import GENERAL
from .. import graph
from ..base_path import root
from . import cursor

if TYPE_CHECKING:
    from ..server import UI


def describe_trigger(job: Job) -> str:
    parts = []
    if job.schedule:
        parts.append(f"cron {job.schedule}")
    if job.every is not None:
        every = getattr(job.every, "name", None)
        parts.append(f"every <setting {every}>" if every else f"every {job.every}")
    if job.partitions:
        parts.append(f"{job.partitions.unit} partitions from {job.partitions.start}")
    if job.after:
        parts.append("after " + ", ".join(u.name for u in job.after))
    return "; ".join(parts) or "by hand"


def routes(ui: UI) -> list[Route]:
    home = ui.home

    def app_page(request: Request) -> Response:
        name = request.path_params["app"]
        declared = home.app(name)
        drawn = graph.svg(graph.build(declared, root(request.scope)))
        jobs = [{"name": j.name, "trigger": describe_trigger(j), "description": j.description,
                 "partitioned": j.partitions is not None} for j in declared.jobs.values()]
        handlers = [{"name": h.name, "source": f"{h.resource.kind} {h.resource.name}",
                     "filter": (h.prefix + "…" + h.suffix) if (h.prefix or h.suffix) else ""}
                    for h in declared.handlers.values()]
        resources = [{"name": r.name, "kind": r.kind,
                      "location": home.mask(name, home.runtime(name).resource_url(r))}
                     for r in declared.resources.values()]
        return ui.pages.render(request, "app.html", title=name, section="app", app_name=name,
                               description=declared.description, timezone=declared.timezone,
                               graph_svg=drawn, jobs=jobs, handlers=handlers,
                               resources=resources, settings=home.settings(name))

    def logs_page(request: Request) -> Response:
        name = request.path_params["app"]
        home.app(name)
        stream = request.query_params.get("stream") or GENERAL
        lines = home.stream_log(name, stream, limit=200, before_id=cursor(request, "before"))
        streams = home.log_streams(name)
        # a stream is known by the processes registered or, for older ones, by its lines:
        # a mistyped one is a 404 listing the others, not a page of no lines
        known = stream in streams or bool(lines or home.stream_log(name, stream, limit=1))
        lines = [(line, home.mask(name, line.message)) for line in lines]
        return ui.pages.render(request, "logs.html", 200 if known else 404,
                               title=f"{name} logs", section="logs", app_name=name,
                               stream=stream, lines=lines, streams=streams, known=known)

    return [Route("/apps/{app}", app_page), Route("/apps/{app}/logs", logs_page)]
