"""``cauce ui``: the web UI over a home, for every bundled app or the apps named."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CauceError
from . import console
from .state import home_option_value

TOKEN_ENV = "CAUCE_UI_TOKEN"


def web_server() -> object:
    """The web package, or a clear line saying how to install it."""
    try:
        from .. import web
    except ImportError as err:
        raise CauceError(f"the web UI needs {err.name}, which is not installed",
                         hint="pip install 'cauce[ui]'") from None
    return web


def register(cli: typer.Typer) -> None:
    @cli.command("ui")
    def ui_command(
        apps: list[str] = typer.Argument(None, metavar="[APP]...",
                                         help="apps to show: bundled names or module:attribute "
                                         "[default: every bundled app]"),
        host: str = typer.Option("127.0.0.1", "--host",
                                 help="address to listen on; beyond loopback a token is "
                                 "required"),
        port: int = typer.Option(8765, "--port", help="port to listen on (0: any free port)"),
        token: str = typer.Option(None, "--token", envvar=TOKEN_ENV,
                                  help=f"require this token on every request [env {TOKEN_ENV}]"),
        home: Path = typer.Option(None, "--home", help="cauce home folder "
                                  "[default: .cauce, or CAUCE_HOME]"),
    ) -> None:
        """Open the web UI: runs, live logs, the graph, partitions, queues and dead letters, data,
        dashboards. Stop it with Ctrl-C.

        Example: cauce --home cauce-demo ui
        """
        web = web_server()
        server = web.open_ui(home_option_value(home), apps or [], host=host,  # type: ignore[attr-defined]
                             port=port, token=token or None)
        try:
            server.start()
            console.err.print(f"[bold]cauce ui[/] on {server.home.path} "
                              f"({', '.join(server.home.app_names)}) — Ctrl-C stops it")
            console.out.print(server.url, markup=False, highlight=False)
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            server.home.close()
