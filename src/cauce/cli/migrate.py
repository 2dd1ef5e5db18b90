"""``cauce migrate``: create the state store, or bring its schema to this cauce's version."""

from __future__ import annotations

from pathlib import Path

from . import console
from .home import HomeOption, StateOption, home_option_value, state_url


def migrate_command(state_option: str = StateOption, home: Path = HomeOption) -> None:
    """Create the state store, or upgrade its schema to this cauce's version, and print it.

    Opening a state does the same when its schema is older; this does it now, on purpose (e.g.
    before starting workers of a new version). Example: cauce migrate --state postgresql://db/cauce
    """
    from ..backends.state import engine, redact

    url = state_url(home_option_value(home), state_option)
    before, after = engine(url).migrate(url)
    change = "up to date" if before == after else (
        "created" if before == 0 else f"migrated from version {before}")
    console.out.print(f"{redact(url)}: schema version {after} ({change})", markup=False,
                      soft_wrap=True)
