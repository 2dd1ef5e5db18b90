"""Terminal output: rich consoles, one-line errors with hints, live log lines, JSON output.

On a terminal, lines fit its width and tables shrink their wide columns first. Piped or
redirected, nothing is wrapped or cut (unless ``COLUMNS`` says how wide to be) and log lines are
plain ``HH:MM:SS LEVEL message`` lines, so ``cauce logs RUN > f`` and ``cauce runs | grep`` see
whole lines. rich is imported with the first output (`cauce.cli.terminal`), not by `--help`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import CauceError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ..runs import Run
    from .terminal import TerminalLog

UNLIMITED = 10_000  # columns of a console that is not a terminal: no line is wrapped or cut


def __getattr__(name: str) -> Any:
    """`out` and `err`, the rich consoles on stdout and stderr, made on first use: rich takes
    about 20 ms to import, which `cauce --help` (click's plain help) does not need."""
    if name not in ("out", "err"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .terminal import TerminalConsole

    # soft_wrap: a line longer than the terminal is left for it to wrap (rich would break it
    # with line feeds, into a path or a command no longer whole when copied); emoji off: a
    # name or message holding ':fire:' is printed as written, not as an emoji
    made = globals()[name] = TerminalConsole(stderr=name == "err", highlight=False,
                                             soft_wrap=True, emoji=False)
    return made


def _console(name: str) -> Console:
    """`out` or `err` from inside this module, where names do not go through `__getattr__`."""
    return globals().get(name) or __getattr__(name)


def table(**options: Any) -> Table:
    """A rich table (`rich.table` is imported with the first one)."""
    from rich.table import Table

    return Table(**options)


def print_table(shown: Table) -> None:
    """``shown`` on stdout, as wide as the terminal. Where its columns do not fit, each keeps at
    least its longest word (a run id, a queue's name: what users copy into the next command)
    and the room left goes to the columns that wrap, in proportion to what they would take;
    rich shrinks the widest column first, cutting ids with an ellipsis. On a terminal too
    narrow even for those words the table is as wide as they need, its lines left whole for
    the terminal to wrap."""
    out = _console("out")
    wide = out.options.update(width=UNLIMITED)
    # rich's own measure of a column, header and padding included (rich.table, since 1.0)
    ranges = [shown._measure_column(out, wide, column) for column in shown.columns]
    room = out.width - shown._extra_width
    least, most = [r.minimum for r in ranges], [r.maximum for r in ranges]
    if sum(most) <= room or not ranges:
        out.print(shown)
        return
    spare, wanted = max(room - sum(least), 0), sum(most) - sum(least)
    widths = [low + (spare * (high - low)) // wanted if wanted else low
              for low, high in zip(least, most, strict=True)]
    for index, (column, width) in enumerate(zip(shown.columns, widths, strict=True)):
        column.width = max(width - shown._get_padding_width(index), 1)
    shown.width = sum(widths) + shown._extra_width
    out.print(shown, crop=False)


def escape(text: str) -> str:
    """``text`` made `visible`, with rich markup escaped (`rich.markup.escape`, imported when
    first needed)."""
    from rich.markup import escape

    return escape(visible(text))


# Every C0 and C1 control character but line feed and tab, and DEL, as the \xNN it shows as;
# and Python's escape of a byte that was not UTF-8 (surrogateescape: an argument, a file's
# name, U+DC80 to U+DCFF) as the byte it stands for.
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x09), *range(0x0B, 0x20),
                                                   *range(0x7F, 0xA0))}
_CONTROLS.update({0xDC00 + byte: f"\\x{byte:02x}" for byte in range(0x80, 0x100)})
# ...and the same escape as repr() writes it in a message (``no queue 'co\\udcffla'``)
_ESCAPED_BYTE_REPR = re.compile(r"\\udc([89a-f][0-9a-f])")


def visible(text: str) -> str:
    """``text`` with its control characters but line feeds and tabs written ``\\xNN``: a value
    that came with data (a file name, a record, a message) cannot move the cursor, rewrite the
    line (carriage return) or recolour and clear the terminal (escape sequences). A byte that
    was not UTF-8 in an argument or a file's name is ``\\xNN`` too, not Python's ``\\udcNN``."""
    text = text.translate(_CONTROLS)
    return _ESCAPED_BYTE_REPR.sub(r"\\x\1", text) if "\\udc" in text else text


def redact(text: str) -> str:
    """``text`` with URL passwords masked (`cauce.backends.state.redact`, imported with the first
    message that needs it: the state backends are more than `--help` needs)."""
    from ..backends.state import redact

    return redact(text)


def print_error(error: CauceError) -> None:
    err = _console("err")
    err.print(f"[bold red]error:[/] {escape(redact(error.message))}", markup=True,
              highlight=False, soft_wrap=True)
    if error.hint:
        err.print(f"[yellow]hint:[/] {escape(redact(error.hint))}", soft_wrap=True)


