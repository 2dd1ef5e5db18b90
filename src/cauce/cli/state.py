"""``cauce state``: look after the state store itself — check it, back it up."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..backends.state import engine
from . import console
from .home import HomeOption, StateOption, existing_state, inspected

state_cli = typer.Typer(help="Look after the state store: check it, back it up.\n\n"
                        "Example: cauce state check", no_args_is_help=True)


@state_cli.command("check")
def check(home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Check the state store: SQLite's integrity check, cauce's tables and version.

    Exit status 0 when it is sound, 1 when it is damaged. Example: cauce state check --home /srv/cauce
    """  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
    _, url = existing_state(home, state_option)
    verdict = engine(url).examine(url)
    if verdict.sound:
        counts = verdict.counts
        console.out.print(f"{verdict.where}: sound (schema version {verdict.version}; "
                          f"{counts['messages']:,} message(s) in queues, "
                          f"{counts['runs']:,} run(s), {counts['items']:,} table item(s), "
                          f"{counts['logs']:,} log line(s))", markup=False, soft_wrap=True)
        return
    console.out.print(f"{verdict.where}: damaged", markup=False, soft_wrap=True)
    for problem in verdict.problems:
        console.out.print(f"  {problem}", markup=False, soft_wrap=True)
    if verdict.hint:
        console.err.print(f"[yellow]hint:[/] {escape(verdict.hint)}", soft_wrap=True)
    raise typer.Exit(1)


@state_cli.command("backup")
def backup(target: Path = typer.Argument(..., metavar="FILE", help="the copy to write"),
           home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Copy the state store, consistently, while serving processes keep working.

    Restore a copy by putting it back as <home>/state.db while nothing runs.
    Example: cauce state backup /backups/state-2021-04-22.db
    """
    with inspected(home, state_option) as state:
        state.backup(target)
    console.out.print(f"backed up {state.url.removeprefix('sqlite:///')} to {target}",
                      markup=False)
