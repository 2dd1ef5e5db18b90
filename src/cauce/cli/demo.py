"""``cauce demo``: every bundled app's demo in a fresh home, on the embedded defaults, offline."""

from __future__ import annotations

import os
import shlex
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .. import causes
from ..errors import CauceError
from ..textfiles import real_path
from . import console
from .console import escape
from .home import GLOBALS, home_option_path
from .loading import bundled_apps, load_app
from .signals import stopped_by, terminated_as_interrupted

if TYPE_CHECKING:
    from ..app import App
    from ..runtime.runtime import Runtime

MARKER = ".cauce-demo"


def _fresh(home: Path) -> bool:
    """Make ``home`` a new, empty demo home; True when it replaced an earlier demo there."""
    if home.exists() and not home.is_dir():
        raise CauceError(f"{home} is a file, not a folder, so the demo cannot use it",
                         hint="pass --home with a new folder name")
    replaced = (home / MARKER).exists()
    if not replaced and home.exists() and any(home.iterdir()):
        raise CauceError(f"{home} exists and is not a demo home, so it is left alone",
                         hint="pass --home with a new folder name")
    if replaced:
        _refuse_a_home_in_use(home)
    try:
        if replaced:
            _remove_demo_home(home)
        home.mkdir(parents=True, exist_ok=True)
        (home / MARKER).write_text("created by `cauce demo`; deleted and recreated by the "
                                   "next one\n")
    except OSError as err:
        raise CauceError(f"cannot make the demo home {home}: {err.strerror or err}",
                         hint="run the demo in a folder you can write to, or pass --home "
                         "with one") from err
    return replaced


def _refuse_a_home_in_use(home: Path) -> None:
    """A CauceError when a live process (`cauce serve`, `worker`, `run`, another demo) uses
    the earlier demo home: deleted under it, it would go on writing to files no command sees."""
    from ..backends.state import open_state, sqlite_url
    from ..runtime.foreground import ROLE, alive

    if not (home / "state.db").exists():
        return
    try:
        state = open_state(sqlite_url(home / "state.db"))
    except (CauceError, OSError):  # a state that cannot be opened has no live process to tell
        return
    try:
        live = [w for w in state.workers.listing() if alive(w, time.time())]
    finally:
        state.close()
    if live:
        worker = live[0]
        command = "run" if worker.role == ROLE else worker.role
        raise CauceError(f"`cauce {command}` of {worker.app} (pid {worker.pid} on {worker.host}) "
                         f"is live on {home}: the demo would delete the home under it",
                         hint=f"stop it (Ctrl-C, or kill -TERM {worker.pid}), then run the "
                         "demo again; or pass --home with a new folder name")


def _remove_demo_home(home: Path) -> None:
    """Delete an earlier demo home, its marker last: a deletion cut short (Ctrl-C, a kill)
    leaves a folder the next demo still knows as its own, not one it refuses to touch."""
    for child in home.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    shutil.rmtree(home)


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
        home: Path = typer.Option(None, "--home", metavar="<path>",
                                  parser=home_option_path,
                                  help="folder for the demo (an earlier demo there is "
                                  "replaced; any other folder must be empty) "
                                  "[default: ./cauce-demo]"),
        only: list[str] = typer.Option(None, "--app", metavar="<app>",
                                   help="run only this app's demo (repeat for "
                                   "several)"),
    ) -> None:
        """Run every bundled app's demo on generated data, with no network, and show what it made.

        Example: cauce demo --app census
        """
        from ..settings import working_folder

        working_folder()  # where ./cauce-demo is, and the demo comes back to after each app
        # `cauce --home X demo` as `cauce demo --home X`: the global option went unread, and
        # the demo replaced ./cauce-demo instead (CAUCE_HOME stays unread, as documented)
        home = real_path(home or GLOBALS.home or Path("cauce-demo"))
        apps = bundled_apps()
        if only:
            unknown = [a for a in only if a not in apps]
            if unknown:
                load_app(unknown[0])  # raises NotFound with a suggestion
            apps = {name: ref for name, ref in apps.items() if name in only}
        replaced = _fresh(home)
        console.err.print(f"[bold]cauce demo[/] in {escape(str(home))}"
                          + (", replacing the earlier demo there" if replaced else ""),
                          soft_wrap=True)
        failures: list[str] = []
        hinted = True  # every failure came with a hint of its own, said under its line
        summaries: list[tuple[App, list[str]]] = []
        current = ""
        try:
            with terminated_as_interrupted():
                for current in apps:
                    outcome = _run_demo(current, home)
                    if isinstance(outcome, _Failed):
                        failures.append(current)
                        hinted = hinted and outcome.hinted
                    else:
                        summaries.extend(outcome)
        except KeyboardInterrupt as stop:
            name, status = stopped_by(stop)
            console.print_error(CauceError(
                f"the demo was interrupted by {name} during {current}: {home} holds only "
                "part of it", hint="run the same command again: it starts over in a fresh "
                "folder"))
            raise typer.Exit(status) from None
        prefix, command = _command(home)
        for app, lines in summaries:
            console.out.print(f"\n[bold cyan]{app.name}[/]")
            for line in lines:
                console.out.print(f"  {line.replace(prefix + ' ', command + ' ')}", markup=False,
                                  highlight=False, soft_wrap=True)
        if summaries:
            _print_look_around(command, [app for app, _ in summaries])
        if failures:
            raise CauceError(f"the demo of {', '.join(failures)} failed",
                             hint="do as the hint above says, then run the demo again"
                             if hinted else "run with --debug for a traceback")


