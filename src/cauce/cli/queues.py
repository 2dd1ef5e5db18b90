"""``cauce queues`` and ``cauce schedules``: where an app's work stands."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import typer

from ..errors import CauceError
from . import console
from .console import escape
from .home import HomeOption, JsonOption, StateOption, attached, exclusive


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
    table = console.table(box=None)
    for column in ("queue", "visible", "in flight / delayed", "dead letters", "oldest (s)"):
        table.add_column(column, justify="left" if column == "queue" else "right")
    for row in rows:
        dlq = f"[red]{row['dlq']}[/]" if row["dlq"] else "0"
        table.add_row(row["queue"], str(row["visible"]), str(row["in_flight_or_delayed"]), dlq,
                      str(row["oldest_seconds"]))
    console.print_table(table)


def schedules_command(ctx: typer.Context,
                      app_ref: str = typer.Argument(..., metavar="APP"),
                      pause: str = typer.Option(None, "--pause", metavar="JOB",
                                                help="pause a job's schedule (until --resume)"),
                      reason: str = typer.Option("paused by hand", "--reason",
                                                 help="why, shown beside the paused schedule"),
                      resume: str = typer.Option(None, "--resume", metavar="JOB",
                                                 help="resume a paused job's schedule"),
                      as_json: bool = JsonOption, home: Path = HomeOption,
                      state_option: str = StateOption) -> None:
    """Scheduled jobs of an app: their cron or interval, next fire time, and pauses.

    Example: cauce schedules example --pause heartbeat --reason "source down"
    """
    exclusive(ctx, "--pause", "--resume")
    if pause is None and ctx.get_parameter_source("reason").name != "DEFAULT":
        raise typer.BadParameter("it goes with --pause JOB (the reason for that pause)",
                                 ctx=ctx, param_hint="'--reason'")
    from ..runtime.scheduler import Scheduler

    with attached(app_ref, home, state_option) as rt:
        declared = Scheduler(rt).schedules
        job_name = pause if pause is not None else resume
        if job_name is not None:  # an empty JOB too: named as no job, not taken for none
            job = rt.app.get_job(job_name)
            if job.name not in declared:
                raise CauceError(f"job {job.name!r} of app {rt.app.name!r} has no schedule",
                                 hint=_scheduled_hint(rt.app.name, declared))
            if pause is not None:
                kept = rt.pause_schedule(rt.app, job.name, reason)
                # the APP as it was given: a file's app is no bundled app's name
                console.out.print(f"paused the schedule of {job.name}: {kept} "
                                  f"(`cauce schedules {shlex.quote(app_ref)} --resume "
                                  f"{job.name}` resumes it)", markup=False)
            elif any(s["job"] == job.name and s["paused"] for s in rt.schedule_states()):
                rt.resume_schedule(job)
                console.out.print(f"resumed {job.name}; it fires next at its first tick "
                                  "after now", markup=False)
            else:
                console.out.print(f"the schedule of {job.name} was not paused", markup=False)
            return
        states = {s["job"]: s for s in rt.schedule_states()}
        now = rt.clock.time()
        rows = []
        for name in sorted(set(declared) | set(states)):
            state = states.get(name, {})
            schedule = declared.get(name)
            # a schedule changed since it was served fires at its new times, not the old next
            served = bool(state.get("next_at")) and (
                schedule is None or state.get("spec") == schedule.spec)
            next_at = state["next_at"] if served else (
                schedule.next_after(now) if schedule else None)
            rows.append({"job": name, "spec": schedule.spec if schedule else state.get("spec"),
                         "paused": state.get("paused"),
                         "next": datetime.fromtimestamp(next_at, UTC) if next_at else None,
                         "served": served})
    if as_json:
        console.print_json(rows)
        return
    if not rows:
        console.err.print(f"app {rt.app.name} declares no schedules (its jobs run by hand, "
                          "after other jobs, or on events)")
        return
    for row in rows:
        state = (f"[yellow]paused: {escape(row['paused'])}[/]" if row["paused"]
                 else f"next {_in_zone(row['next'], rt.app.tz)}"
                 + ("" if row["served"] else " (once `cauce serve` runs)")
                 + (" (overdue: nothing served then; `cauce serve` fires it when it starts)"
                    if row["served"] and row["next"].timestamp() <= now else ""))
        console.out.print(f"{row['job']}: {escape(row['spec'] or '')}  {state}")


def _in_zone(moment: datetime | None, tz: tzinfo) -> str:
    """A fire time in the app's zone, the zone named: the time its cron reads, which the
    machine's own zone is not."""
    if moment is None:
        return ""
    return f"{moment.astimezone(tz).isoformat(' ', 'seconds')} {tz}"


def _scheduled_hint(app: str, declared: dict[str, object]) -> str:
    if not declared:
        return f"app {app!r} declares no schedules"
    return "scheduled jobs: " + ", ".join(sorted(declared))
