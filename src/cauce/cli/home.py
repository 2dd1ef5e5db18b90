"""What every command shares: the global options (``--home``, ``--state``, ``--debug``), the
per-command ``--home``, ``--state`` and ``--json``, and opening a home — its state store for
commands that only look, a runtime for those that also need the app.

The state store is chosen once, here, for every command: the command's ``--state``, then the
global one, then ``CAUCE_STATE`` (environment or ``.env``), then ``state`` in ``cauce.toml``,
then ``sqlite:///<home>/state.db``.

A command that creates the home and then fails before keeping anything there (an unknown
queue, a partition out of range) removes it again: mistakes leave no new empty home behind.

The state backends, the runtime and the configuration load when a command first opens a home,
not when the command line starts (``cauce --help`` needs none of them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import ConfigError, NotFound
from ..textfiles import real_path

if TYPE_CHECKING:
    from ..backends.state import StateStore
    from ..runtime.runtime import Runtime

HOME_HELP = "cauce home folder [default: ./.cauce in the current folder, or CAUCE_HOME]"


def home_path(value: str | Path) -> Path:
    """A ``--home`` value as a path. An empty one is refused: as a path it is the current
    folder, which the user did not name (an unset variable in ``--home "$DIR"``)."""
    if not str(value).strip():
        raise ValueError("it is empty; name a folder, or leave --home out "
                         "for ./.cauce (or CAUCE_HOME)")
    from ..settings import looks_like_url

    if looks_like_url(str(value)):
        raise ValueError(f"{value} is a URL; the cauce home is a folder on this machine "
                         '(buckets may live in object storage: buckets = "s3://..." in '
                         "cauce.toml)")
    return Path(value)


def home_option_path(value: str | Path) -> Path:
    """`home_path` as a typer parser: its refusal a usage error of the option."""
    try:
        return home_path(value)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


HomeOption = typer.Option(None, "--home", metavar="<path>", help=HOME_HELP,
                          parser=home_option_path)
StateOption = typer.Option(None, "--state", metavar="URL",
                           help="state store, e.g. postgresql://host/db "
                           "[default: CAUCE_STATE, cauce.toml state, or sqlite:///<home>/state.db]")
JsonOption = typer.Option(False, "--json", help="machine-readable output")


def text_argument(value: str) -> str:
    """A name to look up in the state (a run id, a stream, a job), as a typer parser: bytes
    that were not UTF-8 (a Latin-1 terminal) read as a file's would be (`escaped_bytes_decoded`),
    not kept as the lone surrogates Python gives for them, which no query can hold."""
    from ..textfiles import escaped_bytes_decoded  # only for the text of a name given

    return escaped_bytes_decoded(value)


def app_filter(value: str) -> str:
    """An ``--app`` filter, as a typer parser: an empty one (an unset variable in
    ``--app "$APP"``) is refused, as an empty ``--home`` is, rather than matching nothing."""
    if not value.strip():
        raise typer.BadParameter("it is empty; name an app, or leave --app out for every app")
    return text_argument(value)


AppFilterOption = typer.Option(None, "--app", help="only this app", parser=app_filter)


def exclusive(ctx: typer.Context, *options: str) -> None:
    """Refuse, as a usage error (exit 2, one line naming them), two or more of ``options``
    (``"--pause", "--resume"``) given to the same command."""
    given = [name for param in ctx.command.params if param.name is not None
             for name in param.opts if name in options
             and getattr(ctx.get_parameter_source(param.name), "name", "DEFAULT")
             not in ("DEFAULT", "DEFAULT_MAP")]
    if len(given) > 1:
        from . import console

        console.print_problem(f"{' and '.join(given)} cannot be used together: give one of them",
                              f"see `{ctx.command_path} --help`")
        raise typer.Exit(2)


@dataclass
class Globals:
    home: Path | None = None
    state: str | None = None
    debug: bool = False
    exiting: bool = False  # the process ends with the command (the `cauce` console script)


GLOBALS = Globals()


def home_option_value(value: Path | None) -> Path:
    """The home to use: the command's --home, the global --home, CAUCE_HOME / config, or .cauce."""
    chosen = value or GLOBALS.home
    if chosen is None:
        from ..settings import ConfigSources

        configured, _ = ConfigSources.discover().home()
        chosen = Path(configured or ".cauce")
    return _reachable(Path(chosen))


def _reachable(home: Path) -> Path:
    """``home`` made absolute, and looked at: a folder on the way this user may not enter is a
    ConfigError, not an OSError wherever the home is first used."""
    home = real_path(home)
    try:
        if not home.exists() and home.is_symlink():  # a loop of links: say so
            home.stat()
    except OSError as err:
        raise ConfigError(f"cannot reach the cauce home {home}: {err.strerror or err}",
                          hint="pass --home (or set CAUCE_HOME) to a folder you can read and "
                          "write, or fix the permissions on the way to it") from err
    return home


