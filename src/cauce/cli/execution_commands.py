"""``cauce run``, ``serve``, ``worker`` and ``backfill`` as the command line declares them: their
arguments and help, light to import; what they do is in `cauce.cli.execution`, imported when one
of them runs (it brings click, the runtime and the app, which ``cauce --help`` does not need).
"""

from __future__ import annotations

import typer

# The options after APP and JOB depend on the app and the job: they are parsed by the command.
DYNAMIC = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def register(cli: typer.Typer) -> None:
    """Add the execution commands to ``cli``."""

    @cli.command("run", context_settings=DYNAMIC, add_help_option=False)
    def run_command(
        ctx: typer.Context,
        app_ref: str = typer.Argument(None, metavar="APP",
                                      help="bundled app name or module:attribute"),
        job_name: str = typer.Argument(None, metavar="JOB"),
    ) -> None:
        """Run one job now, in the foreground, with its log on the terminal.

        Example: cauce run census load --source Adult.data --source Adult.test --db sqlite:///census.db
        """
        from .execution import run_job

        run_job(ctx, app_ref, job_name)

    @cli.command("serve", context_settings=DYNAMIC, add_help_option=False)
    def serve_command(ctx: typer.Context,
                      app_ref: str = typer.Argument(None, metavar="APP")) -> None:
        """Run the scheduler, the event dispatcher and workers until stopped (Ctrl-C or SIGTERM).

        Example: cauce serve census --every 0 --db sqlite:///c.db
        """
        from .execution import serve

        serve(ctx, app_ref, scheduler=True)

    @cli.command("worker", context_settings=DYNAMIC, add_help_option=False)
    def worker_command(ctx: typer.Context,
                       app_ref: str = typer.Argument(None, metavar="APP")) -> None:
        """Run an extra worker process on the same home (no scheduler): more hands for the queues.

        Example: cauce worker opendata --threads 16
        """
        from .execution import serve

        serve(ctx, app_ref, scheduler=False)

    @cli.command("backfill", context_settings=DYNAMIC, add_help_option=False)
    def backfill_command(
        ctx: typer.Context,
        app_ref: str = typer.Argument(None, metavar="APP"),
        job_name: str = typer.Argument(None, metavar="JOB"),
    ) -> None:
        """Run a partitioned job for a range of partitions; partitions that succeeded are skipped.

        Example: cauce backfill transit adatrap --from 2021-01-01 --to 2021-03-31 --parallel 2
        """
        from .execution import backfill_job

        backfill_job(ctx, app_ref, job_name)
