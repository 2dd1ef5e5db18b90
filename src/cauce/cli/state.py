"""Options every command shares (``--home``, ``--debug``) and opening a home for inspection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..backends.local.sqlite import StateDB
from ..errors import NotFound
from ..settings import ConfigSources


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
    if not path.is_file():
        raise NotFound(f"no cauce home at {home} (nothing has run there yet)",
                       hint="pass --home (or set CAUCE_HOME) to the folder "
                       "`cauce serve`/`run` used")
    return StateDB(path)
