"""``cauce run``, ``serve``, ``worker`` and ``backfill``: what the commands that execute an app do.

Their options depend on the app (its settings) and the job (its parameters), so each command
takes APP and JOB first, then builds the rest of its options from the declarations and parses
them with click. The commands themselves are declared in `cauce.cli.execution_commands`, which
imports this module (and with it click, the runtime and the app) only when one of them runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
import typer
from rich.markup import escape

from ..app import App, Job
from ..durations import format_duration, parse_duration
from ..errors import CauceError, ConfigError, PartitionError
from ..runtime.backfill import (
    BackfillInterrupted,
    BackfillReport,
    backfill,
    check_partitioned,
)
from ..runtime.foreground import Stopper
from ..runtime.jobs import check_params, run_foreground, runs_in_child
from ..runtime.runtime import Runtime
from . import console
from .home import (
    GLOBALS,
    HOME_HELP,
    StateOption,
    home_option_value,
    home_path,
    state_url,
    undone_if_unused,
)
from .loading import load_app
from .options import DurationOption, clean, job_options, settings_options
from .signals import exit_at_once, stopped_by, terminated_as_interrupted
from .ui import start_served_ui, ui_options

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..runs import Run


def _parse(name: str, options: list[click.Parameter], args: list[str],
           help_text: str) -> dict[str, Any] | None:
    """Parse ``args`` against ``options``; None when only help was asked for (and printed)."""
    options = [*options, click.Option(["--help", "-h"], is_flag=True,
                                      help="Show this message and exit.")]
    command = click.Command(name, params=options, help=help_text, callback=lambda **kw: kw,
                            add_help_option=False, context_settings={"max_content_width": 100})
    # before parsing, so missing required options do not hide the help
    if "--help" in args or "-h" in args:
        with click.Context(command, info_name=name) as ctx:
            click.echo(command.get_help(ctx))
        return None
    try:
        values = command.main(args=args, prog_name=name, standalone_mode=False)
    except click.ClickException as err:  # reported as typer's own usage errors are
        raise typer.Exit(console.print_usage_error(err, args)) from None
    except click.exceptions.Abort:
        raise typer.Abort() from None
    values.pop("help", None)
    return values


def _common(extra: list[click.Parameter] | None = None) -> list[click.Parameter]:
    return [click.Option(["--home"], type=home_path, metavar="<path>", help=HOME_HELP),
            click.Option(["--state", "state_option"], metavar="URL", help=StateOption.help),
            click.Option(["--executor"], metavar="URL", help="where job runs execute: local, "
                         "dask (a local cluster) or dask://HOST:PORT [default: the job's "
                         "executor=, CAUCE_EXECUTOR, or local]"), *(extra or [])]


def _app_or_help(ctx: typer.Context, app_ref: str | None) -> tuple[App, str] | None:
    """The app named; None when help was asked for (and printed). No app at all is a usage
    error (exit 2) that still shows the help, on stderr, so that it says what to pass."""
    if app_ref in ("--help", "-h"):
        typer.echo(ctx.get_help())
        return None
    if app_ref is None:
        typer.echo(ctx.get_help(), err=True)
        console.print_problem("missing argument APP",
                              "name a bundled app (`cauce apps` lists them) or module:attribute")
        raise typer.Exit(2)
    return load_app(app_ref)


def _app_and_job(ctx: typer.Context, app_ref: str | None, job_name: str | None,
                 verb: str = "run") -> tuple[App, str, Job] | None:
    """The app and job the user named; None when help or the list of jobs was printed instead."""
    loaded = _app_or_help(ctx, app_ref)
    if loaded is None:
        return None
    app, reference = loaded
    if job_name is None or job_name in ("--help", "-h"):
        _list_jobs(app, verb)
        return None
    job = app.get_job(job_name)
    if verb == "backfill":  # before its --from and --to are asked for
        check_partitioned(job)
    return app, reference, job


def _settings(app: App, values: dict[str, Any],
              taken: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    return clean({k: values.get(k) for k in app.settings if k not in taken})


@contextmanager
def _runtime(app: App, reference: str, values: dict[str, Any], settings: dict[str, Any],
             role: str) -> Iterator[Runtime]:
    """A runtime, open, on the home (and state) the command's options and configuration name;
    a home it created goes again if the command fails before keeping anything there."""
    home = home_option_value(values["home"])
    url = state_url(home, values["state_option"])
    with undone_if_unused(home, url), Runtime(
            app, home=home, settings=settings, app_ref=reference, role=role, state=url,
            executor=values["executor"]) as rt:
        yield rt


def _list_jobs(app: App, verb: str) -> None:
    """The jobs ``cauce run APP`` can run, or the partitioned ones ``cauce backfill APP`` can
    backfill, and how to go on."""
    if verb == "backfill":
        jobs = [job for job in app.jobs.values() if job.partitions is not None]
        if not jobs:
            raise PartitionError(f"app {app.name!r} has no partitioned job to backfill",
                                 hint="backfill runs a job over a range of partitions; "
                                 f"`cauce run {app.name}` lists the jobs to run once")
        what, usage = "partitioned jobs", "JOB --from FIRST [--to LAST] [OPTIONS]"
    else:
        jobs, what, usage = list(app.jobs.values()), "jobs", "JOB [OPTIONS]"
    console.out.print(f"[bold]{app.name}[/] {what}:")
    for job in jobs:
        console.out.print(f"  [cyan]{job.name}[/]  {escape(job.description)}")
    console.out.print(f"\n{verb} one: cauce {verb} {app.name} {usage}   "
                      f"(cauce {verb} {app.name} JOB --help)", markup=False)


def run_job(ctx: typer.Context, app_ref: str | None, job_name: str | None) -> None:
    """``cauce run APP JOB [OPTIONS]``: parse the job's and the app's options, run the job in the
    foreground with its log and progress on the terminal, and exit with its outcome."""
    chosen = _app_and_job(ctx, app_ref, job_name)
    if chosen is None:
        return
    app, reference, job = chosen
    extra = [click.Option(["--partition", "-p"], help="partition key, e.g. 2021-04-22"),
             click.Option(["--json"], is_flag=True, help="print the finished run as JSON")]
    options = (_common(extra) + job_options(job)
               + settings_options(app.settings.values(), set(job.params)))
    example = (f"cauce run {app.name} {job.name}"
               + (" --partition 2021-04-22" if job.partitions else ""))
    values = _parse(f"cauce run {app.name} {job.name}", options, ctx.args,
                    f"{job.description or 'Run job ' + job.name + '.'}\n\nExample: {example}")
    if values is None:
        return
    params = clean({k: values.get(k) for k in job.params})
    try:  # a value out of its bounds is a usage error, as one click refuses
        check_params(job, params)
    except ConfigError as err:
        console.print_error(err)
        raise typer.Exit(2) from None
    handler = console.show_logs(logging.INFO, general=False)
    stopper = Stopper(threading.Event())
    try:
        with _runtime(app, reference, values, _settings(app, values, set(job.params)),
                      "foreground") as rt, _progress_bar() as bar:
            handler.hide(rt.secrets())
            rt.on_progress(bar)
            stopper.install()
            run = run_foreground(rt, job, values["partition"], params, stopper, in_child=True)
            if rt.executors.remote(job) is not None or runs_in_child(rt, job):
                # it logged on the cluster or in its child process: show it now
                handler.show_stored(rt.logs(run.id))
        _report(run, values["json"], handler.secrets)  # before a late Ctrl-C can stop it
    finally:
        stopper.restore(exiting=GLOBALS.exiting)
        logging.getLogger().removeHandler(handler)
    if not run.succeeded:
        raise typer.Exit(stopper.exit_status or 1)


def _report(run: Run, as_json: bool, secrets: Sequence[str]) -> None:
    """The finished run, as JSON or as its summary line and result."""
    if as_json:
        console.print_json(console.run_dict(run))
        return
    console.err.print(console.masked(console.summary_line(run), secrets), soft_wrap=True)
    if run.result is not None:
        console.print_json(run.result)


def backfill_job(ctx: typer.Context, app_ref: str | None, job_name: str | None) -> None:
    """``cauce backfill APP JOB --from --to [OPTIONS]``: run a partitioned job for a range of
    partitions and report each partition's outcome."""
    chosen = _app_and_job(ctx, app_ref, job_name, "backfill")
    if chosen is None:
        return
    app, reference, job = chosen
    extra = [click.Option(["--from", "first"], required=True,
                          help="first partition: a day YYYY-MM-DD, or a month YYYY-MM"),
             click.Option(["--to", "last"],
                          help="last partition (inclusive): a day, or a month for all its days "
                          "[default: the newest that has ended]"),
             click.Option(["--parallel"], type=click.IntRange(1, 256),
                          help="partitions run at once [default: 1, or the threads of "
                          "the Dask cluster]"),
             click.Option(["--force"], is_flag=True,
                          help="run partitions that already succeeded too")]
    example = (f"cauce backfill {app.name} {job.name} --from 2021-01-01 --to 2021-01-31 "
               "--parallel 2")
    values = _parse(f"cauce backfill {app.name} {job.name}", _common(extra) + settings_options(
        app.settings.values(), set()), ctx.args,
        f"Run {job.name} for every partition from --from to --to; "
        "those that succeeded are skipped."
        f"\n\nExample: {example}")
    if values is None:
        return
    handler = console.show_logs(logging.WARNING)
    try:
        with _runtime(app, reference, values, _settings(app, values), "backfill") as rt, \
                terminated_as_interrupted():
            handler.hide(rt.secrets())
            report = _backfill_with_bar(rt, job, values)
    except BackfillInterrupted as stop:  # its runs in hand ended (or were given back)
        name, status = stopped_by(stop.interrupt)
        console.print_error(CauceError(
            f"backfill of {job.name} interrupted by {name}: {_interrupted_counts(stop.report)}"
            "the partitions it had not run stay queued",
            hint="run the same command again to resume (partitions that succeeded are "
            "skipped)"))
        raise typer.Exit(status) from None
    except KeyboardInterrupt as stop:  # a second one, while the runs in hand had their grace
        name, status = stopped_by(stop)
        console.print_error(CauceError(
            f"backfill of {job.name} stopped at once by {name}: the partitions it had not run "
            "stay queued, any run in hand was cut short",
            hint="run the same command again to resume: it takes back the runs cut short and "
            "runs them again (partitions that succeeded are skipped)"))
        exit_at_once(status)
    finally:
        logging.getLogger().removeHandler(handler)
    console.out.print(f"{job.name}: {len(report.succeeded)} succeeded, "
                      f"{len(report.failed)} failed, "
                      f"{len(report.skipped)} skipped (already succeeded) "
                      f"in {format_duration(report.seconds)}")
    for key, error in report.failed.items():
        console.err.print(f"  [red]✗[/] {key}: "
                          f"{escape(console.masked(error, handler.secrets))}")
    if report.failed:
        console.err.print("[yellow]hint:[/] run the same command again to retry the failed "
                          f"partitions; see `cauce runs --app {app.name} --job {job.name} "
                          "--status dead-lettered`")
        raise typer.Exit(1)


