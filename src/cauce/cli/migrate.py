"""``cauce migrate``: create the state store, or bring its schema to this cauce's version."""

from __future__ import annotations

from pathlib import Path

import typer

from ..backends.state import engine
from . import console
from .home import HomeOption, home_option_value, state_url


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
