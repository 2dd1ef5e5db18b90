"""``cauce state``: look after the state store itself — check it, back it up; ``cauce migrate``:
bring its schema to this cauce's version."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..backends.state import engine
from . import console
from .home import HomeOption, existing_state, home_option_value, inspected, state_url

state_cli = typer.Typer(help="Look after the state store: check it, back it up.\n\n"
                        "Example: cauce state check", no_args_is_help=True)


@state_cli.command("check")
def check(home: Path = HomeOption) -> None:
    """Check the state store: SQLite's integrity check, cauce's tables and version.

    Exit status 0 when it is sound, 1 when it is damaged. Example: cauce state check --home /srv/cauce
    """  # noqa: E501 - line breaks of a command's docstring show in `cauce --help`
    _, url = existing_state(home)
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
           home: Path = HomeOption) -> None:
    """Copy the state store, consistently, while serving processes keep working.

    Restore a copy by putting it back as <home>/state.db while nothing runs.
    Example: cauce state backup /backups/state-2021-04-22.db
    """
    with inspected(home) as state:
        state.backup(target)
    console.out.print(f"backed up {state.url.removeprefix('sqlite:///')} to {target}",
                      markup=False)


def migrate_command(state: str | None = typer.Option(
                        None, "--state", metavar="URL",
                        help="state URL [default: the global --state, CAUCE_STATE, cauce.toml, "
                        "or <home>/state.db]"),
                    home: Path = HomeOption) -> None:
    """Create the state store, or upgrade its schema to this cauce's version, and print it.

    Opening a state does the same when its schema is older; this does it now, on purpose (e.g.
    before starting workers of a new version). Example: cauce migrate --state postgresql://db/cauce
    """
    url = state or state_url(home_option_value(home))
    before, after = engine(url).migrate(url)
    change = "up to date" if before == after else (
        "created" if before == 0 else f"migrated from version {before}")
    console.out.print(f"{_shown(url)}: schema version {after} ({change})", markup=False,
                      soft_wrap=True)


def _shown(url: str) -> str:
    """A state URL without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, place = rest.rpartition("@")
    if at and ":" in credentials:
        rest = f"{credentials.split(':', 1)[0]}:***@{place}"
    return f"{scheme}{sep}{rest}"
