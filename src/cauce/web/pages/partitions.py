"""Partitions: a grid per partitioned job (partition keys × jobs, coloured by the latest run's
status), a range picked on it, and a backfill of that range with a chosen parallelism."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...app import Job
from ...errors import CauceError, PartitionError
from ...partitions import Partitions
from ...runtime.backfill import _closure as family  # the jobs a backfill runs
from ..base_path import see_page

if TYPE_CHECKING:
    from ..server import UI

WINDOW = 60  # partitions shown at once
UNIT_DAYS = {"daily": 1, "weekly": 7, "monthly": 31}


def window(parts: Partitions, today: date, last: str | None, size: int = WINDOW) -> list[str]:
    """Up to ``size`` partition keys ending at ``last`` (default: today's, or the last one)."""
    newest = min(today, parts.end) if parts.end else today
    end = parts.parse(last) if last else parts.parse(parts.key(newest))
    begin = max(parts.start, end - timedelta(days=UNIT_DAYS[parts.unit] * (size - 1)))
    return parts.range(parts.key(begin), parts.key(end), today)[-size:]


def _ran_last(parts: Partitions, newest: str | None) -> str | None:
    """The newest partition that ran, when it is a key today (runs queued before a partition
    had one spelling may hold another, ``20210422``): the grid then ends at today's."""
    if newest is None:
        return None
    try:
        parts.parse(newest)
    except PartitionError:
        return None
    return newest


def routes(ui: UI) -> list[Route]:
    home = ui.home

    def partitioned(app: str) -> list[Job]:
        return [j for j in home.app(app).jobs.values() if j.partitions is not None]

    def partitioned_job(app: str, name: str) -> Job:
        job = home.app(app).get_job(name)
        if job.partitions is None:
            raise PartitionError(f"job {job.name!r} is not partitioned",
                                 hint="its runs are on the runs page")
        return job

    def grid(app: str, job: Job, last: str | None) -> dict[str, Any]:
        assert job.partitions is not None
        # by default the grid ends at the newest partition that ran, else at today's
        keys = window(job.partitions, home.today(app),
                      last or _ran_last(job.partitions, home.newest_partition(app, job.name)))
        rows = []
        for member in family(job):
            latest = home.latest_by_partition(app, member.name, keys[0], keys[-1]) if keys else {}
            rows.append({"job": member.name, "cells": [(k, latest.get(k)) for k in keys]})
        older = None
        if keys and job.partitions.parse(keys[0]) > job.partitions.start:
            older = job.partitions.key(job.partitions.parse(keys[0]) - timedelta(days=1))
        newer = None
        today = home.today(app)
        newest = job.partitions.key(min(today, job.partitions.end) if job.partitions.end
                                    else today)  # a job whose partitions ended: its last one
        if keys and keys[-1] < newest:
            newer = newest
        return {"job": job, "partition_keys": keys, "rows": rows, "older": older, "newer": newer}

    def index(request: Request) -> Response:
        app = request.path_params["app"]
        jobs = partitioned(app)
        grids = [grid(app, j, None) for j in jobs]
        return ui.pages.render(request, "partitions.html", title=f"{app} partitions",
                               section="partitions", app_name=app, grids=grids, focus=None,
                               tasks=ui.executor.recent(app)[:5])

    def one(request: Request) -> Response:
        app = request.path_params["app"]
        job = partitioned_job(app, request.path_params["job"])
        assert job.partitions is not None
        last = request.query_params.get("last") or None
        if last is not None:  # a typed end: in the declared range and not in the future
            job.partitions.validate(last, home.today(app))
        shown = grid(app, job, last)
        return ui.pages.render(request, "partitions.html", title=f"{app} {job.name} partitions",
                               section="partitions", app_name=app, grids=[shown], focus=job.name,
                               tasks=ui.executor.recent(app)[:5],
                               flash=ui.pages.flash(request))

    async def start_backfill(request: Request) -> Response:
        app = request.path_params["app"]
        job = partitioned_job(app, request.path_params["job"])
        form = await request.form()
        first, last = str(form.get("first") or "").strip(), str(form.get("last") or "").strip()
        if not first or not last:
            raise CauceError("pick the first and the last partition of the backfill",
                             hint="click two cells of the grid, or type both dates")
        try:
            parallel = int(str(form.get("parallel") or "1"))
        except ValueError:
            raise CauceError("parallelism must be a whole number", hint="e.g. 2") from None
        if not 1 <= parallel <= 32:
            raise CauceError(f"parallelism {parallel} is out of range", hint="use 1 to 32")
        task = ui.executor.backfill(app, job, first, last, parallel=parallel,
                                    force=form.get("force") == "on")
        done = f"started: {task.label}"
        # the grid ends at the range's last key: a month typed (2021-01) is no key of a day
        end = job.partitions.range(first, last, home.today(app))[-1]
        return see_page(request, f"/apps/{quote(app)}/partitions/{quote(job.name)}?"
                        f"last={quote(end)}&{ui.pages.flash_query(done)}")

    return [Route("/apps/{app}/partitions", index),
            Route("/apps/{app}/partitions/{job}", one),
            Route("/apps/{app}/partitions/{job}/backfill", start_backfill, methods=["POST"])]