def print_usage_error(error: Exception, args: Sequence[str] = ()) -> int:
    """A click usage error (typer's or click's) as one line and a hint to the command's help;
    another click error as click shows it. Returns the exit status it carries. ``args``, the
    words parsed, tell an unknown option that is a file's name (``-lead.csv``)."""
    status = int(getattr(error, "exit_code", 2))
    if status != 2 or not hasattr(error, "format_message"):
        error.show()  # type: ignore[attr-defined]
        return status
    context = getattr(error, "ctx", None)
    where = context.command_path if context is not None else "cauce"
    print_problem(error.format_message(), _file_named_like_options(error, args)
                  or _app_given_bare(error, context, where) or f"see `{where} --help`")
    return status


def _app_given_bare(error: Exception, context: Any, where: str) -> str | None:
    """How to name apps, when a command that takes them as ``--app`` got bundled ones bare
    (``cauce demo census``): click says only that the word is an extra argument."""
    extra = re.fullmatch(r"Got unexpected extra argument(?:s|\(s\))? \((.+)\)",
                         error.format_message())
    takes_app = context is not None and any(
        "--app" in getattr(param, "opts", ()) for param in context.command.params)
    if extra is None or not takes_app:
        return None
    from .loading import bundled_apps  # only on the way to an error message

    words = extra.group(1).split()
    if not set(words) <= set(bundled_apps()):  # another word out of place: the help says more
        return None
    apps = " ".join(f"--app {word}" for word in words)
    return f"{where} names apps with --app: write {apps}"


def _file_named_like_options(error: Exception, args: Sequence[str]) -> str | None:
    """How to give a file whose name starts with ``-``, when the unknown option ``error``
    names is one: a file that is there, or a name with a dot or a slash (a new file to write,
    as `state backup -x.db`), which no option has."""
    name = getattr(error, "option_name", None)
    if not name:
        return None
    for arg in (arg for arg in args if arg.startswith(name)):
        if os.path.lexists(arg):
            return f"{arg} is a file here: write ./{arg}, or put -- before it"
        if "." in arg or "/" in arg:
            return f"if {arg} is a file's name, write ./{arg}, or put -- before it"
    return None


def print_problem(message: str, hint: str | None = None) -> None:
    """A one-line error (and hint) that is not a CauceError: a usage error, an unexpected one."""
    err = _console("err")
    err.print(f"[bold red]error:[/] {escape(redact(message))}", soft_wrap=True)
    if hint:
        err.print(f"[yellow]hint:[/] {escape(redact(hint))}", soft_wrap=True)


def masked(text: str, secrets: Sequence[str]) -> str:
    from ..settings import MASK

    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def show_logs(level: int, *, general_only: bool = False, general: bool = True) -> TerminalLog:
    """Print log records on stderr while a command runs: all of them, only the general stream's
    lines and warnings (``general_only``), or all but the general stream's (``general=False``)."""
    import logging  # loaded by then with the runtime whose records these are; not at start-up

    from .terminal import TerminalLog

    err = _console("err")
    handler = TerminalLog(console=err, show_path=False, markup=False, rich_tracebacks=False,
                          log_time_format="[%H:%M:%S]")
    handler.debug = debugging()
    handler.setLevel(level)
    if general_only:
        # a failed run's own error line is left out: the general stream's line says it
        handler.addFilter(lambda r: r.name.startswith("cauce.general")
                          or (r.levelno >= logging.WARNING
                              and (handler.debug or not getattr(r, "run_failure", False))))
    elif not general:
        # the failure of the run in the foreground is said once, by the command's last line;
        # its progress lines are the bar on a terminal
        handler.addFilter(lambda r: not r.name.startswith("cauce.general")
                          and (handler.debug or not getattr(r, "run_failure", False))
                          and not (err.is_terminal and getattr(r, "progress", False)))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    return handler


def debugging() -> bool:
    """Tracebacks wanted: ``--debug`` or ``CAUCE_DEBUG=1``."""
    from .home import GLOBALS

    # as settings read the environment, a CR from a CRLF file dropped; not through settings:
    # this runs where an error is being reported, perhaps one of importing them
    wanted = os.environ.get("CAUCE_DEBUG", "").rstrip("\r")
    return GLOBALS.debug or wanted not in ("", "0", "false", "no")


def print_json(value: Any) -> None:
    from ..fallbacks import json_text

    sys.stdout.write(json_text(value, sys.stdout, indent=2, default=_default) + "\n")
    sys.stdout.flush()  # a closed pipe or a full device is said here, not as Python exits


def print_json_array(pages: Iterable[list[Any]]) -> None:
    """The values of ``pages`` as one JSON array, the same text `print_json` writes of their
    list, written a page at a time: a listing of a year's runs is never one text in memory."""
    from ..fallbacks import json_text

    out, started = sys.stdout, False
    for page in pages:
        if not page:
            continue
        # the page as an array, "[\n" and "\n]" left off: its elements, indented as in the whole
        text = json_text(page, out, indent=2, default=_default)[2:-2]
        out.write((",\n" if started else "[\n") + text)
        started = True
    out.write("\n]\n" if started else "[]\n")
    out.flush()  # a closed pipe or a full device is said here, not as Python exits


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return str(value)