def _interrupted_counts(report: BackfillReport) -> str:
    """What an interrupted backfill did, counted once its runs in hand ended."""
    total = len(report.succeeded) + len(report.failed) + len(report.queued)
    failed = f", {len(report.failed)} failed" if report.failed else ""
    return f"{len(report.succeeded)} of {total} partition(s) succeeded{failed}; "


def _backfill_with_bar(rt: Runtime, job: Job, values: dict[str, Any]) -> Any:
    # The bar appears with the first progress report, so a range refused up front shows only its
    # error.
    bar: list[tuple[Progress, Any]] = []

    def update(done: int, total: int) -> None:
        if not bar:
            progress = _new_progress("[bold]{task.description}", transient=False)
            progress.start()
            bar.append((progress, progress.add_task(f"backfill {job.name}", total=total)))
        progress, task = bar[0]
        progress.update(task, completed=done, total=total)

    try:
        return backfill(rt, job, values["first"], values["last"], parallel=values["parallel"],
                        force=values["force"], progress=update)
    finally:
        for progress, _ in bar:
            progress.stop()


def _new_progress(description: str, *, transient: bool) -> Progress:
    """A progress bar on stderr; rich.progress is imported only by the runs that show one."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console.err, transient=transient)


class _progress_bar:
    """A progress bar that appears once a run reports progress (`ctx.progress`)."""

    def __enter__(self) -> Callable[[str, float, float | None, str], None]:
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        return self.update

    def update(self, run_id: str, done: float, total: float | None, label: str) -> None:
        if self._progress is None:
            self._progress = _new_progress("{task.description}", transient=True)
            self._progress.start()
        task = self._tasks.get(run_id)
        if task is None:
            task = self._tasks[run_id] = self._progress.add_task(label or run_id, total=total)
        self._progress.update(task, completed=done, total=total, description=label or run_id)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def serve(ctx: typer.Context, app_ref: str | None, *, scheduler: bool) -> None:
    """``cauce serve`` (with the scheduler) or ``cauce worker`` (without) until stopped."""
    loaded = _app_or_help(ctx, app_ref)
    if loaded is None:
        return
    app, reference = loaded
    verb = "serve" if scheduler else "worker"
    extra = [click.Option(["--for", "duration"], type=DurationOption(positive=True),
                          help="stop after this long, e.g. 30s, 2h"),
             click.Option(["--threads"], type=click.IntRange(1, 512), default=8, show_default=True,
                          help="worker threads"),
             click.Option(["--processes"], type=click.IntRange(1, 256), default=None,
                          help="process workers for worker='process' jobs [default: CPU count]"),
             click.Option(["--grace"], type=DurationOption(), default="30s", show_default=True,
                          help="on stop, how long to let running work finish "
                          "before giving it back")]
    if scheduler:
        extra += ui_options()
    values = _parse(f"cauce {verb} {app.name}",
                    _common(extra) + settings_options(app.settings.values(), set()), ctx.args,
                    f"cauce {verb} for app {app.name}.\n\n"
                    f"Example: cauce {verb} {app.name} --for 30s")
    if values is None:
        return
    duration = values["duration"]  # checked by its option: refused before anything starts
    timeout = parse_duration(duration, what="--for") if duration else None
    grace = parse_duration(values["grace"], what="--grace")
    handler = console.show_logs(logging.INFO, general_only=True)
    ui = None
    try:
        with _runtime(app, reference, values, _settings(app, values), verb) as rt:
            handler.hide(rt.secrets())
            _banner(rt, verb)
            ui = start_served_ui(rt, values) if scheduler else None
            rt.serve(timeout=timeout, threads=values["threads"], processes=values["processes"],
                     scheduler=scheduler, grace=grace, handle_signals=True, on_ready=_ready)
    except KeyboardInterrupt:
        console.print_error(CauceError(
            "stopped at once on a second interrupt",
            hint="unfinished work is delivered again when its leases expire"))
        exit_at_once(130)
    finally:
        if ui is not None:
            ui.stop()
            ui.home.close()
        logging.getLogger().removeHandler(handler)


def _banner(rt: Runtime, verb: str) -> None:
    app = rt.app
    console.err.print(f"[bold]cauce {verb}[/] {app.name}  home={escape(str(rt.home))}  "
                      f"worker={escape(rt.worker_id)}")
    if verb == "serve":
        from ..runtime.scheduler import Scheduler

        for name, schedule in Scheduler(rt).schedules.items():
            console.err.print(f"  schedule {name}: {schedule.spec}")
        for state in rt.schedule_states():
            if state["paused"]:
                console.err.print(f"  [yellow]paused[/] {state['job']}: {escape(state['paused'])} "
                                  f"(cauce schedules {app.name} --resume {state['job']})")
    handlers = ", ".join(f"{h.name}←{h.resource.kind} {h.resource.name}"
                         for h in app.handlers.values())
    if handlers:
        console.err.print(f"  handlers: {handlers}")


def _ready() -> None:
    # Printed once the signal handlers exist: from here SIGTERM stops gracefully. Scripts wait
    # for this line (docs/cli.md).
    console.err.print(f"ready {datetime.now().astimezone():%Y-%m-%d %H:%M:%S}: "
                      "Ctrl-C or SIGTERM stops gracefully", markup=False)
