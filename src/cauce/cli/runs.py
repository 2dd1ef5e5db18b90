"""``cauce runs``: list, show, cancel, retry and prune runs."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..durations import format_duration, parse_duration
from ..errors import CauceError, NotFound
from . import console
from .console import escape
from .duration_option import positive_duration
from .home import AppFilterOption, HomeOption, JsonOption, StateOption, inspected, text_argument

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..backends.state import StateStore, WorkerRecord
    from ..runs import Run

runs_cli = typer.Typer(rich_markup_mode=None,
                       help="List, show, cancel, retry and prune runs, newest first.\n\n"
                       "Example: cauce runs --app census --job load --limit 5",
                       no_args_is_help=False)


@runs_cli.callback(invoke_without_command=True)
def runs_list(
    ctx: typer.Context,
    app: str = AppFilterOption,
    job: str = typer.Option(None, "--job", parser=text_argument,
                           help="only this job or handler"),
    status: str = typer.Option(None, "--status", help="queued, running, succeeded, failed, "
                               "dead-lettered, cancelled"),
    partition: str = typer.Option(None, "--partition"),
    limit: int = typer.Option(20, "--limit", min=1, max=1_000_000_000, help="newest N runs"),
    as_json: bool = JsonOption,
    home: Path = HomeOption, state_option: str = StateOption,
) -> None:
    """List runs, newest first. Example: cauce runs --app census --job load --limit 5"""
    if ctx.invoked_subcommand is not None:
        return
    from ..runs import RunStatus

    if status is not None and status not in {s.value for s in RunStatus}:
        raise CauceError(f"unknown status {status!r}",
                         hint="one of: " + ", ".join(s.value for s in RunStatus))
    query = {"app": app, "name": job, "status": status, "partition": partition,
             "limit": limit, "size": PAGE}
    with inspected(home, state_option) as state:
        pages = _noting_dead_workers(state, state.runs.pages(**query))
        if as_json:
            console.print_json_array([console.run_dict(r) for r in page] for page in pages)
            return
        first = next(pages, [])
        if not first:
            console.err.print("no runs match")
        elif len(first) < PAGE or limit == PAGE:
            console.print_table(console.runs_table(first))
        else:  # columns as wide as the longest cell of any page: one table, a page at a time
            widest = console.widest_cells(first)
            for page in pages:
                widest = console.widest_cells(page, widest)
            sizes = console.runs_sizes(widest)
            again = _noting_dead_workers(state, state.runs.pages(**query))
            for number, page in enumerate(again):
                console.print_table(console.runs_table(page, sizes=sizes, header=number == 0))


def _noting_dead_workers(state: StateStore, pages: Iterator[list[Run]]) -> Iterator[list[Run]]:
    """``pages`` of runs, each running one whose worker died (killed, its machine down: no
    heartbeat for 30 s) with that as its error: the run's row says ``running`` until a serving
    process of its app takes its lease back and records it lost, which, with none running,
    is never; `cauce queues` meanwhile counts its message as waiting."""
    from ..runs import RunStatus
    from ..runtime.foreground import alive

    workers: dict[str, WorkerRecord] | None = None
    now = time.time()
    for page in pages:
        if workers is None and any(r.status is RunStatus.RUNNING for r in page):
            workers = {w.id: w for w in state.workers.listing(stopped=True)}
        yield [_dead_worker_noted(r, workers[r.worker], now)
               if workers and r.status is RunStatus.RUNNING and r.worker in workers
               and not alive(workers[r.worker], now) else r for r in page]


def _dead_worker_noted(run: Run, worker: WorkerRecord, now: float) -> Run:
    silent = format_duration(max(0.0, now - worker.heartbeat_at))
    return replace(run, error=f"its worker died: {worker.role} {worker.id} (pid {worker.pid} "
                   f"on {worker.host}) has not beaten for {silent}; the run is recorded lost "
                   f"once a `cauce serve` or `cauce worker` of {run.app} runs")


# Runs read (and printed) at a time: a year's runs are listed as they are read, never held whole.
PAGE = 1000


@runs_cli.command("show")
def runs_show(run_id: str = typer.Argument(..., metavar="RUN_ID", parser=text_argument),
              as_json: bool = JsonOption,
              home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Show one run (a unique prefix of its id is enough) and its log.

    Example: cauce runs show 018f3a2b4c
    """
    with inspected(home, state_option) as state:
        [run] = next(_noting_dead_workers(state, iter([[get_run(state, run_id)]])))
        lines = [] if as_json else state.logs.read(run_id=run.id)
    if as_json:
        console.print_json(console.run_dict(run))
        return
    for key, value in console.run_dict(run).items():
        if value is not None:
            console.out.print(f"[bold]{key:>10}[/]  {escape(str(value))}")
    for line in lines:
        console.out.print(line.format(datetime.now().astimezone().tzinfo), markup=False)