def run_dict(run: Run) -> dict[str, Any]:
    return {
        "id": run.id, "app": run.app, "name": run.name, "kind": run.kind,
        "partition": run.partition, "attempt": run.attempt, "status": run.status.value,
        "trigger": run.trigger,
        "queued_at": run.queued_at, "started_at": run.started_at, "ended_at": run.ended_at,
        "seconds": run.duration, "error": run.error, "params": run.params, "result": run.result,
    }


STATUS_STYLE = {"succeeded": "green", "failed": "yellow", "dead-lettered": "red",
                "cancelled": "magenta", "running": "cyan", "queued": "blue"}


def local(ts: datetime | None) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else ""


# Columns a narrow terminal gives up first, in order; run, job/handler and status stay.
SPARED_LAST = ("try", "secs", "partition", "error", "started")
MIN_ERROR = 12  # narrower than this, the error column is left out


def runs_table(rows: list[Run], width: int | None = None, *,
               sizes: dict[str, int] | None = None, header: bool = True) -> Table:
    """Runs as a table as wide as ``width`` (the terminal's; unlimited when piped): columns
    that do not fit are left out, least useful first, and the error is cut to what is left.
    ``sizes`` (`runs_sizes`) lays the table out for more runs than ``rows``, a page of them:
    the pages of one listing, printed one after another (``header`` on the first only), are
    the lines of its one table."""
    cells = _run_cells(rows)
    sizes = sizes or runs_sizes(widest_cells(rows), width)
    shown = table(box=None, pad_edge=False, show_header=header)
    for name, size in sizes.items():
        shown.add_column(name, no_wrap=True, overflow="ellipsis", width=size,
                         justify="right" if name in ("try", "secs") else "left")
    for i, run in enumerate(rows):
        style = STATUS_STYLE.get(run.status.value, "")
        shown.add_row(*(f"[{style}]{cells[name][i]}[/]" if name == "status"
                        else escape(cells[name][i]) for name in sizes))
    return shown


def _run_cells(rows: list[Run]) -> dict[str, list[str]]:
    return {
        "run": [r.id for r in rows],
        "job/handler": [f"{r.app}.{r.name}" for r in rows],
        "partition": [r.partition or "" for r in rows],
        "try": [str(r.attempt) for r in rows],
        "status": [r.status.value for r in rows],
        "started": [local(r.started_at or r.queued_at) for r in rows],
        "secs": [f"{r.duration:.2f}" if r.duration is not None else "" for r in rows],
        "error": [r.error or "" for r in rows],
    }


def widest_cells(rows: list[Run], widest: dict[str, int] | None = None) -> dict[str, int]:
    """The longest cell of each column of `runs_table` for ``rows``, or of ``widest`` (those
    of runs before) if longer: a listing's pages are measured one at a time."""
    found = {name: max(map(len, values), default=0) for name, values in _run_cells(rows).items()}
    return {name: max(size, (widest or {}).get(name, 0)) for name, size in found.items()}


def runs_sizes(widest: dict[str, int], width: int | None = None) -> dict[str, int]:
    """The columns of a runs table and their widths, for runs whose longest cells are
    ``widest`` (`widest_cells`), on a console ``width`` wide (the terminal's by default)."""
    width = width or _console("out").width
    sizes = {name: max(len(name), size) for name, size in widest.items()}
    if not widest["partition"]:
        del sizes["partition"]
    droppable = [name for name in SPARED_LAST if name in sizes]
    while True:
        fixed = sum(sizes[n] for n in sizes if n != "error") + 2 * (len(sizes) - 1)
        room = width - fixed
        if "error" in sizes and room >= min(MIN_ERROR, sizes["error"]):
            sizes["error"] = min(sizes["error"], room)
            break
        if ("error" not in sizes and room + 2 >= 0) or not droppable:
            break
        del sizes[droppable.pop(0)]
    return sizes


def summary_line(run: Run) -> str:
    mark = {"succeeded": "[green]✓[/]", "cancelled": "[magenta]■[/]"}.get(run.status.value,
                                                                          "[red]✗[/]")
    where = f"[{run.partition}]" if run.partition else ""
    took = f" in {run.duration:.2f}s" if run.duration is not None else ""
    text = f"{mark} run {run.id} {run.app}.{run.name}{where} {run.status.value}{took}"
    error, hint = split_hint(run.error or "")
    if run.status.value == "cancelled":
        error = error.removeprefix("cancelled: ")
    if error:
        text += f": {escape(error)}"
    if hint is None and run.status.value == "failed":
        # an error that came with no hint of its own: where its traceback is (shown above
        # already with --debug, which the hint then does not ask for)
        again = "" if debugging() else " (or run again with --debug)"
        hint = f"its traceback is in `cauce logs {run.id}`{again}"
    if hint:
        text += f"\n[yellow]hint:[/] {escape(hint)}"
    return text


def split_hint(error: str) -> tuple[str, str | None]:
    """A run's one-line error and the hint it ends with (``... (hint: ...)``), apart."""
    head, found, hint = error.partition(" (hint: ")
    if found and hint.endswith(")"):
        return head, hint[:-1]
    return error, None


def now_utc() -> datetime:
    return datetime.now(UTC)
