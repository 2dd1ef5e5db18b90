"""``cauce state``: look after the state store itself — check it, back it up, copy it."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from ..errors import StateError
from ..textfiles import user_path
from . import console
from .console import escape
from .home import HomeOption, StateOption, existing_state, inspected

state_cli = typer.Typer(rich_markup_mode=None,
                        help="Look after the state store: check it, back it up, copy it.\n\n"
                        "Example: cauce state check", no_args_is_help=True)


@state_cli.command("check")
def check(home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Check the state store: SQLite's integrity check, cauce's tables and version.

    Exit status 0 when it is sound, 1 when it is damaged or a newer cauce wrote it.
    Example: cauce state check --home /srv/cauce
    """
    from ..backends.state import engine

    _, url = existing_state(home, state_option)
    verdict = engine(url).examine(url)
    if verdict.sound:
        counts = verdict.counts
        console.out.print(f"{verdict.where}: sound (schema version {verdict.version}; "
                          f"{counts['messages']:,} message(s) in queues, "
                          f"{counts['runs']:,} run(s), {counts['items']:,} table item(s), "
                          f"{counts['logs']:,} log line(s))", markup=False, soft_wrap=True)
        return
    found = "written by a newer cauce" if verdict.newer else "damaged"
    console.out.print(f"{verdict.where}: {found}", markup=False, soft_wrap=True)
    for problem in verdict.problems:
        console.out.print(f"  {problem}", markup=False, soft_wrap=True)
    if verdict.hint:
        console.err.print(f"[yellow]hint:[/] {escape(verdict.hint)}", soft_wrap=True)
    raise typer.Exit(1)


def backup_file(value: str | Path) -> Path:
    """The backup's FILE, as a typer parser: an empty one (an unset variable) or a folder is
    a usage error saying what to give, not "`.` already exists". `-` is refused too: the copy
    is a SQLite database, which is a file, as with sqlite3's `.backup`, not a stream like
    pg_dump's; writing a file named `-` in the working folder surprised everyone."""
    if not str(value).strip():
        raise typer.BadParameter("it is empty; name the new file to write the copy to")
    if str(value) == "-":
        raise typer.BadParameter("the copy is a SQLite database file and cannot go to "
                                 "standard output; name a new file, e.g. state-backup.db, "
                                 "and compress or send that file")
    path = user_path(value)  # a ~ no shell expanded ("~/b.db" quoted)
    if path.is_dir():
        raise typer.BadParameter(f"{value} is a folder; name a new file in it, "
                                 f"e.g. {path / 'state-backup.db'}")
    return path


@state_cli.command("backup")
def backup(target: Path = typer.Argument(..., metavar="FILE", help="the copy to write",
                                         parser=backup_file),
           home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Copy the state store, consistently, while serving processes keep working.

    Restore a copy by putting it back as <home>/state.db while nothing runs.
    Example: cauce state backup /backups/state-2021-04-22.db
    """
    with inspected(home, state_option) as state:
        state.backup(target)
    console.out.print(f"backed up {state.url.removeprefix('sqlite:///')} to {target}",
                      markup=False)


# what each kind of copied rows is, for people
KINDS = {"messages": "queued message(s), dead letters included",
         "items": "table item(s)", "item_index": "table index entr(ies)",
         "stream_heads": "stream shard counter(s)", "stream_records": "stream record(s)",
         "stream_consumers": "stream checkpoint(s)",
         "runs": "run(s)", "logs": "log line(s)", "schedules": "schedule(s)",
         "bucket_objects": "watched bucket object(s)"}


@state_cli.command("copy")
def copy(to: str = typer.Option(..., "--to", metavar="URL", help="the state store to fill, "
                                "e.g. postgresql://cauce@db/cauce; it must hold no cauce state"),
         force: bool = typer.Option(False, "--force", help="copy although serving processes "
                                    "on other machines are registered as running (when you "
                                    "know they are gone)"),
         home: Path = HomeOption, state_option: str = StateOption) -> None:
    """Copy a home's whole state — queues and dead letters, topics' deliveries, tables, streams
    and checkpoints, runs, logs, schedules, watched buckets — into another store.

    Refused while a `cauce serve` or `worker` runs on the home, and when the target already
    holds cauce state. Then point the home at the copy (state = "URL" in cauce.toml, or
    CAUCE_STATE). Example: cauce state copy --to postgresql://cauce@db.internal/cauce
    """
    from ..backends.copy import copy_state, live_processes
    from ..backends.state import open_state, redact

    _, url = existing_state(home, state_option)
    if url == to:
        raise StateError("the copy and the source are the same store",
                         hint="name another store with --to")
    with inspected(home, state_option) as source:
        running = live_processes(source)
        if running and not force:
            raise StateError(f"{len(running)} serving process(es) work on {redact(url)} "
                             f"({', '.join(running[:3])}): stop them before copying",
                             hint="stop `cauce serve` and `cauce worker`; when one on another "
                             "machine died without stopping, pass --force")
        target = open_state(to)
        try:
            counts = copy_state(source, target)
        except BaseException:
            target.close()
            raise
        # The copy is committed: a Ctrl-C while the target closes (SQLite folds a large copy
        # into its file then) must not report as interrupted a copy that is complete.
        with contextlib.suppress(KeyboardInterrupt):
            target.close()
    console.out.print(f"copied {redact(url)} to {redact(to)}:", markup=False, soft_wrap=True)
    for kind, what in KINDS.items():
        console.out.print(f"  {counts.get(kind, 0):>9,} {what}", markup=False)