@runs_cli.command("cancel")
def runs_cancel(run_id: str = typer.Argument(..., metavar="RUN_ID", parser=text_argument),
                home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Cancel a queued run (dropped from its queue now) or a running one (stopped by its process).

    A job that checks ctx.cancelled (or runs programs with ctx.run_command) stops at once, and
    so does a process job (worker="process"); one that never checks is interrupted 3 s after
    being asked, in `cauce run` as in a worker's thread (a blocking call into C, such as a long
    sleep, finishes first).
    Example: cauce runs cancel 018f3a2b4c5d6e7f80
    """
    from ..runs import RunStatus
    from ..runtime.jobs import drop_cancelled

    with inspected(home, state_option) as state:
        run = get_run(state, run_id)
        if run.status.finished:
            raise CauceError(f"run {run.id} already ended ({run.status.value})",
                             hint="only queued or running runs can be cancelled; "
                             "see `cauce runs --status running`")
        state.runs.request_cancel(run.id)
        dropped = run.status is RunStatus.QUEUED and run.id in drop_cancelled(state, time.time())
    what = f"run {run.id} ({run.app}.{run.name})"
    if dropped:
        console.out.print(f"cancelled {what}: dropped from its queue before it started")
    else:
        console.out.print(f"asked {what} to cancel: it stops at once if it checks "
                          "ctx.cancelled, else it is interrupted 3 s later "
                          f"(`cauce runs show {run.id}` shows when it ended)")


@runs_cli.command("retry")
def runs_retry(run_id: str = typer.Argument(..., metavar="RUN_ID", parser=text_argument),
               home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Queue a fresh run of a finished job run, with the same partition and options.

    A serving process (`cauce serve`, `cauce worker`) picks it up. Example: cauce runs retry 018f3a2b4c
    """  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
    from ..runtime.jobs import retry_run

    with inspected(home, state_option) as state:
        run = get_run(state, run_id)
        new_id = retry_run(state, run, time.time())
    console.out.print(f"queued run {new_id} ({run.app}.{run.name}"
                      f"{f'[{run.partition}]' if run.partition else ''}), a retry of {run.id}; "
                      f"`cauce serve {run.app}` or `cauce worker {run.app}` runs it")


@runs_cli.command("prune")
def runs_prune(
    older_than: str = typer.Option(..., "--older-than", metavar="AGE",
                                   parser=positive_duration,
                                   help="delete what ended (or was logged) longer ago than "
                                   "this, e.g. 30d, 12h"),
    app: str = AppFilterOption,
    home: Path = HomeOption, state_option: str = StateOption,
) -> None:
    """Delete finished runs and log lines older than an age; queued and running runs stay.

    Example: cauce runs prune --older-than 30d
    """
    age = parse_duration(older_than, what="--older-than")
    cutoff = time.time() - age
    with inspected(home, state_option) as state:
        runs = state.runs.prune(ended_before=cutoff, app=app)
        lines = state.logs.prune(before=cutoff, app=app)
    console.out.print(f"deleted {runs:,} run(s) and {lines:,} log line(s) older than "
                      f"{format_duration(age)}")


def get_run(state: StateStore, run_id: str) -> Run:
    """The run with this id or unique id prefix (NotFound otherwise)."""
    run = find_run(state, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}", hint="list runs with `cauce runs`")
    return run


def find_run(state: StateStore, run_id: str) -> Run | None:
    """The run with this id or unique id prefix; None for none, and for an empty id (a prefix
    of every run, which would name the only one)."""
    if not run_id.strip():
        return None
    run = state.runs.get(run_id)
    if run is not None:
        return run
    matches = state.runs.find_by_prefix(run_id)
    if len(matches) > 1:
        raise CauceError(f"run id prefix {run_id!r} is ambiguous", hint="give more characters")
    return matches[0] if matches else None
