"""Options every command shares (``--home``, ``--debug``), opening a home for inspection, and
the `cauce state` commands that look after the state database itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.markup import escape

from ..backends.local import statefile
from ..backends.local.sqlite import StateDB
from ..errors import NotFound
from ..settings import ConfigSources
from . import console


@dataclass
class Globals:
    home: Path | None = None
    debug: bool = False


GLOBALS = Globals()


def home_option_value(value: Path | None) -> Path:
    """The home to use: the command's --home, the global --home, CAUCE_HOME / config, or .cauce."""
    chosen = value or GLOBALS.home
    if chosen is not None:
        return Path(chosen).resolve()
    configured, _ = ConfigSources.discover().home()
    return Path(configured or ".cauce").resolve()


def open_state(value: Path | None) -> StateDB:
    """The state database of an existing home (for commands that only inspect)."""
    home = home_option_value(value)
    path = home / "state.db"
    if not path.exists():
        raise _no_home(home)
    return StateDB(path)


def register(cli: typer.Typer) -> None:
    """Add the `cauce state` group: look after the state database itself."""
    state_cli = typer.Typer(help="Look after the state database: check it, back it up.\n\n"
                            "Example: cauce state check", no_args_is_help=True)
    cli.add_typer(state_cli, name="state")

    @state_cli.command("check")
    def check(home: Path = typer.Option(None, "--home", help="cauce home folder "
                                        "[default: .cauce, or CAUCE_HOME]")) -> None:
        """Check the state database: SQLite's integrity check, cauce's tables and version.

        Exit status 0 when it is sound, 1 when it is damaged. Example: cauce state check --home /srv/cauce
        """  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
        path = _state_path(home)
        verdict = StateDB.examine(path)
        if verdict.sound:
            counts = verdict.counts
            console.out.print(f"{path}: sound (schema version {verdict.version}; "
                              f"{counts['messages']:,} message(s) in queues, "
                              f"{counts['runs']:,} run(s), {counts['items']:,} table item(s), "
                              f"{counts['logs']:,} log line(s))", markup=False, soft_wrap=True)
            return
        console.out.print(f"{path}: damaged", markup=False, soft_wrap=True)
        for problem in verdict.problems:
            console.out.print(f"  {problem}", markup=False, soft_wrap=True)
        console.err.print(f"[yellow]hint:[/] {escape(statefile.recovery_hint(path))}",
                          soft_wrap=True)
        raise typer.Exit(1)

    @state_cli.command("backup")
    def backup(target: Path = typer.Argument(..., metavar="FILE", help="the copy to write"),
               home: Path = typer.Option(None, "--home", help="cauce home folder "
                                         "[default: .cauce, or CAUCE_HOME]")) -> None:
        """Copy the state database, consistently, while serving processes keep working.

        Restore a copy by putting it back as <home>/state.db while nothing runs.
        Example: cauce state backup /backups/state-2021-04-22.db
        """
        db = open_state(home)
        try:
            db.backup(target)
        finally:
            db.close()
        console.out.print(f"backed up {db.path} to {target}", markup=False, soft_wrap=True)


def _state_path(value: Path | None) -> Path:
    home = home_option_value(value)
    path = home / "state.db"
    if not path.exists():
        raise _no_home(home)
    return path


def _no_home(home: Path) -> NotFound:
    return NotFound(f"no cauce home at {home} (nothing has run there yet)",
                    hint="pass --home (or set CAUCE_HOME) to the folder `cauce serve`/`run` used")