def state_url(home: Path, chosen: str | None = None) -> str:
    """The state URL of a home: the command's --state, the global one, CAUCE_STATE / config,
    or <home>/state.db."""
    from ..backends.state import sqlite_url
    from ..settings import ConfigSources

    return (chosen or GLOBALS.state or ConfigSources.discover().state()[0]
            or sqlite_url(home / "state.db"))


def no_home(home: Path) -> NotFound:
    return NotFound(f"no cauce home at {home} (nothing has run there yet)",
                    hint="pass --home (or set CAUCE_HOME) to the folder `cauce serve`/`run` used")


def refuse_a_file(home: Path) -> None:
    """A ConfigError for a home that is a file: said as such, not as a home where nothing ran."""
    if home.exists() and not home.is_dir():
        raise ConfigError(f"the cauce home {home} is a file, not a folder",
                          hint="pass --home (or set CAUCE_HOME) to the folder "
                          "`cauce serve`/`run` used")


def existing_state(value: Path | None, state: str | None = None) -> tuple[Path, str]:
    """The home and state URL of a home where something ran (NotFound otherwise)."""
    from ..backends.state import engine, redact, sqlite_url

    home = home_option_value(value)
    url = state_url(home, state)
    refuse_a_file(home)
    if not engine(url).exists(url):
        if url == sqlite_url(home / "state.db"):
            raise no_home(home)
        raise NotFound(f"no cauce state at {redact(url)} (nothing has run there yet)",
                       hint="pass the --state (or CAUCE_STATE) that `cauce serve`/`run` used")
    return home, url


@contextmanager
def inspected(value: Path | None, state: str | None = None) -> Iterator[StateStore]:
    """The state store of an existing home, for commands that only look at it."""
    from ..backends.state import open_state
    from ..runtime.foreground import reap_lost_runs

    home, url = existing_state(value, state)
    state = open_state(url)
    try:
        reap_lost_runs(state, time.time(), home)
        yield state
    finally:
        state.close()


@contextmanager
def attached(app_ref: str, home: Path | None, state: str | None = None) -> Iterator[Runtime]:
    """A runtime on a home, for commands that inspect or feed it (settings lenient); a home
    it had to create goes again when the command kept nothing there (a look at queues,
    streams or schedules where nothing ran leaves no home behind)."""
    from ..runtime.runtime import Runtime
    from .loading import load_app

    app, reference = load_app(app_ref)
    home_path = home_option_value(home)
    url = state_url(home_path, state)
    with undone_if_unused(home_path, url, succeeded_too=True), Runtime(
            app, home=home_path, app_ref=reference, lenient_settings=True, state=url) as rt:
        yield rt


# what opening a home's SQLite state leaves in it when nothing else uses it
IDLE_STATE_FILES = ("state.db", "state.db-lock")


@contextmanager
def undone_if_unused(home: Path, url: str, *, succeeded_too: bool = False) -> Iterator[None]:
    """Around a runtime that creates ``home``: when the command fails having kept nothing
    there (no file but its state database, and no row in that), the folders it created go
    again, so a mistake leaves no new empty home behind; ``succeeded_too``: also when it
    succeeds (a command that only looked). A home that existed stays as it is."""
    created = None  # the outermost folder on the way to the home that does not exist yet
    for folder in (home, *home.parents):
        if folder.exists():
            break
        created = folder
    try:
        yield
    except BaseException as failure:
        status = getattr(failure, "exit_code", getattr(failure, "code", 1))
        if created is not None and status not in (0, None):
            _remove_unused(home, created, url)
        raise
    if created is not None and succeeded_too:
        _remove_unused(home, created, url)


def _remove_unused(home: Path, created: Path, url: str) -> None:
    from ..backends.state import engine, sqlite_url

    own = url == sqlite_url(home / "state.db")
    try:
        found = {path.name for path in home.iterdir()}
        # any other file stays, and so do the -wal and -shm files another process that has
        # the state open keeps beside it (this command's runtime is closed by now)
        if not found <= set(IDLE_STATE_FILES if own else ()) or (
                "state.db" in found and not engine(url).holds_nothing(url)):
            return
        for name in (*IDLE_STATE_FILES, "state.db-wal", "state.db-shm"):  # the check's own
            (home / name).unlink(missing_ok=True)
        folder = home
        while True:
            folder.rmdir()
            if folder == created:
                return
            folder = folder.parent
    except OSError:
        return  # what cannot go stays