@dataclass(frozen=True)
class _Failed:
    """An app's demo failed; ``hinted``: its line came with a hint (a full disk, a limit)."""

    hinted: bool


def _run_demo(name: str, home: Path) -> list[tuple[App, list[str]]] | _Failed:
    """Run one app's demo in ``home``, saying how it went: its summary lines (none for an app
    without a demo), or _Failed when it failed (its traceback shown with --debug, and the hint
    its error carries, or that of the machine's limit it ran into, under its line)."""
    from ..runtime.runtime import Runtime
    from ..settings import ConfigSources

    app, reference = load_app(name)
    hook = app.demo_hook
    if hook is None:
        return []
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
        if console.debugging():
            traceback.print_exc()
        message = (err.message if isinstance(err, CauceError)
                   else f"{type(err).__name__}: {err}")
        console.err.print(f"[red]✗ {name}[/] failed after "
                          f"{time.monotonic() - started:.1f}s: {escape(message)}")
        hint = err.hint if isinstance(err, CauceError) else None
        if hint is None and (cause := causes.of(err)) is not None:
            hint = str(cause)
        if hint:
            console.err.print(f"  [yellow]hint:[/] {escape(hint)}", soft_wrap=True)
        return _Failed(hinted=hint is not None)
    finally:
        os.chdir(previous)
    console.err.print(f"[green]✓ {name}[/] in {time.monotonic() - started:.1f}s")
    return [(app, lines)]


def _command(home: Path) -> tuple[str, str]:
    """How the apps' demos begin the commands they print (``cauce --home HOME``), and how
    they must begin where the user runs the demo: with ``--state`` too when a state store is
    set there (``cauce.toml``, ``.env``, ``CAUCE_STATE``), which the demo does not use and
    the printed commands would read in place of its own — saying so."""
    from ..backends.state import sqlite_url
    from ..settings import ConfigSources

    prefix = f"cauce --home {shlex.quote(str(home))}"
    try:
        configured, where = ConfigSources.discover().state()
    except CauceError:  # a cauce.toml that cannot be read: the commands will say why
        return prefix, prefix
    if configured is None:
        return prefix, prefix
    console.err.print(f"{escape(where)} sets another state store: the demo kept its own in "
                      f"{escape(str(home))}, and the commands below name it with --state",
                      soft_wrap=True)
    return prefix, f"{prefix} --state {shlex.quote(sqlite_url(home / 'state.db'))}"


def _print_look_around(command: str, apps: list[App]) -> None:
    """Commands to look at what the demos made, each naming an app that ran, so that each
    runs as printed."""
    from ..resources.stream import Stream

    first = apps[0].name
    streaming = next((app.name for app in apps
                      if any(isinstance(r, Stream) for r in app.resources.values())), None)
    console.out.print("\n[bold]Look around[/]")
    for words in ("runs --limit 20", f"logs general --app {first}", f"queues {first}",
                  *([f"streams {streaming}"] if streaming else []),
                  "ui    # then open http://127.0.0.1:8765/ in a browser"):
        console.out.print(f"  {command} {words}", markup=False, highlight=False,
                          soft_wrap=True)
