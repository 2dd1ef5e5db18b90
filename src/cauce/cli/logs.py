"""``cauce logs``: show a log stream, follow it, write it to a file, or list the streams."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import typer

from ..durations import parse_moment
from ..errors import CauceError, ConfigError, NotFound
from ..textfiles import real_path, user_path
from . import console
from .home import AppFilterOption, HomeOption, StateOption, inspected, text_argument
from .runs import find_run, get_run

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ..backends.state import StateStore
    from ..logs import LogLine

T = TypeVar("T")


def logs_command(
    stream: str = typer.Argument(None, metavar="[STREAM]", parser=text_argument,
                                 help="a run id, 'general', or a worker stream"),
    app: str = AppFilterOption,
    since: str = typer.Option(None, "--since", "-s",
                              help="from this date/time or age (e.g. 2021-04-22, 1h)"),
    until: str = typer.Option(None, "--until", "-e", help="up to this date/time or age"),
    output: Path = typer.Option(None, "--output", "-o", help="write the lines to this file"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines"),
    utc: bool = typer.Option(False, "--utc", help="show times in UTC instead of local time"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line (JSON Lines): "
                                 "ts, level, app, stream, run_id, message"),
    home: Path = HomeOption, state_option: str = StateOption,
) -> None:
    """Show a log stream (`cauce logs RUN_ID`, `cauce logs general --app transit`), or list streams.

    Example: cauce logs general --app transit --since 2021-04-22 -o day.log
    """
    tz = UTC if utc else datetime.now().astimezone().tzinfo
    with inspected(home, state_option) as state:
        if stream is None:
            _list_streams(state, app, tz, as_json)
            return
        now = time.time()
        query: dict[str, Any] = {"since": parse_moment(since, None, now),
                                 "until": parse_moment(until, None, now)}
        run = None
        if stream not in ("general",) and not stream.startswith("worker"):
            run = find_run(state, stream)
        if run is not None:
            query["run_id"] = run.id
        else:
            query.update(stream=stream, app=app)
        # the lines there now, then (--follow) those written since: told apart by id
        mark = state.logs.newest_id()
        pages = _pages(state, {**query, "upto_id": mark})
        lines = next(pages, [])
        if not lines and run is None and not state.logs.read(stream=stream, app=app, limit=1):
            unknown = _unknown_stream(state, stream, app)
            if not follow:
                raise unknown
            _say_waiting(unknown)
        if output:  # a ~ no shell expanded (-o=~/day.log, quoted) is the home folder
            output = user_path(output)
        # without --follow the lines go to a file beside it, put in its place once whole: a
        # disk that fills on the way leaves the earlier file as it was, not cut short
        whole = _beside(output) if output and not follow else None
        sink = _opened(output, state.url, into=whole) if output else None
        try:
            _emit(lines, sink, tz, as_json)
            for page in pages:
                _emit(page, sink, tz, as_json)
            # each poll reads from the newest id of the poll before the last: a batch numbered
            # before another but committed after it (two writers) is still found; what the
            # last poll printed is not printed again
            marks, printed = (mark, mark), set[int]()
            patiently = _patiently() if follow else None
            while patiently is not None:
                time.sleep(0.5)
                fresh, top = patiently(partial(state.logs.newer, after_id=marks[0], **query))
                _emit([line for line in fresh if line.id not in printed], sink, tz, as_json)
                printed = {line.id for line in fresh}
                marks = (marks[1], top)
                if (run is not None and not fresh
                        and patiently(partial(get_run, state, run.id)).status.finished):
                    break
        except OSError as err:
            if sink is None:
                raise
            with contextlib.suppress(OSError):  # what is left to flush fails the same way
                sink.close()
            raise _unwritable(output, err) from None
        finally:  # Ctrl-C (how --follow ends) goes on to `cauce.cli.main`: exit 130
            try:
                if sink and not sink.closed:
                    try:
                        sink.close()
                        if whole is not None:
                            target = real_path(output)
                            with contextlib.suppress(OSError):  # an earlier file's mode kept
                                shutil.copymode(target, whole)
                            os.replace(whole, target)
                    except OSError as err:
                        raise _unwritable(output, err) from None
                    console.err.print(f"wrote {output}", markup=False)
            finally:
                if whole is not None:
                    whole.unlink(missing_ok=True)  # not written whole: the earlier file stays


def _patiently() -> Callable[[Callable[[], T]], T]:
    """How --follow reads: a state store away for a while (a PostgreSQL server restarting, a
    session it ended) is waited for, said once on stderr and once back, as a serving process
    waits for it, instead of ending the command while the runs it follows go on."""
    from ..runtime.serving import StateTrouble

    def say(text: str) -> None:
        console.err.print(f"warning: {text}", markup=False, soft_wrap=True)

    return StateTrouble(say, time.sleep).outlast


# Lines read at a time: a stream of a year's lines is printed as it is read, never held whole.
PAGE = 1000


def _pages(state: StateStore, query: dict[str, Any]) -> Iterator[list[LogLine]]:
    """The lines ``query`` matches, oldest first, a page at a time (none: no page)."""
    after: int | None = None
    while True:
        page = state.logs.read(after_line=after, limit=PAGE, **query)
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = page[-1].id


def _unwritable(output: Path | None, err: OSError) -> CauceError:
    """Writing the -o file failed as it went (a full disk, a quota)."""
    return CauceError(f"cannot write {output}: {err.strerror or err}",
                      hint="free room on its disk, or give -o a file on another")


def _beside(output: Path) -> Path | None:
    """A new file beside ``output``'s target for the lines to be written to and then put in
    its place; None when it is no regular file (a terminal, a pipe, /dev/full: written as
    it is)."""
    target = real_path(output)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        return None  # a loop of links (opening it says so), a folder, a device
    return target.with_name(f".{target.name}.{os.getpid()}.part")


def _opened(output: Path, state_url: str, into: Path | None = None) -> TextIO:
    """The -o file (or ``into``, the file that takes its place), opened for writing; a folder,
    a file in a missing one, or the state database (which opening it would empty) is one
    line."""
    if _is_state_file(output, state_url):
        raise CauceError(f"{output} is the state database: writing the log there would destroy it",
                         hint="give -o another file, e.g. -o general.log")
    try:
        return (into or output).open("w", encoding="utf-8")
    except OSError as err:
        raise CauceError(f"cannot write {output}: {err.strerror or err}",
                         hint="give -o a file in a folder that exists and you can write to"
                         ) from None


def _is_state_file(output: Path, state_url: str) -> bool:
    """Whether ``output`` is the SQLite state file of ``state_url``, or one that goes with it."""
    from ..backends.state import sqlite_path

    try:
        database = sqlite_path(state_url)
    except ConfigError:  # not a SQLite file: PostgreSQL, or SQLite in memory
        return False
    return real_path(output) in {database.with_name(database.name + suffix)
                                for suffix in ("", "-wal", "-shm", "-journal", "-lock")}


def _list_streams(state: StateStore, app: str | None, tz: Any, as_json: bool) -> None:
    if as_json:
        console.print_json([{"app": a, "stream": name, "last_line": datetime.fromtimestamp(
            last, tz).isoformat(), "lines": count} for a, name, last, count
            in state.logs.streams(app)])
        return
    table = console.table(box=None)
    for column in ("app", "stream", "last line", "lines"):
        table.add_column(column)
    for app_name, name, last, count in state.logs.streams(app):
        table.add_row(app_name, name,
                      datetime.fromtimestamp(last, tz).strftime("%Y-%m-%d %H:%M:%S"), str(count))
    console.print_table(table)


def _say_waiting(unknown: NotFound) -> None:
    """--follow of a stream with no line yet waits for its first (a worker about to start), but
    says so on stderr: a mistyped name is not waited on in silence."""
    console.err.print(f"waiting for a first line: {console.escape(unknown.message)}",
                      soft_wrap=True)
    console.err.print(f"[yellow]hint:[/] {console.escape(unknown.hint or '')}; Ctrl-C stops",
                      soft_wrap=True)


def _unknown_stream(state: StateStore, stream: str, app: str | None) -> NotFound:
    """NotFound for a stream that is neither a run id nor a stream name, naming the closest
    one."""
    from ..app import suggest

    named = sorted({name for _, name, _, _ in state.logs.streams(app, limit=1000)
                    if "/" not in name})
    where = f" of app {app!r}" if app else ""
    hint = (f"{suggest(stream, named)} — or give a run id from `cauce runs`" if named
            else "list streams with `cauce logs`")
    return NotFound(f"no log stream or run {stream!r}{where}", hint=hint)


def _emit(lines: list[LogLine], sink: Any, tz: Any, as_json: bool = False) -> None:
    from ..fallbacks import json_text

    texts = []
    for line in lines:
        if as_json:
            # to stdout, all ASCII where its encoding holds less (the -o file is UTF-8)
            texts.append(json_text({"ts": line.ts.astimezone(tz).isoformat(),
                                    "level": line.level, "app": line.app,
                                    "stream": line.stream, "run_id": line.run_id,
                                    "message": line.message}, sink or console.out.file))
        else:
            texts.append(console.visible(line.format(tz)))
    if not texts:
        return
    if sink is not None:
        sink.write("".join(text.replace("\n", " ⏎ ") + "\n" for text in texts))
    else:  # a page in one print: one a line cost rich 0.27 ms each, 11 s for an hour's 40,000
        console.out.print(_tabs_expanded("\n".join(texts)), markup=False, highlight=False,
                          soft_wrap=True)


def _tabs_expanded(text: str, size: int = 8) -> str:
    """``text`` with each tab made the spaces up to the next multiple of ``size`` cells, as
    rich writes a tab (`rich.text.Text.expand_tabs`), at a fraction of its cost per line."""
    if "\t" not in text:
        return text
    from rich.cells import cell_len

    lines = text.split("\n")
    for i, line in enumerate(lines):
        if "\t" not in line:
            continue
        parts, at = line.split("\t"), 0
        for j, part in enumerate(parts[:-1]):
            at += cell_len(part) + 1
            pad = -at % size
            parts[j] = part + " " * (1 + pad)
            at += pad
        lines[i] = "".join(parts)
    return "\n".join(lines)
