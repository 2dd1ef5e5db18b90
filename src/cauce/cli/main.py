"""Entry point of the `cauce` command: global options, command groups, and error handling.

Library errors become one line and a hint on stderr with exit status 1; usage errors exit 2;
an interrupt exits 130. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import typer

from ..errors import CauceError
from . import config, console, demo, dlq, execution, feed, logs, migrate, queues, runs, state, ui
from .home import GLOBALS

cli = typer.Typer(
    name="cauce",
    help="Cloud-style data pipelines — buckets, queues, topics, tables, streams, warehouses, "
    "schedules — as plain Python, on one machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"max_content_width": 100},
)


@cli.callback()
def main_options(
    home: Path = typer.Option(None, "--home", help="cauce home folder for every command "
                              "[default: .cauce, or CAUCE_HOME]"),
    state_url: str = typer.Option(None, "--state", metavar="URL",
                                  help="the state store [default: sqlite:///<home>/state.db, "
                                  "or CAUCE_STATE]"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
) -> None:
    GLOBALS.home = home
    GLOBALS.state = state_url
    GLOBALS.debug = debug


execution.register(cli)
cli.add_typer(runs.runs_cli, name="runs")
cli.command("logs")(logs.logs_command)
cli.command("queues")(queues.queues_command)
cli.add_typer(dlq.dlq_cli, name="dlq")
cli.command("schedules")(queues.schedules_command)
cli.command("config")(config.config_command)
cli.command("apps")(config.apps_command)
cli.command("send")(feed.send_command)
cli.command("publish")(feed.publish_command)
cli.command("put")(feed.put_command)
demo.register(cli)
cli.add_typer(state.state_cli, name="state")
cli.command("migrate")(migrate.migrate_command)
ui.register(cli)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    command = typer.main.get_command(cli)
    try:
        # Without standalone mode click returns the status of an Exit instead of raising it.
        status = command.main(args=args, prog_name="cauce", standalone_mode=False)
    except (typer.Exit, click.exceptions.Exit) as done:
        return int(getattr(done, "exit_code", 0) or 0)
    except (typer.Abort, click.exceptions.Abort):
        console.err.print("aborted")
        return 130
    except (click.ClickException, typer.TyperException) as err:
        # usage errors, from typer's own parser or from the options built per app and job
        err.show()  # type: ignore[union-attr]
        return int(getattr(err, "exit_code", 2))
    except CauceError as err:
        if debug:
            raise
        console.print_error(err)
        return 1
    except KeyboardInterrupt:
        console.err.print("interrupted")
        return 130
    return status if isinstance(status, int) else 0


def run() -> None:
    """The console script: exit with `main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    run()
