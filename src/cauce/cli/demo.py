"""``cauce demo``: every bundled app's demo in a fresh home, on the embedded defaults, offline."""

from __future__ import annotations

import os
import shlex
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import CauceError
from ..textfiles import real_path
from . import console
from .console import escape
from .home import home_option_path
from .loading import bundled_apps, load_app

if TYPE_CHECKING:
    from ..runtime.runtime import Runtime

MARKER = ".cauce-demo"


def _fresh(home: Path) -> None:
    if home.exists():
        if (home / MARKER).exists():
            shutil.rmtree(home)
        elif any(home.iterdir()):
            raise CauceError(f"{home} exists and is not a demo home, so it is left alone",
                             hint="pass --home with a new folder name")
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("created by `cauce demo`; deleted and recreated by the next one\n")


def _check_nothing_dead_lettered(rt: Runtime) -> None:
    """A demo that dead-letters work did not show what it claims: say so, and where."""
    dead = {row["queue"]: row["dlq"] for row in rt.queue_stats() if row["dlq"]}
    if dead:
        queues = ", ".join(f"{name} ({count})" for name, count in dead.items())
        raise CauceError(f"its demo left dead letters in {queues}",
                         hint=f"cauce --home {shlex.quote(str(rt.home))} logs general --app "
                         f"{rt.app.name}")


def register(cli: typer.Typer) -> None:
    @cli.command("demo")
    def demo_command(
        home: Path = typer.Option(Path("cauce-demo"), "--home", metavar="<path>",
                                  parser=home_option_path,
                                  help="folder for the demo (recreated each time)"),
        only: list[str] = typer.Option(None, "--app", help="run only these apps' demos"),
    ) -> None:
        """Run every bundled app's demo on generated data, with no network, and show what it made.

        Example: cauce demo --app census
        """
        from ..runtime.runtime import Runtime
        from ..settings import ConfigSources

        home = real_path(home)
        apps = bundled_apps()
        if only:
            unknown = [a for a in only if a not in apps]
            if unknown:
                load_app(unknown[0])  # raises NotFound with a suggestion
            apps = {name: ref for name, ref in apps.items() if name in only}
        _fresh(home)
        console.err.print(f"[bold]cauce demo[/] in {escape(str(home))}")
        failures, summaries = [], []
        for name in apps:
            app, reference = load_app(name)
            hook = app.demo_hook
            if hook is None:
                continue
            settings = {k: v.format(home=home) if isinstance(v, str) else v
                        for k, v in hook.settings.items()}
            started = time.monotonic()
            previous = Path.cwd()
            try:
                os.chdir(home)  # relative defaults (files, databases) land inside the demo home
                with console.err.status(f"[bold]{name}[/]: running its demo…"), Runtime(
                    app, home=home, settings=settings, config=ConfigSources(environ={}),
                    app_ref=reference, role="demo",
                ) as rt:
                    lines = hook.func(rt) or []
                    _check_nothing_dead_lettered(rt)
            except Exception as err:  # report each app's failure and go on with the next
                failures.append(name)
                message = (err.message if isinstance(err, CauceError)
                           else f"{type(err).__name__}: {err}")
                console.err.print(f"[red]✗ {name}[/] failed after "
                                  f"{time.monotonic() - started:.1f}s: {escape(message)}")
                continue
            finally:
                os.chdir(previous)
            console.err.print(f"[green]✓ {name}[/] in {time.monotonic() - started:.1f}s")
            summaries.append((name, lines))
        for name, lines in summaries:
            console.out.print(f"\n[bold cyan]{name}[/]")
            for line in lines:
                console.out.print(f"  {line}", markup=False, highlight=False)
        console.out.print("\n[bold]Look around[/]")
        for command in ("runs --limit 20", "logs general --app <app>", "queues <app>",
                        "streams <app>",
                        "ui    # then open http://127.0.0.1:8765/ in a browser"):
            console.out.print(f"  cauce --home {shlex.quote(str(home))} {command}", markup=False)
        if failures:
            raise CauceError(f"the demo of {', '.join(failures)} failed",
                             hint="run with --debug for a traceback")
