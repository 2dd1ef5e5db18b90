"""``cauce workers``: the processes working on a home — servers, extra workers, runs in the
foreground — with their last heartbeat."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..durations import format_duration
from . import console
from .home import AppFilterOption, HomeOption, JsonOption, StateOption, inspected

if TYPE_CHECKING:
    from ..backends.state import WorkerRecord


def workers_command(
    app: str = AppFilterOption,
    every: bool = typer.Option(False, "--all", help="also the ones that stopped or died"),
    as_json: bool = JsonOption,
    home: Path = HomeOption, state_option: str = StateOption,
) -> None:
    """Live servers (`cauce serve`), workers (`cauce worker`), backfills (`cauce backfill`) and
    foreground runs (`cauce run`).

    A process is live while it beats every few seconds; one silent for 30 s is taken for dead.
    Example: cauce workers --app census
    """
    from ..runtime.foreground import alive

    now = time.time()
    with inspected(home, state_option) as state:
        rows = [
            (w, alive(w, now))
            for w in state.workers.listing(stopped=every)
            if app is None or w.app == app
        ]
    if not every:
        rows = [(w, live) for w, live in rows if live]
    if as_json:
        console.print_json([{**asdict(w), "alive": live} for w, live in rows])
        return
    if not rows:
        console.err.print(
            "no live server or worker"
            + (f" of app {app}" if app else "")
            + " (`cauce serve APP` starts one; --all shows those that ended)"
        )
        return
    table = console.table(box=None, pad_edge=False)
    for column in ("worker", "app", "role", "pid", "host", "started", "heartbeat", "state"):
        table.add_column(column, no_wrap=column in ("pid", "started", "state"), overflow="fold")
    for worker, live in rows:
        table.add_row(
            worker.id,
            worker.app,
            worker.role,
            str(worker.pid),
            worker.host,
            console.local(_utc(worker.started_at)),
            f"{format_duration(max(0.0, now - worker.heartbeat_at))} ago",
            _state(worker, live),
        )
    console.print_table(table)


def _state(worker: WorkerRecord, live: bool) -> str:
    if live:
        return "[green]live[/]"
    return "stopped" if worker.stopped_at is not None else "[red]dead[/] (no heartbeat)"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
