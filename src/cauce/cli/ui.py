"""``cauce ui``: the web UI over a home, for every bundled app or the apps named."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import CauceError
from . import console, stdio
from .demo import MARKER as DEMO_MARKER
from .home import (
    HOME_HELP,
    StateOption,
    home_option_path,
    home_option_value,
    refuse_a_file,
    state_url,
)
from .signals import stopped_by, terminated_as_interrupted

if TYPE_CHECKING:
    import click

TOKEN_ENV = "CAUCE_UI_TOKEN"
BASE_PATH_ENV = "CAUCE_UI_BASE_PATH"
BASE_PATH_HELP = ("the path prefix a reverse proxy serves the UI under, e.g. /cauce "
                  f"[env {BASE_PATH_ENV}]")


def ui_opener() -> Callable[..., Any]:
    """`cauce.web.open_ui`, or one line saying how to install what the UI needs."""
    try:
        from ..web import open_ui
    except ImportError as err:
        raise CauceError(f"the web UI needs {err.name}, which is not installed",
                         hint="pip install 'cauce[ui]'") from None
    return open_ui


def start_ui(home: Path, apps: list[str] | None, *, host: str, port: int, token: str | None,
             attached: Sequence[Any] = (), state: str | None = None,
             base_path: str = "") -> Any:
    """Start the UI in a background thread and print its address; returns the server."""
    from ..settings import environment_text

    if token:  # a CR left by the command line is gone already: this one is the environment's
        token = environment_text(TOKEN_ENV, token)
    server = ui_opener()(home, apps, attached=attached, host=host, port=port,
                         token=token or None, state=state, base_path=base_path or "")
    try:
        server.start()
    except BaseException:
        server.home.close()
        raise
    console.err.print(f"[bold]cauce ui[/] on {console.escape(str(server.home.path))} "
                      f"({', '.join(server.home.app_names)})")
    try:
        console.out.print(server.url, markup=False, highlight=False)
    except stdio.OutputFailed as failure:
        # a server started with stdout closed or full (`cauce ui >&- &`) serves all the same:
        # its address is said where it can be
        stdio.silence("stdout")
        if not failure.broken_pipe:
            console.err.print(f"{server.url} (stdout: {failure.strerror})", markup=False,
                              highlight=False)
    return server


def register(cli: typer.Typer) -> None:
    @cli.command("ui")
    def ui_command(
        apps: list[str] = typer.Argument(None, metavar="[APP]...",
                                         help="apps to show: bundled names or module:attribute "
                                         "[default: every bundled app]"),
        host: str = typer.Option("127.0.0.1", "--host",
                                 help="address to listen on; beyond loopback a token is "
                                 "required"),
        port: int = typer.Option(8765, "--port", min=0, max=65535,
                                 help="port to listen on (0: any free port)"),
        token: str = typer.Option(None, "--token", envvar=TOKEN_ENV,
                                  help=f"require this token on every request [env {TOKEN_ENV}]"),
        base_path: str = typer.Option("", "--base-path", envvar=BASE_PATH_ENV,
                                      metavar="<path>", help=BASE_PATH_HELP),
        home: Path = typer.Option(None, "--home", metavar="<path>", parser=home_option_path,
                                  help=HOME_HELP),
        state_option: str = StateOption,
    ) -> None:
        """Open the web UI: runs, live logs, the graph, partitions, queues and dead letters, data,
        dashboards. Stop it with Ctrl-C.

        Example: cauce --home cauce-demo ui
        """
        chosen = home_option_value(home)
        refuse_a_file(chosen)
        if (chosen / DEMO_MARKER).is_file():
            # `cauce demo` runs inside its home, so relative locations (sqlite:///census.db)
            # are there: read them from there too
            os.chdir(chosen)
        server = start_ui(chosen, apps or None, host=host, port=port, token=token,
                          state=state_url(chosen, state_option), base_path=base_path)
        stopped = None
        try:
            with terminated_as_interrupted():  # before saying so: a stop sent on that line
                console.err.print("Ctrl-C or SIGTERM stops it")  # is one then
                server.wait()
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (`Terminated`): its normal end
            stopped, _ = stopped_by(stop)
        finally:
            server.stop()
            server.home.close()
        if stopped:  # said once it is so, as `cauce serve` says it stopped
            console.err.print(f"cauce ui stopped by {stopped}")


def ui_options() -> list[click.Parameter]:
    """The options `cauce serve` takes to start the UI beside it."""
    import click  # with the options of the app served, which click parses

    return [click.Option(["--ui"], is_flag=True, help="also serve the web UI (needs cauce[ui])"),
            click.Option(["--ui-host"], default="127.0.0.1", show_default=True,
                         help="address of the UI"),
            click.Option(["--ui-port"], type=click.IntRange(0, 65535), default=8765,
                         show_default=True,
                         help="port of the UI (0: any free port)"),
            click.Option(["--ui-base-path"], default="", envvar=BASE_PATH_ENV,
                         metavar="<path>", help=BASE_PATH_HELP)]


def start_served_ui(rt: Any, values: dict[str, Any]) -> Any:
    """With --ui, the UI over the serving runtime's home, showing its app; else None."""
    if not values.get("ui"):
        return None
    return start_ui(rt.home, [], host=values["ui_host"], port=values["ui_port"],
                    token=os.environ.get(TOKEN_ENV), attached=[rt],
                    base_path=values.get("ui_base_path") or "")
