"""Runs: the filtered, keyset-paged list; one run with its log followed live; re-run, cancel."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ...app import Job
from ...durations import parse_moment
from ...errors import CauceError, Conflict, NotFound
from ...runs import Run, RunStatus
from ..base_path import see_page
from ..home import RunFilter
from ..render import shown
from . import cursor

RUN_ID = re.compile(r"[0-9a-f]{24}")  # as `cauce.runs.new_run_id` makes them

if TYPE_CHECKING:
    from ..server import UI

PAGE = 50
FOLLOW_EVERY = 0.25  # seconds between looks for new log lines: well under a second behind


def _date_or_none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def routes(ui: UI) -> list[Route]:
    home, pages = ui.home, ui.pages
    rerunning = threading.Lock()  # one re-run's look and queuing at a time

    def runs_list(request: Request) -> Response:
        q = request.query_params
        app = _date_or_none(q.get("app"))
        if app is not None:
            home.app(app)
        status = _date_or_none(q.get("status"))
        if status is not None and status not in {s.value for s in RunStatus}:
            raise CauceError(f"unknown status {status!r}",
                             hint="one of: " + ", ".join(s.value for s in RunStatus))
        tz = home.tz(app) if app else ZoneInfo("UTC")
        now = datetime.now().timestamp()
        f = RunFilter([app] if app else None, _date_or_none(q.get("name")), status,
                      _date_or_none(q.get("partition")), _date_or_none(q.get("kind")),
                      parse_moment(_date_or_none(q.get("since")), tz, now),
                      parse_moment(_date_or_none(q.get("until")), tz, now))
        before, after = _date_or_none(q.get("before")), _date_or_none(q.get("after"))
        rows = home.runs(f, before=before, after=after, limit=PAGE + 1)
        # one row more than a page says whether there is a page beyond, in the paging direction
        more = len(rows) > PAGE
        if after and not before:
            rows = rows[-PAGE:] if more else rows
            newer, older = more, True
        else:
            rows = rows[:PAGE]
            newer, older = bool(before), more
        names = sorted({n for a in ([app] if app else home.app_names)
                        for n in [*home.app(a).jobs, *home.app(a).handlers]})
        context = {"title": "Runs", "section": "runs", "app_name": app, "runs": rows,
                   "newer": newer and rows, "older": older and rows, "names": names,
                   "statuses": [s.value for s in RunStatus], "q": dict(q)}
        template = "runs_table.html" if request.headers.get("hx-request") else "runs.html"
        return pages.render(request, template, **context)

    def run_page(request: Request) -> Response:
        run = home.run(request.path_params["run_id"])
        lines = home.run_log(run)
        masked = [(line, home.mask(run.app, line.message)) for line in lines]
        declared = home.app(run.app)
        job = declared.jobs.get(run.name) if run.kind == "job" else None
        context = {"title": f"run {run.id}", "section": "runs", "app_name": run.app, "run": run,
                   "lines": masked, "last_id": lines[-1].id if lines else 0,
                   "related": [r for r in home.related_runs(run) if r.id != run.id],
                   "can_rerun": job is not None, "flash": ui.pages.flash(request)}
        if request.headers.get("hx-request"):
            # htmx stops polling on status 286: the run has ended, nothing more will change
            return pages.render(request, "run_status.html",
                                286 if run.status.finished else 200, **context)
        return pages.render(request, "run.html", **context)

    async def run_events(request: Request) -> Response:
        """Server-sent events: each new log line of the run as it is written, then ``end``."""
        run = await run_in_threadpool(home.run, request.path_params["run_id"])
        after = cursor(request, "after") or 0

        async def events() -> AsyncIterator[str]:
            nonlocal after
            while True:
                current = await run_in_threadpool(home.run, run.id)
                lines = await run_in_threadpool(home.run_log, current, after)
                for line in lines:
                    payload = {"id": line.id, "level": line.level, "ts": line.ts.timestamp(),
                               "time": pages.when(run.app, line.ts),
                               "message": shown(home.mask(run.app, line.message))}
                    yield f"id: {line.id}\nevent: line\ndata: {json.dumps(payload)}\n\n"
                    after = line.id
                if current.status.finished and not lines:
                    yield f"event: end\ndata: {json.dumps(current.status.value)}\n\n"
                    return
                if await request.is_disconnected():
                    return
                if not lines:  # nothing new: wait a little (a full batch: read on at once)
                    yield ": waiting\n\n"  # keeps proxies from closing an idle stream
                    await asyncio.sleep(FOLLOW_EVERY)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store"})

    def acted_on(request: Request, nothing: str) -> Run:
        """The run an action names; a run the page showed and `cauce runs prune` removed
        since is a 409 saying so, as other overtaken actions are (not "no run")."""
        run_id = request.path_params["run_id"]
        try:
            return home.run(run_id)
        except NotFound:
            if RUN_ID.fullmatch(run_id) and not home.run_recorded(run_id):
                raise Conflict(f"run {run_id} is no longer recorded: it was pruned (`cauce runs "
                               f"prune`) since this page was drawn; {nothing}",
                               hint="the runs page lists the runs kept") from None
            raise

    def rerun(request: Request) -> Response:
        shown = acted_on(request, "nothing was queued")
        rt = home.runtime(shown.app)
        original = rt.get_run(shown.id)  # unmasked parameters, as the run had them
        job = home.app(shown.app).jobs.get(original.name)
        if original.kind != "job" or not isinstance(job, Job):
            raise CauceError(f"run {original.id} is a run of handler {original.name!r}: only job "
                             "runs can be run again",
                             hint="replay the handler's dead letters from its queue page")
        trigger = f"re-run of {original.id}"
        # the look and the queuing as one step: a double click sends two posts at once, and
        # both looked before either had queued
        with rerunning:
            pending = [r for r in home.related_runs(original)
                       if r.trigger == trigger and not r.status.finished]
            if pending:  # the button pressed twice, or a reload: one re-run at a time
                raise Conflict(f"run {pending[0].id}, a re-run of {original.id}, is still "
                               f"{pending[0].status.value}; nothing more was queued",
                               hint="open that run to follow it, or cancel it to re-run anew")
            new_id = rt.submit(job, partition=original.partition,
                               params=original.params or {}, trigger=trigger)
        if not home.serving(shown.app):
            ui.executor.drain(shown.app, job, new_id)
            done = f"re-run of {original.id} started by this UI (no serve is running)"
        else:
            done = f"re-run of {original.id} queued; the running serve picks it up"
        return see_page(request, f"/runs/{new_id}?{ui.pages.flash_query(done)}")

    def cancel(request: Request) -> Response:
        run = acted_on(request, "nothing was cancelled")
        if run.status.finished:
            raise Conflict(f"run {run.id} already ended ({run.status.value}); nothing was "
                           "cancelled",
                             hint="only queued or running runs can be cancelled")
        home.runtime(run.app).cancel(run.id)
        done = (f"asked run {run.id} to cancel; its worker stops it within a second"
                + ("" if home.serving(run.app) else " (no serve is running: a queued run is "
                   "cancelled when one starts)"))
        return see_page(request, f"/runs/{run.id}?{ui.pages.flash_query(done)}")

    return [Route("/runs", runs_list), Route("/runs/{run_id}", run_page),
            Route("/runs/{run_id}/events", run_events),
            Route("/runs/{run_id}/rerun", rerun, methods=["POST"]),
            Route("/runs/{run_id}/cancel", cancel, methods=["POST"])]

