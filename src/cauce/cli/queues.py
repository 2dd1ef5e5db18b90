"""``cauce queues`` and ``cauce schedules``: where an app's work stands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import CauceError
from . import console
from .home import HomeOption, JsonOption, StateOption, attached


def queues_command(app_ref: str = typer.Argument(..., metavar="APP"),
                   as_json: bool = JsonOption, home: Path = HomeOption,
                   state_option: str = StateOption) -> None:
    """Depth, in-flight and dead-letter counts of every queue of an app (handlers' and jobs' too).

    Example: cauce queues example --json
    """
    with attached(app_ref, home, state_option) as rt:
        rows = rt.queue_stats()
    if as_json:
        console.print_json(rows)
        return
    table = Table(box=None)
    for column in ("queue", "visible", "in flight / delayed", "dead letters", "oldest (s)"):
        table.add_column(column, justify="left" if column == "queue" else "right")
    for row in rows:
        dlq = f"[red]{row['dlq']}[/]" if row["dlq"] else "0"
        table.add_row(row["queue"], str(row["visible"]), str(row["in_flight_or_delayed"]), dlq,
                      str(row["oldest_seconds"]))
    console.out.print(table)


def schedules_command(app_ref: str = typer.Argument(..., metavar="APP"),
                      resume: str = typer.Option(None, "--resume", metavar="JOB",
                                                 help="resume a paused job"),
                      as_json: bool = JsonOption, home: Path = HomeOption,
                      state_option: str = StateOption) -> None:
    """Scheduled jobs of an app: next fire time, and whether a job paused its own schedule.

    Example: cauce schedules opendata --resume refresh
    """
    with attached(app_ref, home, state_option) as rt:
        if resume:
            job = rt.app.get_job(resume)
            if not rt.resume_schedule(job):
                raise CauceError(f"job {job.name!r} has no schedule state yet",
                                 hint=f"`cauce serve {rt.app.name}` creates it")
            console.out.print(f"resumed {job.name}; "
                              "its next tick is computed by the running serve")
            return
        states = rt.schedule_states()
    rows = [{"job": s["job"], "spec": s["spec"], "paused": s["paused"],
             "next": datetime.fromtimestamp(s["next_at"], UTC) if s["next_at"] else None}
            for s in states]
    if as_json:
        console.print_json(rows)
        return
    for row in rows:
        state = (f"[yellow]paused: {escape(row['paused'])}[/]" if row["paused"]
                 else f"next {console.local(row['next'])}")
        console.out.print(f"{row['job']}: {row['spec'] or '(not started)'}  {state}")
    if not rows:
        console.err.print("no schedule state yet (start `cauce serve`)")
